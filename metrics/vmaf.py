"""VMAF: Netflix's Video Multi-Method Assessment Fusion, model v0.6.1, on one image as a one-frame video.

VMAF v0.6.1 feeds six elementary features of the luma plane to a support-vector regression trained on
subjective scores of video: ADM2 (detail loss), VIF at four scales (visual information fidelity) and
motion2 (the mean absolute difference of the blurred reference to its neighbouring frames). An image is a
video of one frame, whose motion2 is 0 in libvmaf, Netflix's reference library; the score is clipped to
0..100 as libvmaf clips it, higher is better. Identical images score about 97.43 (not 100): the model's
value for perfect features and no motion.

The image is prepared as JPEG AI's reference software prepares it for VMAF (``src/codec/metrics/metrics.py``
of its repository: the default ``--internal-bits 10`` and ``--color-conv 709``, then Netflix's ``vmaf`` tool
with ``-p 444 -b 10``): RGB requantised to 10 bits, round(v · 1023 / 255), then Y′ of full-range BT.709
(:data:`bench.core.metrics.RGB_TO_YCBCR`) rounded to a 10-bit integer. libvmaf reads a 10-bit sample as
its value / 4 on the 8-bit scale; so does this plug-in, which scores with the PyTorch re-implementation
``vmaf-torch`` (float features, computed here in float64) instead of libvmaf's integer ones.

Against libvmaf itself (``tests/fixtures/metric_refs/vmaf_libvmaf.json``) it agrees within 0.05 on images
of 90 pixels and more, 0.03 on Kodak; on images of a few tens of pixels the two differ by up to a few
points, as their features treat the borders differently. Both need a side of at least 17 pixels (libvmaf
crashes on 16).
"""

from __future__ import annotations

import math
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import MetricError
from bench.core.metric import Metric, Scorer, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.metrics import RGB_TO_YCBCR
from bench.core.schema import Column

if TYPE_CHECKING:
    import torch

__all__ = ["BITS", "MIN_SIDE", "MODEL", "Vmaf", "luma_10bit"]

#: Bit depth of the Y′ plane VMAF scores (JPEG AI's reference software's internal bit depth).
BITS = 10
#: The smallest side VMAF scores: its four VIF and ADM scales halve the image three times and pad each
#: level by mirroring, which needs a side of 17 (vmaf-torch raises and libvmaf crashes on 16).
MIN_SIDE = 17
MODEL = "vmaf_v0.6.1"

_TOP = (1 << BITS) - 1
# Y′ = (Σ wᵢ·Cᵢ) / _DEN with integer weights: the exact BT.709 luma row of RGB_TO_YCBCR.
_DEN = reduce(math.lcm, (weight.denominator for weight in RGB_TO_YCBCR[0]))
_WEIGHTS = tuple(int(weight * _DEN) for weight in RGB_TO_YCBCR[0])


def luma_10bit(image: np.ndarray) -> np.ndarray:
    """Y′ of full-range BT.709 Y′CbCr at 10 bits of an H×W×3 uint8 RGB image, as int64 in 0..1023.

    Each channel is first requantised to 10 bits, round(v · 1023 / 255), then Y′ is rounded to an integer,
    both in exact integer arithmetic. The first rounding never meets a tie; the second rounds a tie (a
    weighted sum ending in exactly one half, about one pixel in 5000) upwards, where JPEG AI's software,
    in float32, goes either way.
    """
    rgb = (2 * _TOP * image.astype(np.int64) + 255) // 510
    total = _WEIGHTS[0] * rgb[..., 0] + _WEIGHTS[1] * rgb[..., 1] + _WEIGHTS[2] * rgb[..., 2]
    return (2 * total + _DEN) // (2 * _DEN)


def _check(image: np.ndarray, name: str) -> None:
    check_rgb8("vmaf", image, name, MIN_SIDE, "VMAF's four scales")


def _plane(image: np.ndarray) -> torch.Tensor:
    """The 1×1×H×W float64 tensor vmaf-torch scores: the 10-bit Y′ on libvmaf's 8-bit scale (value / 4)."""
    import torch

    scale = float(1 << (BITS - 8))
    return torch.from_numpy(luma_10bit(image).astype(np.float64) / scale)[None, None]


@register_metric
class Vmaf(Metric):
    """VMAF v0.6.1 of a one-frame video of Y′ (BT.709, 10 bits), clipped to 0..100; higher is better."""

    name = "vmaf"
    version = 1
    columns = (Column("vmaf", "float",
                      "VMAF v0.6.1 (Netflix; ADM2, VIF at 4 scales, motion2 = 0 for one frame; SVR clipped to "
                      "0..100) on Y′ of full-range BT.709 at 10 bits (RGB requantised to 10 bits, Y′ rounded), "
                      "as JPEG AI's reference software feeds libvmaf; vmaf-torch 1.1.0 in float64; higher is "
                      "better, 97.43 for identical images"),)
    primary = "vmaf"
    higher_is_better = True
    unit = ""
    cost = "moderate"  # about 0.6 s of CPU per 768×512 image on one core
    needs = "Y′ of full-range BT.709 Y′CbCr rounded to 10 bits (RGB requantised to 10 bits first), float64"
    min_side = MIN_SIDE

    def __init__(self) -> None:
        self._model: Any = None

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            library = version("vmaf-torch")
        except PackageNotFoundError:
            raise MetricError("vmaf: the vmaf-torch package is not installed (pip install vmaf-torch==1.1.0)") from None
        return {"vmaf-torch": library, "model": MODEL, "frames": 1, "clip": [0, 100],
                "channel": f"Y′ full-range BT.709, {BITS}-bit, RGB requantised to {BITS} bits", "dtype": "float64"}

    def _vmaf(self) -> Any:
        if self._model is None:
            try:
                from vmaf_torch import VMAF
            except ImportError as exc:
                raise MetricError(f"vmaf: cannot import vmaf_torch ({exc}); pip install vmaf-torch==1.1.0") from None
            # One frame: motion2 is 0, as libvmaf gives the first (and only) frame.
            self._model = VMAF(enable_motion=False, clip_score=True).double().eval()
        return self._model

    def prepare(self, reference: np.ndarray) -> Scorer:
        _check(reference, "reference")
        model = self._vmaf()
        plane = _plane(reference)

        def score(test: np.ndarray) -> dict[str, float]:
            import torch

            _check(test, "test")
            check_same_shape("vmaf", reference, test)
            with torch.inference_mode():
                value = model(plane, _plane(test))
            return {"vmaf": float(value.reshape(-1)[0])}

        return score

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        return self.prepare(reference)(test)

    def describe(self) -> str:
        return "vmaf: VMAF v0.6.1 on Y′ (BT.709, 10-bit) as a one-frame video, 0..100, higher is better"
