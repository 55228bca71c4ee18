"""BD-rate tables: every codec against an anchor, with bootstrap intervals (the numbers; text and
files: :mod:`bench.analysis.bdformat`, :mod:`bench.analysis.bdreport`).

For each method (``cubic``, ``pchip``), metric (PSNR, MS-SSIM dB, PSNR-Y, and the primary column of every
plug-in metric the rows were scored by: :func:`table_axes`) and codec, a :class:`BdEntry` holds
BD-rate and BD-quality of the codec's mean curve against the anchor's (:mod:`bench.analysis.bdrate`), each a
number or the reason there is none, and a paired percentile bootstrap interval of the BD-rate. Both are
computed on one image set (:func:`common_images`): the images that both codecs have with status ``ok``
and a value of the metric at every operating point used, so the two mean curves average the same images.

The anchor is a codec of the results (default ``jpeg``), a shipped published curve (``published:jpeg``)
or a reference curve read from a file (``ref:<name>``, :mod:`bench.analysis.refcurves`); a published or
reference anchor has no per-image data, so its entries carry no interval. Reference curves given beside
the results are also compared with the anchor, on their mean curves (no interval either).

Which points enter the BD fit (:func:`select_points`): ``anchor_points`` keeps only those labels of the
anchor; ``rate_range`` then keeps, of every curve (anchor and tests), the points whose mean rate lies in
``[low, high]`` bpp. The fit-range rule of :mod:`bench.analysis.bdrate` (points inside the other curve's
range plus the nearest beyond each end, at least 4) applies to what is left: the options choose the
candidates, the rule still chooses among them.

A lower-is-better plug-in metric (NLPD, Butteraugli) is integrated on its negated value, so that a negative
BD-rate still means fewer bits at equal quality; its BD-quality and overlaps are given back in the metric's own
values and direction (negative BD-NLPD: lower NLPD, better, at equal rate).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from bench.analysis.bdrate import (
    DEFAULT_MIN_OVERLAP,
    DEFAULT_RESAMPLES,
    MAX_RESAMPLES,
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
from bench.core.errors import BenchError
from bench.analysis.refcurves import check_dataset
from bench.analysis.curves import (
    BUILTIN_AXES,
    PUBLISHED,
    PUBLISHED_PREFIX,
    Axis,
    Curve,
    dataset_of,
    measured_curves,
    plugin_axes,
    published_curve,
)

__all__ = [
    "BdEntry",
    "BdTable",
    "BdTableError",
    "Memo",
    "bd_common",
    "bd_interval",
    "bd_pair",
    "bd_rate_on_payload",
    "bd_table",
    "common_images",
    "mean_pair",
    "per_image",
    "resolve_anchor",
    "select_points",
    "table_axes",
    "table_metrics",
]

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
    rate_payload: BdResult | None = None
    """Cubic only: BD-rate with each rate the coded payload's (``payload_bytes``: no container or header
    bytes) instead of the whole file's (a sensitivity of the rate accounting)."""


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
    anchor_points: tuple[str, ...] | None = None
    """The anchor's points the user kept (``--anchor-points``), or None for all."""
    rate_range: tuple[float, float] | None = None
    """The rate interval [bpp] the user kept points in (``--rate-range``), or None for all."""
    mc_target: float | None = None
    """The Monte-Carlo error of the interval ends the resamples were grown to (None: ``n_boot`` exactly)."""
    max_boot: int = MAX_RESAMPLES
    """The most resamples an interval may draw to meet ``mc_target``."""
    ci_method: str = "percentile"
    comparisons: Any = None
    """A :class:`bench.analysis.bdcompare.Comparisons` (per-image BD-rates, the common-interval table, the pairs)
    once :func:`bench.analysis.bdreport.bd_tables` has computed it (typed loosely: that module imports this one)."""
    axes: Mapping[str, Axis] = field(default_factory=lambda: dict(BUILTIN_AXES))
    """The table's quality axes by key, in its order (:func:`table_axes`)."""

    def axis(self, metric: str) -> Axis:
        """The axis of ``metric`` (a built-in one when the table does not list it)."""
        return self.axes.get(metric) or BUILTIN_AXES[metric]

    def entry(self, codec: str, metric: str, method: str) -> BdEntry:
        for e in self.entries:
            if (e.codec, e.metric, e.method) == (codec, metric, method):
                return e
        raise KeyError((codec, metric, method))


