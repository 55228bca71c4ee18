"""PSNR-HVS-M (Ponomarenko et al. 2007) on Y′, through the ``psnr_hvsm`` package.

N. Ponomarenko, F. Silvestri, K. Egiazarian, M. Carli, J. Astola and V. Lukin, "On between-coefficient
contrast masking of DCT basis functions", VPQM 2007: the error of each 8×8 block's DCT coefficients (blocks
side by side, step 8), less a contrast-masking threshold, weighted by a contrast sensitivity table taken from
JPEG's quantization table, gives a mean squared error and a PSNR in dB.

``psnr_hvsm`` (K. Trojanowski; checked by its author against the TID2013 values) is the implementation that
JPEG AI's quality-assessment software calls. Its ``psnr_hvs_hvsm`` takes one channel, float64 on a 0..1 scale
(peak 1), with both sides a multiple of 8; it converts no colours itself (its ``bt601ycbcr`` helper, not used
here, gives BT.601 studio-range Y′ rounded to 8 bits). As in JPEG AI's software, the plug-in gives it Y′ of
full-range BT.709 Y′CbCr (:data:`bench.core.metrics.RGB_TO_YCBCR`; that software rounds Y′ to its internal
bit depth first, not done here), divided by 255, with the right and bottom edges replicated up to a multiple
of 8. The package's NumPy backend is called by name, whatever ``PSNR_HVSM_BACKEND`` says. Identical images
(a masked error of exactly zero) give ``math.inf``, as the harness's PSNR does, where the package gives 100.

The copies of JPEG AI's software read while writing this return the package's first value, PSNR-HVS (the same
weighted DCT error without the masking), as their ``PSNR_HVS`` column; this plug-in reports the second one,
PSNR-HVS-M, the metric of JPEG AI's list.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np

from bench.core.errors import MetricError
from bench.core.metric import Metric, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.metrics import RGB_TO_YCBCR
from bench.core.schema import Column

__all__ = ["BLOCK", "PsnrHvsM", "luma_blocks", "psnr_hvs_m"]

#: The DCT block side; images are padded to a multiple of it.
BLOCK = 8

_LUMA = tuple(float(weight) / 255.0 for weight in RGB_TO_YCBCR[0])


def _package() -> Any:
    """The ``psnr_hvsm`` package; importing it prints a line to stdout when its PyTorch backend is missing."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import psnr_hvsm
    except ImportError as exc:
        raise MetricError(f"psnr-hvs-m needs the psnr_hvsm package ({exc}); pip install psnr_hvsm==0.3.0") from None
    return psnr_hvsm


def luma_blocks(image: np.ndarray) -> np.ndarray:
    """Y′ of full-range BT.709 Y′CbCr of an H×W×3 uint8 image, float64 on 0..1, its right and bottom edges
    replicated up to a multiple of :data:`BLOCK`."""
    rgb = image.astype(np.float64)
    y = _LUMA[0] * rgb[..., 0] + _LUMA[1] * rgb[..., 1] + _LUMA[2] * rgb[..., 2]
    height, width = y.shape
    return np.pad(y, ((0, -height % BLOCK), (0, -width % BLOCK)), mode="edge")


def psnr_hvs_m(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR-HVS-M in dB of two 2-D float64 planes on 0..1 whose sides are multiples of 8 (``psnr_hvsm``'s
    NumPy backend, peak 1); ``math.inf`` when the masked error is zero."""
    package = _package()
    # A flat block has no variance; the package divides by it before discarding the result.
    with np.errstate(divide="ignore", invalid="ignore"):
        _, mse = package.BACKENDS["numpy"]["hvs_hvsm_mse"](reference, test)
    mse = float(mse)
    return math.inf if mse == 0.0 else -10.0 * math.log10(mse)


def _check(image: np.ndarray, name: str, min_side: int) -> None:
    check_rgb8("psnr-hvs-m", image, name, min_side, "its 8×8 DCT blocks")


@register_metric
class PsnrHvsM(Metric):
    """PSNR-HVS-M on Y′ (full-range BT.709) through psnr_hvsm; higher is better."""

    name = "psnr-hvs-m"
    version = 1
    columns = (Column("psnr_hvs_m", "float",
                      "PSNR-HVS-M in dB (Ponomarenko et al. 2007: 8×8 DCT, CSF weights, contrast masking) on Y′ of "
                      "full-range BT.709 Y′CbCr in float64 on 0..1, edges replicated to a multiple of 8, through "
                      "psnr_hvsm's NumPy backend as JPEG AI's quality software calls it; inf for a zero masked "
                      "error"),)
    primary = "psnr_hvs_m"
    higher_is_better = True
    unit = "dB"
    cost = "cheap"
    needs = "Y′ of full-range BT.709 Y′CbCr, float64 on 0..1"
    min_side = BLOCK

    def identity(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"psnr_hvsm": version("psnr_hvsm"), "backend": "numpy", "numpy": np.__version__,
                "channel": "Y′ full-range BT.709, 0..1", "padding": "edge replicated to a multiple of 8"}

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        _check(reference, "reference", self.min_side)
        _check(test, "test", self.min_side)
        check_same_shape("psnr-hvs-m", reference, test)
        return {"psnr_hvs_m": psnr_hvs_m(luma_blocks(reference), luma_blocks(test))}

    def describe(self) -> str:
        return "PSNR-HVS-M in dB (Ponomarenko et al. 2007) through psnr_hvsm's NumPy backend"
