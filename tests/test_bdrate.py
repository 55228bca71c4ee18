"""BD-rate / BD-quality: analytic cases, the `bjontegaard` package as a second implementation, bootstrap."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from bench.analysis.bdrate import (
    METHODS,
    BdRateError,
    bd_quality,
    bd_quality_bootstrap,
    bd_quality_result,
    bd_rate,
    bd_rate_bootstrap,
    bd_rate_result,
    ms_ssim_db,
    ms_ssim_db_of_mean,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BENCH_SHARED_DIR", REPO.parent / "shared"))
KODAK = SHARED / "reference" / "compressai-kodak"
MODELS = (
    "compressai-bmshj2018-factorized_mse_cpu.json",
    "compressai-bmshj2018-hyperprior_mse_cpu.json",
    "compressai-mbt2018_mse_cpu.json",
)

# A JPEG-like curve: PSNR rising with log-rate, 20 points.
RATE = np.geomspace(0.15, 3.0, 20)
PSNR = 30.0 + 5.5 * np.log(RATE) - 0.4 * np.log(RATE) ** 2


def _random_curve(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A strictly monotone, concave-ish curve with jittered spacing."""
    rate = np.sort(np.exp(rng.uniform(np.log(0.1), np.log(2.5), n)))
    quality = 28.0 + shift + 4.5 * np.log(rate) + rng.uniform(-0.3, 0.3) * np.log(rate) ** 2
    quality += np.cumsum(rng.uniform(0.0, 0.05, n))  # monotone jitter
    return rate, quality


def _load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    results = json.loads((KODAK / name).read_text())["results"]
    return np.array(results["bpp"]), np.array(results["psnr-rgb"]), ms_ssim_db(results["ms-ssim-rgb"])


# ---------------------------------------------------------------------------------------------- analytic


@pytest.mark.parametrize("method", METHODS)
def test_rate_scaled_by_0_8_is_minus_20_percent(method: str) -> None:
    assert bd_rate(RATE, PSNR, 0.8 * RATE, PSNR, method=method) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(0.8 * RATE, PSNR, RATE, PSNR, method=method) == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("c", [0.5, -1.25])
def test_quality_shift_is_bd_quality(method: str, c: float) -> None:
    assert bd_quality(RATE, PSNR, RATE, PSNR + c, method=method) == pytest.approx(c, abs=1e-9)


def test_cubic_is_a_least_squares_fit_not_an_interpolation() -> None:
    # Noise on a 20-point curve: the cubic fit smooths it, PCHIP follows it; both near the truth.
    rng = np.random.default_rng(3)
    noisy = PSNR + rng.normal(0, 0.05, PSNR.size)
    noisy = np.maximum.accumulate(noisy + np.arange(PSNR.size) * 1e-3)
    cubic = bd_rate(RATE, PSNR, 0.8 * RATE, noisy, method="cubic")
    pchip = bd_rate(RATE, PSNR, 0.8 * RATE, noisy, method="pchip")
    assert cubic != pchip
    assert abs(cubic + 20) < 2 and abs(pchip + 20) < 2


def test_result_carries_overlap_and_counts() -> None:
    result = bd_rate_result(RATE, PSNR, RATE[2:], PSNR[2:] + 0.1, method="pchip")
    assert result.ok and result.reason is None
    assert result.overlap == (pytest.approx(PSNR[2] + 0.1), pytest.approx(PSNR[-1]))
    assert (result.n_anchor, result.n_test, result.method) == (20, 18, "pchip")
    quality = bd_quality_result(RATE, PSNR, RATE[2:] * 1.1, PSNR[2:], method="cubic")
    assert quality.overlap == (pytest.approx(RATE[2] * 1.1), pytest.approx(RATE[-1]))


def test_order_of_points_does_not_matter() -> None:
    order = np.random.default_rng(1).permutation(RATE.size)
    for method in METHODS:
        expected = bd_rate(RATE, PSNR, 0.9 * RATE, PSNR + 0.2, method=method)
        assert bd_rate(RATE[order], PSNR[order], 0.9 * RATE, PSNR + 0.2, method=method) == pytest.approx(
            expected, abs=1e-9
        )