# --- computing ----------------------------------------------------------------------------------


def resolve_anchor(name: str, curves: Mapping[str, Curve], references: Sequence[Curve] = ()) -> Curve:
    """The anchor curve: a codec of the results, one of ``references`` by name (``ref:<name>``), or
    ``published:<key>``; raises naming the known ones."""
    for reference in references:
        if name == reference.name:
            return reference
    if name.startswith(PUBLISHED_PREFIX):
        return published_curve(name)
    if name in curves:
        return curves[name]
    given = f"; references given: {', '.join(r.name for r in references)}" if references else ""
    raise BdTableError(
        f"anchor {name!r} is not in the results; known codecs: {', '.join(curves) or 'none'}{given} "
        f"(or a published curve: {', '.join(PUBLISHED_PREFIX + k for k in PUBLISHED)}, or a reference file)"
    )


def select_points(curve: Curve, *, points: Sequence[str] | None = None,
                  rate_range: tuple[float, float] | None = None) -> Curve:
    """``curve`` restricted to ``points`` (labels; unknown ones raise naming the curve's), then to the points
    whose mean rate lies in ``rate_range`` = (low, high) bpp; a point without a rate is kept (its BD values
    then say it has none)."""
    if points is not None:
        curve = curve.subset(points)
    if rate_range is not None:
        low, high = rate_range
        if not 0 <= low < high:
            raise BdTableError(f"rate range {low:g}–{high:g} bpp: give 0 ≤ low < high")
        rates = curve.rate()
        curve = curve.subset(p for p, r in zip(curve.points, rates) if not (r < low or r > high))
    return curve


def _axis_of(anchor: Curve, test: Curve, metric: str) -> Axis | None:
    return test.axes.get(metric) or anchor.axes.get(metric)


def _own_direction(rate: BdResult, quality: BdResult, axis: Axis | None) -> tuple[BdResult, BdResult]:
    """BD values computed on negated qualities (a lower-is-better metric) given back in the metric's own
    values: BD-rate's overlap (a quality interval) and BD-quality's value; others as they are."""
    if axis is None or axis.higher_is_better:
        return rate, quality
    if rate.overlap is not None:
        rate = replace(rate, overlap=(-rate.overlap[1], -rate.overlap[0]))
    if quality.value is not None:
        quality = replace(quality, value=-quality.value)
    return rate, quality


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
    args = (anchor.rate(), anchor.bd_quality(metric), test.rate(), test.bd_quality(metric))
    labels = (anchor.points, test.points)
    return _own_direction(
        bd_rate_result(*args, method=method, min_overlap=min_overlap, fit=fit, labels=labels),
        bd_quality_result(*args, method=method, min_overlap=min_overlap, fit=fit, labels=labels),
        _axis_of(anchor, test, metric),
    )


def fit_residuals(anchor: Curve, test: Curve, metric: str) -> tuple[float | None, float | None]:
    """RMS residuals of the anchor's and the test's BD-rate cubic fits (natural log of rate) on the points
    the default fit range uses; None where a curve cannot be fitted."""
    if _missing(anchor, metric) or _missing(test, metric):
        return None, None
    a, t = (anchor.rate(), anchor.bd_quality(metric)), (test.rate(), test.bd_quality(metric))
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


_T = TypeVar("_T")


def _memoized(memo: Memo | None, key: tuple, compute: Callable[[], _T]) -> _T:
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def per_image(rows: pd.DataFrame, codec: str, points: Sequence[str], metric: str, *,
              memo: Memo | None = None) -> pd.DataFrame:
    """Per-image rate and quality, one row per image ok at every point; columns (bpp|quality, point).

    The quality is PSNR (RGB or Y′), raw MS-SSIM for ``ms_ssim_db`` (averaged, then converted, per resample), or
    a plug-in metric's value, negated where lower is better (as BD integrals take it).
    """
    return _memoized(memo, ("per_image", codec, tuple(points), metric),
                     lambda: _per_image(rows, codec, points, metric))


