"""The ``vmaf`` metric plug-in (metrics/vmaf.py) against libvmaf, Netflix's reference library.

libvmaf does not run in the project's environment: its values were computed once by
``tests/fixtures/metric_refs/vmaf_libvmaf.py`` (libvmaf through the FFmpeg of the imageio-ffmpeg wheel) and
stored, with the tool's version and command, in ``vmaf_libvmaf.json``, on the committed synthetic pairs of
``metric_refs/vmaf/`` and on three Kodak images (values only; compared when BENCH_KODAK_DIR is set).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric

REFS = Path(__file__).resolve().parent / "fixtures" / "metric_refs"
LIBVMAF = json.loads((REFS / "vmaf_libvmaf.json").read_text())
CASES = {case["name"]: case for case in LIBVMAF["cases"]}
# vmaf-torch computes the elementary features in floating point where libvmaf (the v0.6.1 model's
# default extractors) computes them in fixed point; on these pairs (90 to 160 pixels a side) and on Kodak the
# two differ by at most 0.026. 0.1 VMAF points leaves room for other BLAS/torch builds and is still far below
# what separates two codecs' operating points (a JND is about 6 points).
TOLERANCE = 0.1


@pytest.fixture(scope="module")
def metric():
    return create_metric("vmaf")


@pytest.fixture(scope="module")
def luma_10bit(metric):
    return sys.modules[type(metric).__module__].luma_10bit


def load(path: str) -> np.ndarray:
    return np.array(Image.open(REFS / path).convert("RGB"))


def digest(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


def test_declaration(metric) -> None:
    assert [column.name for column in metric.columns] == ["vmaf"]
    assert metric.primary == "vmaf" and metric.higher_is_better and metric.unit == ""
    assert metric.identity()["model"] == "vmaf_v0.6.1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_libvmaf(metric, name: str) -> None:
    case = CASES[name]
    value = metric.score(load(case["reference"]), load(case["test"]))["vmaf"]
    assert value == pytest.approx(case["vmaf"], abs=TOLERANCE)


def test_one_frame_has_no_motion() -> None:
    # libvmaf gives the first frame of a video motion2 = 0: a lone image is scored without motion, as the
    # plug-in does; the reference values above were all computed on one-frame videos.
    assert all(case["integer_motion2"] == 0.0 for case in LIBVMAF["cases"] + LIBVMAF["kodak"])


def test_identical_images(metric) -> None:
    # Perfect features (ADM2 = VIF = 1) without motion: the v0.6.1 model's 97.43, not 100, for any content.
    for name in ("identical", "odd-identical"):
        reference = load(CASES[name]["reference"])
        assert metric.score(reference, reference.copy())["vmaf"] == pytest.approx(CASES[name]["vmaf"], abs=0.01)


def test_clipped_to_100(metric) -> None:
    # A contrast stretch: the model's raw prediction is about 220, and libvmaf reports 100.
    case = CASES["contrast"]
    assert case["vmaf"] == 100.0
    assert metric.score(load(case["reference"]), load(case["test"]))["vmaf"] == 100.0


def test_prepare_scores_as_score(metric) -> None:
    case = CASES["jpeg-q40"]
    reference, test = load(case["reference"]), load(case["test"])
    assert metric.prepare(reference)(test) == metric.score(reference, test)


def test_min_side_is_libvmafs(metric) -> None:
    probes = LIBVMAF["min_side_probes"]
    scored = [min(probe["size"]) for probe in probes if isinstance(probe["vmaf"], float)]
    failed = [min(probe["size"]) for probe in probes if not isinstance(probe["vmaf"], float)]
    assert metric.min_side == min(scored) == max(failed) + 1 == 17
    rng = np.random.default_rng(0)
    for height, width in ((17, 40), (40, 17)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        assert 0.0 <= metric.score(image, np.flipud(image).copy())["vmaf"] <= 100.0
    small = rng.integers(0, 256, (16, 40, 3), dtype=np.uint8)
    with pytest.raises(MetricError, match="40×16"):
        metric.score(small, small)
    with pytest.raises(MetricError, match="differs"):
        metric.score(load(CASES["jpeg-q10"]["reference"]), load(CASES["odd-jpeg-q25"]["test"]))


def test_luma_by_hand(luma_10bit) -> None:
    # round(v · 1023 / 255) per channel, then round(0.2126 R + 0.7152 G + 0.0722 B).
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128],
                        [10, 200, 30]]], dtype=np.uint8)
    # 128 → 513.5… → 514; (10, 200, 30) → (40, 802, 120): 8.504 + 573.5904 + 8.664 = 590.7584 → 591.
    assert luma_10bit(pixels).tolist() == [[0, 1023, 217, 732, 74, 514, 591]]


def test_luma_as_jpeg_ai_software(luma_10bit) -> None:
    # The reference script's float32 replica of JPEG AI's conversion: equal except at the rare exact ties
    # of the second rounding, which float32 resolves either way (one level apart at most).
    spec = importlib.util.spec_from_file_location("vmaf_libvmaf", REFS / "vmaf_libvmaf.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    theirs = np.frombuffer(script.yuv444_10bit(image), dtype="<u2")[: 256 * 256].reshape(256, 256)
    difference = np.abs(luma_10bit(image) - theirs.astype(np.int64))
    assert difference.max() <= 1 and np.count_nonzero(difference) <= 256 * 256 // 1000


def test_kodak_matches_libvmaf(metric, kodak_dir: Path) -> None:
    for case in LIBVMAF["kodak"]:
        reference = np.array(Image.open(kodak_dir / case["image"]).convert("RGB"))
        buffer = io.BytesIO()
        Image.fromarray(reference).save(buffer, "JPEG", quality=case["jpeg_quality"])
        test = np.array(Image.open(buffer).convert("RGB"))
        if (digest(reference), digest(test)) != (case["reference_sha256"], case["test_sha256"]):
            pytest.skip(f"{case['image']} or this Pillow's JPEG differs from the pixels libvmaf scored")
        assert metric.score(reference, test)["vmaf"] == pytest.approx(case["vmaf"], abs=TOLERANCE)
