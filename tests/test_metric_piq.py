"""IW-SSIM, VIF and FSIM (metrics/piq_metrics.py) against independent references.

* IW-SSIM: a float64 NumPy/SciPy implementation written here from Wang and Li's ``iwssim.m``
  (:func:`iw_ssim_reference`), on sides that are multiples of 16, where every pyramid level is even-sized and
  the mirror edges of the upsampling step cannot differ between implementations.
* VIF: sewar's ``vifp`` (the same pixel-domain VIF, ``vifp_mscale.m``, in NumPy/SciPy float64) on the same Y′.
* FSIM: piqa (a separate implementation) and pyiqa, computed once outside the project's environment
  (``tests/fixtures/metric_refs/piq_fsim_refs.py`` → ``piq_fsim.json``) on image pairs made with NumPy alone.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import correlate1d, uniform_filter

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric
from conftest import natural_image

REFS = Path(__file__).resolve().parent / "fixtures" / "metric_refs"
BT709 = (0.2126, 0.7152, 0.0722)


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def noisy(image: np.ndarray, sigma: float, seed: int = 5) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(np.rint(image + noise), 0, 255).astype(np.uint8)


def y709(image: np.ndarray) -> np.ndarray:
    """Y′ of BT.709 in float64, 0..255, written out here."""
    rgb = image.astype(np.float64)
    return BT709[0] * rgb[..., 0] + BT709[1] * rgb[..., 1] + BT709[2] * rgb[..., 2]


# --- IW-SSIM, from the authors' iwssim.m --------------------------------------------------------------------

BINOM5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0 * math.sqrt(2.0)  # matlabPyrTools' 'binom5'
SCALE_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _gauss_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    taps = np.exp(-((np.arange(size) - size // 2) ** 2) / (2.0 * sigma**2))
    return taps / taps.sum()  # fspecial('gaussian') is this outer product, normalised


def _valid(plane: np.ndarray, taps: np.ndarray) -> np.ndarray:
    half = len(taps) // 2
    out = correlate1d(correlate1d(plane, taps, axis=0), taps, axis=1)
    return out[half:-half, half:-half]


def _reduce(plane: np.ndarray) -> np.ndarray:
    # corrDn with 'reflect1' edges (scipy's "mirror": the edge sample is not repeated), every second sample
    for axis in (0, 1):
        plane = np.take(correlate1d(plane, BINOM5, axis=axis, mode="mirror"),
                        np.arange(0, plane.shape[axis], 2), axis=axis)
    return plane


def _expand(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    # upConv: zeros between the samples, the same filter with 'reflect1' edges
    for axis in (0, 1):
        size = list(plane.shape)
        size[axis] = shape[axis]
        spread = np.zeros(size)
        index = [slice(None)] * 2
        index[axis] = slice(0, None, 2)
        spread[tuple(index)] = plane
        plane = correlate1d(spread, BINOM5, axis=axis, mode="mirror")
    return plane


def _laplacian(plane: np.ndarray, levels: int = 5) -> list[np.ndarray]:
    bands = []
    for _ in range(levels - 1):
        low = _reduce(plane)
        bands.append(plane - _expand(low, plane.shape))
        plane = low
    return [*bands, plane]


def _enlarge(plane: np.ndarray) -> np.ndarray:
    """iwssim.m's imenlarge2: bilinear resize to 4M−3, a linearly extrapolated border, every second sample."""
    for axis in (0, 1):
        m = plane.shape[axis]
        n = 4 * m - 3
        src = (np.arange(n) + 0.5) * m / n - 0.5  # imresize's pixel-centre mapping, clamped at the edges
        resized = np.apply_along_axis(lambda v: np.interp(src, np.arange(m), v), axis, plane)
        first = 2 * np.take(resized, [0], axis) - np.take(resized, [1], axis)
        last = 2 * np.take(resized, [-1], axis) - np.take(resized, [-2], axis)
        plane = np.take(np.concatenate([first, resized, last], axis=axis), np.arange(0, n + 2, 2), axis=axis)
    return plane