_ROW_COLUMN = {"psnr": "psnr", "ms_ssim_db": "ms_ssim", "psnr_y": "psnr_y"}
"""The rows' column behind each built-in metric (MS-SSIM dB is computed from the mean raw MS-SSIM); a plug-in
metric's is its key."""


def table_axes(rows: pd.DataFrame) -> dict[str, Axis]:
    """The axes of the BD tables of ``rows`` by key: PSNR and MS-SSIM, PSNR-Y where any row has it, then the
    primary column of each plug-in metric the rows were scored by (:func:`bench.analysis.curves.plugin_axes`)."""
    has_luma = "psnr_y" in rows and bool(rows["psnr_y"].notna().any())
    builtin = {key: axis for key, axis in BUILTIN_AXES.items() if key != "psnr_y" or has_luma}
    return {**builtin, **{axis.key: axis for axis in plugin_axes(rows)}}


def table_metrics(rows: pd.DataFrame) -> tuple[str, ...]:
    """The keys of :func:`table_axes`."""
    return tuple(table_axes(rows))


def _per_image(rows: pd.DataFrame, codec: str, points: Sequence[str], metric: str) -> pd.DataFrame:
    column = _ROW_COLUMN.get(metric, metric)
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok") & rows["point"].isin(points)]
    if metric not in _ROW_COLUMN:  # a plug-in column, stored as text where the store does not know it
        part = part.assign(**{column: pd.to_numeric(part[column], errors="coerce")})
    table = part.pivot_table(index="image", columns="point", values=["bpp", column], aggfunc="first")
    table = table.reindex(columns=pd.MultiIndex.from_product([["bpp", column], list(points)]))
    table.columns = pd.MultiIndex.from_product([["bpp", "quality"], list(points)])
    if metric not in _ROW_COLUMN and not _higher_is_better(rows, metric):
        table["quality"] = -table["quality"]
    return table[np.isfinite(table.to_numpy(dtype=np.float64)).all(axis=1)].sort_index()


def _higher_is_better(rows: pd.DataFrame, metric: str) -> bool:
    """The direction of the plug-in metric whose primary column is ``metric`` (True when none is found)."""
    axis = next((a for a in plugin_axes(rows) if a.key == metric), None)
    return axis is None or axis.higher_is_better


def common_images(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, *,
                  memo: Memo | None = None) -> pd.Index:
    """The images ok with a value of ``metric`` at every point of both curves, sorted.

    For a published anchor (no per-image data): those of the test codec alone.
    """
    images = per_image(rows, test.name, test.points, metric, memo=memo).index
    if anchor.published:
        return images
    return per_image(rows, anchor.name, anchor.points, metric, memo=memo).index.intersection(images)


def _ok_rows(rows: pd.DataFrame, curve: Curve, images: pd.Index) -> pd.DataFrame:
    """The codec's ok rows at ``curve``'s points on ``images``."""
    return rows[(rows["codec"] == curve.name) & (rows["status"] == "ok") & rows["point"].isin(curve.points)
                & rows["image"].isin(images)]


def _curve_over(rows: pd.DataFrame, curve: Curve, images: pd.Index, memo: Memo | None) -> Curve:
    """The codec's mean curve at ``curve``'s points over ``images`` only, averaged as the summary averages;
    ``curve`` itself (a mean curve of ``rows``, perhaps of some of its points) when ``images`` hold all its rows."""
    def compute() -> Curve:
        part = _ok_rows(rows, curve, images)
        every = (rows["codec"] == curve.name) & (rows["status"] == "ok") & rows["point"].isin(curve.points)
        if len(part) == int(every.sum()):
            return curve
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


