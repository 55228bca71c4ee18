"""``REPORT.md``: test conditions, RD figures, BD-rate tables, complexity and visual comparison.

Everything is regenerated from stored results (``<results>/<dataset>/rows.csv`` and ``runs/*.json``) and
from artifacts already in the reports folder (``complexity.md``, ``visual-*.png`` with their JSON); nothing
is encoded again. The output is deterministic: the only dates in it are those of the run metadata, so
running the report twice on the same results, with the same command at the same commit, writes the same bytes.
It opens with its provenance (:func:`bench.analysis.provenance.provenance_lines`); committed reports are not
rewritten from a git tree with uncommitted changes unless ``allow_dirty``, which stamps every page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.bdfigure import write_per_image_figure
from bench.analysis.bdrate import DEFAULT_RESAMPLES, MAX_RESAMPLES
from bench.analysis.bdreport import bd_report_markdown, bd_tables, write_bd_tables
from bench.analysis.bdtable import bd_pair
from bench.analysis.complexity_plot import read_bd_rates
from bench.analysis.complexity_report import render_complexity
from bench.core.errors import BenchError
from bench.analysis.curves import (PUBLISHED_DATASET, Curve, dataset_of, measured_curves, published_curve,
                                   published_for)
from bench.analysis.figstyle import PAPER, FigureStyle
from bench.analysis.labels import relabel_table
from bench.core.environment import git_commit
from bench.analysis.plots import FORMATS, write_rd_plots
from bench.analysis.provenance import (TreeState, artifact_lines, check_tree, codec_records, dirty_line,
                                       non_zoo_codecs, provenance_lines, scoring_lines, stamp_pages, tree_state,
                                       weights_origin)
from bench.analysis.refcurves import check_images, image_labels
from bench.core.schema import RunMeta, read_run
from bench.core.manifest import MANIFEST_FILE, load_current_rows, stale_note
from bench.core.store import write_text_atomic
from bench.learned.complexity.files import FILES
from bench.analysis.summary import CONVENTION, UNKNOWN_HOST, codecs_by_host, host_times, summarize

__all__ = ["ReportError", "load_runs", "report_markdown", "write_report"]

COMPLEXITY_FILE = FILES["markdown"]
REPORT_FILE = "REPORT.md"
TIMES_ONLY_FILE = Path("full-study") / "random-weights-times.csv"
"""Beside the dataset folders: mean times of models run on random-initialised weights by
``benchmarks/full_study.sh`` on Kodak (times only, never RD results)."""
TIMES_ONLY_DATASET = "kodak"


class ReportError(BenchError):
    """Stored results or artifacts the report cannot use."""


def _run_ids(results_dir: Path) -> list[str]:
    """Every run id with a metadata file in ``results_dir/runs``."""
    return sorted(path.stem for path in (results_dir / "runs").glob("*.json"))


def load_runs(results_dir: Path, run_ids: Sequence[str]) -> dict[str, RunMeta | None]:
    """Metadata of each run id (``runs/<id>.json``, via :func:`read_run`), ``None`` where the file is missing."""
    runs: dict[str, RunMeta | None] = {}
    for run_id in sorted(run_ids):
        path = results_dir / "runs" / f"{run_id}.json"
        runs[run_id] = read_run(path) if path.exists() else None
    return runs


def _get(data: Mapping[str, Any] | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value, sort_keys=True, ensure_ascii=False)}`"
    return str(value).replace("|", "\\|")


def _values(series: pd.Series) -> str:
    """Distinct non-empty values of a column, for a table cell."""
    values = sorted({str(v) for v in series.dropna() if str(v) not in ("", "nan")})
    return ", ".join(values) if values else "—"


# --- sections -----------------------------------------------------------------------------------


def _conditions(rows: pd.DataFrame, runs: Mapping[str, dict[str, Any] | None], results: Path,
                stale: int = 0, other_notes: Sequence[str] = ()) -> list[str]:
    dataset = dataset_of(rows)
    sources = sorted({str(_get(m, "dataset", "source")) for m in runs.values() if _get(m, "dataset", "source")})
    ok = int((rows["status"] == "ok").sum())
    lines = [
        "## Test conditions",
        "",
        f"- Dataset: **{dataset}**, {rows['image'].nunique()} images"
        + (f" ({'; '.join(sources)})" if sources else ""),
        f"- Results: `{results / 'rows.csv'}`, {len(rows)} rows ({ok} ok, {len(rows) - ok} failed or other)",
        *([f"- Not in this report: {stale_note(stale)} (`{MANIFEST_FILE}` lists the dataset's images)"]
          if stale else []),
        *(f"- Not in this report: {note} (`python -m bench summary --identities` lists them)"
          for note in other_notes),
        f"- Averages: {CONVENTION}",
        "",
        "### Runs that produced these rows",
        "",
    ]
    fields = [
        ("status", ("status",)), ("started", ("started",)), ("git commit", ("environment", "git_commit")),
        ("CPU", ("environment", "cpu")), ("CPU count", ("environment", "cpu_count")),
        ("GPU", ("environment", "gpu")), ("torch threads", ("settings", "threads")),
        ("heap policy", ("settings", "allocator")),
        ("timing repeats", ("settings", "timing_repeats")), ("RD processes", ("settings", "jobs")),
        ("metrics version", ("settings", "metrics_version")), ("python", ("environment", "python")),
        ("platform", ("environment", "platform")),
    ]
    ids = list(runs)
    packages = sorted({p for m in runs.values() for p in (_get(m, "environment", "versions") or {})})
    lines += ["| | " + " | ".join(f"`{i}`" for i in ids) + " |", "|---|" + "---|" * len(ids)]
    lines.append("| rows | " + " | ".join(str(int((rows["run_id"] == i).sum())) for i in ids) + " |")
    for label, keys in fields:
        lines.append(f"| {label} | " + " | ".join(
            _text(_get(runs[i], *keys)) if runs[i] is not None else "metadata missing" for i in ids) + " |")
    for package in packages:
        lines.append(f"| {package} | " + " | ".join(
            _text(_get(runs[i], "environment", "versions", package)) for i in ids) + " |")
    lines.append("")
    lines += _codecs(rows, runs)
    return lines


def _codecs(rows: pd.DataFrame, runs: Mapping[str, dict[str, Any] | None]) -> list[str]:
    lines = [
        "### Codecs, devices and weights",
        "",
        "| codec | points | device | threads | heap | timing repeats | description |",
        "|---|---|---|---|---|---|---|",
    ]
    identities: dict[str, list[str]] = {}
    for codec in sorted(set(rows["codec"])):
        part = rows[rows["codec"] == codec]
        described = codec_records(runs.values(), codec)
        description = _values(pd.Series([d.get("description") for d in described]))
        lines.append(
            f"| {codec} | {part['point'].nunique()} | {_values(part['device'])} | "
            f"{_values(part['threads'].astype('Int64'))} | "
            f"{_values(part['allocator'])} | "
            f"{_values(part['timing_repeats'].astype('Int64'))} | "
            f"{description} |"
        )
        identities[codec] = sorted({json.dumps(d.get("identity"), indent=2, sort_keys=True, ensure_ascii=False)
                                    for d in described})
    lines.append("")
    lines += ["Codec identity (what determines the bitstreams, from the run metadata):", ""]
    for codec, found in identities.items():
        if not found:
            lines += [f"- {codec}: not recorded (run metadata missing)", ""]
            continue
        versions = f" ({len(found)} different identities across runs)" if len(found) > 1 else ""
        lines += [f"- {codec}{versions}:", ""]
        for identity in found:
            lines += ["  ```json", *("  " + line for line in identity.splitlines()), "  ```", ""]
    weighted = rows[rows["weights_sha256"].fillna("").astype(str) != ""]
    lines += [("Weights: the SHA-256 recorded in the rows; origin by comparison with the CompressAI zoo's file "
               "names, which carry the first hex digits of the file's SHA-256."), ""]
    if weighted.empty:
        lines += ["- no codec in these results loads weights.", ""]
        return lines
    lines += ["| codec | point | weights SHA-256 | origin |", "|---|---|---|---|"]
    pairs = weighted.groupby(["codec", "point"], sort=True)["weights_sha256"]
    for (codec, point), shas in pairs:
        for sha in sorted(set(shas.astype(str))):
            lines.append(f"| {codec} | {point} | `{sha}` | {weights_origin(codec, point, sha)} |")
    lines.append("")
    return lines


def _host_description(host: str, runs: Mapping[str, dict[str, Any] | None]) -> str:
    """A host of the rows for people: its hash and fingerprint from the run metadata, or that it is unknown."""
    if not host:
        return UNKNOWN_HOST + "; the machine of each run is in Test conditions"
    for meta in runs.values():
        fingerprint = (_get(meta, "environment", "hosts") or {}).get(host)
        if isinstance(fingerprint, Mapping):
            threads = fingerprint.get("threads")
            return (f"host `{host}`: {fingerprint.get('cpu')} ({fingerprint.get('cpu_count')} logical cores), "
                    f"GPU {fingerprint.get('gpu') or 'none'}, device {fingerprint.get('device')}, {threads} torch "
                    f"thread{'s' if threads != 1 else ''}, heap {fingerprint.get('allocator')}")
    return f"host `{host}` (fingerprint not in the run metadata)"


def _num(value: float, digits: int, scale: float = 1.0) -> str:
    return f"{scale * value:.{digits}f}" if math.isfinite(value) else "—"


def _time_ms(mean: float, sd: float) -> str:
    """Milliseconds, ± the standard deviation where there is one."""
    return _num(mean, 2, 1e3) + (f" ± {_num(sd, 2, 1e3)}" if math.isfinite(mean) and math.isfinite(sd) else "")


def _means_table(rows: pd.DataFrame, runs: Mapping[str, dict[str, Any] | None]) -> list[str]:
    lines = [
        ("| codec | point | images | failed | bpp | PSNR [dB] | MS-SSIM images | MS-SSIM | MS-SSIM [dB] | "
         "timed images | encode [ms] ± sd | decode [ms] ± sd |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary = summarize(rows)
    for r in summary.itertuples(index=False):
        lines.append(
            f"| {r.codec} | {r.point} | {r.images} | {r.failed} | {_num(r.bpp, 4)} | {_num(r.psnr, 3)} | "
            f"{r.ms_ssim_images} | {_num(r.ms_ssim, 5)} | {_num(r.ms_ssim_db, 3)} | {r.timed_images} | "
            f"{_time_ms(r.encode_s, r.encode_sd_s)} | {_time_ms(r.decode_s, r.decode_sd_s)} |"
        )
    codecs = codecs_by_host(summary)
    hosts = "; ".join(f"{_host_description(host, runs)}" + (f" ({', '.join(names)})" if len(codecs) > 1 else "")
                      for host, names in codecs.items())
    lines += ["", ("Times: the mean over the timed images of each image's time (by call duration, the default: a "
                   "call under 0.1 s looped to at least 0.1 s, a longer one timed once, the repeatability sample's "
                   "rows the median of their values; under `--repeats N` the median of N calls), ± the standard "
                   "deviation over the images (how much the time varies from image to image, not a measurement "
                   "error; `summary.csv` has each mean's 95 % CI, `encode_ci_s`, and the sample's repeatability).")]
    if hosts:
        lines += ["", f"Times of each codec come from one host, that of its most recently timed rows: {hosts}."]
    derived = summary[summary["derived_images"] > 0]
    if not derived.empty:
        counts = derived.groupby("codec")["derived_images"].sum()
        lines += ["", "Derived rows (column `derived`): " + "; ".join(
            f"{codec}: {int(n)} rows" for codec, n in counts.items()) + ". Their bitstreams are the codec's own, made "
            "by exact wavefronts (the reference's symbols coded in its order) and checked byte for byte, with every "
            "value of the row, on the rows its own coder measured in the same run; those rows alone give the "
            "codec's times (timed images)."]
    return [*lines, ""]


def _host_tables(rows: pd.DataFrame, runs: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """One time table per timing host, when the rows were timed on more than one (a cluster, merged shards)."""
    times = host_times(rows)
    hosts = list(dict.fromkeys(times["host"]))
    if len(hosts) < 2:
        return []
    lines = ["### Times per host", "",
             ("The rows were timed on several hosts; the table above takes each codec's times from one of them. "
              "Here every host's own means (ms, ± sd over its images); times of different hosts are never averaged "
              "together."), ""]
    for host in hosts:
        lines += [f"{_host_description(host, runs)}:", "",
                  "| codec | point | timed images | encode [ms] ± sd | decode [ms] ± sd |", "|---|---|---:|---:|---:|"]
        for r in times[times["host"] == host].itertuples(index=False):
            lines.append(f"| {r.codec} | {r.point} | {r.timed_images} | {_time_ms(r.encode_s, r.encode_sd_s)} | "
                         f"{_time_ms(r.decode_s, r.decode_sd_s)} |")
        lines.append("")
    return lines


def _times_only(results_path: Path, dataset: str) -> list[str]:
    """Mean times of the models the full-study script ran on random weights, labelled: times only."""
    path = results_path.parent / TIMES_ONLY_FILE
    if dataset != TIMES_ONLY_DATASET or not path.is_file():
        return []
    try:
        times = pd.read_csv(path)
        lines = ["### Times of the other architectures (random weights: times only)", "",
                 (f"From `{TIMES_ONLY_FILE.as_posix()}` (`benchmarks/full_study.sh`, same dataset): random-initialised "
                  "checkpoints at the zoo's channel counts do the zoo models' work at the zoo's sizes, so their "
                  "times are real; their rates and distortions are not results and are in no curve or table here. "
                  "± the 95 % CI half-width over the timed images; mbt2018's timed images are its repeatability "
                  "sample, coded by CompressAI's own loop (its other rows were derived)."), "",
                 "| codec | point | timed images | encode [ms] ± CI | decode [ms] ± CI | host |",
                 "|---|---|---:|---:|---:|---|"]
        for r in times.sort_values(["codec", "point"]).itertuples(index=False):
            lines.append(f"| {r.codec} | {r.point} | {int(r.timed_images)} | {_time_ms(r.encode_s, r.encode_ci_s)} | "
                         f"{_time_ms(r.decode_s, r.decode_ci_s)} | {r.host} |")
    except (OSError, ValueError, KeyError, AttributeError, pd.errors.ParserError) as exc:
        raise ReportError(f"{path}: not a times-only table ({exc}); run benchmarks/full_study.sh again or remove it")
    return [*lines, ""]


def _ycbcr_table(rows: pd.DataFrame) -> list[str]:
    """PSNR per Y′CbCr channel: where a codec's loss sits between luma and chroma (4:2:0 against 4:4:4)."""
    summary = summarize(rows)
    summary = summary[summary["ycbcr_images"] > 0]
    if summary.empty:
        return []
    lines = [
        "### Colour: PSNR per Y′CbCr channel",
        "",
        ("Both images converted with the full-range BT.709 matrix (Y′ = 0.2126 R′ + 0.7152 G′ + 0.0722 B′, "
         "Cb = (B′ − Y′)/1.8556, Cr = (R′ − Y′)/1.5748, peak 255, no rounding to 8-bit Y′CbCr; checked against "
         "colour-science); PSNR-YUV = (6·Y + U + V)/8; means of per-image values. A 4:2:0 codec keeps a quarter of "
         "the chroma samples: compare `avif` with `avif-444` and `heic` with `heic-444`."),
        "",
        "| codec | point | images | bpp | PSNR RGB [dB] | PSNR-Y [dB] | PSNR-U [dB] | PSNR-V [dB] | PSNR-YUV [dB] |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.itertuples(index=False):
        lines.append(f"| {r.codec} | {r.point} | {r.ycbcr_images} | {r.bpp:.4f} | {r.psnr:.3f} | {r.psnr_y:.3f} | "
                     f"{r.psnr_u:.3f} | {r.psnr_v:.3f} | {r.psnr_yuv:.3f} |")
    return [*lines, ""]


def _jpeg_vs_published(curve: Curve) -> list[str]:
    published = published_curve("jpeg")
    common = [p for p in published.points if p in curve.points]
    if not common:
        return []
    mine = {p: i for i, p in enumerate(curve.points)}
    theirs = {p: i for i, p in enumerate(published.points)}
    lines = [
        ("Same JPEG qualities, this harness (Pillow of the run, see Test conditions) vs CompressAI's "
        "`jpeg.json` (Pillow 7.1.2):"),
        "",
        "| quality | bpp | bpp published | PSNR [dB] | PSNR published | MS-SSIM [dB] | MS-SSIM published |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for p in common:
        i, j = mine[p], theirs[p]
        lines.append(
            f"| {p} | {curve.bpp[i]:.4f} | {published.bpp[j]:.4f} | {curve.psnr[i]:.3f} | {published.psnr[j]:.3f} "
            f"| {curve.ms_ssim_db[i]:.3f} | {published.ms_ssim_db[j]:.3f} |"
        )
    cells = []
    for metric, name in (("psnr", "PSNR"), ("ms_ssim_db", "MS-SSIM dB")):
        rate, _ = bd_pair(published, curve, metric, "cubic")
        value = f"{rate.value:+.2f}".replace("-", "−") if rate.ok else ""
        cells.append(f"{name} {value} %" if rate.ok else f"{name}: n/a ({rate.reason})")
    lines += ["", "BD-rate of this harness's JPEG (all its points) against the published curve, cubic: "
              + "; ".join(cells) + "."]
    return [*lines, ""]


def _demote(text: str, levels: int) -> str:
    """Push Markdown ATX headings down by ``levels`` (outside fenced code blocks)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            line = "#" * levels + line
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def _rerender_complexity(reports: Path) -> list[Path]:
    """``complexity.md`` and its decode-time figure drawn again from the measured tables in ``reports`` (when
    there are some) against the BD-rates just written, so that a report regenerates every page it includes.
    Skipped under ``--label``: the tables name codecs by their own names."""
    if not (reports / FILES["run"]).exists():
        return []
    return render_complexity(reports, bd_rates=read_bd_rates(reports / "bd-rate.csv"))


def _complexity(reports: Path) -> list[str]:
    path = reports / COMPLEXITY_FILE
    lines = ["## Complexity", ""]
    if not path.exists():
        return [*lines, f"Not measured yet: `{COMPLEXITY_FILE}` is not in the reports folder.", ""]
    return [*lines, f"From `{COMPLEXITY_FILE}`:", "", _demote(path.read_text(encoding="utf-8"), 2)]


def _visuals(reports: Path) -> list[str]:
    lines = ["## Visual comparison", ""]
    pictures = sorted(reports.glob("visual-*.png"))
    if not pictures:
        return [*lines, "None yet: run `python -m bench visual` to make one.", ""]
    for picture in pictures:
        record_path = picture.with_suffix(".json")
        lines += [f"![{picture.stem}]({picture.name})", ""]
        if not record_path.exists():
            lines += [f"(`{record_path.name}` is missing: the chosen points are not listed.)", ""]
            continue
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            region = record["region"]
            lines += [
                (f"{record['image']}: {region['width']}×{region['height']} crop at ({region['left']}, "
                f"{region['top']}), shown ×{record['zoom']}; per codec the operating point whose bit rate on "
                f"the whole image is closest to {record['target_bpp']:g} bpp; PSNR of the whole image."),
                "",
                "| codec | point | bpp | vs target | PSNR [dB] | points tried |",
                "|---|---|---:|---:|---:|---:|",
            ]
            for c in record["choices"]:
                off = f"{100 * (c['bpp'] / record['target_bpp'] - 1):+.1f} %".replace("-", "−")
                lines.append(f"| {c['codec']} | {c['point']} | {c['bpp']:.4f} | {off} | {c['psnr']:.2f} | "
                             f"{c['candidates']} |")
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ReportError(f"{record_path}: not a visual-comparison record ({exc}); rerun `python -m bench visual`")
        lines.append("")
    return lines


def report_markdown(
    rows: pd.DataFrame,
    runs: Mapping[str, dict[str, Any] | None],
    *,
    results_path: Path,
    bd_markdown: str,
    artifacts: Sequence[str],
    figures: Sequence[str],
    max_bpp: float | None,
    stale: int = 0,
    references: Sequence[Curve] = (),
    other_notes: Sequence[str] = (),
    command: Sequence[str] | None = None,
    commit: str | None = None,
    stamp: str | None = None,
    made_by: Sequence[str] = (),
) -> str:
    """The text of ``REPORT.md``; ``figures`` are file names beside it, ``artifacts`` the sections after
    the BD tables (complexity, visual comparison); ``stale`` rows (of images no longer in the dataset)
    are left out of ``rows`` and counted; ``other_notes`` say per codec which rows of other settings were
    left out (:attr:`bench.core.manifest.CurrentRows.other_notes`). ``command`` (the report's argv) and
    ``commit`` open it with the runs' commands, and ``made_by`` with the artifacts' (:func:`artifact_lines`);
    ``stamp`` (a dirty tree) goes above everything."""
    dataset = dataset_of(rows)
    curves = measured_curves(rows)
    lines = [
        f"# Benchmark report: {dataset}",
        "",
        *([stamp, ""] if stamp else []),
        (f"From `{results_path}`; codecs: {', '.join(curves)}. Regenerate it at any time (the command below): "
         "nothing is encoded again."),
        "",
    ]
    lines += provenance_lines(rows, runs, command=command, commit=commit, artifacts=made_by)
    lines += _conditions(rows, runs, results_path, stale, other_notes)
    lines += ["## Rate–distortion", ""]
    limit = f" (bit-rate axis limited to {max_bpp:g} bpp; every point is in the table)" if max_bpp else ""
    published = " Dashed: CompressAI's published curves." if dataset == PUBLISHED_DATASET else ""
    if references:
        published += (" Also dashed" if published else " Dashed") + ", reference curves: " + "; ".join(
            f"{c.label} ({_text(c.source)})" for c in references) + "."
    lines += [f"Mean curves, one marker per operating point{limit}.{published}", ""]
    for name in ("rd-psnr", "rd-ms-ssim"):
        if f"{name}.png" in figures:
            lines += [f"![{name}]({name}.png)", ""]
    lines += _means_table(rows, runs)
    lines += _host_tables(rows, runs)
    lines += _times_only(results_path, dataset)
    lines += _ycbcr_table(rows)
    if "jpeg-vs-published.png" in figures:
        lines += ["### JPEG: this harness vs CompressAI's published curve", "",
                  "![jpeg-vs-published](jpeg-vs-published.png)", ""]
        lines += _jpeg_vs_published(curves["jpeg"])
    also = "`bd-rate.md`, `bd-rate.csv` and `bd-rate.tex`" if "bd-rate.tex" in figures else (
        "`bd-rate.md` and `bd-rate.csv`")
    lines += ["## BD-rate", "", f"Also as {also}.", ""]
    others = non_zoo_codecs(rows)
    if others:
        lines += [(f"Note: {', '.join(others)} ran with weights that are not CompressAI's zoo files (see Test "
                   "conditions); their BD-rates describe those weights, not the published models."), ""]
    lines += [bd_markdown]
    lines += artifacts
    return "\n".join(lines).rstrip() + "\n"


def write_report(
    results_dir: str | Path = "results",
    dataset: str = "kodak",
    reports_dir: str | Path = "reports",
    *,
    anchor: str = "jpeg",
    methods: Sequence[str] = ("cubic", "pchip"),
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    max_bpp: float | None = 2.0,
    formats: Sequence[str] = FORMATS,
    references: Sequence[Curve] = (),
    codecs: Sequence[str] | None = None,
    anchor_points: Sequence[str] | None = None,
    rate_range: tuple[float, float] | None = None,
    latex: bool = False,
    latex_ci: bool = True,
    labels: Mapping[str, str] | None = None,
    log_rate: bool = False,
    spread: str | None = None,
    delta_panel: bool = False,
    identity: Mapping[str, str] | None = None,
    look: FigureStyle = PAPER,
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
    pairs: bool = False,
    command: Sequence[str] | None = None,
    allow_dirty: bool = False,
    allow_subset: bool = False,
) -> list[Path]:
    """Write the RD figures, ``bd-rate.md``/``.csv`` (``bd-rate-study.csv``, with ``latex`` ``bd-rate.tex``)
    and ``REPORT.md``.

    ``max_bpp`` limits the RD figures' bit-rate axis (``None``: every point); ``formats`` of the figures
    (PNG is the one ``REPORT.md`` shows). Reads ``<results_dir>/<dataset>/``; includes ``complexity.md`` and ``visual-*.png`` (with their
    JSON) already in ``reports_dir``. ``references`` (curves from files or shipped) are drawn dashed and
    compared in the BD tables, where ``codecs``, ``anchor_points`` and ``rate_range`` choose what is
    compared (:func:`bench.analysis.bdtable.bd_table`). ``labels``: the names codecs and curves are shown
    by, in figures and BD tables alike (:mod:`bench.analysis.labels`). Figures, in the ``look`` of a paper
    column by default (:mod:`bench.analysis.figstyle`): ``log_rate``, ``spread`` (``band`` or ``scatter`` of
    the images) and ``delta_panel`` (quality minus the anchor's, under each RD figure). Per codec, the rows of
    its current identity, or of the one ``identity`` names (codec → codec-hash prefix;
    :mod:`bench.core.identity`). ``mc_target``, ``max_boot``, ``ci_method`` and ``pairs``: the BD intervals
    and comparisons (:func:`bench.analysis.bdreport.bd_tables`), with the per-image BD-rate figure. ``command``: the
    argv REPORT.md names as its own. Refused: committed reports from a git tree with uncommitted
    changes (unless ``allow_dirty``, which stamps every page) and references over another number of
    images than the results' (unless ``allow_subset``; the legends then give each curve's count).
    Returns the files written, ``REPORT.md`` last.
    """
    folder = Path(results_dir) / dataset
    current = load_current_rows(folder, identity)  # current images, one identity per codec (bench.core.manifest)
    rows = current.rows
    if rows.empty:
        raise ReportError(f"{folder / 'rows.csv'} holds no rows; run `python -m bench run` first")
    runs = load_runs(folder, sorted(set(rows["run_id"].astype(str))))
    reports = Path(reports_dir)
    # everything that can fail on bad input, before the first file is written
    tree = tree_state(reports)
    check_tree(tree, reports, allow_dirty=allow_dirty)
    images = rows["image"].nunique()
    check_images(references, images, anchor=anchor, allow_subset=allow_subset)
    visuals = _visuals(reports)
    table, study = bd_tables(rows, anchor=anchor, methods=methods, n_boot=n_boot, seed=seed, runs=runs,
                             references=references, codecs=codecs, anchor_points=anchor_points,
                             rate_range=rate_range, mc_target=mc_target, max_boot=max_boot, ci_method=ci_method,
                             pairs=pairs)
    overlays = [*references, *([table.anchor] if table.anchor.published else [])]
    legend = _with_image_counts(rows, overlays, images, labels or {})
    written = write_rd_plots(rows, reports, max_bpp=max_bpp, formats=formats, overlays=overlays, labels=legend,
                             log_rate=log_rate, spread=spread, delta_anchor=table.anchor if delta_panel else None,
                             look=look)
    table = relabel_table(table, labels or {}, strict=False)
    written += write_bd_tables(table, study, reports, latex=latex, latex_ci=latex_ci)
    figure = write_per_image_figure(table, reports, formats)
    written += figure
    if not labels:
        written += _rerender_complexity(reports)
    artifacts = [*_complexity(reports), *visuals]
    stamp = dirty_line(tree) if tree is not None and tree.dirty else None
    if stamp:
        stamp_pages(written, stamp)
    text = report_markdown(
        rows, runs, results_path=folder, bd_markdown=bd_report_markdown(
            table, study, heading_level=3, figure=next((p.name for p in figure if p.suffix == ".png"), None)),
        artifacts=artifacts, figures=[p.name for p in written], max_bpp=max_bpp, stale=current.stale,
        references=references, other_notes=current.other_notes, command=command, commit=_commit(tree),
        stamp=stamp, made_by=[*scoring_lines(load_runs(folder, _run_ids(folder))), *artifact_lines(reports)],
    )
    write_text_atomic(reports / REPORT_FILE, text)
    return [*written, reports / REPORT_FILE]


def _commit(tree: TreeState | None) -> str | None:
    """HEAD of the tree holding the reports, ``+dirty`` for changes outside them (the reports' own files are
    their output); outside a git tree, the harness's commit."""
    if tree is None or tree.commit is None:
        return git_commit()
    return tree.commit + ("+dirty" if tree.dirty else "")


def _with_image_counts(rows: pd.DataFrame, overlays: Sequence[Curve], images: int,
                       labels: Mapping[str, str]) -> dict[str, str]:
    """The legend labels given, and for the other curves their image counts where an overlay's differ."""
    measured = measured_curves(rows)
    drawn = [*published_for(measured, dataset_of(rows)), *overlays]
    counted = image_labels(measured.values(), drawn, images)

    def given(name: str) -> bool:  # as plots.relabel matches: by name, or a reference's by its short name
        short = name.split(":", 1)[-1]
        return name in labels or (short in labels and short not in measured)

    return {**{k: v for k, v in counted.items() if not given(k)}, **labels}
