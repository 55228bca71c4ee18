"""PSNR and MS-SSIM against hand computations, pytorch_msssim and an independent float64 version."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_msssim import ms_ssim as pt_ms_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d
from scipy import ndimage

from bench.core.errors import MetricError
from bench.core.metrics import MsSsimReference, ms_ssim, ms_ssim_db, psnr
from conftest import natural_image

ODD_SIZES = [(161, 170), (200, 333), (321, 481)]
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one intra-op torch thread


def degraded(image: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    """``image`` plus Gaussian noise of standard deviation ``sigma``, rounded to 8 bits."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` after a JPEG round trip through Pillow (4:2:0 chroma subsampling)."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def pytorch_msssim(x: np.ndarray, y: np.ndarray, dtype: torch.dtype) -> float:
    """pytorch_msssim.ms_ssim with its defaults on (1, 3, H, W) tensors of ``dtype``, range 255."""

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).to(dtype)[None]

    return float(pt_ms_ssim(tensor(x), tensor(y), data_range=255))


def scipy_msssim(x: np.ndarray, y: np.ndarray) -> float:
    """Independent float64 MS-SSIM: scipy.ndimage filtering, torch's avg_pool2d padding rules.

    The window is pytorch_msssim's own (normalised in float32, so its sum is 1 − 3e-8): MS-SSIM is
    sensitive to that at the 1e-6 level.
    """
    g = _fspecial_gauss_1d(11, 1.5).flatten().double().numpy()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(a: np.ndarray) -> np.ndarray:  # "valid" region of a separable Gaussian filter
        a = ndimage.correlate1d(a, g, axis=0, mode="constant")
        a = ndimage.correlate1d(a, g, axis=1, mode="constant")
        return a[5:-5, 5:-5]

    def pool(a: np.ndarray) -> np.ndarray:  # avg_pool2d(kernel 2, padding = size % 2), zeros count
        ph, pw = a.shape[0] % 2, a.shape[1] % 2
        a = np.pad(a, ((ph, ph), (pw, pw)))
        oh, ow = (a.shape[0] - 2) // 2 + 1, (a.shape[1] - 2) // 2 + 1
        return a[: 2 * oh, : 2 * ow].reshape(oh, 2, ow, 2).mean(axis=(1, 3))

    per_channel = []
    for c in range(3):
        a, b = x[..., c].astype(np.float64), y[..., c].astype(np.float64)
        value = 1.0
        for level, weight in enumerate(WEIGHTS):
            mu_a, mu_b = blur(a), blur(b)
            var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
            cov = blur(a * b) - mu_a * mu_b
            cs = (2 * cov + c2) / (var_a + var_b + c2)
            if level == len(WEIGHTS) - 1:
                cs = cs * (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
            value *= max(float(cs.mean()), 0.0) ** weight
            a, b = pool(a), pool(b)
        per_channel.append(value)
    return float(np.mean(per_channel))


# --- PSNR -------------------------------------------------------------------------------------


def test_psnr_off_by_one_everywhere() -> None:
    x = natural_image(40, 50)
    y = np.where(x < 255, x + 1, x - 1).astype(np.uint8)
    assert psnr(x, y) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert psnr(x, y) == pytest.approx(48.1308036086791, abs=1e-12)


def test_psnr_known_mse() -> None:
    x = np.full((10, 20, 3), 100, np.uint8)
    y = x.copy()
    y[:5] += 4  # half of all values differ by 4: MSE = 16 / 2
    assert psnr(x, y) == pytest.approx(10 * math.log10(255**2 / 8.0), abs=1e-12)
    black, white = np.zeros((3, 4, 3), np.uint8), np.full((3, 4, 3), 255, np.uint8)
    assert psnr(black, white) == 0.0


def test_psnr_identical_is_inf() -> None:
    x = natural_image(30, 30)
    assert psnr(x, x.copy()) == math.inf


# --- MS-SSIM: agreement with references ---------------------------------------------------------


@pytest.mark.parametrize("size", ODD_SIZES)
@pytest.mark.parametrize("sigma", [3.0, 25.0])
def test_ms_ssim_matches_references(size: tuple[int, int], sigma: float) -> None:
    x = natural_image(*size, seed=size[0])
    y = degraded(x, sigma)
    ours = ms_ssim(x, y)
    assert 0.0 < ours < 1.0
    assert ours == pytest.approx(scipy_msssim(x, y), abs=1e-10)
    assert ours == pytest.approx(pytorch_msssim(x, y, torch.float64), abs=1e-10)
    assert ours == pytest.approx(pytorch_msssim(x, y, torch.float32), abs=2e-6)


def test_ms_ssim_relu_of_negative_contrast() -> None:
    # An inverted image has negative contrast-structure at every scale; relu makes MS-SSIM 0.
    x = natural_image(200, 240)
    y = 255 - x
    assert ms_ssim(x, y) == 0.0
    assert pytorch_msssim(x, y, torch.float64) == 0.0


def test_reference_reused_for_several_tests() -> None:
    x = natural_image(200, 333, seed=3)
    reference = MsSsimReference(x)
    for sigma in (2.0, 10.0, 40.0):
        y = degraded(x, sigma, seed=int(sigma))
        assert reference.score(y) == ms_ssim(x, y)
    assert reference.score(x) == 1.0


@pytest.mark.parametrize("name", ["kodim01", "kodim04"])
def test_ms_ssim_on_kodak_jpeg(kodak_dir: Path, name: str) -> None:
    with Image.open(kodak_dir / f"{name}.png") as img:
        x = np.asarray(img.convert("RGB"))
    reference = MsSsimReference(x)
    for quality in (10, 90):
        y = jpeg(x, quality)
        ours = reference.score(y)
        assert ours == pytest.approx(pytorch_msssim(x, y, torch.float32), abs=2e-6)
        assert ours == pytest.approx(pytorch_msssim(x, y, torch.float64), abs=1e-10)


# --- MS-SSIM: edge cases and validation ----------------------------------------------------------


def test_identical_images() -> None:
    x = natural_image(170, 200)
    assert ms_ssim(x, x.copy()) == 1.0
    assert ms_ssim_db(ms_ssim(x, x)) == math.inf


def test_ms_ssim_db() -> None:
    assert ms_ssim_db(0.99) == pytest.approx(20.0, abs=1e-9)
    assert ms_ssim_db(0.9) == pytest.approx(10.0, abs=1e-9)
    assert ms_ssim_db(1.0) == math.inf


@pytest.mark.parametrize("size", [(160, 200), (200, 160), (100, 100)])
def test_too_small_for_ms_ssim(size: tuple[int, int]) -> None:
    x = natural_image(*size)
    with pytest.raises(MetricError, match=r"larger than 160.*" + f"{size[0]}×{size[1]}"):
        ms_ssim(x, x)


def test_smallest_allowed_size() -> None:
    x = natural_image(161, 161)
    y = degraded(x, 8.0)
    assert ms_ssim(x, y) == pytest.approx(pytorch_msssim(x, y, torch.float64), abs=1e-10)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((200, 200, 3), np.float32), "uint8"),
        (np.zeros((200, 200), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((200, 200, 4), np.uint8), r"\(H, W, 3\)"),
        (np.zeros((200, 201, 3), np.uint8), "differ in shape"),
        ([[0]], "numpy array"),
    ],
)
def test_invalid_inputs(bad: object, match: str) -> None:
    good = np.zeros((200, 200, 3), np.uint8)
    for metric in (psnr, ms_ssim):
        with pytest.raises(MetricError, match=match):
            metric(good, bad)
    with pytest.raises(MetricError, match=match.replace("differ in shape", "differs")):
        MsSsimReference(good).score(bad)


def test_psnr_sums_exactly_at_full_size():
    black = np.zeros((512, 768, 3), np.uint8)
    assert psnr(black, np.full_like(black, 255)) == 0.0  # 255² · 1.2 M overflows 32-bit sums
    one = black.copy()
    one[7, 9, 1] = 3
    assert psnr(black, one) == pytest.approx(10 * math.log10(255**2 * black.size / 9), abs=1e-12)
