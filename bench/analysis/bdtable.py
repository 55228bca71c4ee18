"""BD-rate tables: every codec against an anchor, with bootstrap intervals, as Markdown and CSV.

For each method (``cubic``, ``pchip``), metric (PSNR, MS-SSIM dB) and codec, a :class:`BdEntry` holds
BD-rate and BD-quality of the codec's mean curve against the anchor's (:mod:`bench.analysis.bdrate`), each a
number or the reason there is none, and a paired percentile bootstrap interval of the BD-rate. Both are
computed on one image set (:func:`common_images`): the images that both codecs have with status ``ok``
and a value of the metric at every operating point used, so the two mean curves average the same images.

The anchor is a codec of the results (default ``jpeg``) or a shipped published curve
(``published:jpeg``); a published anchor has no per-image data, so its entries carry no interval.

:func:`study_comparison` sets the harness's BD-rates of the three learned models beside the study's
published numbers and CompressAI's published curves on the same operating points.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.bdrate import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_RESAMPLES,
    BdRateError,
    fit_residual_rms,
    METHODS,
    BdResult,
    BootstrapResult,
    bd_quality_result,
    bd_rate_bootstrap,
    bd_rate_result,
    ms_ssim_db_of_mean,
)
from bench import study
from bench.core.errors import BenchError
from bench.analysis.curves import (
    METRICS,
    PUBLISHED,
    PUBLISHED_DATASET,
    PUBLISHED_PREFIX,
    Curve,
    dataset_of,
    measured_curves,
    published_curve,
)
from bench.core.store import write_text_atomic

__all__ = [
    "STUDY",
    "BdEntry",
    "BdTable",
    "BdTableError",
    "StudyRow",
    "bd_files",
    "bd_common",
    "bd_pair",
    "bd_report_markdown",
    "bd_table",
    "bd_tables",
    "common_images",
    "resolve_anchor",
    "study_comparison",
    "study_csv",
    "study_markdown",
    "table_csv",
    "table_markdown",
    "write_bd_tables",
]

QUALITY_NAME = {"psnr": "BD-PSNR", "ms_ssim_db": "BD-MS-SSIM"}
METHOD_TEXT = {
    "cubic": ("cubic (VCEG-M33: least-squares cubic, integrated analytically; each curve fitted on its points "
              "inside the other curve's range plus the nearest one beyond each end, at least 4; *all points*: "
              "fitted on every point, as the `bjontegaard` package does; *fit RMS*: RMS residual of each "
              "BD-rate fit in natural log of rate; *PSNR of mean MSE*: BD-rate with each point's quality "
              "10·log10(255²/mean MSE) instead of the mean PSNR, the other averaging convention)"),
    "pchip": "pchip (JVET CTC: piecewise cubic Hermite interpolation)",
}

STUDY: dict[str, tuple[str, float, float]] = {
    arch: (study.LABELS[arch], *study.STUDY_BD_RATES[arch]) for arch in study.ARCHITECTURES
}
"""Model label and BD-rate vs JPEG in percent (PSNR, MS-SSIM dB), from the study's text."""
STUDY_POINTS = study.POINTS
"""The study's λ, the harness's labels of CompressAI zoo quality 3–6 (MSE)."""
ZOO_POINTS = tuple(f"quality{q}" for q in study.ZOO_QUALITIES)
STUDY_ANCHOR = study.STUDY_ANCHOR
NOT_RUN = "not run (no weights)"


class BdTableError(BenchError):
    """A BD table that cannot be built (unknown anchor, unknown method)."""


@dataclass(frozen=True)
class BdEntry:
    """One codec × metric × method against the anchor."""

    codec: str
    metric: str
    method: str
    points: tuple[str, ...]
    rate: BdResult
    quality: BdResult
    ci: BootstrapResult | None
    ci_reason: str | None
    ci_images: int
    images: int = 0
    """Images behind the BD values (and the interval): :func:`common_images`."""
    rate_all: BdResult | None = None
    """Cubic only: BD-rate with each curve fitted on all its points (a sensitivity of the fit range)."""
    fit_rms: tuple[float | None, float | None] = (None, None)
    """Cubic only: RMS residual (natural log of rate) of the anchor's and the test's BD-rate fits."""
    rate_mse_mean: BdResult | None = None
    """Cubic PSNR only: BD-rate with each point's quality the PSNR of the mean MSE over the images
    instead of the mean PSNR (a sensitivity of the averaging convention)."""


