"""IW-SSIM and VIF (pixel domain) in NumPy/SciPy, and FSIMc with the ``piq`` package.

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
on a test image with a flat half. IW-SSIM and VIFp are computed here with separable filters
(``scipy.ndimage.correlate1d``): 0.3 s and about 0.1 s per 768×512 image, where ``piq``'s float64
``conv2d`` took 4.6 and 9 s; ``piq`` is their test's independent reference (IW-SSIM to 1e-9, VIFp to 1e-7
relative, with ``sewar``'s VIFp too). VIF and IW-SSIM compare the test image with the reference in that
order (both are asymmetric: the reference's statistics set the weights); FSIM is symmetric.
"""

from __future__ import annotations

import importlib.metadata
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import MetricError
from bench.core.metric import Metric, Scorer, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.metrics import RGB_TO_YCBCR
from bench.core.schema import Column

if TYPE_CHECKING:
    import torch

__all__ = ["FSIM_MIN_SIDE", "IW_SSIM_MIN_SIDE", "VIF_MIN_SIDE", "Fsim", "IwSsim", "Vif", "iw_ssim", "luma", "vif_p"]

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
    check_rgb8(metric, image, name, min_side)


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


# --- IW-SSIM (the authors' iwssim.m, its defaults) and VIFp (vifp_mscale.m), float64, separable filters ----------