# ---------------------------------------------------------------------------------------- bjontegaard


def _bjontegaard():
    return pytest.importorskip("bjontegaard")


def _reference(bd, function: str, a_rate, a_q, t_rate, t_q, method: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its overlap warning; we check overlap ourselves
        fn = bd.bd_rate if function == "rate" else bd.bd_psnr
        return float(fn(a_rate, a_q, t_rate, t_q, method=method, require_matching_points=False))


def _relevant(rate, quality, other_rate, other_quality, kind: str):
    """The points the default (``overlap``) cubic fit uses, chosen here one by one: along the integration
    axis, those inside the other curve's range, the nearest beyond each end, then the nearest remaining
    ones (below first, alternating) until there are 4."""
    x = np.asarray(quality if kind == "rate" else np.log(rate))
    other = np.asarray(other_quality if kind == "rate" else np.log(other_rate))
    order = [int(i) for i in np.argsort(x)]
    low, high = other.min(), other.max()
    keep = [i for i in order if low <= x[i] <= high]
    below = [i for i in order if x[i] < low]
    above = [i for i in order if x[i] > high]
    if below:
        keep.insert(0, below.pop())
    if above:
        keep.append(above.pop(0))
    turn = 0
    while len(keep) < 4 and (below or above):
        if (turn % 2 == 0 and below) or not above:
            keep.insert(0, below.pop())
        else:
            keep.append(above.pop(0))
        turn += 1
    index = np.array(keep)
    return np.asarray(rate)[index], np.asarray(quality)[index]


def _reference_on_relevant(bd, kind: str, a_rate, a_q, t_rate, t_q) -> float:
    anchor = _relevant(a_rate, a_q, t_rate, t_q, kind)
    test = _relevant(t_rate, t_q, a_rate, a_q, kind)
    return _reference(bd, kind, *anchor, *test, "cubic")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(8))
def test_matches_bjontegaard_on_random_curves(method: str, seed: int) -> None:
    """All points: equal to ``bjontegaard``; the default cubic fit: equal to it fed each curve's relevant points."""
    bd = _bjontegaard()
    rng = np.random.default_rng(seed)
    a_rate, a_q = _random_curve(rng, int(rng.integers(4, 21)))
    t_rate, t_q = _random_curve(rng, int(rng.integers(4, 21)), shift=rng.uniform(-1.0, 2.0))
    ours = bd_rate_result(a_rate, a_q, t_rate, t_q, method=method, min_overlap=0.0, fit="all")
    ours_q = bd_quality_result(a_rate, a_q, t_rate, t_q, method=method, min_overlap=0.0, fit="all")
    assert ours.ok and ours_q.ok, (ours.reason, ours_q.reason)
    assert ours.value == pytest.approx(_reference(bd, "rate", a_rate, a_q, t_rate, t_q, method), abs=1e-6)
    assert ours_q.value == pytest.approx(_reference(bd, "quality", a_rate, a_q, t_rate, t_q, method), abs=1e-6)
    default = bd_rate_result(a_rate, a_q, t_rate, t_q, method=method, min_overlap=0.0)
    default_q = bd_quality_result(a_rate, a_q, t_rate, t_q, method=method, min_overlap=0.0)
    if method == "pchip":  # interpolation: every point, whatever the fit range
        assert (default.value, default_q.value) == (ours.value, ours_q.value)
    else:
        assert default.value == pytest.approx(_reference_on_relevant(bd, "rate", a_rate, a_q, t_rate, t_q), abs=1e-6)
        assert default_q.value == pytest.approx(_reference_on_relevant(bd, "quality", a_rate, a_q, t_rate, t_q),
                                                abs=1e-6)


