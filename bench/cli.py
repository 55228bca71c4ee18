"""Command line: ``python -m bench <command>``. The only place that prints and exits.

Options shared by several commands are declared once, in parent parsers (dataset, results,
reports, codecs, allocator). The codecs' flags are not written here: each codec family declares
its options when it registers (:mod:`bench.core.options`), and their convenience flags
(``--device``, ``--checkpoint`` …) and ``--codec-args NAME:KEY=VALUE,…`` are built from those
declarations. ``python -m bench train …`` hands its arguments to ``python -m bench.learned.train``.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import study
from bench.core import registry
from bench.core.errors import BenchError, CodecError, CodecUnavailable
from bench.core.options import Option, flag_options, layered, parse_codec_args, resolve


def run_main(command: Callable[[], int], *, interrupted: str = "interrupted") -> int:
    """Run a command-line ``command`` (the one wrapper of the project's CLIs).

    A :class:`BenchError` becomes one line ``error: …`` on stderr and exit status 2; Ctrl-C prints
    ``interrupted`` and gives 130.
    """
    try:
        return command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder or file this user may not write (or read): one line, no traceback
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not exc.filename:
            raise
        print(f"error: {exc.filename}: {(exc.strerror or 'not permitted').lower()}; fix its permissions or "
              "write elsewhere", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{interrupted}", file=sys.stderr)
        return 130


class _LogFormatter(logging.Formatter):
    """Library log lines as they are; warnings start with ``warning:`` like the commands' own."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        return f"warning: {text}" if record.levelno >= logging.WARNING else text


# --- shared option groups (parent parsers) --------------------------------------------------------


def _dataset_parent() -> argparse.ArgumentParser:
    """Which images: a built-in dataset or a folder."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("--dataset", default="kodak", help="built-in dataset name (default: %(default)s)")
    group.add_argument("--data", metavar="DIR", help="benchmark every image of this folder instead")
    parent.add_argument("--kodak-dir", metavar="DIR",
                        help="local Kodak copy to verify and use instead of downloading (env BENCH_KODAK_DIR)")
    parent.add_argument("--cache-dir", metavar="DIR", help="download cache (env BENCH_CACHE_DIR)")
    parent.add_argument("--name", metavar="NAME",
                        help="dataset name of the --data folder, and its results folder <results>/NAME "
                             "(default: the folder's own name)")
    return parent


def _results_parent() -> argparse.ArgumentParser:
    """Which stored results: ``<results>/<dataset>/``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--results", default="results", metavar="DIR", help="results folder (default: %(default)s)")
    parent.add_argument("--dataset", default="kodak", help="dataset name in the results (default: %(default)s)")
    return parent


def _report_parent() -> argparse.ArgumentParser:
    """Where reports go and how BD-rates are computed."""
    from bench.analysis.bdrate import DEFAULT_RESAMPLES

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--reports", default="reports", metavar="DIR", help="output folder (default: %(default)s)")
    parent.add_argument("--anchor", default="jpeg",
                        help="anchor codec, published:<model> for a shipped published curve, ref:<name> for a "
                             "--reference curve, or a reference file (JSON, or CSV of one curve) (default: jpeg)")
    parent.add_argument("--method", choices=("cubic", "pchip", "both"), default="both",
                        help="BD fit: cubic (VCEG-M33, default in tables) or pchip (JVET CTC) (default: %(default)s)")
    parent.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help="bootstrap resamples over images for the 95%% CI (default: %(default)s)")
    parent.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    parent.add_argument("--reference", action="append", default=[], metavar="FILE|GLOB|published:KEY",
                        help="a reference curve to compare and draw: a CompressAI results JSON, a tidy CSV "
                             "(codec,point,bpp,psnr,ms_ssim), a glob of them, or a shipped curve such as "
                             "published:vtm (hm, bpg, av1, webp, jpeg2000, the zoo models); named ref:<its name>, "
                             "refused when it declares another dataset; repeatable")
    parent.add_argument("--codecs", metavar="A,B", help="comma-separated codecs (and ref:… curves) to compare with "
                                                        "the anchor (default: all)")
    parent.add_argument("--anchor-points", metavar="P1,P2,…",
                        help="only these operating points of the anchor enter the BD fit (default: all); the "
                             "fit-range rule then chooses among them")
    parent.add_argument("--rate-range", metavar="LOW:HIGH",
                        help="only points whose mean rate lies in [LOW, HIGH] bpp, of every curve, enter the BD fit "
                             "(applied after --anchor-points; default: all)")
    parent.add_argument("--latex", action="store_true",
                        help="also write the BD tables as LaTeX (bd-rate.tex, booktabs) beside bd-rate.md and .csv")
    return parent