BINOM5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0 * math.sqrt(2.0)  # matlabPyrTools' 'binom5'
SCALE_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def gauss_taps(size: int, sigma: float) -> np.ndarray:
    """The 1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)`` (its 2-D window is the outer product)."""
    taps = np.exp(-((np.arange(size) - (size - 1) / 2) ** 2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _valid(plane: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``filter2(taps' * taps, plane, 'valid')``."""
    from scipy.ndimage import correlate1d

    half = len(taps) // 2
    out = correlate1d(correlate1d(plane, taps, axis=0), taps, axis=1)
    return out[half:-half, half:-half]


def _reduce(plane: np.ndarray) -> np.ndarray:
    """corrDn with 'reflect1' edges (scipy's "mirror": the edge sample is not repeated), every second sample."""
    from scipy.ndimage import correlate1d

    for axis in (0, 1):
        plane = np.take(correlate1d(plane, BINOM5, axis=axis, mode="mirror"),
                        np.arange(0, plane.shape[axis], 2), axis=axis)
    return plane


def _expand(plane: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """upConv: zeros between the samples, the same filter with 'reflect1' edges."""
    from scipy.ndimage import correlate1d

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
    """iwssim.m's information-content weights of one pyramid level (3×3 neighbourhoods plus parent)."""
    from scipy.ndimage import uniform_filter

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
    try:
        inverse = np.linalg.inv(cov)
    except np.linalg.LinAlgError:
        raise MetricError("iw-ssim: the reference has too little structure for IW-SSIM's information weights "
                          "(a singular neighbourhood covariance)") from None
    s = (np.sum((neighbours @ inverse) * neighbours, axis=1) / count).reshape(rows, cols)
    g, vv = g[1 : 1 + rows, 1 : 1 + cols], vv[1 : 1 + rows, 1 : 1 + cols]
    weights = sum(np.log2(1 + ((vv + (1 + g * g) * sigma_nsq) * s * lam + sigma_nsq * vv) / sigma_nsq**2)
                  for lam in scaled)
    weights[weights < tol] = 0.0
    return weights


def iw_ssim(ref: np.ndarray, dist: np.ndarray) -> float:
    """IW-SSIM of 2-D float64 planes (0..255), as iwssim.m with its defaults (5 levels, K = 0.01, 0.03)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    window = gauss_taps(11, 1.5)
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


def vif_p(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float = 2.0, eps: float = 1e-10) -> float:
    """Pixel-domain VIF of 2-D float64 planes, as vifp_mscale.m: 4 scales of Gaussian windows of 17, 9, 5 and
    3 pixels (σ = size / 5), each scale after the first filtered and halved first."""
    num = den = 0.0
    for scale in range(1, 5):
        size = 2 ** (4 - scale + 1) + 1
        taps = gauss_taps(size, size / 5.0)
        if scale > 1:
            ref, dist = _valid(ref, taps)[::2, ::2], _valid(dist, taps)[::2, ::2]
        mu1, mu2 = _valid(ref, taps), _valid(dist, taps)
        s1 = np.maximum(_valid(ref * ref, taps) - mu1 * mu1, 0.0)
        s2 = np.maximum(_valid(dist * dist, taps) - mu2 * mu2, 0.0)
        s12 = _valid(ref * dist, taps) - mu1 * mu2
        g = s12 / (s1 + eps)
        sv = s2 - g * s12
        flat = s1 < eps
        g[flat], sv[flat], s1[flat] = 0.0, s2[flat], 0.0
        blank = s2 < eps
        g[blank], sv[blank] = 0.0, 0.0
        negative = g < 0
        sv[negative], g[negative] = s2[negative], 0.0
        sv = np.maximum(sv, eps)
        num += float(np.sum(np.log10(1.0 + g * g * s1 / (sv + sigma_nsq))))
        den += float(np.sum(np.log10(1.0 + s1 / sigma_nsq)))
    return num / den


class _PairMetric(Metric):
    """A metric of a test image against a reference, both converted by :meth:`_planes` (Y′ by default)."""

    version = 1
    higher_is_better = True
    unit = ""

    def _planes(self, image: np.ndarray) -> np.ndarray:
        """What the metric computes on: Y′ (H×W) by default."""
        return luma(image)

    def _check_reference(self, planes: np.ndarray) -> None:
        """Raise MetricError when the metric is undefined for this reference."""

    def _value(self, test: np.ndarray, reference: np.ndarray) -> float:
        """The metric of ``test`` against ``reference`` (both :meth:`_planes`)."""
        raise NotImplementedError

    def prepare(self, reference: np.ndarray) -> Scorer:
        _check_image(reference, "reference", self.name, self.min_side)
        planes = self._planes(reference)
        self._check_reference(planes)
        column = self.primary

        def scorer(test: np.ndarray) -> dict[str, float]:
            _check_image(test, "test", self.name, self.min_side)
            check_same_shape(self.name, reference, test)
            value = self._value(self._planes(test), planes)
            if not math.isfinite(value):
                raise MetricError(f"{self.name}: the value is {value} for this image pair")
            return {column: value}

        return scorer

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        return self.prepare(reference)(test)


class _PlaneMetric(_PairMetric):
    """A metric of Y′ planes computed here (:func:`iw_ssim`, :func:`vif_p`)."""

    function: Any = None

    def identity(self) -> dict[str, Any]:
        return {"implementation": "lic-bench NumPy/SciPy", "numpy": np.__version__, "scipy": _version("scipy"),
                "dtype": "float64"}

    def _value(self, test: np.ndarray, reference: np.ndarray) -> float:
        return type(self).function(reference, test)


class _PiqMetric(_PairMetric):
    """A ``piq`` metric, computed on float64 tensors."""

    def identity(self) -> dict[str, Any]:
        return {"piq": _version("piq"), "torch": _version("torch"), "dtype": "float64"}

    def _compute(self, piq_module: Any, test: torch.Tensor, reference: torch.Tensor) -> float:
        """The metric's value for ``test`` against ``reference`` ((1, C, H, W) float64 tensors)."""
        raise NotImplementedError

    def _value(self, test: np.ndarray, reference: np.ndarray) -> float:
        return self._compute(_piq(), _tensor(test), _tensor(reference))


@register_metric
class IwSsim(_PlaneMetric):
    """Information content weighted SSIM on Y′ (BT.709) (:func:`iw_ssim`)."""

    name = "iw-ssim"
    columns = (Column("iw_ssim", "float", "IW-SSIM (Wang & Li 2011, 5 scales, as iwssim.m) of Y′ of full-range "
                      "BT.709 Y′CbCr, 0..255, float64 (metrics/iqa.py, checked against piq 0.8.0)"),)
    primary = "iw_ssim"
    cost = "moderate"
    needs = "Y′ of full-range BT.709 Y′CbCr, 0..255, float64"
    min_side = IW_SSIM_MIN_SIDE
    function = staticmethod(iw_ssim)


@register_metric
class Vif(_PlaneMetric):
    """Pixel-domain VIF (VIFp) on Y′ (BT.709) (:func:`vif_p`)."""

    name = "vif"
    columns = (Column("vif", "float", "VIFp: pixel-domain multi-scale visual information fidelity (Sheikh & "
                      "Bovik's vifp_mscale, 4 scales, sigma_n^2 = 2; not the wavelet-domain VIF) of Y′ of "
                      "full-range BT.709 Y′CbCr, 0..255, float64 (metrics/iqa.py, checked against piq and sewar)"),)
    primary = "vif"
    cost = "cheap"
    needs = "Y′ of full-range BT.709 Y′CbCr, 0..255, float64"
    min_side = VIF_MIN_SIDE
    function = staticmethod(vif_p)

    def _check_reference(self, plane: np.ndarray) -> None:
        if np.ptp(plane) == 0.0:
            raise MetricError(f"{self.name}: the reference image is flat (one Y′ value); VIF's reference "
                              "information is zero and the ratio is undefined")


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