def _info_weights(ref: np.ndarray, dist: np.ndarray, parent: np.ndarray | None, sigma_nsq: float = 0.4,
                  tol: float = 1e-15) -> np.ndarray:
    def box(a: np.ndarray) -> np.ndarray:
        return uniform_filter(a, 3, mode="constant")  # filter2(ones(3)/9, ·, 'same')

    mean_x, mean_y = box(ref), box(dist)
    cov_xy = box(ref * dist) - mean_x * mean_y
    ss_x = np.maximum(box(ref * ref) - mean_x**2, 0.0)
    ss_y = np.maximum(box(dist * dist) - mean_y**2, 0.0)
    g = cov_xy / (ss_x + tol)
    vv = ss_y - g * cov_xy
    g[ss_x < tol] = 0.0
    vv[ss_x < tol] = ss_y[ss_x < tol]
    g[ss_y < tol] = 0.0
    vv[ss_y < tol] = 0.0

    nv, nh = ref.shape
    rows, cols = nv - 2, nh - 2
    columns = [ref[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols].ravel() for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    if parent is not None:
        columns.append(_enlarge(parent)[:nv, :nh][1 : 1 + rows, 1 : 1 + cols].ravel())
    neighbours = np.stack(columns, axis=1)
    count = neighbours.shape[1]
    cov = neighbours.T @ neighbours / neighbours.shape[0]
    eigenvalues, vectors = np.linalg.eigh(cov)
    positive = eigenvalues * (eigenvalues > 0)
    scaled = positive * eigenvalues.sum() / (positive.sum() + (positive.sum() == 0))
    cov = vectors @ np.diag(scaled) @ vectors.T
    s = (np.sum((neighbours @ np.linalg.inv(cov)) * neighbours, axis=1) / count).reshape(rows, cols)
    g, vv = g[1 : 1 + rows, 1 : 1 + cols], vv[1 : 1 + rows, 1 : 1 + cols]
    weights = sum(np.log2(1 + ((vv + (1 + g * g) * sigma_nsq) * s * lam + sigma_nsq * vv) / sigma_nsq**2)
                  for lam in scaled)
    weights[weights < tol] = 0.0
    return weights


def iw_ssim_reference(ref: np.ndarray, dist: np.ndarray) -> float:
    """IW-SSIM of 2-D float64 planes (0..255), following iwssim.m with its defaults."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    window = _gauss_window()
    pyr_ref, pyr_dist = _laplacian(ref), _laplacian(dist)
    scores = []
    for level, (x, y) in enumerate(zip(pyr_ref, pyr_dist)):
        mu_x, mu_y = _valid(x, window), _valid(y, window)
        sxx = np.maximum(_valid(x * x, window) - mu_x**2, 0.0)
        syy = np.maximum(_valid(y * y, window) - mu_y**2, 0.0)
        sxy = _valid(x * y, window) - mu_x * mu_y
        cs = (2 * sxy + c2) / (sxx + syy + c2)
        if level == len(pyr_ref) - 1:
            cs = cs * (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
            weights = np.ones_like(cs)
        else:
            parent = pyr_ref[level + 1] if level < len(pyr_ref) - 2 else None
            weights = _info_weights(x, y, parent)[4:-4, 4:-4]
        scores.append(np.sum(cs * weights) / np.sum(weights))
    weights = SCALE_WEIGHTS / SCALE_WEIGHTS.sum()
    return float(np.prod(np.array(scores) ** weights))


# --- IW-SSIM --------------------------------------------------------------------------------------------------

def _iw_ssim_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    image = natural_image(192, 256, seed=3)
    return [("jpeg q20", image, jpeg(image, 20)), ("jpeg q75", image, jpeg(image, 75)),
            ("noise", image, noisy(image, 12.0))]


@pytest.mark.parametrize("label,reference,test", _iw_ssim_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_iw_ssim_matches_reference_implementation(label: str, reference: np.ndarray, test: np.ndarray) -> None:
    value = create_metric("iw-ssim").score(reference, test)["iw_ssim"]
    expected = iw_ssim_reference(y709(reference), y709(test))
    # Both float64: they differ by summation order only (filters, eigen-solver), ≤ 1.5e-15 on these images and on
    # the Kodak crop below. (Larger where a flat area's variances are pure rounding noise, which both codes
    # divide by: 1e-7 on the whole of kodim23, whose white patch is flat; and at odd sides piq's upsampling
    # mirrors one more zero at the far edge: 2e-7 on a 181×203 image. Neither happens on these inputs.)
    assert value == pytest.approx(expected, abs=1e-9), label
    # IW-SSIM is not symmetric: the reference's statistics set the weights.
    assert iw_ssim_reference(y709(test), y709(reference)) != pytest.approx(value, abs=1e-6)


def test_iw_ssim_on_kodak(kodak_dir: Path) -> None:
    image = np.asarray(Image.open(kodak_dir / "kodim23.png").convert("RGB"))[:256, :384]
    test = jpeg(image, 30)
    value = create_metric("iw-ssim").score(image, test)["iw_ssim"]
    assert value == pytest.approx(iw_ssim_reference(y709(image), y709(test)), abs=1e-9)


# --- VIF ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("quality", [15, 60, 95])
def test_vif_matches_sewar(quality: int) -> None:
    from sewar.full_ref import vifp

    image = natural_image(96, 128, seed=4)
    test = jpeg(image, quality)
    value = create_metric("vif").score(image, test)["vif"]
    # Same algorithm in float64; the regularisers differ (piq 1e-8, sewar 1e-10 in g = σxy / (σ²x + ε)), which
    # moved the ratio by 0.7e-9 to 1.5e-9 relative on these images and on Kodak: 1e-7 leaves room and is far below
    # any real difference.
    assert value == pytest.approx(vifp(y709(image), y709(test)), rel=1e-7)


def test_vif_on_kodak(kodak_dir: Path) -> None:
    from sewar.full_ref import vifp

    image = np.asarray(Image.open(kodak_dir / "kodim05.png").convert("RGB"))[:192, :256]
    test = noisy(jpeg(image, 40), 2.0)
    value = create_metric("vif").score(image, test)["vif"]
    assert value == pytest.approx(vifp(y709(image), y709(test)), rel=1e-7)


def test_vif_is_not_symmetric() -> None:
    image = natural_image(64, 64, seed=6)
    test = jpeg(image, 20)
    metric = create_metric("vif")
    assert metric.score(image, test)["vif"] != pytest.approx(metric.score(test, image)["vif"], rel=1e-3)


def test_vif_flat_reference_is_an_error() -> None:
    flat = np.full((64, 64, 3), 120, dtype=np.uint8)
    with pytest.raises(MetricError, match="flat"):
        create_metric("vif").score(flat, noisy(flat, 5.0))


# --- FSIM -----------------------------------------------------------------------------------------------------

def _fsim_refs() -> tuple[object, dict]:
    spec = importlib.util.spec_from_file_location("piq_fsim_refs", REFS / "piq_fsim_refs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, json.loads((REFS / "piq_fsim.json").read_text(encoding="utf-8"))


def test_fsim_matches_piqa_and_pyiqa() -> None:
    module, record = _fsim_refs()
    metric = create_metric("fsim")
    for name, (reference, test) in module.pairs().items():
        expected = record["values"][name]
        assert module.digest(reference, test) == expected["sha256"], f"{name}: the inputs are not those measured"
        value = metric.score(reference, test)["fsim"]
        if name.startswith("gray"):
            # R = G = B: I = Q = 0 and the chromatic term is 1; piq and piqa agree to float64 rounding.
            assert value == pytest.approx(expected["piqa"], abs=1e-9), name
        else:
            # piq takes |S_I·S_Q|^0.03 where the MATLAB code (and piqa) take the real part of the complex power,
            # cos(0.03π)·|S_I·S_Q|^0.03, 0.44 % less, on the few pixels whose product is negative (≤ 0.1 % here):
            # 2.2e-6 at most on these pairs.
            assert value == pytest.approx(expected["piqa"], abs=1e-5), name
        # pyiqa's FSIM is piq's code in float32.
        assert value == pytest.approx(expected["pyiqa"], abs=1e-5), name


def test_fsim_is_symmetric_and_uses_colour() -> None:
    image = natural_image(96, 128, seed=7)
    shifted = image.copy()
    shifted[..., 0] = np.clip(shifted[..., 0].astype(int) + 40, 0, 255)
    shifted[..., 2] = np.clip(shifted[..., 2].astype(int) - 40, 0, 255)
    metric = create_metric("fsim")
    assert metric.score(image, shifted)["fsim"] == pytest.approx(metric.score(shifted, image)["fsim"], abs=1e-12)
    # FSIMc: a colour shift that leaves much of the structure lowers the score through I and Q.
    assert metric.score(image, shifted)["fsim"] < 0.999


# --- all three ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,column,perfect,tolerance", [
    ("iw-ssim", "iw_ssim", 1.0, 1e-12),
    # VIF: g = σxy / (σ²x + 1e-8) is a hair under 1 for identical images: 1 − 1e-9 on Kodak-like texture.
    ("vif", "vif", 1.0, 1e-8),
    ("fsim", "fsim", 1.0, 1e-12),
])
def test_identical_images_score_perfect(name: str, column: str, perfect: float, tolerance: float) -> None:
    image = natural_image(176, 208, seed=8)
    assert create_metric(name).score(image, image.copy())[column] == pytest.approx(perfect, abs=tolerance)


@pytest.mark.parametrize("name,min_side", [("iw-ssim", 161), ("vif", 41), ("fsim", 2)])
def test_too_small_image_is_an_error_naming_its_size(name: str, min_side: int) -> None:
    metric = create_metric(name)
    assert metric.min_side == min_side
    small = natural_image(min_side - 1, 300, seed=9)
    with pytest.raises(MetricError, match=rf"300×{min_side - 1}.*{min_side}"):
        metric.score(small, small)
    exact = natural_image(min_side, min_side + 3, seed=9)
    value = metric.score(exact, noisy(exact, 4.0))[metric.primary]
    assert math.isfinite(value)


def test_declarations() -> None:
    for name, column in (("iw-ssim", "iw_ssim"), ("vif", "vif"), ("fsim", "fsim")):
        metric = create_metric(name)
        assert metric.primary == column and metric.higher_is_better and metric.unit == ""
        assert metric.identity()["piq"] == "0.8.0"
        with pytest.raises(MetricError, match="shape"):
            metric.score(natural_image(200, 200), natural_image(200, 201))
