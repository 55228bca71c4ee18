"""The ``psnr-hvs-m`` metric plug-in (metrics/psnr_hvs_m.py) against a second implementation written here.

:func:`reference_psnr_hvs_m` is PSNR-HVS-M as Ponomarenko et al. (2007) define it and as the authors' MATLAB
``psnrhvsm.m`` computes it, written in plain numpy with nothing taken from ``psnr_hvsm``: its tables are derived
rather than copied. The contrast-sensitivity weight of DCT frequency (k, l) is proportional to the reciprocal of
JPEG's luminance quantization table Q (ITU-T T.81, Annex K, Table K.1); the authors' table is 25.73509 / Q
(its largest weight, 2.573509, is at Q = 10). The masking weights are the squared weights normalised to a
largest value of 1, (10 / Q)². The DCT is the orthonormal 8×8 DCT-II (MATLAB's ``dct2``) as a matrix product.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric
from conftest import natural_image

#: ITU-T T.81 Annex K, Table K.1: JPEG's luminance quantization table.
JPEG_LUMA_Q = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61],
    [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77],
    [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101],
    [72, 92, 95, 98, 112, 100, 103, 99],
], dtype=np.float64)
CSF = 25.73509 / JPEG_LUMA_Q
MASK = (JPEG_LUMA_Q.min() / JPEG_LUMA_Q) ** 2
_n = np.arange(8)
DCT = np.sqrt(np.where(_n[:, None] == 0, 1 / 8, 2 / 8)) * np.cos(np.pi * (2 * _n[None, :] + 1) * _n[:, None] / 16)
BT709 = (0.2126, 0.7152, 0.0722)

# Tolerance: the authors' tables are printed to 6 decimals, so they differ from 25.73509 / Q and (10 / Q)² by up
# to about 1e-6 relative; that moves the mean squared error by ~1e-6 relative, i.e. ~5e-6 dB. Rounding in the
# two DCTs (FFT-based vs. matrix) is far below that. 1e-4 dB leaves a margin; the largest difference seen is
# 8.2e-7 dB (the 24 Kodak images at JPEG qualities 30 and 80, and the synthetic cases).
TOLERANCE_DB = 1e-4


def _spread(blocks: np.ndarray) -> np.ndarray:
    """MATLAB's var(x(:))·numel(x) per block: n/(n−1) times the sum of squared deviations."""
    flat = blocks.reshape(len(blocks), -1)
    n = flat.shape[1]
    return n / (n - 1) * ((flat - flat.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)


def _masking(blocks: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """A block's masking strength: the AC energy weighted by MASK, times the share of the block's variance
    that its four 4×4 quarters keep, square-rooted and divided by 32."""
    energy = (coefficients**2 * MASK).sum(axis=(1, 2)) - coefficients[:, 0, 0] ** 2 * MASK[0, 0]
    whole = _spread(blocks)
    quarters = sum(_spread(blocks[:, r : r + 4, c : c + 4]) for r in (0, 4) for c in (0, 4))
    ratio = np.divide(quarters, whole, out=np.zeros_like(whole), where=whole != 0)
    return np.sqrt(energy * ratio) / 32


def reference_psnr_hvs_m(x: np.ndarray, y: np.ndarray) -> float:
    """PSNR-HVS-M in dB of two planes on 0..1 (peak 1) whose sides are multiples of 8."""
    height, width = x.shape
    def blocks(plane):
        return plane.reshape(height // 8, 8, width // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8)
    bx, by = blocks(x), blocks(y)
    cx, cy = DCT @ bx @ DCT.T, DCT @ by @ DCT.T
    strength = np.maximum(_masking(bx, cx), _masking(by, cy))
    error = np.abs(cx - cy)
    masked = np.maximum(error - strength[:, None, None] / MASK, 0.0)
    masked[:, 0, 0] = error[:, 0, 0]  # the DC coefficient is not masked
    mse = np.mean((masked * CSF) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def luma_padded(image: np.ndarray) -> np.ndarray:
    """Y′ = 0.2126 R + 0.7152 G + 0.0722 B on 0..1, right and bottom edges repeated to a multiple of 8."""
    y = image.astype(np.float64) @ np.array(BT709) / 255
    return np.pad(y, ((0, -y.shape[0] % 8), (0, -y.shape[1] % 8)), mode="edge")


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def noisy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def metric():
    return create_metric("psnr-hvs-m")


def test_declaration(metric):
    assert (metric.name, metric.primary, metric.higher_is_better, metric.unit) == (
        "psnr-hvs-m", "psnr_hvs_m", True, "dB")
    assert [column.name for column in metric.columns] == ["psnr_hvs_m"]
    assert metric.identity()["psnr_hvsm"] == "0.3.0"


def _flat_with_noise() -> tuple[np.ndarray, np.ndarray]:
    ref = np.full((48, 64, 3), 90, dtype=np.uint8)  # flat blocks: zero variance, no masking
    return ref, noisy(ref, 3, seed=5)


SYNTHETIC = {
    "jpeg20": lambda: (lambda ref: (ref, jpeg(ref, 20)))(natural_image(64, 96, seed=1)),
    "jpeg90": lambda: (lambda ref: (ref, jpeg(ref, 90)))(natural_image(80, 120, seed=2)),
    "noise-odd-size": lambda: (lambda ref: (ref, noisy(ref, 4, seed=3)))(natural_image(61, 83, seed=3)),
    "flat-noise": _flat_with_noise,
}


@pytest.mark.parametrize("case", sorted(SYNTHETIC))
def test_matches_reference_on_synthetic_images(metric, case):
    ref, test = SYNTHETIC[case]()
    expected = reference_psnr_hvs_m(luma_padded(ref), luma_padded(test))
    assert metric.score(ref, test)["psnr_hvs_m"] == pytest.approx(expected, abs=TOLERANCE_DB)


@pytest.mark.parametrize("name, quality", [("kodim01.png", 30), ("kodim07.png", 80)])
def test_matches_reference_on_kodak(metric, kodak_dir, name, quality):
    ref = np.asarray(Image.open(kodak_dir / name).convert("RGB"))
    test = jpeg(ref, quality)
    expected = reference_psnr_hvs_m(luma_padded(ref), luma_padded(test))
    value = metric.score(ref, test)["psnr_hvs_m"]
    assert value == pytest.approx(expected, abs=TOLERANCE_DB)
    assert 25 < value < 60


def test_masking_raises_the_score_above_psnr_y(metric):
    # For visible-but-small JPEG errors, masking removes part of the error: PSNR-HVS-M exceeds Y′ PSNR.
    ref = natural_image(64, 96, seed=4)
    test = jpeg(ref, 90)
    y_ref, y_test = luma_padded(ref), luma_padded(test)
    psnr_y = 10 * math.log10(1 / np.mean((y_ref - y_test) ** 2))
    assert metric.score(ref, test)["psnr_hvs_m"] > psnr_y


def test_identical_images_score_infinity(metric):
    ref = natural_image(40, 56, seed=6)
    assert metric.score(ref, ref.copy())["psnr_hvs_m"] == math.inf


def test_too_small_image_raises_naming_its_size(metric):
    small = np.zeros((7, 20, 3), dtype=np.uint8)
    with pytest.raises(MetricError, match=r"20×7.*at least 8"):
        metric.score(small, small)


def test_shape_mismatch_raises(metric):
    ref = natural_image(40, 56, seed=7)
    with pytest.raises(MetricError, match="shape"):
        metric.score(ref, ref[:-8])
