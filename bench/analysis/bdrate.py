"""Bjøntegaard delta metrics: BD-rate and BD-quality, with bootstrap confidence intervals.

Two ways of turning rate–quality points into curves:

``"cubic"``
    VCEG-M33 (Bjøntegaard 2001): a least-squares cubic polynomial (a fit, not an interpolation, when a
    curve has more than 4 points) of log-rate as a function of quality (BD-rate), or of quality as a
    function of log-rate (BD-quality), integrated analytically.
``"pchip"``
    JVET common test conditions: piecewise cubic Hermite interpolation (Fritsch–Carlson slopes, as
    ``scipy.interpolate.PchipInterpolator``) of the points sorted along the integration axis,
    integrated exactly piece by piece.

Which points the cubic is fitted on (``fit``):

``"overlap"`` (default)
    each curve on its points inside the *other* curve's range along the integration axis, plus its
    nearest point beyond each end of that range (so the fit spans the whole overlap), widened by the
    nearest remaining points to at least 4. One cubic over a wide anchor (JPEG's 20 points span
    0.2–7 bpp) otherwise bends to points far outside the interval it is integrated over: its
    residuals are systematic and the BD value moves with points that do not matter (the
    factorized prior's BD-rate vs JPEG: −2.39 % on all points, −3.59 % on the relevant ones).
``"all"``
    every point (VCEG-M33 as usually implemented, e.g. the ``bjontegaard`` package): a sensitivity.

PCHIP interpolates, so points beyond the overlap move it only through the end slopes: it always uses
every point. The bootstrap applies the same rule to each resample.

Both average the difference test − anchor over the overlap of the two curves along the integration
axis (quality for BD-rate, log-rate for BD-quality). BD-rate is ``100·(exp(mean Δ ln R) − 1)`` percent
(negative: the test codec needs less rate); BD-quality is the mean quality difference (test − anchor),
in the unit of the quality values (dB for PSNR or MS-SSIM dB).

Policy (the same for both methods, so switching method never changes which table cells have numbers):

* each curve needs at least :data:`MIN_POINTS` = 4 points (a cubic needs 4; PCHIP would run on 2,
  but a BD number from 2–3 points is not worth reporting);
* values must be finite and rates positive;
* each curve must be strictly monotonic: after sorting by rate, quality rises strictly;
* the overlap along the integration axis must be non-empty and cover at least ``min_overlap``
  (default :data:`DEFAULT_MIN_OVERLAP` = 0.5) of the **test** curve's range on that axis.

``*_result`` functions return a :class:`BdResult` carrying either a value or a reason (for tables);
:func:`bd_rate` and :func:`bd_quality` return the number or raise :class:`BdRateError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from bench.core.errors import BenchError
from bench.core.metrics import ms_ssim_db

__all__ = [
    "DEFAULT_MIN_OVERLAP",
    "DEFAULT_RESAMPLES",
    "FITS",
    "METHODS",
    "MIN_POINTS",
    "BdRateError",
    "BdResult",
    "BootstrapResult",
    "bd_quality",
    "bd_quality_bootstrap",
    "bd_quality_result",
    "bd_rate",
    "bd_rate_bootstrap",
    "bd_rate_result",
    "ms_ssim_db",
    "ms_ssim_db_of_mean",
]

METHODS = ("cubic", "pchip")
FITS = ("overlap", "all")
MIN_POINTS = 4
DEFAULT_MIN_OVERLAP = 0.5
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples by default: enough for a Monte-Carlo error of the interval ends well under 0.1 %."""
MC_BATCHES = 20
"""Batches of the batch-means estimate of the Monte-Carlo error (:attr:`BootstrapResult.mc_error`)."""

_Kind = Literal["rate", "quality"]
QualityMean = Callable[..., np.ndarray]
"""``quality_mean(values, axis=k)`` reduces per-image quality values over the image axis (like ``np.mean``)."""


class BdRateError(BenchError):
    """A Bjøntegaard delta cannot be computed for these curves; the message says why."""


