"""JPEG XL through imagecodecs (libjxl): lossy VarDCT in XYB, a sweep of Butteraugli distances.

``jpegxl`` encodes with libjxl at a fixed effort (7, libjxl's and cjxl's default; option ``effort``)
on one thread, one distance per operating point (``d1`` = distance 1.0, "visually lossless" in
libjxl's terms; ``d25`` is libjxl's largest), and writes a bare codestream (no ISO BMFF container:
cjxl's default for an image without metadata). Decoding is libjxl's, on one thread, to 8-bit RGB.

bpp counts the whole codestream; ``verify()`` returns as ``payload_bytes`` the codestream after its
image header (signature, SizeHeader and default ImageMetadata: 4 to 6 bytes), i.e. the frames.

libjxl computes in floating point with CPU-specific SIMD (Highway's runtime dispatch): its bytes are
not promised bit-exact across CPUs, so rows from another host are measured again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.containers import payload_fields
from bench.core.errors import CodecError
from bench.core.options import Option
from bench.core.registry import register

DISTANCE_LABEL = re.compile(r"d(\d{1,2}(?:\.\d{1,3})?)")
#: Butteraugli distances, lowest rate first: about 0.14 … 3.2 bpp on Kodak.
DISTANCES = (25, 16, 11, 7, 4.5, 3, 2, 1.5, 1, 0.75, 0.5)
EFFORT = 7
SIGNATURE = b"\xff\x0a"


def distance_label(distance: float) -> str:
    """The operating-point label of a distance: ``d1``, ``d0.75``."""
    return f"d{distance:g}"


class JpegXlCoder(Coder):
    """One distance of libjxl's lossy encoder."""

    def __init__(self, distance: float, effort: int) -> None:
        self.distance = distance
        self.effort = effort
        self.point = distance_label(distance)

    def encode(self, image: np.ndarray) -> bytes:
        import imagecodecs

        return imagecodecs.jpegxl_encode(np.ascontiguousarray(image), distance=self.distance, effort=self.effort,
                                         lossless=False, usecontainer=False, numthreads=1)

    def decode(self, data: bytes) -> np.ndarray:
        import imagecodecs

        recon = imagecodecs.jpegxl_decode(data, numthreads=1)
        if recon.dtype != np.uint8 or recon.ndim != 3 or recon.shape[2] != 3:
            raise CodecError(f"JPEG XL decoded to {recon.dtype} {recon.shape}, expected 8-bit RGB")
        return recon

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        return payload_fields(data, jxl_payload_bytes)


class _Bits:
    """JPEG XL's bit reader: least significant bit of each byte first."""

    def __init__(self, data: bytes, start: int) -> None:
        self.data, self.pos = data, 8 * start

    def u(self, count: int) -> int:
        value = 0
        for shift in range(count):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise CodecError("truncated JPEG XL image header")
            value |= ((self.data[byte] >> (self.pos & 7)) & 1) << shift
            self.pos += 1
        return value

    def size(self) -> int:
        """U32(1 + u(9), 1 + u(13), 1 + u(18), 1 + u(30)): a height or width."""
        return 1 + self.u((9, 13, 18, 30)[self.u(2)])


#: SizeHeader's ratio codes: width = height × ratio.
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}


def jxl_image_header(data: bytes) -> tuple[int, int, int]:
    """``(height, width, header bytes)`` of a bare JPEG XL codestream whose ImageMetadata is all default
    (8-bit, sRGB, XYB-encoded, no extra channels: libjxl's choice for an RGB image). The header is the
    signature, SizeHeader and ImageMetadata, padded to a byte (ISO/IEC 18181-1, Annex A)."""
    if data[:2] != SIGNATURE:
        raise CodecError("not a bare JPEG XL codestream (no signature 0xFF0A)")
    bits = _Bits(data, 2)
    if bits.u(1):  # small: multiples of 8 up to 256
        height = 8 * (bits.u(5) + 1)
        ratio = bits.u(3)
        width = 8 * (bits.u(5) + 1) if ratio == 0 else 0
    else:
        height = bits.size()
        ratio = bits.u(3)
        width = bits.size() if ratio == 0 else 0
    if ratio:
        num, den = _RATIOS[ratio]
        width = height * num // den
    if not bits.u(1):
        raise CodecError("JPEG XL ImageMetadata is not all_default (an ICC profile, extra channels …): "
                         "its size is not parsed")
    return height, width, (bits.pos + 7) // 8


def jxl_payload_bytes(data: bytes) -> int:
    """Bytes of a bare JPEG XL codestream after its image header: the frames (headers, TOC, groups)."""
    return len(data) - jxl_image_header(data)[2]


class JpegXlCodec(Codec):
    """JPEG XL (libjxl via imagecodecs), lossy, labels ``d<distance>`` (``d0.1`` … ``d25``)."""

    name = "jpegxl"
    deterministic_across_hosts = False  # floating point with per-CPU SIMD: not promised bit-exact
    columns = ("payload_bytes",)

    def __init__(self, effort: int = EFFORT) -> None:
        try:
            import imagecodecs
        except ImportError:
            raise CodecError("jpegxl needs imagecodecs: pip install -r requirements.txt "
                             "(pins imagecodecs==2025.11.11)") from None
        if not imagecodecs.JPEGXL.available:
            raise CodecError(f"jpegxl: this imagecodecs ({imagecodecs.__version__}) has no libjxl; "
                             "install the pinned imagecodecs wheel")
        if not 1 <= effort <= 10:
            raise CodecError(f"jpegxl: effort {effort} is outside libjxl's 1 … 10 (7 is the default)")
        self.effort = effort

    def default_points(self) -> list[str]:
        return [distance_label(d) for d in DISTANCES]

    def search_points(self) -> list[str]:
        """40 distances from 25 down to 0.1, evenly spaced in log (3 significant digits). libjxl's rate is not
        monotonic in finer steps (a 0.05 grid reversed in 157 of 498 steps on a 160×208 image)."""
        return [distance_label(float(f"{25 * (0.1 / 25) ** (k / 39):.3g}")) for k in range(40)]

    def coder(self, point: str) -> JpegXlCoder:
        match = DISTANCE_LABEL.fullmatch(point)
        if not match or not 0.1 <= float(match.group(1)) <= 25:
            raise CodecError(f"jpegxl has no operating point {point!r}; use d0.1 … d25, a Butteraugli "
                             "distance (e.g. d1)")
        return JpegXlCoder(float(match.group(1)), self.effort)

    def _versions(self) -> dict[str, str]:
        import imagecodecs

        return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version().split()[-1]}

    def identity(self) -> dict[str, Any]:
        return {
            "library": "imagecodecs", **self._versions(), "mode": "lossy (VarDCT, XYB)", "effort": self.effort,
            "rate_control": "Butteraugli distance of the point", "threads": 1, "bit_depth": 8,
            "container": "bare codestream",
        }

    def describe(self) -> str:
        versions = self._versions()
        return (f"JPEG XL (libjxl {versions['libjxl']} via imagecodecs {versions['imagecodecs']}), lossy, "
                f"effort {self.effort}, 1 thread, distances {DISTANCES[0]:g}…{DISTANCES[-1]:g}")


@register("jpegxl", "JPEG XL via imagecodecs (libjxl), lossy, effort 7, distance 25…0.5 (≈0.14…3.2 bpp)",
          options=(Option("effort", int, EFFORT, "libjxl's encoder effort, 1 (fastest) … 10; 7 is its default"),))
def make_jpegxl(options: Mapping[str, Any]) -> JpegXlCodec:
    return JpegXlCodec(options["effort"])
