"""IW-SSIM, VIF and FSIM (metrics/iqa.py) against independent references.

* IW-SSIM: ``piq.information_weighted_ssim`` in float64 (torch, 2-D convolutions), on sides that are multiples of
  16, where every pyramid level is even-sized and the mirror edges of the upsampling step cannot differ between
  implementations.
* VIF: sewar's ``vifp`` (the same pixel-domain VIF, ``vifp_mscale.m``, 2-D convolutions in SciPy) and
  ``piq.vif_p`` on the same Y′.
* FSIM: piqa (a separate implementation) and pyiqa, computed once outside the project's environment
  (``tests/fixtures/metric_refs/piq_fsim_refs.py`` → ``piq_fsim.json``) on image pairs made with NumPy alone.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric
from conftest import natural_image

REFS = Path(__file__).resolve().parent / "fixtures" / "metric_refs"
BT709 = (0.2126, 0.7152, 0.0722)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one intra-op torch thread


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


def piq_value(name: str, reference: np.ndarray, test: np.ndarray) -> float:
    """piq's float64 value of ``name`` (information_weighted_ssim or vif_p) of Y′ planes, test first."""
    import piq

    def tensor(plane: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.clip(plane, 0, 255)[None, None].copy())

    return float(getattr(piq, name)(tensor(test), tensor(reference), data_range=255.0, reduction="none"))


def iw_ssim_reference(reference: np.ndarray, test: np.ndarray) -> float:
    return piq_value("information_weighted_ssim", reference, test)


# --- IW-SSIM --------------------------------------------------------------------------------------------------

def _iw_ssim_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    image = natural_image(192, 256, seed=3)
    return [("jpeg q20", image, jpeg(image, 20)), ("jpeg q75", image, jpeg(image, 75)),
            ("noise", image, noisy(image, 12.0))]


@pytest.mark.parametrize("label,reference,test", _iw_ssim_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_iw_ssim_matches_reference_implementation(label: str, reference: np.ndarray, test: np.ndarray) -> None:
    value = create_metric("iw-ssim").score(reference, test)["iw_ssim"]
    expected = iw_ssim_reference(y709(reference), y709(test))
    # Both float64: they differ by summation order only (separable vs 2-D filters, eigen-solver), ≤ 1.5e-15 on
    # these images and on the Kodak crop below. (Larger where a flat area's variances are pure rounding noise, which both codes
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
    # piq regularises g = σxy / (σ²x + ε) with ε = 1e-8 where vifp_mscale.m (and this code) use 1e-10
    assert value == pytest.approx(piq_value("vif_p", y709(image), y709(test)), rel=1e-7)


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
        identity = metric.identity()
        assert identity["dtype"] == "float64" and (identity.get("piq") == "0.8.0" or "scipy" in identity)
        with pytest.raises(MetricError, match="shape"):
            metric.score(natural_image(200, 200), natural_image(200, 201))