@dataclass(frozen=True)
class BdResult:
    """A BD value, or the reason there is none.

    ``overlap`` is the integration interval: a quality interval for BD-rate, a rate interval (rate
    units, not log) for BD-quality. ``overlap_fraction`` is its share of the test curve's range on the
    integration axis (log-rate for BD-quality).
    """

    value: float | None
    reason: str | None
    method: str
    overlap: tuple[float, float] | None
    n_anchor: int
    n_test: int
    overlap_fraction: float | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile bootstrap interval of a BD value over images.

    ``estimate`` is the BD value of the mean curves over all images. ``low``/``high`` are ``None``
    (and ``reason`` says why) when the estimate is undefined or fewer than ``min_valid`` of the
    resamples give a value. ``invalid`` counts the undefined resamples by cause. ``mc_error`` is the
    Monte-Carlo standard error of the interval's ends (the larger of the two; in the BD value's unit):
    the valid resamples, in drawing order, split into :data:`MC_BATCHES` equal batches; each batch's
    end points; their standard deviation over √batches. ``None`` with fewer than 10 resamples a batch.
    """

    low: float | None
    high: float | None
    estimate: float | None
    n_valid: int
    n_boot: int
    level: float
    method: str
    reason: str | None = None
    invalid: Mapping[str, int] = field(default_factory=dict, hash=False)
    mc_error: float | None = None


def ms_ssim_db_of_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean MS-SSIM over ``axis``, then converted to dB (CompressAI's convention for mean curves)."""
    return ms_ssim_db(np.mean(values, axis=axis))


# --------------------------------------------------------------------------------------------------
# Single curves


def bd_rate_result(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
) -> BdResult:
    """BD-rate in percent (negative: test saves rate), or the reason it is undefined."""
    return _result("rate", anchor_rate, anchor_quality, test_rate, test_quality, method, min_overlap, fit)


def bd_quality_result(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
) -> BdResult:
    """BD-quality (e.g. BD-PSNR in dB, test − anchor), or the reason it is undefined."""
    return _result("quality", anchor_rate, anchor_quality, test_rate, test_quality, method, min_overlap, fit)


def bd_rate(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
) -> float:
    """BD-rate in percent; raises :class:`BdRateError` when undefined."""
    result = bd_rate_result(
        anchor_rate, anchor_quality, test_rate, test_quality, method=method, min_overlap=min_overlap, fit=fit
    )
    return _value_or_raise(result, "BD-rate")


def bd_quality(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
) -> float:
    """BD-quality (BD-PSNR) in quality units; raises :class:`BdRateError` when undefined."""
    result = bd_quality_result(
        anchor_rate, anchor_quality, test_rate, test_quality, method=method, min_overlap=min_overlap, fit=fit
    )
    return _value_or_raise(result, "BD-quality")


def _value_or_raise(result: BdResult, what: str) -> float:
    if result.value is None:
        raise BdRateError(f"cannot compute {what} ({result.method}): {result.reason}")
    return result.value


def _check_options(method: str, min_overlap: float, fit: str = "overlap") -> None:
    if method not in METHODS:
        raise BdRateError(f"unknown BD method {method!r}; use one of {', '.join(map(repr, METHODS))}")
    if fit not in FITS:
        raise BdRateError(f"unknown BD fit range {fit!r}; use one of {', '.join(map(repr, FITS))}")
    if not 0.0 <= min_overlap <= 1.0:
        raise BdRateError(f"min_overlap must lie in [0, 1], got {min_overlap!r}")


