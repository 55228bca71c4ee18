"""Command line: ``python -m bench <command>``. The only place that prints and exits."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from bench import study
from bench.core import registry
from bench.core.errors import BenchError, CodecError


def _add_dataset_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dataset", default="kodak", help="built-in dataset name (default: %(default)s)")
    group.add_argument("--data", metavar="DIR", help="benchmark every image of this folder instead")
    parser.add_argument("--kodak-dir", metavar="DIR",
                        help="local Kodak copy to verify and use instead of downloading (env BENCH_KODAK_DIR)")
    parser.add_argument("--cache-dir", metavar="DIR", help="download cache (env BENCH_CACHE_DIR)")


def _add_weights_args(parser: argparse.ArgumentParser) -> None:
    """Where the learned codecs' weights come from."""
    parser.add_argument("--weights-mirror", metavar="DIR|URL",
                        help="folder or base URL holding CompressAI zoo files (env BENCH_WEIGHTS_MIRROR)")
    parser.add_argument("--checkpoint", action="append", default=[], metavar="ARCH:LABEL=PATH",
                        help="use this weights file for one operating point, e.g. "
                             "bmshj2018-factorized:lambda0.0130=f.pth (repeatable)")
    parser.add_argument("--checkpoint-dir", metavar="DIR",
                        help="every exported model in DIR (<arch>_N..-M.._lambda<λ>.pth, e.g. from `make train`)")
    parser.add_argument("--weights-cache", metavar="DIR", help="weights cache (default: torch hub's checkpoints)")


def _add_codec_args(parser: argparse.ArgumentParser) -> None:
    """Options of the learned codecs: device, padding, entropy tables, weights."""
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="learned codecs: where the model runs; auto = cuda when available (default: %(default)s)")
    parser.add_argument("--padding", choices=("model", "eval_model"), default="model",
                        help="learned codecs: pad right/bottom to the model's multiple by replication (model), "
                             "or centred zeros to 64 as compressai's eval_model (default: %(default)s)")
    parser.add_argument("--no-update", action="store_true",
                        help="learned codecs: keep the checkpoint's entropy tables (no update(force=True))")
    _add_weights_args(parser)


def _add_allocator_arg(parser: argparse.ArgumentParser) -> None:
    from bench.core.allocator import MODES

    parser.add_argument("--allocator", choices=MODES, default="caching",
                        help="heap policy of the timing process: caching keeps freed large blocks for reuse, as "
                             "torch does on CUDA; system is glibc's default (compressai's eval_model's "
                             "conditions), which maps and faults them again on every call (default: %(default)s)")


def _use_allocator(requested: str) -> str:
    """Put this process under the heap policy ``requested``; say so when it cannot be had."""
    from bench.core.allocator import apply

    effective = apply(requested)
    if effective != requested:
        print(f"note: --allocator {requested} needs glibc; timing under the system allocator", file=sys.stderr)
    return effective


def _add_report_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results", metavar="DIR", help="results folder (default: %(default)s)")
    parser.add_argument("--dataset", default="kodak", help="dataset name in the results (default: %(default)s)")
    parser.add_argument("--reports", default="reports", metavar="DIR", help="output folder (default: %(default)s)")
    parser.add_argument("--anchor", default="jpeg",
                        help="anchor codec, or published:<model> for a shipped published curve (default: jpeg)")
    parser.add_argument("--method", choices=("cubic", "pchip", "both"), default="both",
                        help="BD fit: cubic (VCEG-M33, default in tables) or pchip (JVET CTC) (default: %(default)s)")
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                        help="bootstrap resamples over images for the 95%% CI (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")


def _methods(args: argparse.Namespace) -> tuple[str, ...]:
    return ("cubic", "pchip") if args.method == "both" else (args.method,)


