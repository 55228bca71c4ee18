"""Command line: ``python -m bench <command>`` (or ``lic-bench``). The only place that prints and exits.

The parser — parent parsers shared by several commands, the codecs' convenience flags built from
their declared options, ``--codec-args`` — is :mod:`bench.cli_options`'s; here each command runs.
``python -m bench train …`` hands its arguments to ``python -m bench.learned.train``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bench.core import registry
from bench.core.errors import BenchError, CodecError, CodecUnavailable, one_line
from bench.core.metric_registry import resolve_metrics
from bench.cli_options import PROG, build_parser, codec_options, codec_overrides, define_variants, methods
from bench.cli_run import Terminated, interrupted_status, run_main
from bench.core.options import Option

if TYPE_CHECKING:
    from bench.core.manifest import CurrentRows
    from bench.core.screening import Screening


class _LogFormatter(logging.Formatter):
    """Library log lines as they are; warnings start with ``warning:`` like the commands' own."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"error: {text}"
        return f"warning: {text}" if record.levelno >= logging.WARNING else text


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


def _chosen(args: argparse.Namespace) -> dict[str, str]:
    """``--identity CODEC=HASH`` options as ``{codec: hash prefix}``."""
    from bench.core.identity import parse_choice

    return parse_choice(getattr(args, "identity", None) or [])


def _current_rows(results: str, dataset: str, *, quiet: bool = False,
                  chosen: Mapping[str, str] | None = None) -> CurrentRows:
    """The current rows of ``<results>/<dataset>`` (:mod:`bench.core.manifest`: the current images, one identity
    per codec); unless ``quiet``, says on stderr how many rows are stale or of other settings, and which files
    of the dataset were not measured."""
    from bench.core.manifest import load_current_rows

    current = load_current_rows(Path(results) / dataset, chosen)
    if not quiet:
        _say_current(current, sys.stderr)
    return current


def _say_current(current: CurrentRows, stream: TextIO) -> None:
    """The stale rows, rows of other settings and unusable files behind :func:`_current_rows`'s rows, on ``stream``."""
    for note in current.notes:
        print(note, file=stream)
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


def _targeted_runs(runs: Sequence[Any], options: Mapping[str, Mapping[str, Any]], text: str) -> list[Any]:
    """``run --targets``: the ``<name>-targets`` run of each parametric codec of ``runs`` (bench.core.targets)."""
    from bench.core.ratesearch import parse_targets
    from bench.core.targets import SUFFIX
    from bench.pipeline import CodecRun

    parse_targets(text)  # a bad list fails here, naming the value
    added = []
    for run in runs:
        if run.codec.search_points() is None:
            print(f"--targets: {run.codec.name} keeps its own points (no settings to search)", file=sys.stderr)
            continue
        name = run.codec.name + SUFFIX
        codec = registry.create(name, {**options[run.codec.name], "targets": text})
        added.append(CodecRun(codec, tuple(codec.default_points()), dict(codec.options)))
    return added