@dataclass(frozen=True)
class BdTable:
    """Entries of every codec against one anchor, and how they were computed."""

    dataset: str
    anchor: Curve
    curves: Mapping[str, Curve]
    methods: tuple[str, ...]
    entries: tuple[BdEntry, ...]
    n_boot: int
    seed: int
    level: float
    min_overlap: float

    def entry(self, codec: str, metric: str, method: str) -> BdEntry:
        for e in self.entries:
            if (e.codec, e.metric, e.method) == (codec, metric, method):
                return e
        raise KeyError((codec, metric, method))


# --- computing ----------------------------------------------------------------------------------


def resolve_anchor(name: str, curves: Mapping[str, Curve]) -> Curve:
    """The anchor curve: a codec of the results or ``published:<key>``; raises naming the known ones."""
    if name.startswith(PUBLISHED_PREFIX):
        return published_curve(name)
    if name in curves:
        return curves[name]
    raise BdTableError(
        f"anchor {name!r} is not in the results; known codecs: {', '.join(curves) or 'none'} "
        f"(or a published curve: {', '.join(PUBLISHED_PREFIX + k for k in PUBLISHED)})"
    )


def _missing(curve: Curve, metric: str) -> str | None:
    """A reason naming the operating points without a value, or None."""
    values = np.column_stack([curve.rate(), curve.quality(metric)])
    bad = [p for p, ok in zip(curve.points, np.isfinite(values).all(axis=1)) if not ok]
    if not bad:
        return None
    return f"{curve.name} has no value (failed or missing rows) at {', '.join(bad)}"


def bd_pair(anchor: Curve, test: Curve, metric: str, method: str = "cubic",
            min_overlap: float = DEFAULT_MIN_OVERLAP, fit: str = "overlap") -> tuple[BdResult, BdResult]:
    """BD-rate and BD-quality of two mean curves; a reason naming the points when a value is missing."""
    reason = _missing(anchor, metric) or _missing(test, metric)
    if reason:
        undefined = BdResult(None, reason, method, None, len(anchor.points), len(test.points))
        return undefined, undefined
    args = (anchor.rate(), anchor.quality(metric), test.rate(), test.quality(metric))
    return (
        bd_rate_result(*args, method=method, min_overlap=min_overlap, fit=fit),
        bd_quality_result(*args, method=method, min_overlap=min_overlap, fit=fit),
    )


def fit_residuals(anchor: Curve, test: Curve, metric: str) -> tuple[float | None, float | None]:
    """RMS residuals of the anchor's and the test's BD-rate cubic fits (natural log of rate) on the points
    the default fit range uses; None where a curve cannot be fitted."""
    if _missing(anchor, metric) or _missing(test, metric):
        return None, None
    a, t = (anchor.rate(), anchor.quality(metric)), (test.rate(), test.quality(metric))
    out: list[float | None] = []
    for curve, other in ((a, t), (t, a)):
        try:
            out.append(fit_residual_rms(*curve, *other))
        except BdRateError:
            out.append(None)
    return out[0], out[1]


Memo = dict[tuple, Any]
"""Results already computed from one rows table (per-image tables, mean curves over image sets), keyed
by what they depend on: :func:`bd_table` passes one through its pairs so that each is computed once."""


def _memoized(memo: Memo | None, key: tuple, compute: Callable[[], Any]) -> Any:
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def per_image(rows: pd.DataFrame, codec: str, points: Sequence[str], metric: str, *,
              memo: Memo | None = None) -> pd.DataFrame:
    """Per-image rate and quality, one row per image ok at every point; columns (bpp|quality, point).

    The quality is PSNR, or raw MS-SSIM for ``ms_ssim_db`` (averaged, then converted, per resample).
    """
    return _memoized(memo, ("per_image", codec, tuple(points), metric),
                     lambda: _per_image(rows, codec, points, metric))