def _payload_curve(rows: pd.DataFrame, mean: Curve, images: pd.Index, memo: Memo | None) -> Curve | str:
    """The mean curve ``mean`` with each point's rate the mean payload bpp over ``images``, or why there is none."""
    def compute() -> Curve | str:
        part = _ok_rows(rows, mean, images)
        if "payload_bytes" not in part or part["payload_bytes"].isna().any():
            return f"{mean.name} has rows without payload_bytes"
        bpp = 8.0 * part["payload_bytes"] / (part["width"] * part["height"])
        means = bpp.groupby(part["point"]).mean()
        return replace(mean, bpp=tuple(float(means[p]) for p in mean.points))

    return _memoized(memo, ("payload", mean.name, mean.points, tuple(images)), compute)


def bd_rate_on_payload(rows: pd.DataFrame, anchor: Curve, test: Curve, images: pd.Index, metric: str,
                       min_overlap: float = DEFAULT_MIN_OVERLAP, *, memo: Memo | None = None) -> BdResult:
    """Cubic BD-rate of the two codecs' mean curves over ``images`` with payload rates (qualities as in
    :func:`mean_pair`); a reason instead when either codec lacks ``payload_bytes`` on those rows."""
    if anchor.published:
        return BdResult(None, "a published anchor has no payload sizes", "cubic", None, len(anchor.points),
                        len(test.points))
    curves = [_payload_curve(rows, mean, images, memo) for mean in mean_pair(rows, anchor, test, images, memo=memo)]
    reason = next((c for c in curves if isinstance(c, str)), None)
    if reason is not None:
        return BdResult(None, reason, "cubic", None, len(anchor.points), len(test.points))
    return bd_pair(curves[0], curves[1], metric, "cubic", min_overlap)[0]


def bd_common(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, method: str = "cubic",
              min_overlap: float = DEFAULT_MIN_OVERLAP, *, memo: Memo | None = None
              ) -> tuple[BdResult, BdResult, pd.Index]:
    """BD-rate and BD-quality of the two codecs' mean curves over their :func:`common_images`, and those images."""
    images = common_images(rows, anchor, test, metric, memo=memo)
    if len(images) == 0:
        with_value = {"psnr": ""}.get(metric, f" with {_axis_name(anchor, test, metric)}")
        reason = _missing(anchor, metric) or _missing(test, metric) or (
            f"no image is ok{with_value} at every point of both {anchor.name} and {test.name}")
        undefined = BdResult(None, reason, method, None, len(anchor.points), len(test.points))
        return undefined, undefined, images
    rate, quality = bd_pair(*mean_pair(rows, anchor, test, images, memo=memo), metric, method, min_overlap)
    return rate, quality, images


def _axis_name(anchor: Curve, test: Curve, metric: str) -> str:
    axis = _axis_of(anchor, test, metric)
    return metric if axis is None else axis.short


