"""The ``nlpd`` metric plug-in (metrics/nlpd.py) against pyiqa's NLPD and against hand computations.

pyiqa runs outside the project's environment (it needs numpy 2): its values on committed synthetic pairs are in
``fixtures/metric_refs/nlpd_pyiqa.json``, made by ``fixtures/metric_refs/nlpd_pyiqa.py`` (tool, version and
command recorded there). pyiqa follows the authors' ``NLP_dist.m`` except for one tap of the first level's
divisive-normalization filter (0.0072, two pixels away), which it leaves out: with that tap removed the
plug-in's pyramid must give pyiqa's values to float64 precision; with it, within a few tenths of a percent.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric

REFS = Path(__file__).resolve().parent / "fixtures" / "metric_refs"
PYIQA = json.loads((REFS / "nlpd_pyiqa.json").read_text(encoding="utf-8"))
CASES = sorted(PYIQA["cases"])


@pytest.fixture(scope="module")
def metric():
    return create_metric("nlpd")


@pytest.fixture(scope="module")
def module(metric):
    return sys.modules[type(metric).__module__]


def pair(case: str) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.asarray(Image.open(REFS / "nlpd" / f"{case}-{kind}.png").convert("RGB"))
                 for kind in ("ref", "test"))


def without_far_tap(module) -> tuple[np.ndarray, ...]:
    """The authors' filters less the first level's tap two pixels away: pyiqa's filters."""
    first = module.DN_FILTERS[0].copy()
    assert first[2, 4] == 0.0072
    first[2, 4] = 0.0
    return (first, *module.DN_FILTERS[1:])


def test_declaration(metric):
    assert (metric.name, metric.primary, metric.higher_is_better, metric.unit) == ("nlpd", "nlpd", False, "")
    assert [column.name for column in metric.columns] == ["nlpd"]
    assert metric.min_side == 32


@pytest.mark.parametrize("case", CASES)
def test_pyramid_matches_pyiqa(module, case):
    # Same filters as pyiqa: agreement to float64 precision, but pyiqa stores its constants in float32 before
    # making them float64 (0.0025 becomes 0.0024999999441…): relative differences of 0.8e-9 to 2.5e-9 seen.
    ref, test = pair(case)
    filters = without_far_tap(module)
    value = module._distance(module.normalized_pyramid(module.luma(ref), filters),
                             module.normalized_pyramid(module.luma(test), filters))
    assert value == pytest.approx(PYIQA["cases"][case]["arch_float64"], rel=1e-7)


@pytest.mark.parametrize("case", [case for case in CASES if PYIQA["cases"][case]["grey"]])
def test_pyramid_matches_pyiqa_api_on_grey_images(module, case):
    # pyiqa's public metric as shipped (float32, luma of YIQ = the grey level for a grey image): float32
    # arithmetic over the pyramid, relative error about 1e-6 (seen: 2.0e-7 and 9.0e-7).
    ref, test = pair(case)
    assert ref[..., 0].tobytes() == ref[..., 2].tobytes() and test[..., 0].tobytes() == test[..., 2].tobytes()
    filters = without_far_tap(module)
    value = module._distance(module.normalized_pyramid(module.luma(ref), filters),
                             module.normalized_pyramid(module.luma(test), filters))
    assert value == pytest.approx(PYIQA["cases"][case]["api_float32"], rel=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_metric_close_to_pyiqa(metric, case):
    # The authors' extra tap lowers NLPD by 0.06 %–0.33 % on these pairs (it enlarges the first level's
    # normalizing denominators): within 0.5 %, and not equal (the tap is used).
    ref, test = pair(case)
    value = metric.score(ref, test)["nlpd"]
    expected = PYIQA["cases"][case]["arch_float64"]
    assert value == pytest.approx(expected, rel=5e-3)
    assert abs(value / expected - 1) > 1e-5


def grey(side: int, level: int) -> np.ndarray:
    return np.full((side, side, 3), level, dtype=np.uint8)


def test_constant_images_by_hand(metric):
    # A constant image's band-pass levels are zero and its 32×32 residual is one pixel, y, whose divisive
    # normalization has no neighbour inside: y / σ₆. The mean over 6 levels is then |y₁ − y₂| / (6 σ₆).
    value = metric.score(grey(32, 128), grey(32, 96))["nlpd"]
    assert value == pytest.approx((128 - 96) / 255 / (6 * 0.2782), rel=1e-12)


def test_constant_images_by_hand_two_pixel_residual(metric):
    # 64×64: the residual is 2×2. MATLAB's conv2 weights a pixel's right neighbour by the filter's left tap
    # (0.2215) and the left neighbour by the right tap (0.0717): the left column gets σ₆ + 0.2215·y, the right
    # one σ₆ + 0.0717·y. RMS over the 4 pixels, divided by 6 levels.
    a, b = 200 / 255, 40 / 255
    sigma = 0.2782
    left = a / (sigma + 0.2215 * a) - b / (sigma + 0.2215 * b)
    right = a / (sigma + 0.0717 * a) - b / (sigma + 0.0717 * b)
    expected = math.sqrt((left**2 + right**2) / 2) / 6
    assert metric.score(grey(64, 200), grey(64, 40))["nlpd"] == pytest.approx(expected, rel=1e-12)


def test_identical_images_score_zero(metric):
    ref, _ = pair("colour-jpeg")
    assert metric.score(ref, ref.copy())["nlpd"] == 0.0


def test_prepared_scorer_gives_the_same_value(metric):
    ref, test = pair("colour-noise-odd")
    assert metric.prepare(ref)(test) == metric.score(ref, test)


def test_too_small_image_raises_naming_its_size(metric):
    small = np.zeros((31, 64, 3), dtype=np.uint8)
    with pytest.raises(MetricError, match=r"64×31.*at least 32"):
        metric.score(small, small)
    with pytest.raises(MetricError, match="64×31"):
        metric.prepare(small)


def test_shape_mismatch_raises(metric):
    ref, test = pair("colour-jpeg")
    with pytest.raises(MetricError, match="shape"):
        metric.score(ref, test[:-1])