def _per_image(rows: pd.DataFrame, codec: str, points: Sequence[str], metric: str) -> pd.DataFrame:
    column = "psnr" if metric == "psnr" else "ms_ssim"
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok") & rows["point"].isin(points)]
    table = part.pivot_table(index="image", columns="point", values=["bpp", column], aggfunc="first")
    table = table.reindex(columns=pd.MultiIndex.from_product([["bpp", column], list(points)]))
    table.columns = pd.MultiIndex.from_product([["bpp", "quality"], list(points)])
    return table[np.isfinite(table.to_numpy(dtype=np.float64)).all(axis=1)].sort_index()


def common_images(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, *,
                  memo: Memo | None = None) -> pd.Index:
    """The images ok with a value of ``metric`` at every point of both curves, sorted.

    For a published anchor (no per-image data): those of the test codec alone.
    """
    images = per_image(rows, test.name, test.points, metric, memo=memo).index
    if anchor.published:
        return images
    return per_image(rows, anchor.name, anchor.points, metric, memo=memo).index.intersection(images)


def _curve_over(rows: pd.DataFrame, curve: Curve, images: pd.Index, memo: Memo | None) -> Curve:
    """The codec's mean curve at ``curve``'s points over ``images`` only, averaged as the summary averages."""
    def compute() -> Curve:
        part = rows[(rows["codec"] == curve.name) & (rows["status"] == "ok") & rows["point"].isin(curve.points)
                    & rows["image"].isin(images)]
        return measured_curves(part)[curve.name]

    return _memoized(memo, ("curve", curve.name, curve.points, tuple(images)), compute)


def mean_pair(rows: pd.DataFrame, anchor: Curve, test: Curve, images: pd.Index, *,
              memo: Memo | None = None) -> tuple[Curve, Curve]:
    """The two codecs' mean curves over ``images`` (a published anchor as it is)."""
    return ((anchor if anchor.published else _curve_over(rows, anchor, images, memo)),
            _curve_over(rows, test, images, memo))


def bd_rate_psnr_of_mean_mse(rows: pd.DataFrame, anchor: Curve, test: Curve, images: pd.Index,
                              min_overlap: float = DEFAULT_MIN_OVERLAP, *, memo: Memo | None = None) -> BdResult:
    """Cubic BD-rate (PSNR) of the two codecs over ``images``, each point's quality being
    10·log10(255² / mean MSE) instead of the mean of the images' PSNR."""
    def curve(codec: Curve) -> tuple[np.ndarray, np.ndarray]:
        table = per_image(rows, codec.name, codec.points, "psnr", memo=memo).loc[images]
        mse = 255.0**2 * 10.0 ** (-table["quality"].to_numpy(np.float64) / 10.0)
        return table["bpp"].to_numpy(np.float64).mean(axis=0), 10.0 * np.log10(255.0**2 / mse.mean(axis=0))

    return bd_rate_result(*curve(anchor), *curve(test), method="cubic", min_overlap=min_overlap)


def bd_common(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, method: str = "cubic",
              min_overlap: float = DEFAULT_MIN_OVERLAP, *, memo: Memo | None = None
              ) -> tuple[BdResult, BdResult, pd.Index]:
    """BD-rate and BD-quality of the two codecs' mean curves over their :func:`common_images`, and those images."""
    images = common_images(rows, anchor, test, metric, memo=memo)
    if len(images) == 0:
        with_value = " with MS-SSIM" if metric == "ms_ssim_db" else ""
        reason = _missing(anchor, metric) or _missing(test, metric) or (
            f"no image is ok{with_value} at every point of both {anchor.name} and {test.name}")
        undefined = BdResult(None, reason, method, None, len(anchor.points), len(test.points))
        return undefined, undefined, images
    rate, quality = bd_pair(*mean_pair(rows, anchor, test, images, memo=memo), metric, method, min_overlap)
    return rate, quality, images