def _allocator_parent() -> argparse.ArgumentParser:
    from bench.core.allocator import MODES

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--allocator", choices=MODES, default="system",
                        help="heap policy of the timing process: system is glibc's default, what every PyTorch "
                             "user gets (and compressai's eval_model), which maps and page-faults freed large "
                             "blocks again on every call; caching (opt-in, labelled in every table that uses it) "
                             "keeps them for reuse, as torch does on CUDA (default: %(default)s)")
    return parent


_FLAG_DEST = "codec flag "
"""Prefix of the namespace attributes of codec flags (``codec flag --device``): they never clash."""


def _codec_parent(*, only: Sequence[str] | None = None, exclude: Sequence[str] = (),
                  codec_args: bool = True) -> argparse.ArgumentParser:
    """The convenience flags of the registered codecs' options, grouped by the codecs that declare
    them, and ``--codec-args``. ``only``: just these option names; ``exclude``: not these flags.

    Flags keep no default in the namespace (only flags given appear), so they can override
    defaults as well as recorded options.
    """
    parent = argparse.ArgumentParser(add_help=False)
    groups: dict[tuple[str, ...], Any] = {}
    for flag, (option, codecs) in flag_options(registry.declared()).items():
        if flag in exclude or (only is not None and option.name not in only):
            continue
        if codecs not in groups:
            groups[codecs] = parent.add_argument_group(f"options of {_names(codecs)}")
        groups[codecs].add_argument(flag, dest=_FLAG_DEST + flag, default=argparse.SUPPRESS, **_flag_kwargs(option))
    if codec_args:
        parent.add_argument("--codec-args", action="append", default=[], metavar="NAME:KEY=VALUE[,KEY=VALUE]",
                            help="set options of one codec, over the flags above; repeatable "
                                 "(`python -m bench codecs` lists every codec's options)")
    return parent


def _names(codecs: Sequence[str]) -> str:
    return ", ".join(codecs) if len(codecs) <= 3 else f"{codecs[0]} … {codecs[-1]} ({len(codecs)} codecs)"


def _flag_kwargs(option: Option) -> dict[str, Any]:
    """How argparse reads an option's flag: bool sets the opposite of the default, list appends."""
    if option.type is bool:
        value = not option.default
        return {"action": "store_const", "const": value,
                "help": f"{option.name}={str(value).lower()} ({option.name}: {option.help})"}
    kwargs: dict[str, Any] = {"metavar": option.metavar, "help": option.help}
    if option.type is list:
        return {**kwargs, "action": "append", "metavar": option.metavar or "VALUE"}
    if option.type is not str:
        kwargs["type"] = option.type
    if option.choices:
        kwargs["choices"] = option.choices
    if option.default is not None:
        kwargs["help"] += f" (default: {option.default})"
    return kwargs


def _flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """``{"--device": "cpu", …}``: the codec flags given on the command line."""
    return {dest[len(_FLAG_DEST):]: value for dest, value in vars(args).items() if dest.startswith(_FLAG_DEST)}


def _define_variants(args: argparse.Namespace) -> None:
    """Register the codecs that the given option values define (:func:`bench.core.registry.expand`, e.g.
    the named models of ``--checkpoint NAME@ARCH:…``), so that their names work from here on."""
    declared = registry.declared()
    specs = [spec for spec in getattr(args, "codec_args", []) if spec.partition(":")[0].strip() in declared]
    given = parse_codec_args(specs, declared)  # --codec-args of a variant itself are read once it exists
    flags = _flag_values(args)
    registry.expand({name: layered(options, flags, given.get(name, {})) for name, options in declared.items()})


