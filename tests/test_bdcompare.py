"""Direct comparisons, per-image BD-rates, the common interval, the bootstrap's size and BCa, and fit selection
before validity, each against an independent computation: the `bjontegaard` package on each pair's own
points, a loop over images, numpy's polyfit, a bootstrap distribution known in closed form, SciPy's BCa."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.bdcompare import comparisons
from bench.analysis.bdpairs import inverse_rate
from bench.analysis.bdrate import bd_rate_bootstrap, bd_rate_result, ms_ssim_db
from bench.analysis.bdtable import bd_table
from bench.cli import main
from bench.core.manifest import load_current_rows
from test_bdrate import PSNR, RATE, _bjontegaard, _reference, _relevant

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "results"


@pytest.fixture(scope="module")
def kodak() -> pd.DataFrame:
    return load_current_rows(REPO / "results" / "kodak").rows


LOWER_IS_BETTER = ("nlpd", "butteraugli_3norm")


def _means(rows: pd.DataFrame, codec: str, metric: str, images=None) -> tuple[np.ndarray, np.ndarray]:
    """A codec's mean curve, here by pandas groupby (MS-SSIM: the mean MS-SSIM in dB; a lower-is-better plug-in
    metric negated, as the BD integrals take it)."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    if images is not None:
        part = part[part["image"].isin(images)]
    column = "ms_ssim" if metric == "ms_ssim_db" else metric
    mean = part.groupby("point")[["bpp", column]].mean()
    quality = ms_ssim_db(mean[column].to_numpy()) if metric == "ms_ssim_db" else mean[column].to_numpy()
    return mean["bpp"].to_numpy(), quality * (-1.0 if metric in LOWER_IS_BETTER else 1.0)


def _bjontegaard_rate(bd, anchor, test) -> float:
    """The `bjontegaard` package's cubic BD-rate, fed each curve's points that the fit-range rule keeps."""
    return _reference(bd, "rate", *_relevant(*anchor, *test, "rate"), *_relevant(*test, *anchor, "rate"), "cubic")


def test_pairs_match_bjontegaard_on_each_pairs_own_points(kodak: pd.DataFrame) -> None:
    bd = _bjontegaard()
    table = bd_table(kodak, codecs=["heic", "heic-444", "webp"], methods=("cubic",), n_boot=200)
    pairs = comparisons(kodak, table, pairs=True).pairs
    metrics = {pair.metric for pair in pairs}
    assert {"psnr", "ms_ssim_db", "psnr_y", "iw_ssim", "nlpd", "vmaf"} <= metrics  # built-in and plug-in axes
    assert len(pairs) == len(metrics) * 4 * 3  # every axis × 4 codecs, both directions: 4·3
    for pair in pairs:
        anchor, test = _means(kodak, pair.anchor, pair.metric), _means(kodak, pair.test, pair.metric)
        assert pair.images == 24
        assert pair.rate.value == pytest.approx(_bjontegaard_rate(bd, anchor, test), abs=1e-6), pair
        if pair.derived:  # read the other way: the same as computing that direction directly
            assert pair.rate.value == pytest.approx(bd_rate_result(*anchor, *test).value, abs=1e-9)
    # The review's direct comparison (issue 26): heic against heic-444 on PSNR-Y, +0.33 % [+0.14, +0.56].
    luma = next(p for p in pairs if (p.test, p.anchor, p.metric) == ("heic", "heic-444", "psnr_y"))
    assert luma.rate.value == pytest.approx(0.33, abs=0.005)
    assert 0.0 < luma.ci.low < luma.ci.high  # significant: the interval excludes 0