def _interval(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, method: str, common: pd.Index, *,
              n_boot: int, seed: int, level: float, min_overlap: float, memo: Memo | None = None
              ) -> tuple[BootstrapResult | None, str | None, int]:
    if anchor.published:
        return None, "anchor is a published mean curve (no per-image data)", 0
    if len(common) < 2:
        return None, f"{len(common)} images ok at every point of both codecs; at least 2 are needed", len(common)
    a = per_image(rows, anchor.name, anchor.points, metric, memo=memo).loc[common]
    t = per_image(rows, test.name, test.points, metric, memo=memo).loc[common]
    mean = ms_ssim_db_of_mean if metric == "ms_ssim_db" else np.mean
    result = bd_rate_bootstrap(
        a["bpp"].to_numpy(np.float64), a["quality"].to_numpy(np.float64),
        t["bpp"].to_numpy(np.float64), t["quality"].to_numpy(np.float64),
        method=method, n_boot=n_boot, seed=seed, level=level, quality_mean=mean, min_overlap=min_overlap,
    )
    return result, result.reason, len(common)


def bd_table(
    rows: pd.DataFrame,
    *,
    anchor: str = "jpeg",
    methods: Sequence[str] = ("cubic",),
    codecs: Sequence[str] | None = None,
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    memo: Memo | None = None,
) -> BdTable:
    """BD-rate and BD-quality of every codec (default: all but the anchor) against ``anchor``."""
    if not methods:
        raise BdTableError(f"no BD method given; use one or more of {', '.join(METHODS)}")
    for method in methods:
        if method not in METHODS:
            raise BdTableError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    curves = measured_curves(rows)
    anchor_curve = resolve_anchor(anchor, curves)
    names = [c for c in curves if c != anchor] if codecs is None else list(codecs)
    for name in names:
        if name not in curves:
            raise BdTableError(f"no results for codec {name!r}; known codecs: {', '.join(curves)}")
    entries = []
    memo = {} if memo is None else memo
    for method in methods:
        for metric in METRICS:
            for name in names:
                test = curves[name]
                rate, quality, images = bd_common(rows, anchor_curve, test, metric, method, min_overlap, memo=memo)
                ci, ci_reason, ci_images = (None, "no BD-rate", 0) if not rate.ok else _interval(
                    rows, anchor_curve, test, metric, method, images,
                    n_boot=n_boot, seed=seed, level=level, min_overlap=min_overlap, memo=memo,
                )
                rate_all, fit_rms, mse_mean = None, (None, None), None
                if method == "cubic" and len(images):
                    pair = mean_pair(rows, anchor_curve, test, images, memo=memo)
                    rate_all = bd_pair(*pair, metric, method, min_overlap, fit="all")[0]
                    fit_rms = fit_residuals(*pair, metric)
                    if metric == "psnr" and not anchor_curve.published:
                        mse_mean = bd_rate_psnr_of_mean_mse(rows, anchor_curve, test, images, min_overlap,
                                                            memo=memo)
                entries.append(BdEntry(name, metric, method, test.points, rate, quality, ci, ci_reason, ci_images,
                                       len(images), rate_all, fit_rms, mse_mean))
    return BdTable(dataset_of(rows), anchor_curve, curves, tuple(methods), tuple(entries), n_boot, seed, level,
                   min_overlap)


# --- formatting ---------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 2, sign: bool = True) -> str:
    if value is None:
        return "—"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("-", "−")


def _cell(result: BdResult, digits: int = 2) -> str:
    return _num(result.value, digits) if result.ok else f"n/a: {_escape(result.reason or '')}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _ci_cell(entry: BdEntry) -> str:
    if entry.ci is not None and entry.ci.low is not None and entry.ci.high is not None:
        return f"[{_num(entry.ci.low, 1)}, {_num(entry.ci.high, 1)}]"
    if not entry.rate.ok:
        return "—"
    return f"n/a: {_escape(entry.ci_reason or '')}"


def _all_points_cell(entry: BdEntry) -> str:
    return _cell(entry.rate_all) if entry.rate_all is not None and entry.rate_all.ok else "—"


def _rms_cell(entry: BdEntry) -> str:
    anchor, test = entry.fit_rms
    return " · ".join("—" if v is None else f"{v:.4f}" for v in (anchor, test))


