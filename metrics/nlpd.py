"""NLPD: the Normalized Laplacian Pyramid Distance of Laparra, Ballé, Berardino and Simoncelli (2016).

V. Laparra, J. Ballé, A. Berardino and E. P. Simoncelli, "Perceptual image quality assessment using a
normalized Laplacian pyramid", Human Vision and Electronic Imaging (IS&T Electronic Imaging), 2016. The
definition is the authors' released code (``NLP_dist.m``), which the paper's results come from:

* a Laplacian pyramid of 6 levels (5 band-pass levels and the low-pass residual) built with Burt and Adelson's
  5-tap filter [.05 .25 .4 .25 .05] (separable, 5×5): low-pass with edge-including mirror ("symmetric")
  padding and keep every second sample; expand by inserting zeros, ×4, with a 1-pixel replicated border, the
  same filter with zero padding, and the border cropped;
* each level divided, pixel by pixel, by σₖ + (Pₖ ∗ |level|): a constant σₖ plus a weighted sum of the
  neighbours' magnitudes (:data:`SIGMAS`, :data:`DN_FILTERS`, fitted by the authors on the McGill data set);
* the distance: the root mean square of the difference of the two normalized pyramids at each level
  (exponent 2 inside, ½ outside), averaged over the 6 levels.

It is computed here on Y′ of full-range BT.709 Y′CbCr (:data:`bench.core.metrics.RGB_TO_YCBCR`) in float64
on a 0..1 scale (the authors' code expects a grey image between 0 and 1), as JPEG AI's quality-assessment
software computes NLPD: on the Y′ plane of its BT.709 conversion, scaled to 0..1 (that software rounds Y′ to
its internal bit depth first; it is not rounded here). Lower is better; identical images score 0.

pyiqa's ``nlpd`` follows the same code but leaves out the first level's one tap two pixels away (0.0072), and
computes on BT.601 luma by default; JPEG AI's software calls IQA_pytorch's NLPD, a variant with another
pyramid (bilinear expansion, six band-pass levels, no residual) and filters not flipped, whose values are not
this metric's (on Kodak images through Pillow's JPEG at qualities 30 and 75 they were within 3 % of them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.metric import Metric, Scorer, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.metrics import RGB_TO_YCBCR
from bench.core.schema import Column

__all__ = ["DN_FILTERS", "LEVELS", "MIN_SIDE", "SIGMAS", "Nlpd", "luma", "nlpd", "normalized_pyramid"]

#: Levels of the pyramid: 5 band-pass levels and the low-pass residual.
LEVELS = 6
#: The smallest image side: the last low-pass filter then sees a level of at least 2 pixels, so its 2-pixel
#: mirror padding reflects real samples once (the residual is 1 pixel).
MIN_SIDE = 2 ** (LEVELS - 1)
#: Burt and Adelson's 5-tap binomial-like low-pass filter; the 2-D filter is its outer product.
PYRAMID_TAPS = np.array([0.05, 0.25, 0.4, 0.25, 0.05])
#: The divisive normalization's constant of each level.
SIGMAS = (0.0248, 0.0185, 0.0179, 0.0191, 0.0220, 0.2782)
#: The divisive normalization's 5×5 filter of each level, centred, applied by convolution (the kernel
#: flipped, as MATLAB's ``conv2``) with zero padding; only the first level reaches two pixels away.
DN_FILTERS: tuple[np.ndarray, ...] = tuple(
    np.pad(np.array(inner, dtype=np.float64), 1) if np.shape(inner) == (3, 3) else np.array(inner, dtype=np.float64)
    for inner in (
        [[0, 0, 0, 0, 0],
         [0, 0, 0.1011, 0, 0],
         [0, 0.1493, 0, 0.1460, 0.0072],
         [0, 0, 0.1015, 0, 0],
         [0, 0, 0, 0, 0]],
        [[0, 0.0757, 0], [0.1986, 0, 0.1846], [0, 0.0837, 0]],
        [[0, 0.0477, 0], [0.2138, 0, 0.2243], [0, 0.0467, 0]],
        [[0, 0, 0], [0.2503, 0, 0.2616], [0, 0, 0]],
        [[0, 0, 0], [0.2598, 0, 0.2552], [0, 0, 0]],
        [[0, 0, 0], [0.2215, 0, 0.0717], [0, 0, 0]],
    )
)

_LUMA = tuple(float(weight) / 255.0 for weight in RGB_TO_YCBCR[0])


def luma(image: np.ndarray) -> np.ndarray:
    """Y′ of full-range BT.709 Y′CbCr of an H×W×3 uint8 RGB image, float64 on a 0..1 scale."""
    rgb = image.astype(np.float64)
    return _LUMA[0] * rgb[..., 0] + _LUMA[1] * rgb[..., 1] + _LUMA[2] * rgb[..., 2]


def _lowpass(plane: np.ndarray, mode: str) -> np.ndarray:
    """The separable 5×5 pyramid filter, same size; ``mode`` is scipy.ndimage's border rule."""
    from scipy.ndimage import correlate1d

    return correlate1d(correlate1d(plane, PYRAMID_TAPS, axis=0, mode=mode, cval=0.0),
                       PYRAMID_TAPS, axis=1, mode=mode, cval=0.0)