def bd_interval(rows: pd.DataFrame, anchor: Curve, test: Curve, metric: str, method: str, common: pd.Index, *,
                n_boot: int, seed: int, level: float, min_overlap: float, memo: Memo | None = None,
                mc_target: float | None = None, max_boot: int = MAX_RESAMPLES, ci_method: str = "percentile"
                ) -> tuple[BootstrapResult | None, str | None, int]:
    """The paired bootstrap interval of the BD-rate of ``test`` against ``anchor`` over the images ``common``
    (:func:`bench.analysis.bdrate.bd_rate_bootstrap`), the reason when there is none, and the image count."""
    if anchor.published:
        return None, "anchor is a published or reference mean curve (no per-image data)", 0
    if len(common) < 2:
        return None, f"{len(common)} images ok at every point of both codecs; at least 2 are needed", len(common)
    a = per_image(rows, anchor.name, anchor.points, metric, memo=memo).loc[common]
    t = per_image(rows, test.name, test.points, metric, memo=memo).loc[common]
    mean = ms_ssim_db_of_mean if metric == "ms_ssim_db" else np.mean
    result = bd_rate_bootstrap(
        a["bpp"].to_numpy(np.float64), a["quality"].to_numpy(np.float64),
        t["bpp"].to_numpy(np.float64), t["quality"].to_numpy(np.float64),
        method=method, n_boot=n_boot, seed=seed, level=level, quality_mean=mean, min_overlap=min_overlap,
        mc_target=mc_target, max_boot=max_boot, ci_method=ci_method,
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
    references: Sequence[Curve] = (),
    anchor_points: Sequence[str] | None = None,
    rate_range: tuple[float, float] | None = None,
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
) -> BdTable:
    """BD-rate and BD-quality of every codec and reference curve (default: all but the anchor) against
    ``anchor``, on the points :func:`select_points` keeps (``anchor_points``, ``rate_range``); intervals
    from ``n_boot`` resamples, more until their Monte-Carlo error is at most ``mc_target`` (None: exactly
    ``n_boot``) or ``max_boot`` are drawn, by ``ci_method`` (percentile or BCa)."""
    if not methods:
        raise BdTableError(f"no BD method given; use one or more of {', '.join(METHODS)}")
    for method in methods:
        if method not in METHODS:
            raise BdTableError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    dataset = dataset_of(rows)
    for reference in references:
        check_dataset(reference, dataset)
    measured = measured_curves(rows)
    anchor_curve = resolve_anchor(anchor, measured, references)
    check_dataset(anchor_curve, dataset)
    anchor_curve = select_points(anchor_curve, points=anchor_points, rate_range=rate_range)
    curves = {name: select_points(c, rate_range=rate_range)
              for name, c in {**measured, **{r.name: r for r in references}}.items()}
    names = [c for c in curves if c != anchor_curve.name] if codecs is None else list(codecs)
    for name in names:
        if name not in curves:
            raise BdTableError(f"no results for codec {name!r}; known codecs: {', '.join(curves)}")
    entries = []
    memo = {} if memo is None else memo
    axes = table_axes(rows)
    for method in methods:
        for metric in axes:
            for name in names:
                test = curves[name]
                if test.published:
                    entries.append(_mean_only_entry(anchor_curve, test, metric, method, min_overlap))
                    continue
                rate, quality, images = bd_common(rows, anchor_curve, test, metric, method, min_overlap, memo=memo)
                ci, ci_reason, ci_images = (None, "no BD-rate", 0) if not rate.ok else bd_interval(
                    rows, anchor_curve, test, metric, method, images, n_boot=n_boot, seed=seed, level=level,
                    min_overlap=min_overlap, memo=memo, mc_target=mc_target, max_boot=max_boot, ci_method=ci_method,
                )
                rate_all, fit_rms, mse_mean, payload = None, (None, None), None, None
                if method == "cubic" and len(images):
                    pair = mean_pair(rows, anchor_curve, test, images, memo=memo)
                    rate_all = bd_pair(*pair, metric, method, min_overlap, fit="all")[0]
                    fit_rms = fit_residuals(*pair, metric)
                    payload = bd_rate_on_payload(rows, anchor_curve, test, images, metric, min_overlap, memo=memo)
                    if metric == "psnr" and not anchor_curve.published:
                        mse_mean = bd_rate_psnr_of_mean_mse(rows, anchor_curve, test, images, min_overlap,
                                                            memo=memo)
                entries.append(BdEntry(name, metric, method, test.points, rate, quality, ci, ci_reason, ci_images,
                                       len(images), rate_all, fit_rms, mse_mean, payload))
    return BdTable(dataset, anchor_curve, curves, tuple(methods), tuple(entries), n_boot, seed, level,
                   min_overlap, None if anchor_points is None else tuple(anchor_points),
                   None if rate_range is None else (float(rate_range[0]), float(rate_range[1])),
                   mc_target, max_boot, ci_method, axes=axes)


def _mean_only_entry(anchor: Curve, test: Curve, metric: str, method: str, min_overlap: float) -> BdEntry:
    """A reference test curve against the anchor's mean curve (over all its images): no per-image data,
    so no interval and no payload or averaging sensitivities."""
    rate, quality = bd_pair(anchor, test, metric, method, min_overlap)
    rate_all, fit_rms = None, (None, None)
    if method == "cubic":
        rate_all = bd_pair(anchor, test, metric, method, min_overlap, fit="all")[0]
        fit_rms = fit_residuals(anchor, test, metric)
    reason = "no BD-rate" if not rate.ok else f"{test.name} is a mean curve (no per-image data)"
    return BdEntry(test.name, metric, method, test.points, rate, quality, None, reason, 0, 0, rate_all, fit_rms)