def _mc_text(table: BdTable) -> str:
    errors = [e.ci.mc_error for e in table.entries if e.ci is not None and e.ci.mc_error is not None]
    if not errors:
        return ""
    return f"; Monte-Carlo error of the interval ends at most {max(errors):.2f} percentage points"


def _interval_text(interval: tuple[float, float] | None, digits: int) -> str:
    if interval is None:
        return "—"
    return f"{interval[0]:.{digits}f}–{interval[1]:.{digits}f}"


def _points_text(curve: Curve) -> str:
    rates = curve.rate()
    finite = rates[np.isfinite(rates)]
    span = f"{finite.min():.3f}–{finite.max():.3f} bpp" if finite.size else "no rates"
    return f"{len(curve.points)} points ({', '.join(curve.points)}), {span}"


def table_markdown(table: BdTable, *, heading_level: int = 2) -> str:
    """The table as Markdown: for each method, one table per metric, then the curves' points."""
    h = "#" * heading_level
    anchor = table.anchor
    pct = round(100 * table.level)
    whose = "the test codec has (the anchor is a published curve)" if anchor.published else "both codecs have"
    lines = [
        f"{h} BD-rate vs {anchor.name}",
        "",
        (f"Dataset {table.dataset}; anchor **{anchor.name}** ({anchor.source}); BD values on the mean curves "
        f"(negative BD-rate: fewer bits than the anchor at equal quality; positive BD-PSNR / BD-MS-SSIM: "
        f"higher quality at equal rate) over the images that {whose} with status ok and a value of the "
        f"metric at every operating point (*images*). {pct}% CI of BD-rate: paired percentile bootstrap over "
        f"the same images ({table.n_boot} resamples, "
        f"seed {table.seed}{_mc_text(table)}). Overlap: the integration interval (quality in dB for BD-rate, rate in bpp for "
        f"BD-quality); at least {100 * table.min_overlap:.0f}% of the test curve's range is required; "
        f"each curve needs at least 4 strictly monotonic points."),
        "",
    ]
    if not table.entries:
        lines += [f"No codec besides the anchor {anchor.name} in these results: nothing to compare.", ""]
    for method in table.methods if table.entries else ():
        lines += [f"{h}# Method: {METHOD_TEXT[method]}", ""]
        for metric, axis in METRICS.items():
            qname = QUALITY_NAME[metric]
            cubic = method == "cubic"
            mse = cubic and metric == "psnr"
            extra_head = " all points [%] | fit RMS anchor · test |" if cubic else ""
            extra_head += " PSNR of mean MSE [%] |" if mse else ""
            lines += [
                f"**{axis}, dB**",
                "",
                (f"| codec | points | BD-rate [%] | {pct}% CI [%] | images | {qname} [dB] | overlap [dB] "
                f"| overlap [bpp] |{extra_head}"),
                "|---|---:|---:|---|---:|---:|---|---|" + ("---:|---|" if cubic else "") + ("---:|" if mse else ""),
            ]
            for e in (e for e in table.entries if e.method == method and e.metric == metric):
                extra = f" {_all_points_cell(e)} | {_rms_cell(e)} |" if cubic else ""
                extra += f" {_cell(e.rate_mse_mean) if e.rate_mse_mean is not None else '—'} |" if mse else ""
                lines.append(
                    f"| {e.codec} | {len(e.points)} | {_cell(e.rate)} | {_ci_cell(e)} | "
                    f"{e.images} | {_cell(e.quality, 3)} | "
                    f"{_interval_text(e.rate.overlap, 2)} | {_interval_text(e.quality.overlap, 3)} |{extra}"
                )
            lines.append("")
    lines += [f"{h}# Operating points used", "", f"- anchor {anchor.name}: {_points_text(anchor)}"]
    codecs = dict.fromkeys(e.codec for e in table.entries)
    for name in codecs:
        curve = table.curves[name]
        failed = sum(curve.failed or ())
        note = f"; {failed} failed rows left out of the means" if failed else ""
        lines.append(f"- {name}: {_points_text(curve)}{note}")
    lines.append("")
    return "\n".join(lines)


