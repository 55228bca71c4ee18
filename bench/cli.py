"""Command line: ``python -m bench <command>``. The only place that prints and exits."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import registry
from .errors import BenchError, CodecError


def _add_dataset_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dataset", default="kodak", help="built-in dataset name (default: %(default)s)")
    group.add_argument("--data", metavar="DIR", help="benchmark every image of this folder instead")
    parser.add_argument("--kodak-dir", metavar="DIR",
                        help="local Kodak copy to verify and use instead of downloading (env BENCH_KODAK_DIR)")
    parser.add_argument("--cache-dir", metavar="DIR", help="download cache (env BENCH_CACHE_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmark image codecs on a dataset.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="measure codecs on a dataset (resumes where it stopped)")
    _add_dataset_args(run)
    run.add_argument("--codecs", default="jpeg", help="comma-separated codec names (default: %(default)s)")
    run.add_argument("--points", help="comma-separated operating points for every named codec (default: each codec's own)")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="processes for RD metrics of CPU codecs; timings are always sequential (default: %(default)s)")
    run.add_argument("--repeats", type=int, default=1, help="timed repeats per encode/decode; median kept (default: 1)")
    run.add_argument("--threads", type=int, default=1, help="torch threads in the timed process (default: 1)")
    run.add_argument("--results", default="results", metavar="DIR", help="results folder (default: %(default)s)")
    run.add_argument("--reco-dir", metavar="DIR", type=Path, help="also write reconstructions as PNG here")
    run.add_argument("--bitstreams", metavar="DIR", type=Path,
                     help="also store every bitstream here (DIR/codec/point/image.bin), for `verify`")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    commands.add_parser("codecs", help="list the registered codecs")

    summary = commands.add_parser("summary", help="print the averages of stored results")
    summary.add_argument("--results", default="results", metavar="DIR")
    summary.add_argument("--dataset", default="kodak")

    fetch = commands.add_parser("fetch", help="download (or verify a local copy of) a dataset")
    _add_dataset_args(fetch)
    return parser


def _dataset(args: argparse.Namespace, progress: bool = True):
    from .datasets import open_dataset

    spec = args.data if args.data else args.dataset
    return open_dataset(spec, kodak_dir=args.kodak_dir, cache_dir=args.cache_dir, progress=progress)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def cmd_run(args: argparse.Namespace) -> int:
    from .evaluate import CodecRun, Settings, evaluate
    from .summary import CONVENTION, format_table

    if args.jobs < 1 or args.repeats < 1 or args.threads < 1:
        raise BenchError("--jobs, --repeats and --threads must be at least 1")
    names = _split(args.codecs)
    if not names:
        raise CodecError(f"no codec named; known codecs: {', '.join(registry.names())}")
    for name in names:
        registry.entry(name)  # unknown names fail before any download or encoding
    dataset = _dataset(args, progress=not args.no_progress)
    options = {"device": "cpu"}
    runs = []
    for name in names:
        try:
            codec = registry.create(name, options)
        except CodecError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        points = _split(args.points) or codec.default_points()
        for point in points:
            codec.coder(point)  # validates labels up front
        runs.append(CodecRun(codec, tuple(points), options))
    if not runs:
        raise CodecError("no codec could be run (see the lines above)")
    settings = Settings(jobs=args.jobs, repeats=args.repeats, threads=args.threads,
                        reco_dir=args.reco_dir, bitstream_dir=args.bitstreams, progress=not args.no_progress)
    try:
        report = evaluate(dataset, runs, args.results, settings)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished rows are kept in {Path(args.results) / dataset.name}/rows.csv; "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    shown = report.summary[report.summary["codec"].isin([run.codec.name for run in runs])]
    print(format_table(shown))
    print(f"\n{len(report.rows)} rows ({report.measured} measured now, {report.timed} timed now, "
          f"{report.reused} reused) in {report.results_dir}/rows.csv")
    print(f"averages: {CONVENTION}; written to {report.results_dir}/summary.csv")
    failed = int(shown["failed"].sum()) if not shown.empty else 0
    if failed:
        print(f"warning: {failed} rows failed; see the 'note' column of rows.csv", file=sys.stderr)
    return 0


def cmd_codecs(args: argparse.Namespace) -> int:
    for name in registry.names():
        entry = registry.entry(name)
        print(f"{name:<28} {entry.summary}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .store import load_rows
    from .summary import CONVENTION, format_table, summarize

    rows = load_rows(Path(args.results) / args.dataset / "rows.csv")
    print(format_table(summarize(rows)))
    print(f"\naverages: {CONVENTION}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    dataset = _dataset(args)
    print(f"{dataset.name}: {len(dataset.items)} images verified ({dataset.source})")
    return 0


COMMANDS = {"run": cmd_run, "codecs": cmd_codecs, "summary": cmd_summary, "fetch": cmd_fetch}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
