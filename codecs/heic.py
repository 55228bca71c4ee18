"""HEIC through pillow-heif (libheif + x265): HEVC intra in a HEIF file, 4:2:0 and 4:4:4.

This is x265, a fast production encoder, not the HM reference encoder that "HEVC intra" results in
papers usually mean (CompressAI's ``hm.json``); expect HM to be somewhat better at equal rate. x265
runs with libheif's preset ``slow``, ``tune=psnr`` (no psycho-visual tuning, as for PSNR
anchors), and on one thread: no thread pool, one frame thread, hence no wavefront parallelism.
RGB goes to full-range YCbCr with BT.601 coefficients (pillow-heif's default, written explicitly).

bpp counts the whole HEIF file, whose boxes (``ftyp``, ``meta`` with the HEVC parameter sets,
``mdat``) cost about 400–450 bytes; ``verify()`` returns the ``mdat`` contents as ``payload_bytes``
(:mod:`bench.core.containers`). pillow-heif is imported only when a HEIC codec is built.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.containers import mdat_payload_bytes, payload_fields
from bench.core.errors import CodecError
from bench.core.registry import register

QUALITY_LABEL = re.compile(r"q(\d{1,3})")
QUALITIES = (10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60)
PRESET = "slow"
TUNE = "psnr"
#: x265 parameters passed through libheif's ``x265:`` prefix: everything on the calling thread's encoder.
X265_PARAMS = {"pools": "none", "frame-threads": "1", "wpp": "0"}
#: ITU-T H.273 matrix coefficients 6 (BT.601), full range.
MATRIX_COEFFICIENTS = 6
FULL_RANGE = 1


class HeicCoder(Coder):
    """One quality of the HEIC encoder; decoding with libde265 on one thread."""

    def __init__(self, quality: int, chroma: int) -> None:
        self.quality = quality
        self.chroma = chroma
        self.point = f"q{quality}"

    def encode(self, image: np.ndarray) -> bytes:
        import pillow_heif

        height, width = image.shape[:2]
        params = {"preset": PRESET, "tune": TUNE, **{f"x265:{k}": v for k, v in X265_PARAMS.items()}}
        buffer = io.BytesIO()
        pillow_heif.encode(
            "RGB", (width, height), np.ascontiguousarray(image).tobytes(), buffer,
            quality=self.quality, chroma=self.chroma, enc_params=params,
            matrix_coefficients=MATRIX_COEFFICIENTS, full_range_flag=FULL_RANGE, save_nclx_profile=True,
        )
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        import pillow_heif

        previous = pillow_heif.options.DECODE_THREADS
        pillow_heif.options.DECODE_THREADS = 1
        try:
            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        finally:
            pillow_heif.options.DECODE_THREADS = previous
        if heif.mode != "RGB":
            raise CodecError(f"HEIC decoded to mode {heif.mode!r}, expected 'RGB'")
        return np.asarray(heif)

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        return payload_fields(data, mdat_payload_bytes)


class HeicCodec(Codec):
    """HEIC (pillow-heif: libheif + x265), quality 0–100 (labels ``q0`` … ``q100``)."""

    deterministic_across_hosts = True  # bit-exact given the library versions in identity()
    columns = ("payload_bytes",)

    def __init__(self, name: str, chroma: int) -> None:
        try:
            import pillow_heif
        except ImportError:
            raise CodecError(f"{name} needs pillow-heif: pip install -r requirements.txt "
                             "(pins pillow-heif==1.8.1)") from None
        info = pillow_heif.libheif_info()
        if "x265" not in info.get("encoders", {}):
            raise CodecError(f"{name}: this pillow-heif has no x265 encoder (encoders: {info.get('encoders')}); "
                             "install the pinned pillow-heif wheel")
        self.name = name
        self.chroma = chroma

    def default_points(self) -> list[str]:
        return [f"q{q}" for q in QUALITIES]

    def search_points(self) -> list[str]:
        return [f"q{q}" for q in range(0, 101)]

    def coder(self, point: str) -> HeicCoder:
        match = QUALITY_LABEL.fullmatch(point)
        if not match or not 0 <= int(match.group(1)) <= 100:
            raise CodecError(f"{self.name} has no operating point {point!r}; use q0 … q100 (e.g. q30)")
        return HeicCoder(int(match.group(1)), self.chroma)

    def _versions(self) -> dict[str, str]:
        import pillow_heif

        info = pillow_heif.libheif_info()
        return {"pillow_heif": pillow_heif.__version__, "libheif": info["libheif"],
                "x265": info["encoders"]["x265"], "libde265": info["decoders"].get("libde265", "")}

    def identity(self) -> dict[str, Any]:
        return {
            "library": "pillow-heif", **self._versions(),
            "chroma": f"4:{'2:0' if self.chroma == 420 else '4:4'}", "preset": PRESET, "tune": TUNE,
            "x265_params": dict(X265_PARAMS), "matrix_coefficients": MATRIX_COEFFICIENTS,
            "full_range": bool(FULL_RANGE), "bit_depth": 8, "decode_threads": 1,
            "container": "HEIF (ISO BMFF), nclx colour box",
            "note": "x265, not the HM reference encoder",
        }

    def describe(self) -> str:
        versions = self._versions()
        chroma = "4:2:0" if self.chroma == 420 else "4:4:4"
        return (f"HEIC ({versions['x265']} via libheif {versions['libheif']}, preset {PRESET}, tune {TUNE}, "
                f"1 thread, {chroma}; not the HM reference encoder), q{QUALITIES[0]}…q{QUALITIES[-1]}")


@register("heic", "HEIC via pillow-heif (libheif + x265, not HM), preset slow, tune psnr, 4:2:0, quality 10…60")
def make_heic(options: Mapping[str, Any]) -> HeicCodec:
    return HeicCodec("heic", 420)


@register("heic-444", "HEIC via pillow-heif (libheif + x265, not HM), preset slow, tune psnr, 4:4:4, quality 10…60")
def make_heic_444(options: Mapping[str, Any]) -> HeicCodec:
    return HeicCodec("heic-444", 444)