CSV_COLUMNS = (
    "dataset", "anchor", "method", "metric", "codec", "n_anchor", "n_test", "points", "images",
    "bd_rate", "bd_rate_reason", "ci_level", "ci_low", "ci_high", "ci_images", "ci_valid", "ci_resamples",
    "ci_reason", "bd_quality", "bd_quality_reason", "overlap_quality_low", "overlap_quality_high",
    "overlap_rate_low", "overlap_rate_high", "ci_mc_error", "bd_rate_all_points", "fit_rms_anchor", "fit_rms_test",
    "bd_rate_psnr_of_mean_mse",
)


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def table_csv(table: BdTable) -> str:
    """One line per method × metric × codec; floats written exactly (``repr``), empty when undefined."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in table.entries:
        ci = e.ci
        has_ci = ci is not None and ci.low is not None
        q_lo, q_hi = e.rate.overlap or (None, None)
        r_lo, r_hi = e.quality.overlap or (None, None)
        values = (
            table.dataset, table.anchor.name, e.method, e.metric, e.codec, len(table.anchor.points),
            len(e.points), " ".join(e.points), e.images, e.rate.value, e.rate.reason, table.level,
            ci.low if has_ci else None, ci.high if has_ci else None, e.ci_images if ci is not None else None,
            ci.n_valid if ci is not None else None, table.n_boot if ci is not None else None,
            None if has_ci else e.ci_reason, e.quality.value, e.quality.reason, q_lo, q_hi, r_lo, r_hi,
            ci.mc_error if has_ci else None, e.rate_all.value if e.rate_all is not None else None, *e.fit_rms,
            e.rate_mse_mean.value if e.rate_mse_mean is not None else None,
        )
        writer.writerow([_csv_value(v) for v in values])
    return buffer.getvalue()


# --- the study ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyRow:
    """One model × metric: this harness (a BdResult, or a reason), the study, CompressAI's published curves."""

    codec: str
    model: str
    metric: str
    measured: BdResult | None
    measured_reason: str | None
    measured_points: tuple[str, ...]
    study: float
    published: BdResult


def _study_points(curve: Curve) -> Curve:
    """The model's curve on the study's λ when it has any of them, else as it is."""
    present = [p for p in curve.points if p in STUDY_POINTS]
    return curve.subset(present) if present else curve


def study_comparison(curves: Mapping[str, Curve], *, method: str = "cubic",
                     min_overlap: float = DEFAULT_MIN_OVERLAP, rows: pd.DataFrame | None = None,
                     memo: Memo | None = None) -> list[StudyRow]:
    """The three models' BD-rate vs JPEG: this harness, the study, CompressAI's published curves (q3–6).

    With the ``rows`` behind ``curves``, the harness's BD-rates are on the images common to the model and
    JPEG (:func:`bd_common`, as in :func:`bd_table`); without, on the mean curves as given.
    """
    if method not in METHODS:
        raise BdTableError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    published_anchor = published_curve(STUDY_ANCHOR)
    out = []
    for codec, (model, *study_values) in STUDY.items():
        published_model = published_curve(codec).subset(ZOO_POINTS)
        for metric, study_value in zip(METRICS, study_values):
            published, _ = bd_pair(published_anchor, published_model, metric, method, min_overlap)
            measured, reason, points = None, None, ()
            if codec not in curves:
                reason = NOT_RUN
            elif STUDY_ANCHOR not in curves:
                reason = f"anchor {STUDY_ANCHOR} not in the results"
            else:
                test = _study_points(curves[codec])
                points = test.points
                if rows is None:
                    measured, _ = bd_pair(curves[STUDY_ANCHOR], test, metric, method, min_overlap)
                else:
                    measured, _, _ = bd_common(rows, curves[STUDY_ANCHOR], test, metric, method, min_overlap,
                                               memo=memo)
            out.append(StudyRow(codec, model, metric, measured, reason, points, study_value, published))
    return out