def _weights_source(args: argparse.Namespace):
    from bench.learned.weights import WeightsSource, parse_checkpoint_spec

    specs = list(args.checkpoint)
    if args.checkpoint_dir:
        from bench.learned.train.export import checkpoint_specs

        specs += checkpoint_specs(args.checkpoint_dir)
    checkpoints = tuple(parse_checkpoint_spec(spec) for spec in specs)
    return WeightsSource.from_env(mirror=args.weights_mirror, cache_dir=args.weights_cache,
                                  checkpoints=checkpoints or None)


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
    _add_allocator_arg(run)
    run.add_argument("--results", default="results", metavar="DIR", help="results folder (default: %(default)s)")
    run.add_argument("--reco-dir", metavar="DIR", type=Path, help="also write reconstructions as PNG here")
    run.add_argument("--bitstreams", metavar="DIR", type=Path,
                     help="also store every bitstream here (DIR/codec/point/image.bin), for `verify`")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_codec_args(run)

    commands.add_parser("codecs", help="list the registered codecs")

    summary = commands.add_parser("summary", help="print the averages of stored results")
    summary.add_argument("--results", default="results", metavar="DIR")
    summary.add_argument("--dataset", default="kodak")

    fetch = commands.add_parser("fetch", help="download (or verify a local copy of) a dataset")
    _add_dataset_args(fetch)

    bd = commands.add_parser("bd-rate", help="BD-rate / BD-PSNR tables against an anchor, with bootstrap CIs")
    _add_report_args(bd)

    report = commands.add_parser("report", help="regenerate reports/REPORT.md with figures and tables "
                                                "from stored results (no encoding)")
    _add_report_args(report)
    report.add_argument("--max-bpp", type=float, default=2.0,
                        help="right end of the RD figures' rate axis; 0 shows every point (default: %(default)s)")

    visual = commands.add_parser("visual", help="same crop decoded by each codec near a target bpp")
    _add_dataset_args(visual)
    visual.add_argument("--image", default="kodim19.png", help="image of the dataset, or a path (default: %(default)s)")
    visual.add_argument("--codecs", default="jpeg", help="comma-separated codec names (default: %(default)s)")
    visual.add_argument("--target-bpp", type=float, default=0.25, help="(default: %(default)s)")
    visual.add_argument("--crop", metavar="LEFT,TOP[,W,H]", help="region of the crop (default: chosen per image)")
    visual.add_argument("--size", type=int, default=256, help="crop side when --crop gives no size (default: 256)")
    visual.add_argument("--reports", default="reports", metavar="DIR")
    _add_codec_args(visual)

    complexity = commands.add_parser("complexity", help="params, MACs, encoder/decoder time and peak memory "
                                                        "per learned model and λ")
    _add_dataset_args(complexity)
    complexity.add_argument("--results", default="results", metavar="DIR",
                            help="harness results whose encode/decode times are tabulated (default: %(default)s)")
    complexity.add_argument("--archs", default=",".join(study.ARCHITECTURES),
                            help="learned architectures (default: the study's, %(default)s)")
    complexity.add_argument("--points", default=",".join(study.POINTS),
                            help="operating points (default: the study's λ, %(default)s)")
    complexity.add_argument("--images", type=int, default=4,
                            help="images timed step by step (network vs entropy coding); the first one "
                                 "is used for peak memory (default: %(default)s)")
    complexity.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    complexity.add_argument("--threads", type=int, default=1)
    complexity.add_argument("--repeats", type=int, default=3)
    _add_allocator_arg(complexity)
    complexity.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory measurement")
    complexity.add_argument("--bd-rate", metavar="CSV", default="reports/bd-rate.csv",
                            help="BD-rates for the decode-time plot, if the file exists (default: %(default)s)")
    complexity.add_argument("--reports", default="reports", metavar="DIR")
    _add_weights_args(complexity)

    export = commands.add_parser("export", help="write mean curves in CompressAI's results JSON format")
    export.add_argument("--results", default="results", metavar="DIR")
    export.add_argument("--dataset", default="kodak")
    export.add_argument("--codecs", help="comma-separated codec names (default: all in the results)")

    verify = commands.add_parser("verify", help="decode stored bitstreams again in a separate process and "
                                                "compare the reconstructions")
    _add_dataset_args(verify)
    verify.add_argument("--bitstreams", metavar="DIR", type=Path, required=True,
                        help="bitstreams written by `run --bitstreams DIR`")
    verify.add_argument("--results", default="results", metavar="DIR", help="results folder of that run")
    verify.add_argument("--codecs", help="comma-separated codec names to check (default: all stored)")
    verify.add_argument("--threads", type=int,
                        help="torch threads of the second decode (default: 2 if the run used 1, else 1)")
    verify.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="device of the second decode; auto = the other one when CPU and CUDA both exist")
    _add_weights_args(verify)
    return parser


def _dataset(args: argparse.Namespace, progress: bool = True):
    from bench.core.datasets import open_dataset

    spec = args.data if args.data else args.dataset
    return open_dataset(spec, kodak_dir=args.kodak_dir, cache_dir=args.cache_dir, progress=progress)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _codec_options(args: argparse.Namespace) -> dict:
    return {"device": args.device, "padding": args.padding, "update": not args.no_update,
            "weights": _weights_source(args)}


def _create_codecs(names: list[str], options: dict, points: list[str]) -> list[tuple]:
    """Build codecs and check their points; a codec without weights is skipped with one line."""
    from bench.learned.weights import WeightsUnavailable

    created = []
    for name in names:
        try:
            codec = registry.create(name, options)
            chosen = points or codec.default_points()
            for point in chosen:
                codec.coder(point)  # validates labels (and loads weights) up front
        except WeightsUnavailable as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        created.append((codec, chosen))
    return created


