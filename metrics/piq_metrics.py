"""IW-SSIM, VIF (pixel domain) and FSIMc, computed with the ``piq`` package.

Three metrics of JPEG AI's common test conditions. Each is computed on what JPEG AI's quality-assessment
software gives it:

* **IW-SSIM** (Wang and Li, "Information content weighting for perceptual image quality assessment", IEEE
  TIP 2011): on Y′ of full-range BT.709 Y′CbCr, 0..255, as that software does. ``piq`` follows the authors'
  MATLAB code (``iwssim.m``): a 5-level Laplacian pyramid (5-tap binomial filter ×√2, mirror edges), SSIM's
  contrast-structure term per level (11×11 Gaussian window, σ 1.5, valid region; the luminance term on the
  coarsest level), pooled with the information-content weights of the reference's 3×3 neighbourhoods plus
  parent (σ²ₙ 0.4), combined with MS-SSIM's scale weights.
* **VIF** as VIFp, the *pixel-domain* multi-scale approximation of Sheikh and Bovik's visual information
  fidelity (``vifp_mscale.m``): 4 scales of Gaussian windows (17, 9, 5, 3 pixels, σ = size/5), σ²ₙ 2. Not the
  wavelet-domain VIF of the 2006 paper (steerable pyramid, σ²ₙ 0.4: pyiqa's ``vif``). JPEG AI's software
  computes this pixel-domain version on Y′ of BT.709; so does this one, on 0..255.
* **FSIM** as FSIMc (Zhang et al., "FSIM: A feature similarity index for image quality assessment", IEEE
  TIP 2011), on the RGB image, as JPEG AI's software computes FSIM (its FSIM is given the RGB planes and
  uses the chromatic I and Q terms). The conversion to YIQ is FSIM's own (``piq``: Y = 0.299 R + 0.587 G +
  0.114 B, I and Q of NTSC), after FSIM's own downsampling: an F×F average pooling with F =
  ``max(1, round(min(H, W) / 256))`` (2 for a 768×512 image; Python rounds halves to even, so a smaller side
  of 640 gives 2 where the MATLAB code gives 3).

Neither Y′ nor RGB is rounded (JPEG AI's software rounds its planes to its internal bit depth, 10 bits by
default, first). All three are computed in float64: in float32 ``piq`` gives flat areas a spurious variance
(the sums of squares of values near 255 lose their last digits), which moved IW-SSIM by 0.006 and VIF by 1e-4
on a test image with a flat half; float64 costs more (``piq`` filters with ``torch.nn.functional.conv2d``,
which has no fast float64 path on CPU). VIF and IW-SSIM compare the test image with the reference in that
order (both are asymmetric: the reference's statistics set the weights); FSIM is symmetric.
"""

from __future__ import annotations

import importlib.metadata
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import MetricError
from bench.core.metric import Metric, Scorer
from bench.core.metric_registry import register_metric
from bench.core.metrics import RGB_TO_YCBCR
from bench.core.schema import Column

if TYPE_CHECKING:
    import torch

__all__ = ["FSIM_MIN_SIDE", "IW_SSIM_MIN_SIDE", "VIF_MIN_SIDE", "Fsim", "IwSsim", "Vif", "luma"]

#: IW-SSIM's coarsest level (4 halvings) must hold the 11×11 SSIM window: (11 − 1)·2⁴ + 1 pixels, the size
#: ``piq`` asks for (the authors' ``iwssim.m`` refuses sides under 11·2⁴ = 176, a margin it does not need).
IW_SSIM_MIN_SIDE = (11 - 1) * 2**4 + 1
#: VIFp's fourth scale must hold its 3×3 window after three filter-and-halve steps (17, 9, 5-pixel filters).
VIF_MIN_SIDE = 41
#: FSIM's frequency grid divides by (side − 1) on an odd side: a 1-pixel side (after its pooling) gives NaN.
FSIM_MIN_SIDE = 2

_LUMA = tuple(float(weight) for weight in RGB_TO_YCBCR[0])


def luma(image: np.ndarray) -> np.ndarray:
    """Y′ of full-range BT.709 Y′CbCr of an H×W×3 uint8 RGB image: float64, 0..255.

    Clipped to 0..255: the weights' float sum can put a white pixel an ulp above 255, which ``piq``'s range
    check refuses.
    """
    rgb = image.astype(np.float64)
    plane = _LUMA[0] * rgb[..., 0] + _LUMA[1] * rgb[..., 1] + _LUMA[2] * rgb[..., 2]
    return np.clip(plane, 0.0, 255.0)