def _result(
    kind: _Kind,
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    method: str,
    min_overlap: float,
    fit: str = "overlap",
) -> BdResult:
    _check_options(method, min_overlap, fit)
    anchor = _checked_curve("anchor", anchor_rate, anchor_quality)
    test = _checked_curve("test", test_rate, test_quality)
    n_anchor = anchor[0].size if isinstance(anchor, tuple) else _length(anchor_rate)
    n_test = test[0].size if isinstance(test, tuple) else _length(test_rate)

    def undefined(
        reason: str, overlap: tuple[float, float] | None = None, fraction: float | None = None
    ) -> BdResult:
        return BdResult(None, reason, method, overlap, n_anchor, n_test, fraction)

    if isinstance(anchor, str):
        return undefined(anchor)
    if isinstance(test, str):
        return undefined(test)

    xa, ya = _axes(kind, *anchor)
    xt, yt = _axes(kind, *test)
    axis_name = "quality" if kind == "rate" else "log-rate"
    lo, hi, fraction = (float(v[0]) for v in _overlap(xa[None], xt[None]))
    if not hi > lo:
        return undefined(
            f"no overlap: anchor {_span(kind, xa)}, test {_span(kind, xt)}",
        )
    overlap = (lo, hi) if kind == "rate" else (float(np.exp(lo)), float(np.exp(hi)))
    if fraction < min_overlap:
        return undefined(
            f"overlap too small ({100 * fraction:.0f}% of test {axis_name} range, "
            f"minimum {100 * min_overlap:.0f}%)",
            overlap,
            fraction,
        )
    mean = _mean_difference(method, xa[None], ya[None], xt[None], yt[None], np.array([lo]), np.array([hi]), fit)
    value = float(_to_value(kind, mean)[0])
    if not np.isfinite(value):
        return undefined(f"result is not finite ({value})", overlap, fraction)
    return BdResult(value, None, method, overlap, n_anchor, n_test, fraction)


def _length(values: ArrayLike) -> int:
    try:
        return len(values)  # type: ignore[arg-type]
    except TypeError:
        return 1


def _span(kind: _Kind, x: np.ndarray) -> str:
    if kind == "rate":
        return f"quality [{x[0]:.4g}, {x[-1]:.4g}]"
    return f"rate [{np.exp(x[0]):.4g}, {np.exp(x[-1]):.4g}]"