def cmd_run(args: argparse.Namespace) -> int:
    from bench.core.screening import prepare_images
    from bench.core.manifest import stale_note
    from bench.core.store import check_writable
    from bench.pipeline import CodecRun, Settings, evaluate
    from bench.analysis.summary import CONVENTION, format_table, precision_line

    _warn_plugin_errors()
    if args.jobs < 1 or (args.repeats is not None and args.repeats < 1) or args.threads < 1:
        raise BenchError("--jobs, --repeats and --threads must be at least 1")
    if args.wait is not None and args.wait < 0:
        raise BenchError("--wait must be at least 0 seconds")
    if not args.min_value > 0:
        raise BenchError(f"--min-value must be a positive number of seconds, got {args.min_value}")
    executor, scheduler = _executor(args)
    names = _split(args.codecs)
    if not names:
        raise CodecError(f"no codec named; known codecs: {', '.join(registry.names())}")
    defined = define_variants(args)  # codecs that options define (named models) are known from here
    unused = [name for name in defined if name not in names]
    if unused:
        raise CodecError(f"the options define {', '.join(unused)} (e.g. --checkpoint {unused[0]}@…), but --codecs "
                         f"does not name {'them' if len(unused) > 1 else 'it'}: add {', '.join(unused)} to --codecs, "
                         "or drop those checkpoints")
    for name in names:
        registry.entry(name)  # unknown names fail before any download or encoding
    options = codec_options(args, names)  # bad option values fail before any download or encoding
    metrics = tuple(metric.name for metric in resolve_metrics(_split(args.metrics)))  # unknown names fail here
    dataset = _dataset(args, progress=not args.no_progress)
    # a read-only results folder, or a link that would take a write elsewhere: refused before any work
    check_writable(Path(args.results) / dataset.name / "rows.csv", within=args.results)
    runs = [CodecRun(codec, tuple(points), options[codec.name])
            for codec, points in _create_codecs(names, options, _points_by_codec(args.points, names))]
    if not runs:
        raise CodecError("no codec could be run (see the lines above)")
    if args.targets:
        runs += _targeted_runs(runs, options, args.targets)
    allocator = _use_allocator(args.allocator)  # before the images are loaded: the policy applies from here on
    screening = prepare_images(dataset)  # every file, before any encoding
    subset = _subset(args.images, screening, strict=args.strict)
    settings = Settings(jobs=args.jobs, repeats=args.repeats, threads=args.threads,
                        allocator=allocator, reco_dir=args.reco_dir,
                        bitstream_dir=args.bitstreams, progress=not args.no_progress, strict=args.strict,
                        wait=args.wait, executor=executor, scheduler=scheduler, shard=args.shard, images=subset,
                        derive=args.derive == "on", min_value=args.min_value, trace=args.trace,
                        metrics=metrics)
    unusable = {item.name: item.reason for item in screening.unusable}
    if unusable and screening.images and not args.strict:
        print(_unusable_lines(unusable, f"warning: {len(unusable)} of {len(dataset.items)} files are unusable and "
                                        "will not be measured (--strict refuses the run instead):"), file=sys.stderr)
    try:
        report = evaluate(dataset, runs, args.results, settings, screening=screening)
    except KeyboardInterrupt as exc:
        how = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        print(f"\n{how}: finished rows are kept in {Path(args.results) / dataset.name}/rows.csv; "
              "rerun the same command to resume", file=sys.stderr)
        return interrupted_status(exc)
    shown = report.summary[report.summary["codec"].isin([run.codec.name for run in runs])]
    print(format_table(shown))
    scored = f", {report.scored} given the scores they lacked" if report.scored else ""
    derived = f", {report.derived} of them derived" if report.derived else ""
    print(f"\n{len(report.rows)} rows ({report.measured} measured now{derived}, {report.timed} re-timed{scored}, "
          f"{report.reused} reused; {report.timed_now} timed in this run) in {report.results_dir}/rows.csv")
    for reason, count in report.reasons.items():
        print(f"  {count} {reason}")
    print(f"averages: {CONVENTION}; written to {report.results_dir}/summary.csv")
    print(precision_line(shown))
    for line in report.derivation:
        print(f"derivation: {line}")
    if subset is not None:
        print(f"subset: {len(subset)} of {len(screening.images)} images measured (--images {args.images}); the "
              "table holds every stored row of the dataset")
    counts = sorted(set(shown["images"] + shown["failed"])) if not shown.empty else []
    if len(counts) > 1:  # e.g. a codec measured on a subset beside one measured on every image
        print(f"note: the lines hold rows of different numbers of images ({counts[0]} to {counts[-1]}), so their "
              "means are over different image sets; compare lines with equal n, or run without --images to "
              "complete them")
    if report.stale:
        print(stale_note(report.stale))
    for note in report.other_notes:
        print(note)
    failed = int(shown["failed"].sum()) if not shown.empty else 0
    if failed:
        print(f"warning: {failed} rows failed; see the 'note' column of rows.csv", file=sys.stderr)
    if unusable:
        print(_unusable_lines(unusable, f"warning: {len(unusable)} of {len(dataset.items)} files were not measured "
                                        "(unusable):"), file=sys.stderr)
    if report.noisy:
        from bench.core.timing import NOISY_SPREAD

        print(f"warning: {len(report.noisy)} of the {report.repeated_now} rows timed now with several values have a "
              f"spread (max − min) above {100 * NOISY_SPREAD:.0f} % of their median, e.g. {report.noisy[0]}; the "
              "timings may be unstable: rerun on an idle machine (rows are then timed again with --repeats N)",
              file=sys.stderr)
    return 0


