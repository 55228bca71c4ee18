"""The command line's parser: option groups shared by several commands (parent parsers), the
codecs' convenience flags built from their declared options (:mod:`bench.core.options`), every
command's options, and the codec option values read back from a parsed namespace.

:mod:`bench.cli` runs the commands; nothing here prints.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import study
from bench.core import registry
from bench.core.errors import CodecError
from bench.core.options import Option, flag_options, layered, parse_codec_args, resolve
from bench.core.timing import MIN_VALUE_S

__all__ = ["PROG", "build_parser", "codec_options", "codec_overrides", "define_variants", "flag_values", "methods"]


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
    parent.add_argument("--dataset", help="dataset name in the results (default: kodak, or the results' only "
                                          "dataset when they hold no kodak)")
    parent.add_argument("--identity", action="append", default=[], metavar="CODEC=HASH",
                        help="use the codec's rows of this identity (a prefix of its codec hash; `summary "
                             "--identities` lists them) instead of its latest run's; repeatable")
    return parent


def _report_parent() -> argparse.ArgumentParser:
    """Where reports go and how BD-rates are computed."""
    from bench.analysis.bdrate import CI_METHODS, DEFAULT_MC_TARGET, DEFAULT_RESAMPLES, MAX_RESAMPLES

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--reports", default="reports", metavar="DIR", help="output folder (default: %(default)s)")
    parent.add_argument("--anchor", default="jpeg",
                        help="anchor codec, published:<model> for a shipped published curve, ref:<name> for a "
                             "--reference curve, or a reference file (JSON, or CSV of one curve) (default: jpeg)")
    parent.add_argument("--method", choices=("cubic", "pchip", "both"), default="both",
                        help="BD fit: cubic (VCEG-M33, default in tables) or pchip (JVET CTC) (default: %(default)s)")
    parent.add_argument("--bootstrap", type=int, default=DEFAULT_RESAMPLES, metavar="N",
                        help="bootstrap resamples over images for the 95%% CI, drawn first (default: %(default)s)")
    parent.add_argument("--mc-error", type=float, default=DEFAULT_MC_TARGET, metavar="E",
                        help="draw more resamples until the Monte-Carlo error of each interval's ends is at most E "
                             "percentage points; 0: exactly --bootstrap N (default: %(default)s)")
    parent.add_argument("--max-resamples", type=int, default=MAX_RESAMPLES, metavar="N",
                        help="the most resamples one interval draws to meet --mc-error; the error reached is "
                             "printed (default: %(default)s)")
    parent.add_argument("--ci-method", choices=CI_METHODS, default="percentile",
                        help="bootstrap interval: percentile, or bca (bias-corrected and accelerated) "
                             "(default: %(default)s)")
    parent.add_argument("--pairs", action="store_true",
                        help="also compare every codec with every other (paired intervals; bd-rate-pairs.csv and a "
                             "matrix per metric)")
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
                        help="also write the BD-rates as one LaTeX table (bd-rate.tex, booktabs: a row per codec, "
                             "PSNR, MS-SSIM and PSNR-Y side by side, the first --method) beside bd-rate.md and .csv")
    parent.add_argument("--latex-no-ci", action="store_true",
                        help="leave the confidence intervals out of bd-rate.tex")
    parent.add_argument("--allow-subset", action="store_true",
                        help="compare with a reference whose means are over another number of images than the "
                             "results' (a subset of Kodak against the published 24-image curves); the figures' "
                             "legends then give each curve's image count (default: refused)")
    return parent


def _label_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--label", action="append", default=[], metavar="CURVE=TEXT",
                        help="the name a codec or curve is shown by, in tables, CSV and figures alike (jpeg=\"JPEG "
                             "(libjpeg-turbo)\", VTM=\"VTM 12\"); repeatable")
    return parent


def _figure_parent(style: str = "screen") -> argparse.ArgumentParser:
    """How RD figures are drawn: axis, spread, delta panel, and the look (size, text)."""
    from bench.analysis.figstyle import STYLE_NAMES, WIDTHS

    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--log-rate", action="store_true", help="a logarithmic rate axis")
    parent.add_argument("--spread", choices=("band", "scatter"),
                        help="per-image spread: band (± one standard deviation of the images' quality at each "
                             "point, edged in the curve's colour) or scatter (every image's point) (default: none)")
    parent.add_argument("--delta-panel", action="store_true",
                        help="a panel under the RD figure: each curve's quality minus the anchor's at the same rate "
                             "(anchor interpolated linearly in log rate)")
    parent.add_argument("--style", choices=tuple(STYLE_NAMES), default=style,
                        help="screen: 8 in wide, 10 pt, a title, the legend inside; paper: 3.5 in (one column), "
                             "8 pt, no title, the legend below, PDF fonts embedded, SVG text as text, PNG at 300 dpi "
                             "(default: %(default)s)")
    parent.add_argument("--width", choices=tuple(WIDTHS),
                        help="paper width: column (3.5 in) or page (7.16 in); implies --style paper")
    parent.add_argument("--figsize", metavar="WxH", help="figure size in inches, e.g. 3.5x2.6 (default: the style's)")
    parent.add_argument("--font-size", type=float, metavar="PT", help="text size in points (default: the style's)")
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


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """``{"--device": "cpu", …}``: the codec flags given on the command line."""
    return {dest[len(_FLAG_DEST):]: value for dest, value in vars(args).items() if dest.startswith(_FLAG_DEST)}


def define_variants(args: argparse.Namespace) -> dict[str, str]:
    """Register the codecs that the given option values define (:func:`bench.core.registry.expand`, e.g.
    the named models of ``--checkpoint NAME@ARCH:…``), so that their names work from here on; returns them,
    ``{name: base}``."""
    declared = registry.declared()
    specs = [spec for spec in getattr(args, "codec_args", []) if spec.partition(":")[0].strip() in declared]
    given = parse_codec_args(specs, declared)  # --codec-args of a variant itself are read once it exists
    flags = flag_values(args)
    return registry.expand({name: layered(options, flags, given.get(name, {})) for name, options in declared.items()})


def codec_options(args: argparse.Namespace, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``name → option values`` for each codec: defaults ← convenience flags ← ``--codec-args``."""
    define_variants(args)
    given = parse_codec_args(getattr(args, "codec_args", []), registry.declared())
    flags = flag_values(args)
    options = {name: registry.entry(name).options for name in names}  # an unknown name lists the known ones
    return {name: resolve(options[name], layered(options[name], flags, given.get(name, {})), codec=name)
            for name in names}


