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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from bench.core.errors import BenchError
from bench.core.metrics import ms_ssim_db

__all__ = [
    "CI_METHODS",
    "DEFAULT_MC_TARGET",
    "DEFAULT_MIN_OVERLAP",
    "DEFAULT_RESAMPLES",
    "MAX_RESAMPLES",
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
    "bd_rate_each",
    "bd_rate_over",
    "bd_rate_result",
    "ms_ssim_db",
    "ms_ssim_db_of_mean",
]

METHODS = ("cubic", "pchip")
FITS = ("overlap", "all")
MIN_POINTS = 4
DEFAULT_MIN_OVERLAP = 0.5
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples drawn first. Their Monte-Carlo error of the interval ends is 0.03–0.37 percentage
points on the committed Kodak BD-rates (batch means): with a ``mc_target``, more are drawn until it is met."""
DEFAULT_MC_TARGET = 0.05
"""Monte-Carlo error of the interval ends the CLI asks for (percentage points of BD-rate)."""
MAX_RESAMPLES = 10_000
"""The most resamples drawn to meet a ``mc_target`` by default (5× the start, to keep ``bd-rate --pairs`` within
seconds); the error reached is reported either way."""
CI_METHODS = ("percentile", "bca")
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
    """Bootstrap interval (``ci_method``: percentile or BCa) of a BD value over images.

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
    ci_method: str = "percentile"


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
    labels: tuple[Sequence[str], Sequence[str]] | None = None,
) -> BdResult:
    """BD-rate in percent (negative: test saves rate), or the reason it is undefined.

    ``labels`` (the anchor's and the test's point names, in the order given) name the points in a reason."""
    return _result("rate", anchor_rate, anchor_quality, test_rate, test_quality, method, min_overlap, fit, labels)


def bd_quality_result(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
    labels: tuple[Sequence[str], Sequence[str]] | None = None,
) -> BdResult:
    """BD-quality (e.g. BD-PSNR in dB, test − anchor), or the reason it is undefined.

    ``labels`` (the anchor's and the test's point names, in the order given) name the points in a reason."""
    return _result("quality", anchor_rate, anchor_quality, test_rate, test_quality, method, min_overlap, fit, labels)


def bd_rate_over(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    interval: tuple[float, float],
    *,
    method: str = "cubic",
    fit: str = "overlap",
    labels: tuple[Sequence[str], Sequence[str]] | None = None,
) -> BdResult:
    """BD-rate averaged over the quality ``interval`` (low, high) instead of the two curves' overlap, each
    cubic fitted on its points inside the interval plus the nearest beyond each end (at least 4): rows over
    one interval share the anchor's fit, so they rank. Undefined when a curve does not cover the interval."""
    return _result("rate", anchor_rate, anchor_quality, test_rate, test_quality, method, 0.0, fit, labels,
                   (float(interval[0]), float(interval[1])))


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
    labels: tuple[Sequence[str], Sequence[str]] | None = None,
    interval: tuple[float, float] | None = None,
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

    (xa, ya, ia), (xt, yt, it) = _along(kind, *anchor), _along(kind, *test)
    axis_name = "quality" if kind == "rate" else "log-rate"
    lo, hi, fraction = (float(v[0]) for v in _overlap(xa[None], xt[None]))
    if interval is not None:
        for label, x in (("anchor", xa), ("test", xt)):
            if interval[0] < x[0] or interval[1] > x[-1]:
                return undefined(f"{label} curve ({_span(kind, x)}) does not cover the interval "
                                 f"{_span(kind, np.asarray(interval))}")
        lo, hi, fraction, min_overlap = interval[0], interval[1], 1.0, 0.0
    used_a, used_t = (m[0] for m in _used_points(method, fit, xa[None], xt[None], interval))
    for label, curve, x, y, index, used, names in (
        ("anchor", anchor, xa, ya, ia, used_a, labels[0] if labels else None),
        ("test", test, xt, yt, it, used_t, labels[1] if labels else None),
    ):
        reason = _not_monotonic(label, *curve, x, y, index, used, names, every=bool(used.all()))
        if reason:
            return undefined(reason)
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
    mean = _mean_difference(method, xa[None], ya[None], xt[None], yt[None], np.array([lo]), np.array([hi]),
                            used_a[None], used_t[None])
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
    """The curve as float64 arrays in the caller's order, or the reason it cannot be used (monotonicity is
    checked later, on the points the fit uses: :func:`_not_monotonic`)."""
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
    return r, q