def study_markdown(rows: Sequence[StudyRow], *, method: str = "cubic", heading_level: int = 2) -> str:
    """Markdown: one table per metric, three columns side by side."""
    h = "#" * heading_level
    lines = [
        f"{h} Comparison with the study (BD-rate vs JPEG, %)",
        "",
        ("- **this harness**: the model's measured mean curve (on the study's four λ when present) vs the "
        f"harness's own JPEG run, method {method};"),
        "- **the study**: numbers from the study's text;",
        ("- **CompressAI published**: CompressAI's published Kodak curves on the same operating points, zoo "
        "quality 3–6 (= λ 0.0067, 0.0130, 0.0250, 0.0483) of `compressai-<model>_mse_cpu.json` vs "
        f"`jpeg.json` (Pillow 7.1.2, q5…q95), method {method} (see `bench/data/reference/SOURCE.md`)."),
        "",
    ]
    for metric, axis in METRICS.items():
        lines += [
            f"**{axis}, dB**",
            "",
            "| model | codec | this harness | the study | CompressAI published |",
            "|---|---|---:|---:|---:|",
        ]
        for r in (r for r in rows if r.metric == metric):
            measured = _cell(r.measured) if r.measured is not None else _escape(r.measured_reason or "")
            lines.append(f"| {r.model} | {r.codec} | {measured} | {_num(r.study)} | {_cell(r.published)} |")
        lines.append("")
    used = [f"{r.codec}: {', '.join(r.measured_points)}" for r in rows if r.metric == "psnr" and r.measured_points]
    if used:
        lines += ["Harness operating points used: " + "; ".join(used) + ".", ""]
    return "\n".join(lines)


def study_csv(rows: Sequence[StudyRow]) -> str:
    """One line per model × metric; floats written exactly, reasons beside empty values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("model", "codec", "metric", "measured", "measured_reason", "measured_points", "study",
                     "published", "published_reason"))
    for r in rows:
        measured = r.measured.value if r.measured is not None else None
        reason = r.measured.reason if r.measured is not None else r.measured_reason
        writer.writerow([_csv_value(v) for v in (
            r.model, r.codec, r.metric, measured, reason, " ".join(r.measured_points), r.study,
            r.published.value, r.published.reason,
        )])
    return buffer.getvalue()


# --- files --------------------------------------------------------------------------------------


def bd_report_markdown(table: BdTable, study: Sequence[StudyRow] | None, *, heading_level: int = 2) -> str:
    """The BD-rate tables and, when given, the comparison with the study, as one Markdown text."""
    parts = [table_markdown(table, heading_level=heading_level)]
    if study is not None:
        parts.append(study_markdown(study, method=table.methods[0], heading_level=heading_level))
    return "\n".join(parts)


def bd_tables(
    rows: pd.DataFrame,
    *,
    anchor: str = "jpeg",
    methods: Sequence[str] = ("cubic", "pchip"),
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[BdTable, list[StudyRow] | None]:
    """The BD table and, on Kodak (the study's dataset), the comparison with the study (first method)."""
    memo: Memo = {}
    table = bd_table(rows, anchor=anchor, methods=methods, n_boot=n_boot, seed=seed, level=level, memo=memo)
    study = (study_comparison(table.curves, method=methods[0], rows=rows, memo=memo)
             if table.dataset == PUBLISHED_DATASET else None)
    return table, study


def bd_files(table: BdTable, study: Sequence[StudyRow] | None) -> dict[str, str]:
    """File name → content: ``bd-rate.md``, ``bd-rate.csv`` and, with a study comparison, ``bd-rate-study.csv``."""
    files = {"bd-rate.md": "# BD-rate\n\n" + bd_report_markdown(table, study), "bd-rate.csv": table_csv(table)}
    if study is not None:
        files["bd-rate-study.csv"] = study_csv(study)
    return files


def write_bd_tables(
    rows: pd.DataFrame,
    reports_dir: str | Path,
    *,
    anchor: str = "jpeg",
    methods: Sequence[str] = ("cubic", "pchip"),
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> list[Path]:
    """Write :func:`bd_files` into ``reports_dir``; returns the paths."""
    table, study = bd_tables(rows, anchor=anchor, methods=methods, n_boot=n_boot, seed=seed, level=level)
    written = []
    for name, text in bd_files(table, study).items():
        write_text_atomic(Path(reports_dir) / name, text)
        written.append(Path(reports_dir) / name)
    return written