def test_per_image_bd_is_each_images_own_bd_rate(kodak: pd.DataFrame) -> None:
    bd = _bjontegaard()
    table = bd_table(kodak, codecs=["bmshj2018-factorized"], methods=("cubic",), n_boot=100)
    found = {i.metric: i for i in comparisons(kodak, table).images}
    for metric, item in found.items():
        assert len(item.images) == 24
        expected = []
        for image in item.images:
            anchor, test = (_means(kodak, c, metric, [image]) for c in ("jpeg", "bmshj2018-factorized"))
            ok = bd_rate_result(*anchor, *test).ok  # the overlap rule decides which images have a value
            expected.append(_bjontegaard_rate(bd, anchor, test) if ok else math.nan)
        np.testing.assert_allclose(item.values, expected, atol=1e-6)
        defined = [v for v in expected if not math.isnan(v)]
        assert item.median == pytest.approx(statistics.median(defined), abs=1e-6)
        assert item.favour == sum(v < 0 for v in defined)
    # The review's numbers (issue 26): PSNR median −3.45 %, 14 of 24 images favour the prior; MS-SSIM 4 of 24.
    assert found["psnr"].median == pytest.approx(-3.45, abs=0.005) and found["psnr"].favour == 14
    assert found["ms_ssim_db"].favour == 4


def test_common_interval_is_one_integral_per_curve(kodak: pd.DataFrame) -> None:
    """By hand: numpy's polyfit of log-rate on the points inside the interval plus the nearest beyond each end."""
    table = bd_table(kodak, methods=("cubic",), n_boot=50)
    common = next(c for c in comparisons(kodak, table).common if c.metric == "psnr")
    curves = {name: _means(kodak, name, "psnr") for name in ["jpeg", *(n for n, _ in common.rates)]}
    low = max(q.min() for _, q in curves.values())
    high = min(q.max() for _, q in curves.values())
    assert common.interval == pytest.approx((low, high), abs=1e-12)

    def mean_log_rate(rate: np.ndarray, quality: np.ndarray) -> float:
        order = np.argsort(quality)
        rate, quality = rate[order], quality[order]
        first = max(int(np.sum(quality < low)) - 1, 0)
        last = min(len(quality) - int(np.sum(quality > high)), len(quality) - 1)
        keep = slice(first, last + 1)
        assert last - first + 1 >= 4
        integral = np.polyint(np.polyfit(quality[keep], np.log(rate[keep]), 3))
        return (np.polyval(integral, high) - np.polyval(integral, low)) / (high - low)

    anchor = mean_log_rate(*curves["jpeg"])
    for name, result in common.rates:
        assert result.value == pytest.approx(100 * math.expm1(mean_log_rate(*curves[name]) - anchor), abs=1e-6)


def _scaled_images(seed: int = 11, n_images: int = 24):
    """Every image on the same anchor curve; the test codec scales image i's rates by s_i. A resample's mean test
    rate is then the anchor's times the resample's mean of s, so its BD-rate is exactly 100·(mean(s*) − 1)."""
    s = np.exp(np.random.default_rng(seed).normal(-0.2, 0.15, n_images))
    anchor_rate, quality = np.tile(RATE, (n_images, 1)), np.tile(PSNR, (n_images, 1))
    return s, (anchor_rate, quality, anchor_rate * s[:, None], quality)


def test_resamples_grow_until_the_monte_carlo_error_meets_the_target() -> None:
    s, curves = _scaled_images()
    # The bootstrap distribution, known: means of resamples of s, drawn here two million times.
    truth = 100 * (np.random.default_rng(5).choice(s, (2_000_000, s.size)).mean(axis=1) - 1)
    true_low, true_high = np.quantile(truth, [0.025, 0.975])
    # Resamples the target needs, from the quantile's asymptotic error sqrt(p(1−p)/n)/f(q) under a normal f.
    sd = 100 * s.std() / math.sqrt(s.size)
    density = math.exp(-0.5 * 1.959964**2) / (sd * math.sqrt(2 * math.pi))
    needed = 0.025 * 0.975 / (0.05 * density) ** 2  # about 18 000

    result = bd_rate_bootstrap(*curves, mc_target=0.05, max_boot=1_000_000)
    assert result.estimate == pytest.approx(100 * (s.mean() - 1), abs=1e-9)
    assert result.mc_error <= 0.05
    assert 0.5 * needed < result.n_boot < 3 * needed, (result.n_boot, needed)
    assert abs(result.low - true_low) < 0.2 and abs(result.high - true_high) < 0.2  # 4 Monte-Carlo errors

    capped = bd_rate_bootstrap(*curves, mc_target=0.05, max_boot=2000)
    assert capped.n_boot == 2000 and capped.mc_error > 0.05  # not met: the error reached is what is reported