def _along(kind: _Kind, rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(integration axis, integrand, original index), sorted along the integration axis."""
    x, y = _axes(kind, rate, quality)
    order = np.argsort(x, kind="stable")
    return x[order], y[order], order


def _not_monotonic(label: str, rate: np.ndarray, quality: np.ndarray, x: np.ndarray, y: np.ndarray,
                   index: np.ndarray, used: np.ndarray, names: Sequence[str] | None, every: bool) -> str | None:
    """Why the points ``used`` (of ``x`` sorted ascending) are not strictly monotonic, naming two of them."""
    pair = np.flatnonzero(~((np.diff(x) > 0) & (np.diff(y) > 0)) & used[1:] & used[:-1])
    if not pair.size:
        return None
    i, j = sorted(index[[pair[0], pair[0] + 1]], key=lambda k: (rate[k], quality[k]))

    def name(k: int) -> str:
        return f" ({names[k]})" if names is not None else ""

    where = "" if every else " at the points its fit uses"
    fix = "; --rate-range LOW:HIGH (or --anchor-points) leaves points out of the fit"
    if rate[i] == rate[j]:
        return f"{label} curve is not monotonic{where}: rate {rate[i]:.6g}{name(i)}{name(j)} appears twice{fix}"
    return (
        f"{label} curve is not monotonic{where}: quality must rise strictly with rate, but "
        f"{quality[j]:.6g} at rate {rate[j]:.6g}{name(j)} follows {quality[i]:.6g} at rate {rate[i]:.6g}{name(i)}"
        f"{fix}"
    )


# --------------------------------------------------------------------------------------------------
# Batched core: every array is (B, n), rows sorted along the integration axis, rates positive; only the
# points a fit uses (the masks of :func:`_used_points`) need to be strictly monotonic.


def _axes(kind: _Kind, rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(integration axis, integrand) for a kind; both increase with rate on a monotonic curve."""
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


def _used_points(method: str, fit: str, xa: np.ndarray, xt: np.ndarray,
                 interval: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the points of each curve that its BD value depends on (boolean masks).

    Cubic: the fit-range rule against the other curve's range, or against ``interval`` when one is given
    (every point with ``fit="all"``). PCHIP interpolates every point, but over the overlap only the knots
    inside it and two beyond each end matter (a knot's slope depends on its two neighbours alone): those."""
    if method == "cubic" and fit == "all":
        return np.ones(xa.shape, bool), np.ones(xt.shape, bool)
    beyond = 1 if method == "cubic" else 2
    if interval is not None:
        lo, hi = np.full(xa.shape[0], interval[0]), np.full(xa.shape[0], interval[1])
        return fit_points(xa, lo, hi, beyond=beyond), fit_points(xt, lo, hi, beyond=beyond)
    return (fit_points(xa, xt[:, 0], xt[:, -1], beyond=beyond),
            fit_points(xt, xa[:, 0], xa[:, -1], beyond=beyond))


def _mean_difference(
    method: str,
    xa: np.ndarray,
    ya: np.ndarray,
    xt: np.ndarray,
    yt: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    used_a: np.ndarray,
    used_t: np.ndarray,
) -> np.ndarray:
    """Per row: mean of (test − anchor) curve over [lo, hi]; a cubic is fitted on the ``used`` points."""
    if method == "pchip":
        return _pchip_mean(xt, yt, lo, hi) - _pchip_mean(xa, ya, lo, hi)
    return _cubic_mean(xt, yt, lo, hi, used_t) - _cubic_mean(xa, ya, lo, hi, used_a)


def fit_points(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, beyond: int = 1) -> np.ndarray:
    """Per row of ``x`` (sorted ascending): which points the ``"overlap"`` fit uses, as a boolean mask.

    The points inside [lo, hi] (the other curve's range), the nearest ``beyond`` below lo and above hi,
    then as many of the nearest remaining points (below first) as make 4.
    """
    n = x.shape[1]
    below = np.sum(x < lo[:, None], axis=1)
    above = np.sum(x > hi[:, None], axis=1)
    start = np.maximum(below - beyond, 0)
    end = np.minimum(n - above + beyond - 1, n - 1)
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
    x, y, index = _along(kind, *curve)  # type: ignore[arg-type]
    xo, yo, _ = _along(kind, *other)  # type: ignore[arg-type]
    mask = _used_points("cubic", fit, x[None], xo[None])[0]
    reason = _not_monotonic("curve", *curve, x, y, index, mask[0], None, every=bool(mask.all()))
    if reason:
        raise BdRateError(reason)
    coef, u = _cubic_fit(x[None], y[None], mask)  # the fit the BD value integrates
    residual = u[..., None] ** np.arange(4) @ coef[0] - y[None]
    return float(np.sqrt(np.mean(residual[mask] ** 2)))


def _cubic_fit(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares cubic through the points of ``mask`` of (x, y), per row.

    In u = (x − centre)/half-width of the used points (u ∈ [−1, 1] there: well-conditioned normal
    equations, from the power sums Σu⁰…Σu⁶ and Σy·u⁰…Σy·u³, solved by a 4×4 Cholesky factorization
    vectorized over the rows). Returns the coefficients of u⁰…u³ (B, 4) and u (B, n; 0 at unused points)."""
    low = np.min(np.where(mask, x, np.inf), axis=1, keepdims=True)
    high = np.max(np.where(mask, x, -np.inf), axis=1, keepdims=True)
    centre, half = 0.5 * (low + high), 0.5 * (high - low)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(mask, (x - centre) / half, 0.0)
    y = np.where(mask, y, 0.0)
    power = [mask.astype(np.float64), u]
    for _ in range(5):
        power.append(power[-1] * u)
    sums = [p.sum(axis=1) for p in power]
    rhs = [(y * power[k]).sum(axis=1) for k in range(4)]
    return _solve_spd4([[sums[j + k] for k in range(4)] for j in range(4)], rhs), u


def _solve_spd4(gram: list[list[np.ndarray]], rhs: list[np.ndarray]) -> np.ndarray:
    """Solve G c = b per row for symmetric positive definite 4×4 G (Cholesky); NaN where G is singular."""
    low: list[list[np.ndarray]] = [[np.zeros(0)] * 4 for _ in range(4)]
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(4):
            low[j][j] = np.sqrt(gram[j][j] - sum((low[j][k] ** 2 for k in range(j)), np.zeros_like(rhs[0])))
            for i in range(j + 1, 4):
                low[i][j] = (gram[i][j] - sum((low[i][k] * low[j][k] for k in range(j)), np.zeros_like(rhs[0]))
                             ) / low[j][j]
        z: list[np.ndarray] = []
        for i in range(4):
            z.append((rhs[i] - sum((low[i][k] * z[k] for k in range(i)), np.zeros_like(rhs[0]))) / low[i][i])
        c: list[np.ndarray] = [np.zeros(0)] * 4
        for i in reversed(range(4)):
            c[i] = (z[i] - sum((low[k][i] * c[k] for k in range(i + 1, 4)), np.zeros_like(rhs[0]))) / low[i][i]
    return np.stack(c, axis=1)


def _cubic_mean(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over [lo, hi] of the least-squares cubic through the points of ``mask``, per row; the mean of a
    function over an interval does not depend on the fit's affine change of variable."""
    coef, _ = _cubic_fit(x, y, mask)
    low = np.min(np.where(mask, x, np.inf), axis=1)
    high = np.max(np.where(mask, x, -np.inf), axis=1)
    centre, half = 0.5 * (low + high), 0.5 * (high - low)
    ua, ub = (lo - centre) / half, (hi - centre) / half
    integral = sum(coef[:, k] * (ub ** (k + 1) - ua ** (k + 1)) / (k + 1) for k in range(4))
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
    """Mean over [lo, hi] of the PCHIP interpolant through (x, y), integrated exactly, per row (pieces outside
    [lo, hi], where unused points may tie or fall, contribute nothing)."""
    h = np.diff(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
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
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (np.clip(lo[:, None], x0, x[:, 1:]) - x0) / h
        tb = (np.clip(hi[:, None], x0, x[:, 1:]) - x0) / h
        integral = np.sum(np.where(tb > ta, h * (primitive(tb) - primitive(ta)), 0.0), axis=1)
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
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
) -> BootstrapResult:
    """Paired bootstrap interval of BD-rate over images.

    Inputs are per-image arrays, ``(n_images, n_points)``, the same images (rows, same order) for
    anchor and test; the point counts may differ. Each resample draws image indices with
    replacement, forms the mean curves (arithmetic mean of rates; ``quality_mean(values, axis=-2)``
    of qualities — pass :func:`ms_ssim_db_of_mean` with raw MS-SSIM values for MS-SSIM dB) and
    computes BD-rate. Resamples where BD-rate is undefined are left out and counted.

    ``n_boot`` resamples are drawn; with ``mc_target`` (in the BD value's unit, e.g. 0.05 percentage
    points), more are drawn until the batch-means Monte-Carlo error of the interval's ends is at most
    ``mc_target`` or ``max_boot`` are drawn (:attr:`BootstrapResult.mc_error` says what was reached).
    ``ci_method``: ``"percentile"`` or ``"bca"`` (bias-corrected and accelerated, Efron 1987; the
    acceleration from the leave-one-image-out values).
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
        mc_target=mc_target,
        max_boot=max_boot,
        ci_method=ci_method,
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
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
) -> BootstrapResult:
    """Paired bootstrap interval of BD-quality over images; see :func:`bd_rate_bootstrap`."""
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
        mc_target=mc_target,
        max_boot=max_boot,
        ci_method=ci_method,
    )


def bd_rate_each(
    anchor_rate: ArrayLike,
    anchor_quality: ArrayLike,
    test_rate: ArrayLike,
    test_quality: ArrayLike,
    *,
    method: str = "cubic",
    min_overlap: float = DEFAULT_MIN_OVERLAP,
    fit: str = "overlap",
) -> tuple[np.ndarray, list[str | None]]:
    """BD-rate of each row's curves (e.g. each image's own), by the rules of :func:`bd_rate_result`.

    Inputs are ``(rows, n_points)`` arrays, anchor and test row by row. Returns the values (NaN where
    undefined) and, per row, None or why it is undefined."""
    _check_options(method, min_overlap, fit)
    ar, aq = _per_image("anchor", anchor_rate, anchor_quality)
    tr, tq = _per_image("test", test_rate, test_quality)
    if ar.shape[0] != tr.shape[0]:
        raise BdRateError(f"anchor and test must have as many rows: {ar.shape[0]} and {tr.shape[0]}")
    if ar.shape[1] < MIN_POINTS or tr.shape[1] < MIN_POINTS:  # undefined on every row, like any other reason
        why = f"each curve needs at least {MIN_POINTS} points: got {ar.shape[1]} and {tr.shape[1]}"
        return np.full(ar.shape[0], np.nan), [why] * ar.shape[0]
    values, codes = _batch("rate", method, min_overlap, ar, aq, tr, tq, fit=fit)
    return values, [None if c == 0 else _INVALID[c - 1] for c in codes]


_INVALID = ("non-finite values", "anchor not monotonic", "test not monotonic", "no overlap", "overlap too small")
_CHUNK_ELEMENTS = 500_000  # resampled values held at once, per array (small: fewer page faults)
_MEAN_THEN = {id(np.mean): None, id(ms_ssim_db_of_mean): ms_ssim_db}
"""Quality reductions that are a mean followed by an elementwise map: resampled as image counts times the
per-image values (one matrix product) instead of gathered copies."""


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
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
) -> BootstrapResult:
    _check_options(method, min_overlap, fit)
    if not 0.0 < level < 1.0:
        raise BdRateError(f"level must lie in (0, 1), got {level!r}")
    if n_boot < 1:
        raise BdRateError(f"n_boot must be at least 1, got {n_boot!r}")
    if not 0.0 <= min_valid <= 1.0:
        raise BdRateError(f"min_valid must lie in [0, 1], got {min_valid!r}")
    if mc_target is not None and not mc_target > 0:
        raise BdRateError(f"mc_target must be positive (or None for exactly n_boot resamples), got {mc_target!r}")
    if ci_method not in CI_METHODS:
        raise BdRateError(f"unknown interval method {ci_method!r}; use one of {', '.join(map(repr, CI_METHODS))}")
    ar, aq = _per_image("anchor", curves[0], curves[1])
    tr, tq = _per_image("test", curves[2], curves[3])
    if ar.shape[0] != tr.shape[0]:
        raise BdRateError(
            f"anchor and test must hold the same images (rows): {ar.shape[0]} anchor rows, {tr.shape[0]} test rows"
        )

    def undefined(
        reason: str, estimate: float | None = None, n_valid: int = 0, invalid: Mapping[str, int] | None = None,
        drawn: int = n_boot,
    ) -> BootstrapResult:
        return BootstrapResult(None, None, estimate, n_valid, drawn, level, method, reason, invalid or {},
                               ci_method=ci_method)

    for label, r, q in (("anchor", ar, aq), ("test", tr, tq)):
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
            return undefined(f"{label} per-image values include NaN or inf")
        if np.any(r <= 0):
            return undefined(f"{label} per-image rates include non-positive values")

    n_images = ar.shape[0]
    then = _MEAN_THEN.get(id(quality_mean), False)
    stacked = np.hstack([ar, aq, tr, tq])
    splits = np.cumsum([ar.shape[1], aq.shape[1], tr.shape[1]])

    def mean_curves(index: np.ndarray) -> tuple[np.ndarray, ...]:
        """Mean curves of the image sets in the rows of ``index`` (B, k)."""
        if then is not False:
            b, k = index.shape
            flat = (index + n_images * np.arange(b)[:, None]).ravel()
            counts = np.bincount(flat, minlength=b * n_images).reshape(b, n_images) / k
            means = np.split(np.einsum("bi,ij->bj", counts, stacked), splits, axis=1)  # no BLAS threads: small
            if then is not None:
                means[1], means[3] = then(means[1]), then(means[3])
            return tuple(means)
        means = []
        for r, q in ((ar, aq), (tr, tq)):
            mean_q = np.asarray(quality_mean(q[index], axis=-2), dtype=np.float64)
            if mean_q.shape != (index.shape[0], r.shape[1]):
                raise BdRateError(
                    f"quality_mean must reduce the image axis like np.mean(values, axis=-2): "
                    f"got shape {mean_q.shape} for input {q[index].shape}"
                )
            means += [r[index].mean(axis=-2), mean_q]
        return tuple(means)

    a_r, a_q, t_r, t_q = (c[0] for c in mean_curves(np.arange(n_images)[None]))
    point = _result(kind, a_r, a_q, t_r, t_q, method, min_overlap, fit)
    if point.value is None:
        return undefined(f"undefined on the mean curves: {point.reason}")

    def evaluate(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _batch(kind, method, min_overlap, *mean_curves(index), fit=fit)

    accelerate = 0.0
    if ci_method == "bca":
        if n_images < 3:
            return undefined(f"BCa needs at least 3 images, got {n_images}", point.value)
        leave_out = np.array([[j for j in range(n_images) if j != i] for i in range(n_images)])
        jackknife, codes = evaluate(leave_out)
        if np.any(codes):
            return undefined(f"BCa: {int(np.sum(codes != 0))} of {n_images} leave-one-image-out values undefined",
                             point.value)
        accelerate = _acceleration(jackknife)

    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // (n_images * max(ar.shape[1], tr.shape[1])))
    values: list[np.ndarray] = []
    codes_all: list[np.ndarray] = []
    drawn, goal = 0, n_boot
    while True:
        while drawn < goal:
            size = min(chunk, goal - drawn)
            part_values, part_codes = evaluate(rng.integers(0, n_images, size=(size, n_images)))
            values.append(part_values)
            codes_all.append(part_codes)
            drawn += size
        every, code = np.concatenate(values), np.concatenate(codes_all)
        valid = every[code == 0]
        invalid = {name: int(np.sum(code == i + 1)) for i, name in enumerate(_INVALID) if np.any(code == i + 1)}
        if valid.size == 0 or valid.size < min_valid * drawn:
            return undefined(
                f"only {valid.size} of {drawn} resamples give a value (minimum {100 * min_valid:.0f}%)",
                point.value, int(valid.size), invalid, drawn,
            )
        ends = _interval_levels(valid, point.value, level, accelerate if ci_method == "bca" else None)
        error = _mc_error(valid, ends)
        if mc_target is None or drawn >= max_boot or (error is not None and error <= mc_target):
            break
        grow = 2.0 if error is None else 1.1 * (error / mc_target) ** 2
        goal = min(max_boot, max(int(drawn * min(max(grow, 1.5), 64.0)), drawn + MC_BATCHES * 10))
    low, high = np.quantile(valid, ends)
    return BootstrapResult(float(low), float(high), point.value, int(valid.size), drawn, level, method, None, invalid,
                           error, ci_method)


def _acceleration(jackknife: np.ndarray) -> float:
    """BCa's acceleration from leave-one-out values: skewness of their influence (Efron 1987, eq. 6.6)."""
    d = jackknife.mean() - jackknife
    denominator = 6.0 * float(np.sum(d**2)) ** 1.5
    return float(np.sum(d**3)) / denominator if denominator > 0 else 0.0


def _interval_levels(valid: np.ndarray, estimate: float, level: float, accelerate: float | None) -> list[float]:
    """The quantile levels of the interval's ends: α/2 and 1 − α/2 (percentile), or BCa's adjusted ones."""
    alpha = 1.0 - level
    ends = [alpha / 2, 1.0 - alpha / 2]
    if accelerate is None:
        return ends
    normal = NormalDist()
    share = float(np.mean(valid < estimate) + 0.5 * np.mean(valid == estimate))
    share = min(max(share, 0.5 / valid.size), 1.0 - 0.5 / valid.size)
    z0 = normal.inv_cdf(share)
    adjusted = []
    for end in ends:
        z = z0 + normal.inv_cdf(end)
        adjusted.append(normal.cdf(z0 + z / (1.0 - accelerate * z)))
    return adjusted


def _mc_error(values: np.ndarray, quantiles: list[float], batches: int = MC_BATCHES) -> float | None:
    """Batch-means Monte-Carlo standard error of the ``quantiles`` of i.i.d. ``values`` (the larger one)."""
    size = values.size // batches
    if size < 10:
        return None
    per_batch = np.quantile(values[: size * batches].reshape(batches, size), quantiles, axis=1)
    return float(np.max(per_batch.std(axis=1, ddof=1)) / np.sqrt(batches))


def _sorted_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (x, y) sorted by x: by the first row's order, then the rows it does not sort on their own."""
    order = np.argsort(x[0], kind="stable")
    x, y = x[:, order], y[:, order]
    unsorted = np.flatnonzero(np.any(np.diff(x, axis=1) < 0, axis=1))
    if unsorted.size:
        order = np.argsort(x[unsorted], axis=1, kind="stable")
        x[unsorted] = np.take_along_axis(x[unsorted], order, axis=1)
        y[unsorted] = np.take_along_axis(y[unsorted], order, axis=1)
    return x, y


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
    for r, q in ((a_rate, a_quality), (t_rate, t_quality)):
        finite = np.all(np.isfinite(q) & np.isfinite(r) & (r > 0), axis=1)
        codes[(codes == 0) & ~finite] = 1
        with np.errstate(divide="ignore", invalid="ignore"):
            x, y = _axes(kind, np.where(finite[:, None], r, 1.0), np.where(finite[:, None], q, 0.0))
        curves.append(_sorted_rows(x, y))
    (xa, ya), (xt, yt) = curves
    used_a, used_t = _used_points(method, fit, xa, xt)
    for x, y, used, code in ((xa, ya, used_a, 2), (xt, yt, used_t, 3)):
        rising = (np.diff(x, axis=1) > 0) & (np.diff(y, axis=1) > 0)
        monotonic = ~np.any(~rising & used[:, 1:] & used[:, :-1], axis=1)
        codes[(codes == 0) & ~monotonic] = code
    lo, hi, fraction = _overlap(xa, xt)
    codes[(codes == 0) & ~(hi > lo)] = 4
    codes[(codes == 0) & (fraction < min_overlap)] = 5
    ok = codes == 0
    if np.any(ok):
        mean = _mean_difference(method, xa[ok], ya[ok], xt[ok], yt[ok], lo[ok], hi[ok], used_a[ok], used_t[ok])
        values[ok] = _to_value(kind, mean)
        not_finite = ok & ~np.isfinite(values)
        codes[not_finite] = 1
    return values, codes