@pytest.mark.skipif(not KODAK.is_dir(), reason=f"shared reference curves not found at {KODAK}")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("metric", ["psnr", "ms-ssim-db"])
def test_matches_bjontegaard_on_published_curves(method: str, model: str, metric: str) -> None:
    bd = _bjontegaard()
    column = 1 if metric == "psnr" else 2
    anchor, test = _load("jpeg.json"), _load(model)
    args = (anchor[0], anchor[column], test[0], test[column])
    assert bd_rate(*args, method=method, fit="all") == pytest.approx(_reference(bd, "rate", *args, method), abs=1e-6)
    assert bd_quality(*args, method=method, fit="all") == pytest.approx(_reference(bd, "quality", *args, method),
                                                                        abs=1e-6)
    if method == "cubic":
        assert bd_rate(*args) == pytest.approx(_reference_on_relevant(bd, "rate", *args), abs=1e-6)
        assert bd_quality(*args) == pytest.approx(_reference_on_relevant(bd, "quality", *args), abs=1e-6)
    assert bd_rate(*args, method=method) < -40  # learned codecs save well over 40 % against JPEG


# ------------------------------------------------------------------------------------------ bad input


def test_three_points_with_cubic_gives_reason() -> None:
    result = bd_rate_result(RATE[:3], PSNR[:3], RATE, PSNR, method="cubic")
    assert result.value is None
    assert result.reason == "anchor curve has 3 points; at least 4 are needed"
    with pytest.raises(BdRateError, match="at least 4"):
        bd_rate(RATE[:3], PSNR[:3], RATE, PSNR)


def test_non_monotonic_curve_is_named() -> None:
    quality = PSNR.copy()
    quality[7] = quality[5]
    for fn in (bd_rate_result, bd_quality_result):
        result = fn(RATE, PSNR, RATE, quality)
        assert result.value is None and result.reason.startswith("test curve is not monotonic")
        result = fn(RATE, quality, RATE, PSNR, method="pchip")
        assert result.value is None and result.reason.startswith("anchor curve is not monotonic")
    repeated = RATE.copy()
    repeated[3] = repeated[4]
    assert "appears twice" in bd_rate_result(RATE, PSNR, repeated, PSNR).reason


def test_no_overlap_and_small_overlap() -> None:
    result = bd_rate_result(RATE, PSNR, RATE, PSNR + 100)
    assert result.value is None and result.reason.startswith("no overlap")
    result = bd_quality_result(RATE, PSNR, RATE * 100, PSNR)
    assert result.value is None and result.reason.startswith("no overlap")
    span = PSNR[-1] - PSNR[0]
    result = bd_rate_result(RATE, PSNR, RATE, PSNR + 0.7 * span)  # overlap: 30 % of the test range
    assert result.value is None and result.reason.startswith("overlap too small (30% of test quality range")
    assert result.overlap_fraction == pytest.approx(0.3)
    assert bd_rate_result(RATE, PSNR, RATE, PSNR + 0.7 * span, min_overlap=0.25).ok


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_gives_reason(bad: float) -> None:
    quality = PSNR.copy()
    quality[4] = bad
    result = bd_rate_result(RATE, PSNR, RATE, quality, method="pchip")
    assert result.value is None and result.reason == "test curve has non-finite values (NaN or inf) at points [4]"


def test_other_bad_inputs() -> None:
    rate = RATE.copy()
    rate[0] = 0.0
    assert "non-positive rates at points [0]" in bd_rate_result(rate, PSNR, RATE, PSNR).reason
    assert "unequal lengths: 20 rates but 19" in bd_rate_result(RATE, PSNR[:-1], RATE, PSNR).reason
    assert "non-numeric" in bd_rate_result(RATE, ["a"] * 20, RATE, PSNR).reason
    with pytest.raises(BdRateError, match="unknown BD method 'akima'"):
        bd_rate_result(RATE, PSNR, RATE, PSNR, method="akima")
    with pytest.raises(BdRateError, match="min_overlap"):
        bd_rate(RATE, PSNR, RATE, PSNR, min_overlap=1.5)