def _reduce(plane: np.ndarray) -> np.ndarray:
    # scipy's "reflect" repeats the edge sample (d c b a | a b c d): MATLAB's "symmetric".
    return _lowpass(plane, "reflect")[::2, ::2]


def _expand(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``coarse`` brought to ``shape`` (twice its size, less one where that size is odd)."""
    padded = np.pad(coarse, 1, mode="edge")
    rows, cols = 2 * padded.shape[0], 2 * padded.shape[1]
    spread = np.zeros((rows, cols))
    spread[::2, ::2] = 4.0 * padded
    smooth = _lowpass(spread, "constant")
    return smooth[2 : 2 + shape[0], 2 : 2 + shape[1]]


def normalized_pyramid(plane: np.ndarray, dn_filters: tuple[np.ndarray, ...] = DN_FILTERS,
                       sigmas: tuple[float, ...] = SIGMAS) -> list[np.ndarray]:
    """The normalized Laplacian pyramid of a 2-D float64 ``plane`` (0..1): :data:`LEVELS` arrays, finest first.

    ``dn_filters`` and ``sigmas`` are the divisive normalization's parameters (one per level; the defaults
    are the paper's).
    """
    from scipy.ndimage import convolve

    levels = []
    current = plane
    for _ in range(LEVELS - 1):
        coarse = _reduce(current)
        levels.append(current - _expand(coarse, current.shape))
        current = coarse
    levels.append(current)
    return [level / (sigma + convolve(np.abs(level), kernel, mode="constant", cval=0.0))
            for level, kernel, sigma in zip(levels, dn_filters, sigmas)]


def _distance(reference: list[np.ndarray], test: list[np.ndarray]) -> float:
    rms = [np.sqrt(np.mean((a - b) ** 2)) for a, b in zip(reference, test)]
    return float(np.mean(rms))


def nlpd(reference: np.ndarray, test: np.ndarray) -> float:
    """NLPD of two 2-D float64 planes of one shape on a 0..1 scale (each side at least :data:`MIN_SIDE`)."""
    return _distance(normalized_pyramid(reference), normalized_pyramid(test))


def _check(image: np.ndarray, name: str) -> None:
    check_rgb8("nlpd", image, name, MIN_SIDE, f"its {LEVELS}-level pyramid")


@register_metric
class Nlpd(Metric):
    """NLPD on Y′ (full-range BT.709), 0..1, the authors' parameters; lower is better."""

    name = "nlpd"
    version = 1
    columns = (Column("nlpd", "float",
                      "Normalized Laplacian Pyramid Distance (Laparra et al. 2016, the authors' NLP_dist "
                      "parameters: 6 levels, RMS per level averaged) on Y′ of full-range BT.709 Y′CbCr in float64 "
                      "on 0..1, as JPEG AI's quality software takes NLPD on Y′; numpy/scipy implementation; "
                      "lower is better, 0 for identical images"),)
    primary = "nlpd"
    higher_is_better = False
    unit = ""
    cost = "cheap"  # about 0.05 s per 768×512 image once the reference's pyramid is built (prepare)
    needs = "Y′ of full-range BT.709 Y′CbCr, float64 on 0..1"
    min_side = MIN_SIDE

    def identity(self) -> dict[str, Any]:
        import scipy

        return {"implementation": "metrics/nlpd.py (numpy/scipy, float64)", "numpy": np.__version__,
                "scipy": scipy.__version__, "channel": "Y′ full-range BT.709, 0..1", "levels": LEVELS}

    def prepare(self, reference: np.ndarray) -> Scorer:
        _check(reference, "reference")
        pyramid = normalized_pyramid(luma(reference))

        def score(test: np.ndarray) -> dict[str, float]:
            _check(test, "test")
            check_same_shape("nlpd", reference, test)
            return {"nlpd": _distance(pyramid, normalized_pyramid(luma(test)))}

        return score

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        return self.prepare(reference)(test)

    def describe(self) -> str:
        return "Normalized Laplacian Pyramid Distance (Laparra et al. 2016), the authors' parameters"