def cmd_run(args: argparse.Namespace) -> int:
    from bench.pipeline import CodecRun, Settings, evaluate
    from bench.analysis.summary import CONVENTION, format_table

    if args.jobs < 1 or args.repeats < 1 or args.threads < 1:
        raise BenchError("--jobs, --repeats and --threads must be at least 1")
    names = _split(args.codecs)
    if not names:
        raise CodecError(f"no codec named; known codecs: {', '.join(registry.names())}")
    for name in names:
        registry.entry(name)  # unknown names fail before any download or encoding
    dataset = _dataset(args, progress=not args.no_progress)
    options = _codec_options(args)
    runs = [CodecRun(codec, tuple(points), options)
            for codec, points in _create_codecs(names, options, _split(args.points))]
    if not runs:
        raise CodecError("no codec could be run (see the lines above)")
    settings = Settings(jobs=args.jobs, repeats=args.repeats, threads=args.threads,
                        allocator=_use_allocator(args.allocator), reco_dir=args.reco_dir,
                        bitstream_dir=args.bitstreams, progress=not args.no_progress)
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
    from bench.core.store import load_rows
    from bench.analysis.summary import CONVENTION, format_table, summarize

    rows = load_rows(Path(args.results) / args.dataset / "rows.csv")
    print(format_table(summarize(rows)))
    print(f"\naverages: {CONVENTION}")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    dataset = _dataset(args)
    print(f"{dataset.name}: {len(dataset.items)} images verified ({dataset.source})")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from bench.core.verify import verify_bitstreams

    if args.threads is not None and args.threads < 1:
        raise BenchError("--threads must be at least 1")
    dataset = _dataset(args, progress=False)
    report = verify_bitstreams(args.bitstreams, Path(args.results), dataset, threads=args.threads,
                               device=args.device, source=_weights_source(args), codecs=_split(args.codecs))
    print(f"first decode: {report.first}; second decode: {report.second}")
    for check in report.checks:
        for problem in check.problems:
            print(f"MISMATCH {check.stream.path}: {problem}")
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)
    bad = sum(1 for check in report.checks if check.problems)
    print(f"{len(report.checks)} bitstreams decoded twice: {len(report.checks) - bad} identical, {bad} with problems")
    return 1 if bad else 0


def cmd_bd_rate(args: argparse.Namespace) -> int:
    from bench.analysis.bdtable import write_bd_tables
    from bench.core.store import load_rows

    rows = load_rows(Path(args.results) / args.dataset / "rows.csv")
    paths = write_bd_tables(rows, args.reports, anchor=args.anchor, methods=_methods(args), n_boot=args.bootstrap,
                            seed=args.seed)
    for path in paths:
        if path.suffix == ".md":
            print(path.read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.analysis.report import write_report

    paths = write_report(args.results, args.dataset, args.reports, anchor=args.anchor, methods=_methods(args),
                         n_boot=args.bootstrap, seed=args.seed, max_bpp=args.max_bpp or None)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_visual(args: argparse.Namespace) -> int:
    from bench.analysis.visual import Region, visual_comparison

    candidate = Path(args.image).expanduser()
    if candidate.is_file():
        image = candidate
    else:
        items = {item.name: item.path for item in _dataset(args, progress=False).items}
        if args.image not in items:
            raise BenchError(f"no image {args.image!r} in the dataset; give one of {', '.join(items)} or a path")
        image = items[args.image]
    region = None
    if args.crop:
        try:
            numbers = [int(v) for v in args.crop.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) not in (2, 4):
            raise BenchError(f"--crop {args.crop!r}: expected LEFT,TOP or LEFT,TOP,WIDTH,HEIGHT in pixels")
        region = Region(*numbers) if len(numbers) == 4 else Region(*numbers, args.size, args.size)
    names = _split(args.codecs)
    for name in names:
        registry.entry(name)
    codecs = [codec for codec, _ in _create_codecs(names, _codec_options(args), [])]
    paths, choices = visual_comparison(image, codecs, args.reports, target_bpp=args.target_bpp, region=region,
                                       size=args.size)
    for choice in choices:
        print(choice)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_complexity(args: argparse.Namespace) -> int:
    from bench.learned.complexity import read_bd_rates, run_complexity

    dataset = _dataset(args, progress=False)
    rows = Path(args.results) / dataset.name / "rows.csv"
    bd_path = Path(args.bd_rate)
    paths = run_complexity(
        args.reports, archs=_split(args.archs), points=_split(args.points), source=_weights_source(args),
        rows_path=rows if rows.exists() else None,
        images=[item.path for item in dataset.items[: max(args.images, 0)]],
        device=args.device, threads=args.threads, repeats=args.repeats, allocator=_use_allocator(args.allocator),
        memory=not args.no_memory,
        bd_rates=read_bd_rates(bd_path) if bd_path.exists() else None,
        progress=lambda message: print(message, file=sys.stderr),
    )
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.analysis.export import export_results

    paths = export_results(args.results, args.dataset, _split(args.codecs) or None)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


COMMANDS = {"run": cmd_run, "codecs": cmd_codecs, "summary": cmd_summary, "fetch": cmd_fetch,
            "verify": cmd_verify, "bd-rate": cmd_bd_rate, "report": cmd_report, "visual": cmd_visual,
            "export": cmd_export, "complexity": cmd_complexity}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # CompressAI 1.2.8 calls torch.jit.script at import time; the deprecation notice is not ours to fix.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return COMMANDS[args.command](args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