def test_bca_matches_scipy() -> None:
    from scipy.stats import bootstrap

    s, curves = _scaled_images(seed=3, n_images=15)
    ours = bd_rate_bootstrap(*curves, ci_method="bca", mc_target=0.02, max_boot=400_000)
    theirs = bootstrap((s,), np.mean, method="BCa", n_resamples=400_000, random_state=1).confidence_interval
    assert ours.ci_method == "bca"
    assert ours.low == pytest.approx(100 * (theirs.low - 1), abs=0.1)
    assert ours.high == pytest.approx(100 * (theirs.high - 1), abs=0.1)
    percentile = bd_rate_bootstrap(*curves, mc_target=0.02, max_boot=400_000)
    assert abs(percentile.low - ours.low) > 0.1  # skewed s: BCa moves the ends


def _with_high_rate_dip(rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """JPEG at q95 and q100 on images that already are JPEGs: q100 costs more and scores lower."""
    return np.append(rate, [5.0, 7.0]), np.append(quality, [quality[-1] + 2.0, quality[-1] + 1.5])


def test_a_non_monotonic_point_far_beyond_the_test_curve_does_not_void_it() -> None:
    anchor = _with_high_rate_dip(RATE, PSNR)
    test = (0.8 * RATE[3:12], PSNR[3:12])
    labels = ([f"q{i}" for i in range(20)] + ["q95", "q100"], [f"t{i}" for i in range(9)])
    for method in ("cubic", "pchip"):
        result = bd_rate_result(*anchor, *test, method=method, labels=labels)
        assert result.value == pytest.approx(bd_rate_result(RATE, PSNR, *test, method=method).value, abs=1e-12)
    # Per image (noise keeps every image's q100 below its q95): the interval has a value, no resample refused.
    rng = np.random.default_rng(0)
    images = [_with_high_rate_dip(RATE * rng.uniform(0.9, 1.1), PSNR + rng.normal(0, 0.5)) for _ in range(8)]
    rates, qualities = np.array([r for r, _ in images]), np.array([q for _, q in images])
    ci = bd_rate_bootstrap(rates, qualities, 0.8 * rates[:, 3:12], qualities[:, 3:12], n_boot=300)
    assert ci.low is not None and ci.n_valid == 300 and not ci.invalid

    # A test curve reaching those rates uses them: the reason names both points and --rate-range.
    wide = (np.append(0.8 * RATE, 5.5), np.append(PSNR, PSNR[-1] + 1.8))
    reason = bd_rate_result(*anchor, *wide, labels=(labels[0], [f"t{i}" for i in range(21)])).reason
    assert "(q100)" in reason and "(q95)" in reason and "--rate-range" in reason


def test_bd_rate_pairs_from_the_command_line(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert main(["bd-rate", "--results", str(FIXTURE), "--dataset", "kodak", "--reports", str(reports), "--pairs",
                 "--bootstrap", "200", "--mc-error", "0", "--method", "cubic"]) == 0
    with (reports / "bd-rate-pairs.csv").open() as handle:
        pairs = list(csv.DictReader(handle))
    by = {(p["metric"], p["test"], p["anchor"]): p for p in pairs}
    for (metric, test, anchor), pair in by.items():
        other = by[metric, anchor, test]
        assert float(pair["bd_rate"]) == pytest.approx(inverse_rate(float(other["bd_rate"])), abs=1e-9)
        assert float(pair["bd_rate"]) == pytest.approx(-100 * float(other["bd_rate"]) / (100 + float(other["bd_rate"])))
        assert {pair["derived"], other["derived"]} == {"True", "False"}
    text = (reports / "bd-rate.md").read_text()
    for row in csv.DictReader((reports / "bd-rate.csv").open()):
        low, high = float(row["ci_low"]), float(row["ci_high"])
        sentence = f"- {row['codec']}: 95% CI [{low:+.1f}, {high:+.1f}] includes 0".replace("-", "−").replace("−", "-", 1)
        assert (sentence in text) == (low <= 0 <= high), sentence
    images = list(csv.DictReader((reports / "bd-rate-images.csv").open()))
    assert {r["image"] for r in images} == set(pd.read_csv(FIXTURE / "kodak" / "rows.csv")["image"])