def codec_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``name → option values given on the command line`` (no defaults), for codecs given any."""
    define_variants(args)
    declared = registry.declared()
    given = parse_codec_args(args.codec_args, declared)
    flags = flag_values(args)
    overrides = {name: layered(options, flags, given.get(name, {})) for name, options in declared.items()}
    return {name: values for name, values in overrides.items() if values}






def methods(args: argparse.Namespace) -> tuple[str, ...]:
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
    from bench.analysis.curves import BD_METRICS

    dataset, results, reports = _dataset_parent(), _results_parent(), _report_parent()
    figure, label = _figure_parent(), _label_parent()
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
                     help="processes in all: every call is made and timed in this one, alone; with 2 or more, "
                          "batches of reconstructions are then scored in that many processes while nothing is "
                          "timed (default: %(default)s)")
    run.add_argument("--derive", choices=("on", "off"), default="on",
                     help="on (default): rows of mbt2018 on the CPU come from its exact wavefront coder (the "
                          "reference's bitstream, byte for byte) once this run's sample of images, coded by "
                          "CompressAI's own loop, matched every value; they are marked in the 'derived' column and "
                          "have no times (the sample's are the codec's). off: every row by CompressAI's loop")
    run.add_argument("--repeats", type=int, default=None, metavar="N",
                     help="time every encode/decode N times (single calls) after an untimed warm-up; the median is "
                          "kept and the spread (max − min) recorded. Default: by duration — a call under 0.1 s is "
                          "looped to ≥ --min-value a value, a longer one timed once; the repeatability sample's "
                          "rows (1/8 of each orientation's images) get 3 looped values or 2 single ones")
    run.add_argument("--min-value", type=float, default=MIN_VALUE_S, metavar="SECONDS",
                     help="by duration: the least time of one looped value of a short call (default: %(default)s; "
                          "pyperf's is 0.1 — docs/measurement.md#timing gives the measured noise of both)")
    run.add_argument("--metrics", metavar="LIST", default="",
                     help="plug-in metrics to score beside PSNR, its Y′CbCr channels and MS-SSIM (always scored): "
                          "names or sets, comma-separated (e.g. iw-ssim,vmaf or jpeg-ai); stored rows without them "
                          "are scored from their reconstruction made again, not re-measured. "
                          "`python -m bench metrics` lists them with their cost")
    run.add_argument("--targets", metavar="BPP,…",
                     help="also measure each parametric codec (JPEG, WebP, AVIF …) at the setting nearest each target "
                          "bit rate on each image, as the codec <name>-targets (e.g. 0.06,0.12,0.25,0.5,0.75, JPEG "
                          "AI's); learned codecs keep their λ points")
    run.add_argument("--trace", type=Path, metavar="FILE",
                     help="append one line per timed row and per scoring task (process, kind, CLOCK_MONOTONIC "
                          "start and end) to FILE, to check that no timed call overlapped other work")
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
    run.add_argument("--images", metavar="N|GLOB",
                     help="measure only some images, for a quick look: N spread over the file names and both "
                          "orientations (bench/core/subset.py), or those whose file name matches GLOB, e.g. "
                          "'kodim0*.png'; other images' rows are kept (default: all)")
    run.add_argument("--shard", metavar="I/N", type=_shard,
                     help="measure only the I-th of N shares of the task list (every N-th (codec, point, image) "
                          "from the I-th), e.g. for array jobs, each with its own --results; `merge` joins them")

    merge = commands.add_parser("merge", help="merge the results folders of several runs (e.g. --shard jobs) into "
                                              "one: rows by key, run metadata, the dataset manifest")
    merge.add_argument("sources", nargs="+", metavar="DIR", help="results folders to merge (their --results)")
    merge.add_argument("--results", default="results", metavar="DIR",
                       help="results folder merged into (default: %(default)s)")
    merge.add_argument("--mixed-hosts", action="store_true",
                       help="merge folders whose codecs were timed on other machines (refused by default: each "
                            "codec's times then come from one host)")

    commands.add_parser("codecs", help="list the registered codecs and their options")
    commands.add_parser("metrics", help="list the metrics (built-in and plug-ins), their sets and costs")

    summary = commands.add_parser("summary", help="print the averages of stored results, and which other datasets "
                                                  "the results folder holds", parents=[results])
    summary.add_argument("--identities", action="store_true",
                         help="list every codec's identities (codec hash and weights: settings the rows were "
                              "measured under) with their rows, images, runs and what differs, instead of averages")

    commands.add_parser("fetch", help="download (or verify a local copy of) a dataset", parents=[dataset])

    commands.add_parser("bd-rate", help="BD-rate / BD-PSNR tables against an anchor, with bootstrap CIs",
                        parents=[results, reports, label])

    report = commands.add_parser("report", help="regenerate reports/REPORT.md with figures and tables "
                                                "from stored results (no encoding)",
                                 parents=[results, reports, _figure_parent("paper"), label])
    report.add_argument("--max-bpp", type=float, default=2.0,
                        help="right end of the RD figures' rate axis; 0 shows every point (default: %(default)s)")
    report.add_argument("--allow-dirty", action="store_true",
                        help="write into a folder of committed reports although the git tree has uncommitted "
                             "changes; every page then says it was written from a dirty tree (default: refused)")

    plot = commands.add_parser("plot", help="one RD figure from stored results, in the files named (.pdf, .svg, "
                                            ".png); --style paper for a journal's column",
                                 parents=[results, figure, label])
    plot.add_argument("-o", "--output", action="append", required=True, metavar="PATH",
                      help="file to write, its format from the extension: .pdf (fonts embedded), .svg (text kept as "
                           "text with --style paper), .png; repeatable")
    plot.add_argument("--metric", default="psnr", metavar="COLUMN",
                      help=f"quality axis: {', '.join(BD_METRICS)} (PSNR RGB, MS-SSIM in dB, BT.709 luma), or a "
                           "plug-in metric the results were scored by, by its column or name (e.g. iw_ssim, nlpd) "
                           "(default: %(default)s)")
    plot.add_argument("--codecs", metavar="A,B",
                      help="the curves to draw, by codec, curve or label (published:KEY) (default: every measured "
                           "codec and its published curve on Kodak); --reference curves are drawn as well")
    plot.add_argument("--reference", action="append", default=[], metavar="FILE|GLOB|published:KEY",
                      help="a reference curve to draw as well (as for report); repeatable")
    plot.add_argument("--no-published", action="store_true",
                      help="leave out the measured codecs' published curves (drawn by default on Kodak)")
    plot.add_argument("--rate-range", metavar="LOW:HIGH",
                      help="the rate axis' ends in bpp, e.g. 0.1:1.5 (default: every point); curves with no point "
                           "in range are named under the figure")
    plot.add_argument("--anchor", default="jpeg", help="the curve the delta panel subtracts (default: %(default)s)")
    plot.add_argument("--title", help="a title over the figure (default: none on paper, the metric on screen)")

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

    # a learned-wing tool: it takes the learned codecs' weights options, --codec-args, and its own --device
    weights = _codec_parent(only=("weights_mirror", "checkpoint", "checkpoint_dir", "weights_cache"))
    complexity = commands.add_parser(
        "complexity", help="params, MACs, encoder/decoder time and peak memory per learned model and λ",
        description="Parameters per part, MACs per part and coding side (fvcore), time per step and peak memory "
                    "of CompressAI's architectures, of any codec plug-in whose coders hold a torch module (a "
                    "CompressionModelCodec on BENCH_CODEC_PATH) and of named models (--checkpoint NAME@ARCH:…); "
                    "other codecs get their whole encode/decode times and memory, and the report says why the "
                    "rest is absent. Tables and complexity.md go to --reports.",
        parents=[dataset, allocator, weights])
    complexity.add_argument("--results", default="results", metavar="DIR",
                            help="harness results whose encode/decode times are tabulated (default: %(default)s)")
    complexity.add_argument("--archs", default=",".join(study.ARCHITECTURES),
                            help="comma-separated CompressAI architectures, codecs (a plug-in's, e.g. "
                                 "tiny-factorized) or named models (NAME, or NAME@ARCH) (default: the study's, "
                                 "%(default)s)")
    complexity.add_argument("--points", help="operating points of every model (default: the study's λ, "
                                             f"{','.join(study.POINTS)}, for CompressAI architectures; a codec's "
                                             "own default points for the others)")
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