def _codec_options(args: argparse.Namespace, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``name → option values`` for each codec: defaults ← convenience flags ← ``--codec-args``."""
    _define_variants(args)
    given = parse_codec_args(getattr(args, "codec_args", []), registry.declared())
    flags = _flag_values(args)
    options = {name: registry.entry(name).options for name in names}  # an unknown name lists the known ones
    return {name: resolve(options[name], layered(options[name], flags, given.get(name, {})), codec=name)
            for name in names}


def _codec_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``name → option values given on the command line`` (no defaults), for codecs given any."""
    _define_variants(args)
    declared = registry.declared()
    given = parse_codec_args(args.codec_args, declared)
    flags = _flag_values(args)
    overrides = {name: layered(options, flags, given.get(name, {})) for name, options in declared.items()}
    return {name: values for name, values in overrides.items() if values}


def _warn_plugin_errors() -> None:
    for line in registry.load_errors():
        print(f"warning: {line}", file=sys.stderr)


def _use_allocator(requested: str) -> str:
    """Put this process under the heap policy ``requested``; say so when it cannot be had."""
    from bench.core.allocator import apply

    effective = apply(requested)
    if effective != requested:
        print(f"note: --allocator {requested} needs glibc; timing under the system allocator", file=sys.stderr)
    return effective


def _methods(args: argparse.Namespace) -> tuple[str, ...]:
    return ("cubic", "pchip") if args.method == "both" else (args.method,)


PROG = "python -m bench"
"""The command's name in usage lines; the installed console script is ``lic-bench``."""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The parser of every command; the codecs' flags come from their declared options.

    Raises CodecError when a codec's flag clashes with another option.
    """
    try:
        return _build_parser(prog)
    except argparse.ArgumentError as exc:
        raise CodecError(f"a codec option's flag clashes with another option ({exc}); give the codec's option "
                         "another flag") from None


def _build_parser(prog: str) -> argparse.ArgumentParser:
    dataset, results, reports = _dataset_parent(), _results_parent(), _report_parent()
    allocator, codecs = _allocator_parent(), _codec_parent()
    parser = argparse.ArgumentParser(prog=prog, description="Benchmark image codecs on a dataset.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="measure codecs on a dataset (resumes where it stopped)",
                              parents=[dataset, allocator, codecs])
    run.add_argument("--codecs", default="jpeg", help="comma-separated codec names (default: %(default)s)")
    run.add_argument("--points", action="append", default=[], metavar="[CODEC=]P1,P2",
                     help="operating points: CODEC=P1,P2 for one codec (repeatable, e.g. --points jpeg=q25,q50 "
                          "--points webp=q40), or a plain list for every named codec without its own "
                          "(default: each codec's own)")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="processes for RD metrics of CPU codecs; timings are always sequential (default: %(default)s)")
    run.add_argument("--repeats", type=int, default=3,
                     help="timed repeats per encode/decode after an untimed warm-up; the median is kept and the "
                          "spread (max − min) recorded (default: %(default)s)")
    run.add_argument("--threads", type=int, default=1, help="torch threads in the timed process (default: 1)")
    run.add_argument("--results", default="results", metavar="DIR", help="results folder (default: %(default)s)")
    run.add_argument("--reco-dir", metavar="DIR", type=Path,
                     help="also write reconstructions as PNG here (DIR/codec/point/<file name>.png)")
    run.add_argument("--bitstreams", metavar="DIR", type=Path,
                     help="also store every bitstream here (DIR/codec/point/<file name>.bin, e.g. img.png.bin), "
                          "for `verify`")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--wait", type=float, metavar="SECONDS",
                     help="wait at most this long for another run writing into the same results folder; 0 "
                          "refuses at once (default: as long as it takes)")
    run.add_argument("--strict", action="store_true",
                     help="refuse the run when any file of the dataset is unusable (default: measure the usable "
                          "ones and list the others)")
    run.add_argument("--executor", choices=("local", "dask"), default="local",
                     help="where tasks run: local (this machine, --jobs processes) or dask (one task per codec, "
                          "point and image on a Dask cluster; this process writes the rows; docs/cluster.md) "
                          "(default: %(default)s)")
    run.add_argument("--scheduler", metavar="ADDRESS", default=None,
                     help="Dask scheduler address, e.g. tcp://10.0.0.5:8786, for --executor dask (env "
                          "BENCH_DASK_SCHEDULER; default: start a local cluster of --jobs one-thread workers)")
    run.add_argument("--shard", metavar="I/N", type=_shard,
                     help="measure only the I-th of N shares of the task list (every N-th (codec, point, image) "
                          "from the I-th), e.g. for array jobs, each with its own --results; `merge` joins them")

    merge = commands.add_parser("merge", help="merge the results folders of several runs (e.g. --shard jobs) into "
                                              "one: rows by key, run metadata, the dataset manifest")
    merge.add_argument("sources", nargs="+", metavar="DIR", help="results folders to merge (their --results)")
    merge.add_argument("--results", default="results", metavar="DIR",
                       help="results folder merged into (default: %(default)s)")

    commands.add_parser("codecs", help="list the registered codecs and their options")

    commands.add_parser("summary", help="print the averages of stored results, and which other datasets the "
                                       "results folder holds", parents=[results])

    commands.add_parser("fetch", help="download (or verify a local copy of) a dataset", parents=[dataset])

    commands.add_parser("bd-rate", help="BD-rate / BD-PSNR tables against an anchor, with bootstrap CIs",
                        parents=[results, reports])

    report = commands.add_parser("report", help="regenerate reports/REPORT.md with figures and tables "
                                                "from stored results (no encoding)", parents=[results, reports])
    report.add_argument("--max-bpp", type=float, default=2.0,
                        help="right end of the RD figures' rate axis; 0 shows every point (default: %(default)s)")
    report.add_argument("--log-rate", action="store_true", help="RD figures with a logarithmic rate axis")
    report.add_argument("--spread", choices=("band", "scatter"),
                        help="per-image spread on the RD figures: band (± one standard deviation of the images' "
                             "quality at each point) or scatter (every image's point) (default: none)")
    report.add_argument("--delta-panel", action="store_true",
                        help="a panel under each RD figure: each curve's quality minus the anchor's at the same rate "
                             "(anchor interpolated linearly in log rate)")
    report.add_argument("--label", action="append", default=[], metavar="CURVE=TEXT",
                        help="legend text of a curve in the figures (jpeg=\"JPEG (libjpeg-turbo)\", VTM=\"VTM 12\"); "
                             "repeatable")

    visual = commands.add_parser("visual", help="same crop decoded by each codec near a target bpp",
                                 parents=[dataset, codecs])
    visual.add_argument("--image", default="kodim19.png", help="image of the dataset, or a path (default: %(default)s)")
    visual.add_argument("--codecs", default="jpeg", help="comma-separated codec names (default: %(default)s)")
    visual.add_argument("--target-bpp", type=float, default=0.25,
                        help="rate each codec's shown operating point is chosen near, in bits per pixel "
                             "(default: %(default)s)")
    visual.add_argument("--crop", metavar="LEFT,TOP[,W,H]", help="region of the crop (default: chosen per image)")
    visual.add_argument("--size", type=int, default=256, help="crop side when --crop gives no size (default: 256)")
    visual.add_argument("--reports", default="reports", metavar="DIR", help="output folder (default: %(default)s)")

    # a learned-wing tool: it takes the learned codecs' weights options, and its own --device
    weights = _codec_parent(only=("weights_mirror", "checkpoint", "checkpoint_dir", "weights_cache"),
                            codec_args=False)
    complexity = commands.add_parser("complexity", help="params, MACs, encoder/decoder time and peak memory "
                                                        "per learned model and λ", parents=[dataset, allocator, weights])
    complexity.add_argument("--results", default="results", metavar="DIR",
                            help="harness results whose encode/decode times are tabulated (default: %(default)s)")
    complexity.add_argument("--archs", default=",".join(study.ARCHITECTURES),
                            help="learned architectures (default: the study's, %(default)s)")
    complexity.add_argument("--points", default=",".join(study.POINTS),
                            help="operating points (default: the study's λ, %(default)s)")
    complexity.add_argument("--images", type=int, default=4,
                            help="images timed step by step (network vs entropy coding); the first one "
                                 "is used for peak memory (default: %(default)s)")
    complexity.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                            help="where the models run (default: %(default)s)")
    complexity.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    complexity.add_argument("--repeats", type=int, default=3,
                            help="timed repeats per step; the median is kept (default: %(default)s)")
    complexity.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory measurement")
    complexity.add_argument("--bd-rate", metavar="CSV", default="reports/bd-rate.csv",
                            help="BD-rates for the decode-time plot, if the file exists (default: %(default)s)")
    complexity.add_argument("--reports", default="reports", metavar="DIR", help="output folder (default: %(default)s)")

    export = commands.add_parser("export", help="write mean curves in CompressAI's results JSON format",
                                 parents=[results])
    export.add_argument("--codecs", help="comma-separated codec names (default: all in the results)")

    commands.add_parser("train", add_help=False, help="train the study's models: every argument goes to "
                                                      "`python -m bench.learned.train` (try `train --help`)")

    migrate = commands.add_parser("migrate", help="rewrite stored rows.csv and runs/*.json in the current format")
    migrate.add_argument("--results", default="results", metavar="DIR",
                         help="results folder (<DIR>/<dataset>/rows.csv; default: %(default)s)")

    # codec flags and --codec-args here override the options the run recorded (e.g. moved weights)
    verify = commands.add_parser("verify", help="decode stored bitstreams again in a separate process and "
                                                "compare the reconstructions",
                                 parents=[dataset, _codec_parent(exclude=("--device",))])
    verify.add_argument("--bitstreams", metavar="DIR", type=Path, required=True,
                        help="bitstreams written by `run --bitstreams DIR`")
    verify.add_argument("--results", default="results", metavar="DIR", help="results folder of that run")
    verify.add_argument("--codecs", help="comma-separated codec names to check (default: all stored)")
    verify.add_argument("--threads", type=int,
                        help="torch threads of the second decode (default: 2 if the run used 1, else 1)")
    verify.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="device of the second decode; auto = the other one when CPU and CUDA both exist")
    return parser


def _shard(text: str) -> tuple[int, int]:
    """``"2/3"`` → ``(2, 3)``: the share of ``run --shard``."""
    index, _, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        shard = (0, 0)
    if not 1 <= shard[0] <= shard[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 1 ≤ I ≤ N, e.g. 1/3")
    return shard


def _executor(args: argparse.Namespace) -> tuple[str, str | None]:
    """The executor and Dask scheduler address of ``run`` (``--scheduler``, else env BENCH_DASK_SCHEDULER)."""
    if args.executor == "local":
        if args.scheduler:
            raise BenchError("--scheduler needs --executor dask")
        return "local", None
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise BenchError("--executor dask needs Dask distributed; install the pinned requirements "
                         "(pip install -r requirements.txt)")
    if args.reco_dir or args.bitstreams:
        raise BenchError("--reco-dir and --bitstreams write on the machine that measures; with --executor dask "
                         "that is a worker: run them with --executor local")
    import distributed  # noqa: F401  (configures its loggers on import; then ours apply)

    logging.getLogger("distributed").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    return "dask", args.scheduler or os.environ.get("BENCH_DASK_SCHEDULER") or None


def _dataset(args: argparse.Namespace, progress: bool = True):
    from bench.core.datasets import open_dataset

    spec = args.data if args.data else args.dataset
    return open_dataset(spec, kodak_dir=args.kodak_dir, cache_dir=args.cache_dir, progress=progress,
                        name=args.name)


def _unusable_lines(unusable: Mapping[str, str], heading: str) -> str:
    """``heading`` then one indented line per unusable file and its reason."""
    return "\n".join([heading, *(f"  {name}: {reason}" for name, reason in unusable.items())])


def _current_rows(results: str, dataset: str, *, quiet: bool = False):
    """The current rows of ``<results>/<dataset>`` (:mod:`bench.core.manifest`); unless ``quiet``, says on
    stderr how many rows are stale and which files of the dataset were not measured."""
    from bench.core.manifest import load_current_rows

    current = load_current_rows(Path(results) / dataset)
    if not quiet:
        _say_current(current, sys.stderr)
    return current


def _say_current(current: Any, stream: Any) -> None:
    """The stale rows and unusable files behind :func:`_current_rows`'s rows, on ``stream``."""
    if current.stale:
        print(current.note, file=stream)
    if current.manifest is not None and current.manifest.unusable:
        unusable = current.manifest.unusable
        print(_unusable_lines(unusable, f"{len(unusable)} of the dataset's files were not measured (unusable):"),
              file=stream)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _points_by_codec(specs: Sequence[str], names: Sequence[str]) -> dict[str, list[str]]:
    """``--points`` values → codec name → points: ``CODEC=P1,P2`` for one codec, a plain ``P1,P2`` for
    every named codec without its own; codecs given none are absent (their defaults apply)."""
    plain: list[str] = []
    own: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, points = spec.partition("=")
        if not sep:
            if plain:
                raise BenchError(f"--points {spec!r}: a plain list was already given ({','.join(plain)}); give the "
                                 "others as CODEC=P1,P2")
            plain = _split(spec)
            continue
        name = name.strip()
        if name not in names:
            raise BenchError(f"--points {spec!r}: {name!r} is not among --codecs ({', '.join(names)})")
        if name in own:
            raise BenchError(f"--points: {name} is given twice; put its points in one list")
        own[name] = _split(points)
        if not own[name]:
            raise BenchError(f"--points {spec!r}: no point after '='")
    return {name: own.get(name, plain) for name in names if own.get(name, plain)}


def _create_codecs(names: list[str], options: Mapping[str, Mapping[str, Any]],
                   points: Mapping[str, list[str]]) -> list[tuple]:
    """Build codecs (``options``: name → option values) and check their points (``points``: name → labels,
    defaults where absent); a codec that cannot run here (e.g. no weights) is skipped with one line."""
    created = []
    for name in names:
        try:
            codec = registry.create(name, options[name])
            chosen = points.get(name) or codec.default_points()
            for point in chosen:
                try:
                    codec.coder(point)  # validates labels (and loads weights) up front
                except CodecUnavailable:
                    raise
                except CodecError as exc:
                    if name in points:
                        raise CodecError(f"--points: {point!r} is not an operating point of {name} ({exc}); give "
                                         f"{name}'s own with --points {name}=P1,P2") from None
                    raise
        except CodecUnavailable as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        created.append((codec, chosen))
    return created


def cmd_run(args: argparse.Namespace) -> int:
    from bench.core.screening import prepare_images
    from bench.core.manifest import stale_note
    from bench.core.store import check_writable
    from bench.pipeline import CodecRun, Settings, evaluate
    from bench.analysis.summary import CONVENTION, format_table

    _warn_plugin_errors()
    if args.jobs < 1 or args.repeats < 1 or args.threads < 1:
        raise BenchError("--jobs, --repeats and --threads must be at least 1")
    if args.wait is not None and args.wait < 0:
        raise BenchError("--wait must be at least 0 seconds")
    executor, scheduler = _executor(args)
    names = _split(args.codecs)
    if not names:
        raise CodecError(f"no codec named; known codecs: {', '.join(registry.names())}")
    _define_variants(args)  # codecs that options define (named models) are known from here
    for name in names:
        registry.entry(name)  # unknown names fail before any download or encoding
    options = _codec_options(args, names)  # bad option values fail before any download or encoding
    dataset = _dataset(args, progress=not args.no_progress)
    check_writable(Path(args.results) / dataset.name / "rows.csv")  # a read-only results folder: before any work
    runs = [CodecRun(codec, tuple(points), options[codec.name])
            for codec, points in _create_codecs(names, options, _points_by_codec(args.points, names))]
    if not runs:
        raise CodecError("no codec could be run (see the lines above)")
    settings = Settings(jobs=args.jobs, repeats=args.repeats, threads=args.threads,
                        allocator=_use_allocator(args.allocator), reco_dir=args.reco_dir,
                        bitstream_dir=args.bitstreams, progress=not args.no_progress, strict=args.strict,
                        wait=args.wait, executor=executor, scheduler=scheduler, shard=args.shard)
    screening = prepare_images(dataset)  # every file, before any encoding
    unusable = {item.name: item.reason for item in screening.unusable}
    if unusable and screening.images and not args.strict:
        print(_unusable_lines(unusable, f"warning: {len(unusable)} of {len(dataset.items)} files are unusable and "
                                        "will not be measured (--strict refuses the run instead):"), file=sys.stderr)
    try:
        report = evaluate(dataset, runs, args.results, settings, screening=screening)
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished rows are kept in {Path(args.results) / dataset.name}/rows.csv; "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    shown = report.summary[report.summary["codec"].isin([run.codec.name for run in runs])]
    print(format_table(shown))
    scored = f", {report.scored} given their Y′CbCr PSNR" if report.scored else ""
    print(f"\n{len(report.rows)} rows ({report.measured} measured now, {report.timed} timed now{scored}, "
          f"{report.reused} reused) in {report.results_dir}/rows.csv")
    for reason, count in report.reasons.items():
        print(f"  {count} {reason}")
    print(f"averages: {CONVENTION}; written to {report.results_dir}/summary.csv")
    if report.stale:
        print(stale_note(report.stale))
    failed = int(shown["failed"].sum()) if not shown.empty else 0
    if failed:
        print(f"warning: {failed} rows failed; see the 'note' column of rows.csv", file=sys.stderr)
    if unusable:
        print(_unusable_lines(unusable, f"warning: {len(unusable)} of {len(dataset.items)} files were not measured "
                                        "(unusable):"), file=sys.stderr)
    if report.noisy:
        from bench.core.timing import NOISY_SPREAD

        print(f"warning: {len(report.noisy)} of the {report.timed_now} rows timed now have a spread (max − min of "
              f"{settings.repeats} repeats) above {100 * NOISY_SPREAD:.0f} % of their median, e.g. {report.noisy[0]}; the timings may be "
              "unstable: rerun on an idle machine, or with more --repeats (rows are then timed again)",
              file=sys.stderr)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.analysis.summary import write_summary
    from bench.core.manifest import load_current_rows
    from bench.core.merge import merge_results

    report = merge_results(args.sources, args.results)
    for folder in report.folders:
        current = load_current_rows(folder)
        write_summary(folder, current.rows)
        name = folder.name
        print(f"{folder}/rows.csv: {report.added[name]} rows merged, {report.unchanged[name]} already there; "
              f"{len(current.rows)} current rows summarised in {folder}/summary.csv")
    return 0


def cmd_codecs(args: argparse.Namespace) -> int:
    _warn_plugin_errors()
    declared = registry.declared()
    families: list[tuple[tuple[Option, ...], list[str]]] = []  # codecs with the same options, together
    for name in registry.names():
        print(f"{name:<28} {registry.entry(name).summary}")
        if declared[name]:
            family = next((f for f in families if f[0] == declared[name]), None)
            if family is None:
                families.append((declared[name], [name]))
            else:
                family[1].append(name)
    for options, names in families:
        print(f"\noptions of {', '.join(names)} (flag, or --codec-args NAME:KEY=VALUE,KEY=VALUE):")
        for option in options:
            flag = f"  {option.flag}" if option.flag else ""
            print(f"  {option.name} ({option.describe_type()}, default {json.dumps(option.default)}){flag}")
            print(f"      {option.help}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from bench.analysis.summary import CONVENTION, format_table, summarize
    from bench.core.store import datasets_in

    present = datasets_in(args.results)
    if args.dataset not in present:
        if not present:
            raise BenchError(f"no results in {args.results}/ (no <dataset>/rows.csv); measure with the run command "
                             "first, or give --results DIR")
        close = difflib.get_close_matches(args.dataset, present, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BenchError(f"no results for the dataset {args.dataset!r} in {args.results}/{hint}; datasets there: "
                         f"{', '.join(present)} (give --dataset NAME)")
    current = _current_rows(args.results, args.dataset, quiet=True)
    print(format_table(summarize(current.rows)))
    print(f"\naverages: {CONVENTION}")
    _say_current(current, sys.stdout)
    others = [name for name in present if name != args.dataset]
    if others:
        print(f"other datasets in {args.results}/: {', '.join(others)} (--dataset NAME)")
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
                               device=args.device, overrides=_codec_overrides(args), codecs=_split(args.codecs))
    print(f"first decode: {report.first}; second decode: {report.second}")
    for check in report.checks:
        for problem in check.problems:
            print(f"MISMATCH {check.stream.path}: {problem}")
    for line in report.skipped:
        print(f"skipped {line}", file=sys.stderr)
    bad = sum(1 for check in report.checks if check.problems)
    print(f"{len(report.checks)} bitstreams decoded twice: {len(report.checks) - bad} identical, {bad} with problems")
    return 1 if bad else 0


def _bd_choice(args: argparse.Namespace, dataset: str) -> dict[str, Any]:
    """The BD options common to ``bd-rate`` and ``report``: anchor, reference curves, codecs, points, range."""
    from bench.analysis.refcurves import is_reference_file, reference_curves

    references = reference_curves(args.reference, dataset)
    anchor = args.anchor
    if is_reference_file(anchor):
        from_file = reference_curves([anchor], dataset)
        if len(from_file) != 1:
            raise BenchError(f"--anchor {anchor}: the file holds {len(from_file)} curves; give it with --reference "
                             "and name one as --anchor ref:<name>")
        anchor = from_file[0].name
        if all(r.name != anchor for r in references):
            references.append(from_file[0])
    return {"anchor": anchor, "references": references, "codecs": _split(args.codecs) or None,
            "anchor_points": _split(args.anchor_points) or None, "rate_range": _rate_range(args.rate_range)}


def _rate_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    low, sep, high = text.replace(",", ":").partition(":")
    try:
        return float(low), float(high)
    except ValueError:
        raise BenchError(f"--rate-range {text!r}: expected LOW:HIGH in bpp, e.g. 0.1:1.5") from None


def cmd_bd_rate(args: argparse.Namespace) -> int:
    from bench.analysis.bdreport import bd_tables, write_bd_tables
    from bench.analysis.report import load_runs

    rows = _current_rows(args.results, args.dataset).rows
    runs = load_runs(Path(args.results) / args.dataset, sorted(set(rows["run_id"].astype(str))))
    table, study = bd_tables(rows, methods=_methods(args), n_boot=args.bootstrap, seed=args.seed, runs=runs,
                             **_bd_choice(args, args.dataset))
    paths = write_bd_tables(table, study, args.reports, latex=args.latex)
    for path in paths:
        if path.suffix == ".md":
            print(path.read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.analysis.report import write_report

    labels = {}
    for spec in args.label:
        name, sep, text = spec.partition("=")
        if not sep or not name.strip():
            raise BenchError(f"--label {spec!r}: expected CURVE=TEXT, e.g. jpeg=\"JPEG (libjpeg-turbo)\"")
        labels[name.strip()] = text
    paths = write_report(args.results, args.dataset, args.reports, methods=_methods(args),
                         n_boot=args.bootstrap, seed=args.seed, max_bpp=args.max_bpp or None, latex=args.latex,
                         labels=labels, log_rate=args.log_rate, spread=args.spread, delta_panel=args.delta_panel,
                         **_bd_choice(args, args.dataset))
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
    codecs = [codec for codec, _ in _create_codecs(names, _codec_options(args, names), {})]
    paths, choices = visual_comparison(image, codecs, args.reports, target_bpp=args.target_bpp, region=region,
                                       size=args.size)
    for choice in choices:
        print(choice)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_complexity(args: argparse.Namespace) -> int:
    from bench.analysis.complexity_plot import read_bd_rates
    from bench.analysis.complexity_report import render_complexity
    from bench.learned.complexity.run import run_complexity
    from bench.learned.weights import source_from_options

    archs = _split(args.archs)
    source = source_from_options(_codec_options(args, archs[:1])[archs[0]] if archs else {})
    dataset = _dataset(args, progress=False)
    rows = Path(args.results) / dataset.name / "rows.csv"
    bd_path = Path(args.bd_rate)
    paths = run_complexity(
        args.reports, archs=archs, points=_split(args.points), source=source,
        rows_path=rows if rows.exists() else None,
        images=[item.path for item in dataset.items[: max(args.images, 0)]],
        device=args.device, threads=args.threads, repeats=args.repeats, allocator=_use_allocator(args.allocator),
        memory=not args.no_memory,
        progress=lambda message: print(message, file=sys.stderr),
    )
    paths += render_complexity(args.reports, bd_rates=read_bd_rates(bd_path) if bd_path.exists() else None)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.analysis.export import export_results

    paths = export_results(args.results, args.dataset, _split(args.codecs) or None)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``python -m bench train ARGS`` = ``python -m bench.learned.train ARGS``."""
    from bench.learned.train.__main__ import main as train_main

    return train_main([*(["--verbose"] if args.verbose else []), *args.passthrough],
                      prog=getattr(args, "prog", "python -m bench train"))


def cmd_migrate(args: argparse.Namespace) -> int:
    from bench.core.migrate import migrate_results

    report = migrate_results(args.results)
    for item in report.rewritten:
        print(f"{item.path}: " + "; ".join(item.changes))
    print(f"{len(report.rewritten)} file(s) rewritten, {len(report.current)} already current")
    return 0


COMMANDS = {"run": cmd_run, "codecs": cmd_codecs, "summary": cmd_summary, "fetch": cmd_fetch,
            "verify": cmd_verify, "bd-rate": cmd_bd_rate, "report": cmd_report, "visual": cmd_visual,
            "export": cmd_export, "complexity": cmd_complexity, "migrate": cmd_migrate, "train": cmd_train,
            "merge": cmd_merge}


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """Run one command (``argv``: the arguments after the program name; default: ``sys.argv[1:]``)."""
    return run_main(lambda: _dispatch(argv, prog))


def lic_bench() -> int:
    """The ``lic-bench`` console script of ``pip install -e .``: :func:`main` under that name."""
    return main(prog="lic-bench")


def _dispatch(argv: Sequence[str] | None, prog: str) -> int:
    parser = build_parser(prog)
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:
        if exc.code:  # a flag of a plug-in that failed to load would be unknown: say why
            _warn_plugin_errors()
        raise
    if args.command == "train":  # the training CLI parses its own arguments and sets up its logging
        args.passthrough = extra
        args.prog = f"{prog} train"
        return cmd_train(args)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # CompressAI 1.2.8 calls torch.jit.script at import time; the deprecation notice is not ours to fix.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter("%(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    return COMMANDS[args.command](args)
