"""SSIMULACRA 2 (J. Sneyers, Cloudinary, 2022–2023), through the ``ssimulacra2`` package (a NumPy/SciPy port).

SSIMULACRA 2 is libjxl's perceptual metric: both images are read as 8-bit sRGB, converted to linear RGB
(the IEC 61966-2-1 curve) and then to JPEG XL's XYB (opsin absorbance matrix, cube root), shifted to
positive values; at six scales (1:1 to 1:32, each halving done in linear RGB) it computes an SSIM map and two
asymmetric edge maps (ringing/blocking and blurring) on each XYB plane, pools each map with a 1-norm and a
4-norm, and maps a weighted sum of those 108 numbers to a score: 100 for identical images, about 90 for
visually lossless, 50 for medium quality, and negative for very strong distortion. Higher is better.

The reference implementation is libjxl's C++ tool ``ssimulacra2`` (version 2.1, also released standalone
as cloudinary/ssimulacra2). The ``ssimulacra2`` package (Pacidus/py-ssimulacra2) ports it with the same
weights and conversions, in float64, but blurs with ``scipy.ndimage.gaussian_filter`` where the C++ tool
uses a recursive Gaussian in float32, and pads the image's left and right edges by reflection where the C++
blur pads with zeros. Its scores are lower than the C++ tool's: by under 0.5 point at high quality (JPEG
quality 90), about 1 point at medium quality and 2.5 to 5 points at very low quality (JPEG quality 10–20),
on Kodak and on the test images (``tests/test_metric_ssimulacra2.py``).

The port also stops its scales one step earlier than the C++ tool: the tool scores a further half-size scale
as long as the previous one had both sides of at least 8 pixels, the port only while the new one has. Both
score six scales only when the image's smaller side is at least 225 pixels (⌈225/32⌉ = 8); below that the
port scores one scale fewer, and the weights of the missing scale shift onto others, so its score differs
from the tool's by tens of points. Smaller images are therefore refused (:data:`MIN_SIDE`).

The package's API takes image files: the plug-in hands it the two arrays as in-memory PPM files (lossless
8-bit RGB, no colour profile, so read as sRGB, as the C++ tool reads an untagged PNG).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from bench.core.errors import MetricError
from bench.core.metric import Metric, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.schema import Column

__all__ = ["MIN_SIDE", "Ssimulacra2"]

#: The smallest side the port scores as the C++ tool does (six scales); the tool itself accepts 8.
MIN_SIDE = 225


def _package() -> Any:
    try:
        import ssimulacra2
    except ImportError as exc:
        raise MetricError(f"ssimulacra2 needs the ssimulacra2 package ({exc}); pip install ssimulacra2==0.3.0") \
            from None
    return ssimulacra2


def _check(image: np.ndarray, name: str) -> None:
    check_rgb8("ssimulacra2", image, name, MIN_SIDE, "SSIMULACRA 2 (below it the ssimulacra2 package scores fewer "
               "scales than libjxl's tool)")


def _ppm(image: np.ndarray) -> io.BytesIO:
    """``image`` as an in-memory binary PPM file, which the package's ``Image.open`` reads back exactly."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, "RGB").save(buffer, "PPM")
    buffer.seek(0)
    return buffer


@register_metric
class Ssimulacra2(Metric):
    """SSIMULACRA 2 on 8-bit sRGB (XYB, six scales) through the ssimulacra2 package; higher is better."""

    name = "ssimulacra2"
    version = 1
    columns = (Column("ssimulacra2", "float",
                      "SSIMULACRA 2 score (libjxl's metric, v2.1 weights; 100 = identical, higher is better) of "
                      "the 8-bit RGB images read as sRGB, linearised and converted to XYB, through the ssimulacra2 "
                      "package (NumPy/SciPy port, float64): 0–5 points below libjxl's C++ tool, most at low "
                      "quality; images with a side under 225 pixels are refused"),)
    primary = "ssimulacra2"
    higher_is_better = True
    unit = ""
    cost = "moderate"
    needs = "8-bit sRGB RGB (linearised, then XYB), float64"
    min_side = MIN_SIDE

    def identity(self) -> dict[str, Any]:
        import scipy

        return {"ssimulacra2": _package().__version__, "numpy": np.__version__, "scipy": scipy.__version__,
                "input": "8-bit RGB read as sRGB (untagged PPM)"}

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        _check(reference, "reference")
        _check(test, "test")
        check_same_shape("ssimulacra2", reference, test)
        package = _package()
        return {"ssimulacra2": float(package.compute_ssimulacra2(_ppm(reference), _ppm(test)))}

    def describe(self) -> str:
        return "ssimulacra2: SSIMULACRA 2 (XYB, 6 scales; 100 = identical) via the ssimulacra2 package"