def _subset(spec: str | None, screening: Screening, *, strict: bool) -> tuple[str, ...] | None:
    """The images of ``run --images spec`` (None: all); a dataset the run would refuse is refused first."""
    if spec is None:
        return None
    from bench.core.subset import select_images

    refusal = screening.refusal(strict=strict)
    if refusal is not None:
        raise refusal
    sizes = {image.name: image.pixels.shape[:2] for image in screening.images}
    return select_images(spec, sizes, dataset=screening.dataset.name)


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.analysis.summary import write_summary
    from bench.core.manifest import load_current_rows
    from bench.core.merge import merge_results

    report = merge_results(args.sources, args.results, mixed_hosts=args.mixed_hosts)
    for folder in report.folders:
        current = load_current_rows(folder)
        write_summary(folder, current.rows)
        name = folder.name
        print(f"{folder}/rows.csv: {report.added[name]} rows merged, {report.unchanged[name]} already there; "
              f"{len(current.rows)} current rows summarised in {folder}/summary.csv")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from bench.core.metric import COST_CLASSES
    from bench.core.metric_registry import BUILTIN, SETS, create_metric, load_errors, metric_names

    for line in load_errors():
        print(f"warning: {line}", file=sys.stderr)
    print("always scored:")
    for name, columns in BUILTIN.items():
        print(f"  {name:<14} {', '.join(columns)}")
    print("plug-ins (run --metrics NAME,…):")
    for name in metric_names():
        try:
            metric = create_metric(name)
        except BenchError as exc:
            print(f"  {name:<14} cannot be built: {one_line(exc)}")
            continue
        direction = "higher is better" if metric.higher_is_better else "lower is better"
        print(f"  {name:<14} {', '.join(c.name for c in metric.columns)} ({direction}; {metric.cost}: "
              f"{COST_CLASSES[metric.cost]}; on {metric.needs}) {metric.describe()}")
    print("sets:")
    for name, members in SETS.items():
        print(f"  {name:<14} {', '.join(members)}")
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
    if args.identities:
        return _print_identities(args)
    current = _current_rows(args.results, args.dataset, quiet=True, chosen=_chosen(args))
    print(format_table(summarize(current.rows)))
    print(f"\naverages: {CONVENTION}")
    _say_current(current, sys.stdout)
    others = [name for name in present if name != args.dataset]
    if others:
        print(f"other datasets in {args.results}/: {', '.join(others)} (--dataset NAME)")
    return 0


