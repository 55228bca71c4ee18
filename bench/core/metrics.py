"""Per-image quality metrics for 8-bit RGB images: PSNR, PSNR in Y′CbCr, and MS-SSIM.

Both follow the conventions of CompressAI's published results: they are computed on the 8-bit
(rounded) images with a data range of 255. MS-SSIM is the Wang et al. (2003) definition with the
defaults of ``pytorch_msssim.ms_ssim`` (the implementation CompressAI uses), computed here in
float64 and with the reference-only work done once per reference image (:class:`MsSsimReference`).
PSNR per Y′CbCr channel (:func:`psnr_ycbcr`) is the video-coding view of the same error, where a
4:2:0 codec's chroma loss shows separately from its luma loss.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import MetricError

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that filter images, so that importing this module (PSNR,
# MS-SSIM dB) does not: the core and analysis wings stay free of torch at import time.

__all__ = [
    "MS_SSIM_MIN_SIDE",
    "MsSsimReference",
    "ms_ssim",
    "ms_ssim_db",
    "psnr",
    "psnr_ycbcr",
]

DATA_RANGE = 255.0
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1 = 0.01
K2 = 0.03
SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = (WINDOW_SIZE - 1) * 2 ** (len(SCALE_WEIGHTS) - 1)
"""MS-SSIM needs the smaller image side to be strictly larger than this (160)."""

#: BT.709 luma weights (ITU-R BT.709-6, item 3.2), exact: Y′ = KR·R′ + KG·G′ + KB·B′.
KR, KB = Fraction(2126, 10000), Fraction(722, 10000)
KG = 1 - KR - KB
#: Full-range BT.709 R′G′B′ → Y′CbCr on the 0..255 scale, without offsets (they cancel in an error),
#: exact: Cb = (B′ − Y′) / (2·(1 − KB)), Cr = (R′ − Y′) / (2·(1 − KR)).
RGB_TO_YCBCR: tuple[tuple[Fraction, ...], ...] = (
    (KR, KG, KB),
    (-KR / (2 * (1 - KB)), -KG / (2 * (1 - KB)), Fraction(1, 2)),
    (Fraction(1, 2), -KG / (2 * (1 - KR)), -KB / (2 * (1 - KR))),
)
#: Weights of the combined PSNR-YUV, (6·Y + U + V) / 8: the common-test-conditions average of video coding.
YUV_WEIGHTS = (6.0, 1.0, 1.0)

_C1 = (K1 * DATA_RANGE) ** 2
_C2 = (K2 * DATA_RANGE) ** 2
_BATCH_MAX_PIXELS = 1 << 16  # maps up to this size are filtered all channels at once
_BLOCK_BYTES = 1 << 20  # larger maps are filtered by blocks of rows of about this size (float64)
_BLOCK_MIN_ROWS = 16


def _check_image(image: np.ndarray, name: str) -> None:
    """Raise MetricError unless ``image`` is an H×W×3 uint8 array."""
    if not isinstance(image, np.ndarray):
        raise MetricError(f"{name} must be a numpy array, got {type(image).__name__}.")
    if image.dtype != np.uint8:
        raise MetricError(
            f"{name} must be 8-bit (dtype uint8), got dtype {image.dtype}; "
            "round and clip reconstructions to 0..255 before scoring."
        )
    if image.ndim != 3 or image.shape[2] != 3:
        raise MetricError(
            f"{name} must be an RGB image of shape (H, W, 3), got shape {image.shape}."
        )


def _check_pair(reference: np.ndarray, test: np.ndarray) -> None:
    """Raise MetricError unless both images are valid and have the same shape."""
    _check_image(reference, "reference")
    _check_image(test, "test")
    if reference.shape != test.shape:
        raise MetricError(
            f"reference and test images differ in shape: {reference.shape} vs {test.shape}."
        )


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two 8-bit RGB images.

    The squared error is summed exactly in integers over all pixels and channels, then divided in
    float64; identical images give ``math.inf``.
    """
    _check_pair(reference, test)
    diff = reference.astype(np.int16) - test.astype(np.int16)
    flat = diff.reshape(-1).astype(np.int64)
    return _psnr_of_mse(int(np.dot(flat, flat)) / flat.size)


def _psnr_of_mse(mse: float) -> float:
    return math.inf if mse == 0.0 else 10.0 * math.log10(DATA_RANGE**2 / mse)