# ------------------------------------------------------------------------------------------- bootstrap


def _per_image(rng: np.random.Generator, n_images: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-image curves around the JPEG-like curve: image-dependent offsets in rate and quality."""
    scale = np.exp(rng.normal(0, 0.3, (n_images, 1)))
    offset = rng.normal(0, 1.5, (n_images, 1))
    rate = RATE[None] * scale * np.exp(rng.normal(0, noise, (n_images, RATE.size)))
    quality = PSNR[None] + offset + rng.normal(0, noise, (n_images, RATE.size))
    return rate, quality


@pytest.mark.parametrize("method", METHODS)
def test_bootstrap_constant_saving_is_exact(method: str) -> None:
    rate, quality = _per_image(np.random.default_rng(0), 24, noise=0.0)
    ci = bd_rate_bootstrap(rate, quality, 0.8 * rate, quality, method=method, n_boot=500)
    assert ci.low == pytest.approx(-20.0, abs=1e-9) and ci.high == pytest.approx(-20.0, abs=1e-9)
    assert ci.estimate == pytest.approx(-20.0, abs=1e-9)
    assert (ci.n_valid, ci.n_boot, ci.reason, dict(ci.invalid)) == (500, 500, None, {})


@pytest.mark.parametrize("method", METHODS)
def test_bootstrap_noisy_contains_estimate_and_is_deterministic(method: str) -> None:
    rng = np.random.default_rng(1)
    a_rate, a_q = _per_image(rng, 24, noise=0.02)
    t_rate = a_rate * np.exp(rng.normal(np.log(0.75), 0.1, (24, 1)))  # each image saves a different amount
    t_q = a_q + rng.normal(0, 0.02, a_q.shape)
    ci = bd_rate_bootstrap(a_rate, a_q, t_rate, t_q, method=method, seed=7)
    assert ci.low < ci.estimate < ci.high
    assert ci.high - ci.low > 1.0  # the per-image spread shows
    assert ci.estimate == pytest.approx(
        bd_rate(a_rate.mean(0), a_q.mean(0), t_rate.mean(0), t_q.mean(0), method=method), abs=1e-12
    )
    assert bd_rate_bootstrap(a_rate, a_q, t_rate, t_q, method=method, seed=7) == ci
    assert bd_rate_bootstrap(a_rate, a_q, t_rate, t_q, method=method, seed=8) != ci


@pytest.mark.skipif(not KODAK.is_dir(), reason=f"shared reference curves not found at {KODAK}")
@pytest.mark.parametrize("method", METHODS)
def test_bootstrap_core_agrees_with_single_curve_path(method: str) -> None:
    # With one image, every resample is that image: the batched core must give the scalar value.
    anchor, test = _load("jpeg.json"), _load(MODELS[1])
    rate_ci = bd_rate_bootstrap(anchor[0][None], anchor[1][None], test[0][None], test[1][None], method=method, n_boot=5)
    expected = bd_rate(anchor[0], anchor[1], test[0], test[1], method=method)
    assert rate_ci.low == pytest.approx(expected, abs=1e-9) and rate_ci.high == pytest.approx(expected, abs=1e-9)
    quality_ci = bd_quality_bootstrap(
        anchor[0][None], anchor[2][None], test[0][None], test[2][None], method=method, n_boot=5
    )
    expected = bd_quality(anchor[0], anchor[2], test[0], test[2], method=method)
    assert quality_ci.low == pytest.approx(expected, abs=1e-9) and quality_ci.high == pytest.approx(expected, abs=1e-9)


def test_bootstrap_ms_ssim_db_of_mean() -> None:
    rng = np.random.default_rng(2)
    rate, _ = _per_image(rng, 12, noise=0.01)
    ms_ssim = 1 - 10 ** (-(PSNR[None] - 15 + rng.normal(0, 0.5, (12, 1))) / 10)  # per-image raw MS-SSIM
    ci = bd_rate_bootstrap(rate, ms_ssim, 0.9 * rate, ms_ssim, quality_mean=ms_ssim_db_of_mean, n_boot=200)
    assert ci.low == pytest.approx(-10.0, abs=1e-9) and ci.high == pytest.approx(-10.0, abs=1e-9)
    test_q = np.clip(ms_ssim + 0.002, None, 0.9999)
    ci = bd_rate_bootstrap(rate, ms_ssim, rate, test_q, quality_mean=ms_ssim_db_of_mean, n_boot=50)
    expected = bd_rate(rate.mean(0), ms_ssim_db(ms_ssim.mean(0)), rate.mean(0), ms_ssim_db(test_q.mean(0)))
    assert ci.estimate == pytest.approx(expected, abs=1e-12)


def test_bootstrap_counts_undefined_resamples() -> None:
    rng = np.random.default_rng(4)
    rate, quality = _per_image(rng, 6, noise=0.0)
    # Image 0 dips at point 10: the mean curve stays monotonic with image 0 drawn once (as in the
    # full sample), not when it is drawn twice or more (about a quarter of the resamples).
    quality[0, 10] -= 4 * (PSNR[10] - PSNR[9])
    ci = bd_rate_bootstrap(rate, quality, 0.8 * rate, quality + 0.3, n_boot=400, min_valid=0.0)
    assert ci.estimate is not None
    assert 0 < ci.n_valid < 400
    assert ci.invalid == {"anchor not monotonic": 400 - ci.n_valid}  # checked first; test dips too
    strict = bd_rate_bootstrap(rate, quality, 0.8 * rate, quality + 0.3, n_boot=400, min_valid=1.0)
    assert strict.low is None and strict.reason.startswith(f"only {ci.n_valid} of 400 resamples")


def test_bootstrap_bad_input() -> None:
    rate, quality = _per_image(np.random.default_rng(5), 5, noise=0.0)
    with pytest.raises(BdRateError, match="same images"):
        bd_rate_bootstrap(rate, quality, rate[:4], quality[:4])
    with pytest.raises(BdRateError, match="2-D"):
        bd_rate_bootstrap(rate[0], quality[0], rate, quality)
    undefined = bd_rate_bootstrap(rate, quality, rate, quality + 100)
    assert undefined.low is None and undefined.reason.startswith("undefined on the mean curves: no overlap")
    quality = quality.copy()
    quality[2, 3] = np.nan
    assert "NaN" in bd_rate_bootstrap(rate, quality, rate, quality).reason


def test_monte_carlo_error_of_interval_ends_matches_the_asymptotic_formula():
    """Batch means vs the quantile's asymptotic standard error sqrt(p(1-p)/n) / φ(z_p) for i.i.d. normals."""
    from scipy.stats import norm

    from bench.analysis.bdrate import _mc_error

    n = 2000
    values = np.random.default_rng(7).standard_normal(n)
    p = 0.025
    expected = math.sqrt(p * (1 - p) / n) / norm.pdf(norm.ppf(p))  # 0.0597
    estimate = _mc_error(values, [p, 1 - p])
    assert 0.6 * expected < estimate < 1.6 * expected, (estimate, expected)
    assert _mc_error(values[:150], [p, 1 - p]) is None  # under 10 resamples a batch: no estimate


def test_bootstrap_defaults_to_2000_resamples_with_its_monte_carlo_error():
    from bench.analysis.bdrate import DEFAULT_RESAMPLES

    rng = np.random.default_rng(3)
    rates = np.array([0.25, 0.5, 1.0, 2.0])
    anchor_r = rates * rng.uniform(0.9, 1.1, (12, 4))
    anchor_q = 30 + 4 * np.log2(rates) + rng.normal(0, 0.3, (12, 4))
    test_r = anchor_r * 0.8
    result = bd_rate_bootstrap(anchor_r, anchor_q, test_r, anchor_q)
    assert DEFAULT_RESAMPLES == result.n_boot == 2000
    assert result.mc_error is not None and 0 < result.mc_error < 0.1  # percentage points