def _print_identities(args: argparse.Namespace) -> int:
    """``summary --identities``: every codec's identities, the one averaged first."""
    from bench.core.identity import identities
    from bench.core.manifest import current_rows, read_manifest, stale_note
    from bench.core.schema import read_runs
    from bench.core.store import load_rows

    folder = Path(args.results) / args.dataset
    rows, stale = current_rows(load_rows(folder / "rows.csv"), read_manifest(folder))
    table = identities(rows, read_runs(folder), _chosen(args))
    print(f"{'codec':<24} {'codec hash':<16} {'weights':<7} {'used':<4} {'rows':>5} {'images':>6} {'runs':>4}  "
          f"{'latest run':<24} differs from the one used")
    for r in table.itertuples(index=False):
        print(f"{r.codec:<24} {r.codec_hash:<16} {r.weights or '—':<7} {'yes' if r.current else 'no':<4} {r.rows:>5d} "
              f"{r.images:>6d} {r.runs:>4d}  {r.latest_run:<24} {r.differs or '—'}")
    print("\nused: the identity averaged (the codec's latest run's, or --identity CODEC=HASH); the others are kept "
          "in rows.csv, never averaged")
    if stale:
        print(stale_note(stale))
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
                               device=args.device, overrides=codec_overrides(args), codecs=_split(args.codecs))
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
    if args.mc_error < 0 or args.max_resamples < args.bootstrap:
        raise BenchError(f"--mc-error {args.mc_error:g} --max-resamples {args.max_resamples}: give an error ≥ 0 "
                         f"(0: exactly --bootstrap {args.bootstrap}) and at least {args.bootstrap} resamples")
    return {"anchor": anchor, "references": references, "codecs": _split(args.codecs) or None,
            "anchor_points": _split(args.anchor_points) or None, "rate_range": _rate_range(args.rate_range),
            "mc_target": args.mc_error or None, "max_boot": args.max_resamples, "ci_method": args.ci_method,
            "pairs": args.pairs}


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
    from bench.analysis.labels import parse_labels, relabel_table
    from bench.analysis.refcurves import check_images
    from bench.analysis.report import load_runs

    labels = parse_labels(args.label)
    rows = _current_rows(args.results, args.dataset, chosen=_chosen(args)).rows
    runs = load_runs(Path(args.results) / args.dataset, sorted(set(rows["run_id"].astype(str))))
    choice = _bd_choice(args, args.dataset)
    check_images(choice["references"], rows["image"].nunique(), anchor=choice["anchor"],
                 allow_subset=args.allow_subset)
    table, study = bd_tables(rows, methods=methods(args), n_boot=args.bootstrap, seed=args.seed, runs=runs,
                             **choice)
    paths = write_bd_tables(relabel_table(table, labels), study, args.reports, latex=args.latex,
                            latex_ci=not args.latex_no_ci)
    for path in paths:
        if path.suffix == ".md":
            print(path.read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _look(args: argparse.Namespace):
    """The figure style of ``--style``, ``--width``, ``--figsize`` and ``--font-size``."""
    from bench.analysis.figstyle import figure_style

    return figure_style(args.style, width=args.width, figsize=args.figsize, font_size=args.font_size)


def cmd_report(args: argparse.Namespace) -> int:
    from bench.analysis.labels import parse_labels
    from bench.analysis.report import write_report

    paths = write_report(args.results, args.dataset, args.reports, methods=methods(args),
                         n_boot=args.bootstrap, seed=args.seed, max_bpp=args.max_bpp or None, latex=args.latex,
                         latex_ci=not args.latex_no_ci, labels=parse_labels(args.label), log_rate=args.log_rate,
                         spread=args.spread, delta_panel=args.delta_panel, identity=_chosen(args), look=_look(args),
                         command=[args.prog, *args.argv], allow_dirty=args.allow_dirty,
                         allow_subset=args.allow_subset, **_bd_choice(args, args.dataset))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.analysis.labels import parse_labels
    from bench.analysis.rdplot import plot_figure, write_plot
    from bench.analysis.refcurves import reference_curves

    look = _look(args)
    rows = _current_rows(args.results, args.dataset, chosen=_chosen(args)).rows
    rate_range = _rate_range(args.rate_range)
    figure = plot_figure(rows, args.metric, codecs=_split(args.codecs) or None, published=not args.no_published,
                         overlays=reference_curves(args.reference, args.dataset), labels=parse_labels(args.label),
                         rate_range=rate_range, log_rate=args.log_rate, spread=args.spread,
                         delta_anchor=args.anchor if args.delta_panel else None, look=look, title=args.title)
    paths = write_plot(figure, args.output, look)
    width, height = figure.get_size_inches()
    print(f"wrote {', '.join(str(p) for p in paths)} ({width:g} × {height:g} in)")
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
    codecs = [codec for codec, _ in _create_codecs(names, codec_options(args, names), {})]
    paths, choices = visual_comparison(image, codecs, args.reports, target_bpp=args.target_bpp, region=region,
                                       size=args.size)
    for choice in choices:
        print(choice)
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_complexity(args: argparse.Namespace) -> int:
    from bench import study
    from bench.analysis.complexity_plot import read_bd_rates
    from bench.analysis.complexity_report import render_complexity
    from bench.learned.complexity.registered import prepare_codecs, split_names
    from bench.learned.complexity.run import run_complexity
    from bench.learned.weights import source_from_options

    define_variants(args)  # named models (--checkpoint NAME@ARCH:…) are codecs from here on
    archs, others = split_names(_split(args.archs))
    points = _split(args.points) if args.points else None
    options = codec_options(args, [*archs[:1], *others])
    for name in others:  # where a learned codec runs is --device's choice
        if any(option.name == "device" for option in registry.entry(name).options):
            options[name]["device"] = args.device
    source = source_from_options(options[archs[0]] if archs else {})
    dataset = _dataset(args, progress=False)
    codecs = prepare_codecs(others, options, points)  # weights loaded: a missing file fails before any work
    rows = Path(args.results) / dataset.name / "rows.csv"
    bd_path = Path(args.bd_rate)
    paths = run_complexity(
        args.reports, archs=archs, points=points or study.POINTS, codecs=codecs, source=source,
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
    from bench.analysis.export import export_compressai

    current = _current_rows(args.results, args.dataset, chosen=_chosen(args))  # says what is left out
    paths = export_compressai(current.rows, Path(args.results) / args.dataset / "compressai", _split(args.codecs) or None)
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


COMMANDS = {"run": cmd_run, "codecs": cmd_codecs, "metrics": cmd_metrics, "summary": cmd_summary, "fetch": cmd_fetch,
            "verify": cmd_verify, "bd-rate": cmd_bd_rate, "report": cmd_report, "visual": cmd_visual,
            "export": cmd_export, "complexity": cmd_complexity, "migrate": cmd_migrate, "train": cmd_train,
            "merge": cmd_merge, "plot": cmd_plot}


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
    args.prog, args.argv = prog, list(sys.argv[1:] if argv is None else argv)  # as typed, for REPORT.md
    # CompressAI 1.2.8 calls torch.jit.script at import time; the deprecation notice is not ours to fix.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    with _command_logging(args.verbose):
        if args.command in RESULTS_COMMANDS:
            args.dataset = _results_dataset(args.results, args.dataset)
        return COMMANDS[args.command](args)


@contextlib.contextmanager
def _command_logging(verbose: bool) -> Iterator[None]:
    """The library's log lines on stderr (INFO, or DEBUG with ``--verbose``) while a command runs; the root
    logger as it was afterwards, so that ``main`` called from Python leaves no handler behind."""
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter("%(message)s"))
    fonts = logging.getLogger("fontTools")  # matplotlib's font subsetting for PDF logs line by line
    levels = root.level, fonts.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fonts.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        fonts.setLevel(levels[1])


RESULTS_COMMANDS = ("summary", "bd-rate", "report", "export", "plot")
"""The commands that read stored results: their ``--dataset`` defaults to :func:`_results_dataset`'s."""


def _results_dataset(results: str, given: str | None) -> str:
    """``--dataset`` as given; else ``kodak`` when the results hold it (or nothing), else their only dataset
    (said on stderr); several without kodak are refused, listed."""
    from bench.core.store import datasets_in

    if given is not None:
        return given
    present = datasets_in(results)
    if not present or "kodak" in present:
        return "kodak"
    if len(present) == 1:
        print(f"dataset: {present[0]} (the only one in {results}/)", file=sys.stderr)
        return present[0]
    raise BenchError(f"{results}/ holds several datasets and no kodak: {', '.join(present)}; give --dataset NAME")