def _check_image(image: np.ndarray, name: str, metric: str, min_side: int) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise MetricError(f"{metric}: the {name} image must be an H×W×3 uint8 RGB array, got shape {shape} "
                          f"and dtype {dtype}")
    height, width = image.shape[:2]
    if min(height, width) < min_side:
        raise MetricError(f"{metric}: the image is {width}×{height} pixels; {metric} needs both sides of at least "
                          f"{min_side} pixels (score larger images, or leave {metric} out)")


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A float64 (1, C, H, W) tensor of an H×W plane or an H×W×C image."""
    import torch

    planes = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float64))[None]


def _piq() -> Any:
    try:
        import piq
    except ImportError as exc:
        raise MetricError(f"the piq package is not installed ({exc}); pip install piq==0.8.0") from None
    return piq


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


class _PiqMetric(Metric):
    """A ``piq`` metric of a test image against a reference, both converted by :meth:`_planes`."""

    version = 1
    higher_is_better = True
    unit = ""

    def identity(self) -> dict[str, Any]:
        return {"piq": _version("piq"), "torch": _version("torch"), "dtype": "float64"}

    def _planes(self, image: np.ndarray) -> np.ndarray:
        """What the metric computes on: Y′ (H×W) by default."""
        return luma(image)

    def _compute(self, piq_module: Any, test: torch.Tensor, reference: torch.Tensor) -> float:
        """The metric's value for ``test`` against ``reference`` ((1, C, H, W) float64 tensors)."""
        raise NotImplementedError

    def _check_reference(self, planes: np.ndarray) -> None:
        """Raise MetricError when the metric is undefined for this reference."""

    def prepare(self, reference: np.ndarray) -> Scorer:
        _check_image(reference, "reference", self.name, self.min_side)
        piq_module = _piq()
        planes = self._planes(reference)
        self._check_reference(planes)
        reference_tensor = _tensor(planes)
        column = self.primary

        def scorer(test: np.ndarray) -> dict[str, float]:
            _check_image(test, "test", self.name, self.min_side)
            if test.shape != reference.shape:
                raise MetricError(f"{self.name}: the test image's shape {test.shape} differs from the reference's "
                                  f"{reference.shape}")
            value = self._compute(piq_module, _tensor(self._planes(test)), reference_tensor)
            if not math.isfinite(value):
                raise MetricError(f"{self.name}: piq gave {value} for this image pair")
            return {column: value}

        return scorer

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        return self.prepare(reference)(test)


@register_metric
class IwSsim(_PiqMetric):
    """Information content weighted SSIM on Y′ (BT.709), with ``piq.information_weighted_ssim``."""

    name = "iw-ssim"
    columns = (Column("iw_ssim", "float", "IW-SSIM (Wang & Li 2011, 5 scales) of Y′ of full-range BT.709 "
                      "Y′CbCr, 0..255, float64; piq.information_weighted_ssim (piq 0.8.0)"),)
    primary = "iw_ssim"
    cost = "expensive"
    needs = "Y′ of full-range BT.709 Y′CbCr, 0..255, float64"
    min_side = IW_SSIM_MIN_SIDE

    def _compute(self, piq_module: Any, test: torch.Tensor, reference: torch.Tensor) -> float:
        try:
            return float(piq_module.information_weighted_ssim(test, reference, data_range=255.0, reduction="none"))
        except RuntimeError as exc:  # a singular neighbourhood covariance: a reference without structure
            raise MetricError(f"{self.name}: the reference has too little structure for IW-SSIM's information "
                              f"weights (piq: {' '.join(str(exc).split())})") from None


@register_metric
class Vif(_PiqMetric):
    """Pixel-domain VIF (VIFp) on Y′ (BT.709), with ``piq.vif_p``."""

    name = "vif"
    columns = (Column("vif", "float", "VIFp: pixel-domain multi-scale visual information fidelity (Sheikh & "
                      "Bovik's vifp_mscale, 4 scales, sigma_n^2 = 2; not the wavelet-domain VIF) of Y′ of "
                      "full-range BT.709 Y′CbCr, 0..255, float64; piq.vif_p (piq 0.8.0)"),)
    primary = "vif"
    cost = "expensive"
    needs = "Y′ of full-range BT.709 Y′CbCr, 0..255, float64"
    min_side = VIF_MIN_SIDE

    def _check_reference(self, planes: np.ndarray) -> None:
        if np.ptp(planes) == 0.0:
            raise MetricError(f"{self.name}: the reference image is flat (one Y′ value); VIF's reference "
                              "information is zero and the ratio is undefined")

    def _compute(self, piq_module: Any, test: torch.Tensor, reference: torch.Tensor) -> float:
        return float(piq_module.vif_p(test, reference, data_range=255.0, reduction="none"))


@register_metric
class Fsim(_PiqMetric):
    """FSIMc on the RGB image (FSIM's own YIQ conversion and downsampling), with ``piq.fsim``."""

    name = "fsim"
    columns = (Column("fsim", "float", "FSIMc (Zhang et al. 2011, chromatic) of the RGB image, 0..255, float64, "
                      "with FSIM's own YIQ conversion and round(min side / 256)-fold average pooling; "
                      "piq.fsim (piq 0.8.0)"),)
    primary = "fsim"
    cost = "moderate"
    needs = "8-bit RGB in float64 (FSIM converts to YIQ itself)"
    min_side = FSIM_MIN_SIDE

    def _planes(self, image: np.ndarray) -> np.ndarray:
        return image

    def _compute(self, piq_module: Any, test: torch.Tensor, reference: torch.Tensor) -> float:
        return float(piq_module.fsim(test, reference, data_range=255.0, chromatic=True, reduction="none"))