def psnr_ycbcr(reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
    """PSNR in dB of the Y′, Cb and Cr channels of two 8-bit RGB images, PSNR-YUV, and RGB PSNR.

    Both images are converted with the full-range BT.709 matrix (:data:`RGB_TO_YCBCR`: peak 255
    for Y′, chroma spanning ±127.5) without rounding to 8-bit Y′CbCr, so the channels measure the
    codec's error and nothing of a second quantisation; the mean squared errors are exact.
    ``psnr_yuv`` is (6·PSNR-Y + PSNR-U + PSNR-V) / 8. ``psnr`` is :func:`psnr`'s value, from the same
    sums (their trace), so a row's PSNRs take one pass over the image. Keys: ``psnr``, ``psnr_y``,
    ``psnr_u``, ``psnr_v``, ``psnr_yuv``.
    """
    _check_pair(reference, test)
    # The channels' errors are linear in the RGB error d, so their mean squares are the diagonal of
    # M·E[d dᵀ]·Mᵀ. The sums of d dᵀ are integers below 2⁵³ for any image under 10¹¹ pixels (float64
    # adds them exactly in any order); the 3×3 products are then exact fractions, so an error that
    # leaves a channel untouched (a grey error has no chroma) gives exactly zero there.
    diff = (reference.astype(np.float64) - test.astype(np.float64)).reshape(-1, 3)
    sums = [[int(value) for value in row] for row in (diff.T @ diff).tolist()]
    count = diff.shape[0]
    mse = [sum(m[i] * m[j] * sums[i][j] for i in range(3) for j in range(3)) / count for m in RGB_TO_YCBCR]
    y, u, v = (_psnr_of_mse(float(m)) for m in mse)
    weights = YUV_WEIGHTS
    combined = (weights[0] * y + weights[1] * u + weights[2] * v) / sum(weights)
    rgb = _psnr_of_mse((sums[0][0] + sums[1][1] + sums[2][2]) / diff.size)
    return {"psnr": rgb, "psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": combined}


def ms_ssim_db(value: Any) -> Any:
    """MS-SSIM expressed in dB, ``-10·log10(1 − MS-SSIM)``: the one definition in the harness.

    A Python number gives a float (1 gives ``math.inf``); an array, a sequence or a NumPy scalar
    gives the element-wise NumPy result (float64).
    """
    if type(value) in (float, int):
        if value >= 1.0:
            return math.inf
        return -10.0 * math.log10(1.0 - value)
    return -10.0 * np.log10(1.0 - np.asarray(value, dtype=np.float64))


def _gaussian_window() -> list[float]:
    """The 1-D Gaussian window as pytorch_msssim builds it: computed and normalised in float32.

    Its weights, used here in float64, sum to 1 − 3.1e-8. That matters: a window normalised in
    float64 moves MS-SSIM by up to ~5e-6 on real images, so pytorch_msssim's weights are kept.
    """
    import torch

    coords = torch.arange(WINDOW_SIZE, dtype=torch.float32) - WINDOW_SIZE // 2
    window = torch.exp(-(coords**2) / (2 * WINDOW_SIGMA**2))
    return (window / window.sum()).tolist()


@functools.cache
def _window() -> tuple[float, ...]:
    return tuple(_gaussian_window())


def _row_blocks(out_height: int, width: int) -> list[slice]:
    """Output-row ranges of about ``_BLOCK_BYTES`` of float64 each (a whole map when it is small).

    Filtering a 768×512 float64 map (3 MiB) in one go streams each of its 22 shifted adds through
    memory, as the map outgrows a core's L2 cache; a block of rows stays nearer. Blocks of 1 MiB scored
    a Kodak reconstruction in 40 ms against 48 ms for 256 KiB blocks (fewer, larger torch calls; one
    process or two at once, 2-core AMD EPYC VM, 20 interleaved rounds); the sums are the same either way.
    """
    rows = max(_BLOCK_MIN_ROWS, _BLOCK_BYTES // (8 * width))
    return [slice(start, min(start + rows, out_height)) for start in range(0, out_height, rows)]


def _blur_block(maps: torch.Tensor, gain: float, out: torch.Tensor) -> None:
    """Write into ``out`` ``gain`` times the "valid" separable Gaussian filter of (..., H, W) ``maps``.

    In-place shifted-slice accumulation, along H first and then along W, as pytorch_msssim filters.
    """
    import torch

    window = _window()
    height, width = maps.shape[-2:]
    taps = [gain * w for w in window]
    n = WINDOW_SIZE
    along_h = torch.mul(maps[..., : height - n + 1, :], taps[0])
    for k in range(1, n):
        along_h.add_(maps[..., k : height - n + 1 + k, :], alpha=taps[k])
    torch.mul(along_h[..., : width - n + 1], window[0], out=out)
    for k in range(1, n):
        out.add_(along_h[..., k : width - n + 1 + k], alpha=window[k])


def _blur(maps: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """``gain`` times the separable Gaussian filter of (..., H, W) maps, "valid" region only.

    The output is ``WINDOW_SIZE - 1`` smaller along H and W. Filtered by blocks of rows
    (:func:`_row_blocks`); each output value is the same sum in the same order as a whole-map pass.
    """
    height, width = maps.shape[-2:]
    n = WINDOW_SIZE
    out = maps.new_empty((*maps.shape[:-2], height - n + 1, width - n + 1))
    for rows in _row_blocks(height - n + 1, width):
        _blur_block(maps[..., rows.start : rows.stop + n - 1, :], gain, out[..., rows, :])
    return out


def _downsample(planes: torch.Tensor) -> torch.Tensor:
    """2×2 average pooling of a (C, H, W) tensor as pytorch_msssim does it.

    pytorch_msssim calls ``avg_pool2d`` with a padding of 1 along each odd dimension; the zero
    padding counts in the average, and only the leading pad is ever inside a window. So an odd
    dimension gets one leading zero row/column and its first output row/column is half-weighted.
    Exact in float64.
    """
    import torch.nn.functional as F

    pad_h, pad_w = planes.shape[1] % 2, planes.shape[2] % 2
    if pad_h or pad_w:
        planes = F.pad(planes, (pad_w, 0, pad_h, 0))
    pairs = planes[:, 0::2] + planes[:, 1::2]
    return (pairs[:, :, 0::2] + pairs[:, :, 1::2]).mul_(0.25)


def _to_planes(image: np.ndarray) -> torch.Tensor:
    """An H×W×3 uint8 array as a contiguous (3, H, W) float64 tensor."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float64))


class _Scale:
    """One scale of the reference pyramid and what it contributes to every score."""

    __slots__ = ("groups", "mu_x", "sigma_x_sq_c2", "x")

    def __init__(self, x: torch.Tensor) -> None:
        channels, height, width = x.shape
        # Large maps one channel at a time (they stay in cache), small ones all at once (fewer calls).
        if height * width > _BATCH_MAX_PIXELS:
            self.groups = [slice(c, c + 1) for c in range(channels)]
        else:
            self.groups = [slice(0, channels)]
        import torch

        self.x = x
        self.mu_x = torch.cat([_blur(x[group]) for group in self.groups])
        # σx² + C2, the reference part of the contrast-structure denominator.
        self.sigma_x_sq_c2 = torch.cat([_blur(x[group] * x[group]) for group in self.groups])
        self.sigma_x_sq_c2.addcmul_(self.mu_x, self.mu_x, value=-1.0).add_(_C2)

    @property
    def nbytes(self) -> int:
        """Bytes of the maps this scale keeps."""
        return sum(t.element_size() * t.nelement() for t in (self.x, self.mu_x, self.sigma_x_sq_c2))

    def factors(self, y: torch.Tensor, with_luminance: bool) -> list[float]:
        """Per channel, mean contrast-structure (with luminance: mean SSIM) of ``y`` at this scale.

        The SSIM terms are computed by blocks of rows (:func:`_row_blocks`), so that the
        test-dependent maps never exist at full size; only the ratio map does, for the same mean.
        """
        import torch

        n = WINDOW_SIZE
        ratio = torch.empty_like(self.mu_x)
        height, width = ratio.shape[-2:]
        for group in self.groups:
            for rows in _row_blocks(height, width + n - 1):
                inputs = slice(rows.start, rows.stop + n - 1)
                self._block_ratio(y[group, inputs], group, rows, with_luminance, ratio[group, rows])
        return ratio.mean(dim=(-2, -1)).tolist()

    def _block_ratio(
        self, y: torch.Tensor, group: slice, rows: slice, with_luminance: bool, out: torch.Tensor
    ) -> None:
        """Write into ``out`` the cs (or SSIM) map of output ``rows``, from ``y``'s input rows."""
        import torch

        x = self.x[group, rows.start : rows.stop + WINDOW_SIZE - 1]
        mu_x, mu_y = self.mu_x[group, rows], _blur(y)
        # cs = (2σxy + C2) / (σx² + σy² + C2); σxy = E[xy] − μxμy, σy² = E[y²] − μy².
        numerator = _blur(x * y, gain=2.0)
        numerator.addcmul_(mu_x, mu_y, value=-2.0).add_(_C2)
        denominator = _blur(y * y)
        denominator.addcmul_(mu_y, mu_y, value=-1.0).add_(self.sigma_x_sq_c2[group, rows])
        torch.div(numerator, denominator, out=out)
        if with_luminance:
            out.mul_((2.0 * mu_x * mu_y + _C1) / (mu_x * mu_x + mu_y * mu_y + _C1))


class MsSsimReference:
    """MS-SSIM against one fixed reference image, for scoring many test images.

    The reference pyramid and its filtered mean and variance at every scale are computed once here;
    :meth:`score` then filters only the three test-dependent maps per channel and scale. The
    definition is that of ``pytorch_msssim.ms_ssim(x, y, data_range=255)`` (window 11, σ 1.5,
    K = (0.01, 0.03), five scales, "valid" filtering, its pooling of odd sizes, relu of each
    factor, its float32-normalised window), computed in float64: it equals pytorch_msssim on float64
    tensors to ~1e-13, and is free of the float32 rounding that moves pytorch_msssim on float32
    tensors by up to ~5e-5 on real images.

    Parameters
    ----------
    reference : np.ndarray
        H×W×3 uint8 RGB image whose smaller side exceeds ``MS_SSIM_MIN_SIDE`` (160).
    """

    def __init__(self, reference: np.ndarray) -> None:
        _check_image(reference, "reference")
        height, width = reference.shape[:2]
        if min(height, width) <= MS_SSIM_MIN_SIDE:
            raise MetricError(
                f"MS-SSIM needs both image sides larger than {MS_SSIM_MIN_SIDE} pixels "
                f"({len(SCALE_WEIGHTS)} scales with an {WINDOW_SIZE}-tap window); "
                f"got {height}×{width} (H×W)."
            )
        self.shape: tuple[int, ...] = reference.shape
        self._reference = reference.copy()
        x = _to_planes(reference)
        self._scales: list[_Scale] = []
        for level in range(len(SCALE_WEIGHTS)):
            if level:
                x = _downsample(x)
            self._scales.append(_Scale(x))

    @property
    def nbytes(self) -> int:
        """Bytes this reference keeps: the image and, at every scale, its maps (what a cache of references counts)."""
        return self._reference.nbytes + sum(scale.nbytes for scale in self._scales)

    def score(self, test: np.ndarray) -> float:
        """MS-SSIM of ``test`` (same shape as the reference, uint8 RGB) against the reference."""
        _check_image(test, "test")
        if test.shape != self.shape:
            raise MetricError(
                f"test image shape {test.shape} differs from the reference shape {self.shape}."
            )
        if np.array_equal(test, self._reference):
            return 1.0  # exact by definition; the float path may round a hair below 1
        last = len(self._scales) - 1
        # factors[level][channel]: relu(mean cs) at the first scales, relu(mean ssim) at the last.
        factors = np.empty((len(self._scales), 3), dtype=np.float64)
        y = _to_planes(test)
        for level, scale in enumerate(self._scales):
            if level:
                y = _downsample(y)
            factors[level] = scale.factors(y, level == last)
        factors = np.maximum(factors, 0.0)
        weights = np.asarray(SCALE_WEIGHTS, dtype=np.float64)[:, None]
        per_channel = np.prod(factors**weights, axis=0)
        return float(per_channel.mean())


def ms_ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Multi-scale SSIM of two 8-bit RGB images (data range 255), mean over the three channels.

    Equivalent to ``MsSsimReference(reference).score(test)``; use that class directly to score many
    test images against one reference.
    """
    _check_pair(reference, test)
    return MsSsimReference(reference).score(test)