def _checked_curve(label: str, rate: ArrayLike, quality: ArrayLike) -> tuple[np.ndarray, np.ndarray] | str:
    """The curve as float64 arrays sorted by rate, or the reason it cannot be used."""
    try:
        r = np.asarray(rate, dtype=np.float64)
        q = np.asarray(quality, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{label} curve has non-numeric values"
    if r.ndim != 1 or q.ndim != 1:
        return f"{label} curve: rates and qualities must be 1-D, got shapes {r.shape} and {q.shape}"
    if r.size != q.size:
        return f"{label} curve has unequal lengths: {r.size} rates but {q.size} quality values"
    if r.size < MIN_POINTS:
        return f"{label} curve has {r.size} points; at least {MIN_POINTS} are needed"
    bad = np.flatnonzero(~(np.isfinite(r) & np.isfinite(q)))
    if bad.size:
        return f"{label} curve has non-finite values (NaN or inf) at points {bad.tolist()}"
    bad = np.flatnonzero(r <= 0)
    if bad.size:
        return f"{label} curve has non-positive rates at points {bad.tolist()}"
    order = np.argsort(r, kind="stable")
    r, q = r[order], q[order]
    if np.any(np.diff(r) <= 0):
        i = int(np.flatnonzero(np.diff(r) <= 0)[0])
        return f"{label} curve is not monotonic: rate {r[i]:.6g} appears twice"
    if np.any(np.diff(q) <= 0):
        i = int(np.flatnonzero(np.diff(q) <= 0)[0])
        return (
            f"{label} curve is not monotonic: quality must rise strictly with rate, but "
            f"{q[i + 1]:.6g} at rate {r[i + 1]:.6g} follows {q[i]:.6g} at rate {r[i]:.6g}"
        )
    return r, q


# --------------------------------------------------------------------------------------------------
# Batched core: every array is (B, n), rows sorted by rate, strictly monotonic, rates positive.


def _axes(kind: _Kind, rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integration axis, integrand) for a kind; both increase along the last axis."""
    if kind == "rate":
        return quality, np.log(rate)
    return np.log(rate), quality


def _to_value(kind: _Kind, mean_difference: np.ndarray) -> np.ndarray:
    if kind == "rate":
        return 100.0 * np.expm1(mean_difference)
    return mean_difference


def _overlap(xa: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: overlap bounds and the overlap's share of the test curve's range (0 when empty)."""
    lo = np.maximum(xa[:, 0], xt[:, 0])
    hi = np.minimum(xa[:, -1], xt[:, -1])
    fraction = np.maximum(hi - lo, 0.0) / (xt[:, -1] - xt[:, 0])
    return lo, hi, fraction


def _mean_difference(
    method: str,
    xa: np.ndarray,
    ya: np.ndarray,
    xt: np.ndarray,
    yt: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    fit: str = "overlap",
) -> np.ndarray:
    """Per row: mean of (test − anchor) curve over [lo, hi]."""
    if method == "pchip":
        return _pchip_mean(xt, yt, lo, hi) - _pchip_mean(xa, ya, lo, hi)
    if fit == "all":
        return _cubic_mean(xt, yt, lo, hi) - _cubic_mean(xa, ya, lo, hi)
    test = _cubic_mean(xt, yt, lo, hi, fit_points(xt, xa[:, 0], xa[:, -1]))
    anchor = _cubic_mean(xa, ya, lo, hi, fit_points(xa, xt[:, 0], xt[:, -1]))
    return test - anchor


def fit_points(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per row of ``x`` (sorted ascending): which points the ``"overlap"`` fit uses, as a boolean mask.

    The points inside [lo, hi] (the other curve's range), the nearest one below lo and the nearest one
    above hi, then as many of the nearest remaining points (below first) as make 4.
    """
    n = x.shape[1]
    below = np.sum(x < lo[:, None], axis=1)
    above = np.sum(x > hi[:, None], axis=1)
    start = np.maximum(below - 1, 0)
    end = np.minimum(n - above, n - 1)
    short = np.maximum(MIN_POINTS - (end - start + 1), 0)
    down = np.minimum(start, (short + 1) // 2)
    up = np.minimum(n - 1 - end, short - down)
    down = np.minimum(start, short - up)
    start, end = start - down, end + up
    index = np.arange(n)
    return (index >= start[:, None]) & (index <= end[:, None])


def fit_residual_rms(rate: ArrayLike, quality: ArrayLike, other_rate: ArrayLike, other_quality: ArrayLike,
                     *, kind: str = "rate", fit: str = "overlap") -> float:
    """RMS residual of one curve's least-squares cubic on the points ``fit`` selects against the other
    curve (in the integrand's unit: natural log of rate for BD-rate, quality for BD-quality)."""
    curve = _checked_curve("curve", rate, quality)
    other = _checked_curve("other", other_rate, other_quality)
    if isinstance(curve, str) or isinstance(other, str):
        raise BdRateError(curve if isinstance(curve, str) else str(other))
    x, y = _axes(kind, *curve)  # type: ignore[arg-type]
    xo, _ = _axes(kind, *other)  # type: ignore[arg-type]
    mask = np.ones((1, x.size), bool) if fit == "all" else fit_points(x[None], xo[:1], xo[-1:])
    coef, u, _, _ = _cubic_fit(x[None], y[None], mask)  # the fit the BD value integrates
    residual = (u[..., None] ** np.arange(4) @ coef[0])[mask] - y[None][mask]
    return float(np.sqrt(np.mean(residual**2)))


def _cubic_fit(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares cubic through (x, y) per row, on the points of ``mask`` (default: all).

    Fitted in u = (x − centre)/half-width ∈ [−1, 1] (well conditioned; points left out get weight 0).
    Returns the coefficients of u⁰…u³ (B, 4), u (B, n), centre and half-width (B, 1)."""
    centre = 0.5 * (x[:, :1] + x[:, -1:])
    half = 0.5 * (x[:, -1:] - x[:, :1])
    u = (x - centre) / half
    weight = np.ones_like(u) if mask is None else mask.astype(np.float64)
    vander = u[..., None] ** np.arange(4) * weight[..., None]  # (B, n, 4), ascending powers
    q, r = np.linalg.qr(vander)
    coef = np.linalg.solve(r, np.einsum("bnk,bn->bk", q, y * weight)[..., None])[..., 0]  # (B, 4)
    return coef, u, centre, half


def _cubic_mean(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                mask: np.ndarray | None = None) -> np.ndarray:
    """Mean over [lo, hi] of the least-squares cubic through (x, y), per row (on the points of ``mask``);
    the mean of a function over an interval does not depend on the fit's affine change of variable."""
    coef, _, centre, half = _cubic_fit(x, y, mask)
    ua = (lo - centre[:, 0]) / half[:, 0]
    ub = (hi - centre[:, 0]) / half[:, 0]
    powers = np.arange(1, 5)
    antiderivative = coef / powers  # coefficient of u**k for k = 1..4
    integral = np.sum(antiderivative * (ub[:, None] ** powers - ua[:, None] ** powers), axis=1)
    return integral / (ub - ua)


def _pchip_slopes(h: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson derivatives at the knots (SciPy's PCHIP rule), per row; needs n ≥ 3."""
    slopes = np.zeros((m.shape[0], m.shape[1] + 1))
    w1 = 2.0 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2.0 * h[:, :-1]
    flat = (np.sign(m[:, 1:]) != np.sign(m[:, :-1])) | (m[:, 1:] == 0) | (m[:, :-1] == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 / m[:, :-1] + w2 / m[:, 1:]) / (w1 + w2)
        slopes[:, 1:-1] = np.where(flat, 0.0, 1.0 / harmonic)
    slopes[:, 0] = _pchip_end_slope(h[:, 0], h[:, 1], m[:, 0], m[:, 1])
    slopes[:, -1] = _pchip_end_slope(h[:, -1], h[:, -2], m[:, -1], m[:, -2])
    return slopes


def _pchip_end_slope(h0: np.ndarray, h1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """One-sided three-point end slope, limited to keep the end piece shape-preserving."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    d = np.where(np.sign(d) != np.sign(m0), 0.0, d)
    return np.where((np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0)), 3.0 * m0, d)


def _pchip_mean(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean over [lo, hi] of the PCHIP interpolant through (x, y), integrated exactly, per row."""
    h = np.diff(x, axis=1)
    m = np.diff(y, axis=1) / h
    d = _pchip_slopes(h, m)
    x0, y0, y1, d0, d1 = x[:, :-1], y[:, :-1], y[:, 1:], d[:, :-1], d[:, 1:]

    def primitive(t: np.ndarray) -> np.ndarray:
        # ∫₀ᵗ of the Hermite basis h00, h10, h01, h11, in the piece's local t = (x − x0)/h.
        t2, t3, t4 = t * t, t**3, t**4
        return (
            y0 * (t4 / 2 - t3 + t)
            + h * d0 * (t4 / 4 - 2 * t3 / 3 + t2 / 2)
            + y1 * (-t4 / 2 + t3)
            + h * d1 * (t4 / 4 - t3 / 3)
        )

    # Clip [lo, hi] to every piece; pieces outside contribute a zero-length interval.
    ta = (np.clip(lo[:, None], x0, x[:, 1:]) - x0) / h
    tb = (np.clip(hi[:, None], x0, x[:, 1:]) - x0) / h
    integral = np.sum(h * (primitive(tb) - primitive(ta)), axis=1)
    return integral / (hi - lo)


# --------------------------------------------------------------------------------------------------
# Bootstrap over images


def bd_rate_bootstrap(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    quality_mean: QualityMean = np.mean,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    min_valid: float = 0.9,
    fit: str = "overlap",
) -> BootstrapResult:
    """Paired percentile bootstrap of BD-rate over images.

    Inputs are per-image arrays, ``(n_images, n_points)``, the same images (rows, same order) for
    anchor and test; the point counts may differ. Each resample draws image indices with
    replacement, forms the mean curves (arithmetic mean of rates; ``quality_mean(values, axis=-2)``
    of qualities — pass :func:`ms_ssim_db_of_mean` with raw MS-SSIM values for MS-SSIM dB) and
    computes BD-rate. Resamples where BD-rate is undefined are left out and counted.
    """
    return _bootstrap(
        "rate",
        (anchor_rate, anchor_quality, test_rate, test_quality),
        method=method,
        n_boot=n_boot,
        seed=seed,
        level=level,
        quality_mean=quality_mean,
        min_overlap=min_overlap,
        min_valid=min_valid,
        fit=fit,
    )


def bd_quality_bootstrap(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    quality_mean: QualityMean = np.mean,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    min_valid: float = 0.9,
    fit: str = "overlap",
) -> BootstrapResult:
    """Paired percentile bootstrap of BD-quality over images; see :func:`bd_rate_bootstrap`."""
    return _bootstrap(
        "quality",
        (anchor_rate, anchor_quality, test_rate, test_quality),
        method=method,
        n_boot=n_boot,
        seed=seed,
        level=level,
        quality_mean=quality_mean,
        min_overlap=min_overlap,
        min_valid=min_valid,
        fit=fit,
    )


_INVALID = ("non-finite values", "anchor not monotonic", "test not monotonic", "no overlap", "overlap too small")
_CHUNK_ELEMENTS = 2_000_000  # resampled values held at once, per array


def _per_image(label: str, rate: ArrayLike, quality: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    if r.ndim != 2 or r.shape != q.shape:
        raise BdRateError(
            f"{label} per-image rates and qualities must be 2-D arrays of the same shape "
            f"(n_images, n_points), got {r.shape} and {q.shape}"
        )
    return r, q


def _bootstrap(
    kind: _Kind,
    curves: tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike],
    *,
    method: str,
    n_boot: int,
    seed: int,
    level: float,
    quality_mean: QualityMean,
    min_overlap: float,
    min_valid: float,
    fit: str = "overlap",
) -> BootstrapResult:
    _check_options(method, min_overlap, fit)
    if not 0.0 < level < 1.0:
        raise BdRateError(f"level must lie in (0, 1), got {level!r}")
    if n_boot < 1:
        raise BdRateError(f"n_boot must be at least 1, got {n_boot!r}")
    if not 0.0 <= min_valid <= 1.0:
        raise BdRateError(f"min_valid must lie in [0, 1], got {min_valid!r}")
    ar, aq = _per_image("anchor", curves[0], curves[1])
    tr, tq = _per_image("test", curves[2], curves[3])
    if ar.shape[0] != tr.shape[0]:
        raise BdRateError(
            f"anchor and test must hold the same images (rows): {ar.shape[0]} anchor rows, {tr.shape[0]} test rows"
        )

    def undefined(
        reason: str, estimate: float | None = None, n_valid: int = 0, invalid: Mapping[str, int] | None = None
    ) -> BootstrapResult:
        return BootstrapResult(None, None, estimate, n_valid, n_boot, level, method, reason, invalid or {})

    for label, r, q in (("anchor", ar, aq), ("test", tr, tq)):
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
            return undefined(f"{label} per-image values include NaN or inf")
        if np.any(r <= 0):
            return undefined(f"{label} per-image rates include non-positive values")

    def mean_curves(index: np.ndarray | None) -> tuple[np.ndarray, ...]:
        means = []
        for r, q in ((ar, aq), (tr, tq)):
            rs, qs = (r[None], q[None]) if index is None else (r[index], q[index])
            mean_q = np.asarray(quality_mean(qs, axis=-2), dtype=np.float64)
            if mean_q.shape != (rs.shape[0], r.shape[1]):
                raise BdRateError(
                    f"quality_mean must reduce the image axis like np.mean(values, axis=-2): "
                    f"got shape {mean_q.shape} for input {qs.shape}"
                )
            means += [rs.mean(axis=-2), mean_q]
        return tuple(means)

    a_r, a_q, t_r, t_q = (c[0] for c in mean_curves(None))
    point = _result(kind, a_r, a_q, t_r, t_q, method, min_overlap, fit)
    if point.value is None:
        return undefined(f"undefined on the mean curves: {point.reason}")

    rng = np.random.default_rng(seed)
    n_images = ar.shape[0]
    index = rng.integers(0, n_images, size=(n_boot, n_images))
    chunk = max(1, _CHUNK_ELEMENTS // (n_images * max(ar.shape[1], tr.shape[1])))
    values = np.full(n_boot, np.nan)
    codes = np.zeros(n_boot, dtype=np.int64)  # 0: valid; i + 1: _INVALID[i]
    for start in range(0, n_boot, chunk):
        part = slice(start, start + chunk)
        values[part], codes[part] = _batch(kind, method, min_overlap, *mean_curves(index[part]), fit=fit)

    valid = values[codes == 0]
    invalid = {name: int(np.sum(codes == i + 1)) for i, name in enumerate(_INVALID) if np.any(codes == i + 1)}
    if valid.size == 0 or valid.size < min_valid * n_boot:
        return undefined(
            f"only {valid.size} of {n_boot} resamples give a value (minimum {100 * min_valid:.0f}%)",
            point.value,
            int(valid.size),
            invalid,
        )
    alpha = 1.0 - level
    ends = [alpha / 2, 1.0 - alpha / 2]
    low, high = np.quantile(valid, ends)
    return BootstrapResult(float(low), float(high), point.value, int(valid.size), n_boot, level, method, None, invalid,
                           _mc_error(valid, ends))


def _mc_error(values: np.ndarray, quantiles: list[float], batches: int = MC_BATCHES) -> float | None:
    """Batch-means Monte-Carlo standard error of the ``quantiles`` of i.i.d. ``values`` (the larger one)."""
    size = values.size // batches
    if size < 10:
        return None
    per_batch = np.quantile(values[: size * batches].reshape(batches, size), quantiles, axis=1)
    return float(np.max(per_batch.std(axis=1, ddof=1)) / np.sqrt(batches))


def _batch(
    kind: _Kind,
    method: str,
    min_overlap: float,
    a_rate: np.ndarray,
    a_quality: np.ndarray,
    t_rate: np.ndarray,
    t_quality: np.ndarray,
    fit: str = "overlap",
) -> tuple[np.ndarray, np.ndarray]:
    """BD values of many curve pairs (rows) and a code per row: 0, or 1 + index into ``_INVALID``."""
    n = a_rate.shape[0]
    codes = np.zeros(n, dtype=np.int64)
    values = np.full(n, np.nan)
    curves = []
    for r, q, code in ((a_rate, a_quality, 2), (t_rate, t_quality, 3)):
        finite = np.all(np.isfinite(q), axis=1)
        codes[(codes == 0) & ~finite] = 1
        order = np.argsort(r, axis=1, kind="stable")
        r, q = np.take_along_axis(r, order, axis=1), np.take_along_axis(q, order, axis=1)
        monotonic = np.all(np.diff(r, axis=1) > 0, axis=1) & np.all(np.diff(q, axis=1) > 0, axis=1)
        codes[(codes == 0) & ~monotonic] = code
        curves.append(_axes(kind, r, q))
    (xa, ya), (xt, yt) = curves
    lo, hi, fraction = _overlap(xa, xt)
    codes[(codes == 0) & ~(hi > lo)] = 4
    codes[(codes == 0) & (fraction < min_overlap)] = 5
    ok = codes == 0
    if np.any(ok):
        mean = _mean_difference(method, xa[ok], ya[ok], xt[ok], yt[ok], lo[ok], hi[ok], fit)
        values[ok] = _to_value(kind, mean)
        not_finite = ok & ~np.isfinite(values)
        codes[not_finite] = 1
    return values, codes
