"""WebP, JPEG 2000 and AVIF through Pillow: the classical anchors learned codecs are compared with.

Each codec writes the whole file into memory (container included, so bpp counts it) and decodes
those bytes with Pillow. Settings follow what papers use for these anchors and are recorded in
``identity()`` with the library versions:

* ``webp``: lossy libwebp, ``method=6`` (slowest, best), quality sweep, 4:2:0 (lossy WebP has no other).
* ``jpeg2000``: OpenJPEG, irreversible 9/7 wavelet, irreversible colour transform (``mct=1``), one
  quality layer at a target compression ratio (``ratio24`` = 24:1 = 1 bpp for 8-bit RGB), raw J2K
  codestream (no JP2 boxes).
* ``avif`` / ``avif-444``: libavif with libaom (AV1 intra), speed 6 (libavif's default; slower
  speeds are better and much slower), ``tune=psnr`` (libavif's default is ssim), one tile, one
  thread, full-range BT.601 YCbCr (Pillow's choice), 4:2:0 or 4:4:4.

Every encoder and decoder runs on one thread, so timings compare with other single-thread codecs.

Payload-only size: :meth:`Coder.verify` returns ``payload_bytes`` — the coded image data without
the container (:mod:`bench.core.containers`): the WebP ``VP8 `` chunk, the J2K codestream after its main
header, the AVIF ``mdat`` box contents.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import PIL
from PIL import Image, features

from bench.core.codec import Codec, Coder
from bench.core.containers import j2k_payload_bytes, mdat_payload_bytes, payload_fields, webp_payload_bytes
from bench.core.errors import CodecError
from bench.core.registry import register

QUALITY_LABEL = re.compile(r"q(\d{1,3})")
RATIO_LABEL = re.compile(r"ratio(\d{1,5})")

WEBP_METHOD = 6
WEBP_QUALITIES = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)
#: Compression ratios against 24-bit RGB: 240:1 = 0.1 bpp … 12:1 = 2 bpp.
SEARCH_RATIO_MAX = 2400
J2K_RATIOS = (240, 160, 128, 96, 64, 48, 32, 24, 20, 16, 12)
AVIF_SPEED = 6
AVIF_QUALITIES = (10, 15, 20, 30, 40, 50, 60, 70, 80, 85)


# --- coders -------------------------------------------------------------------------------------


class PillowCoder(Coder):
    """One operating point of a Pillow format: save to memory with fixed options, open the bytes."""

    def __init__(self, point: str, pillow_format: str, options: Mapping[str, Any],
                 payload: Callable[[bytes], int]) -> None:
        self.point = point
        self.pillow_format = pillow_format
        self.options = dict(options)
        self.payload = payload

    def encode(self, image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(buffer, self.pillow_format, **self.options)
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data), formats=[self.pillow_format]) as img:
            return np.asarray(img.convert("RGB"))

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        return payload_fields(data, self.payload)


class AvifCoder(PillowCoder):
    """AVIF decoding on one thread as well (Pillow's decoder otherwise uses every core)."""

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import AvifImagePlugin

        previous = AvifImagePlugin.DEFAULT_MAX_THREADS
        AvifImagePlugin.DEFAULT_MAX_THREADS = 1
        try:
            return super().decode(data)
        finally:
            AvifImagePlugin.DEFAULT_MAX_THREADS = previous


def _number(label: re.Pattern[str], point: str, low: int, high: int, codec: str, example: str) -> int:
    match = label.fullmatch(point)
    if not match or not low <= int(match.group(1)) <= high:
        pattern = label.pattern.split("(")[0]
        raise CodecError(f"{codec} has no operating point {point!r}; use {pattern}{low} … {pattern}{high} "
                         f"(e.g. {example})")
    return int(match.group(1))


def _require(feature: str, codec: str) -> None:
    if not features.check(feature):
        raise CodecError(f"{codec}: this Pillow ({PIL.__version__}) was built without {feature} support; "
                         f"install the pinned pillow wheel (pip install -r requirements.txt)")


# --- codecs -------------------------------------------------------------------------------------


class WebpCodec(Codec):
    """Lossy WebP (libwebp via Pillow), quality 0–100 (labels ``q0`` … ``q100``), 4:2:0."""

    name = "webp"
    deterministic_across_hosts = True  # bit-exact given the library versions in identity()
    columns = ("payload_bytes",)

    def __init__(self, method: int = WEBP_METHOD) -> None:
        _require("webp", self.name)
        self.method = method

    def default_points(self) -> list[str]:
        return [f"q{q}" for q in WEBP_QUALITIES]

    def search_points(self) -> list[str]:
        return [f"q{q}" for q in range(0, 101)]

    def coder(self, point: str) -> PillowCoder:
        quality = _number(QUALITY_LABEL, point, 0, 100, self.name, "q50")
        return PillowCoder(point, "WEBP", {"quality": quality, "method": self.method, "lossless": False},
                           webp_payload_bytes)

    def identity(self) -> dict[str, Any]:
        return {
            "library": "Pillow", "pillow": PIL.__version__, "libwebp": features.version("webp"),
            "lossless": False, "method": self.method, "subsampling": "4:2:0", "container": "RIFF WebP",
        }

    def describe(self) -> str:
        return (f"WebP (libwebp {features.version('webp')} via Pillow {PIL.__version__}), lossy, "
                f"method {self.method}, 4:2:0, q{WEBP_QUALITIES[0]}…q{WEBP_QUALITIES[-1]}")


class Jpeg2000Codec(Codec):
    """JPEG 2000 (OpenJPEG via Pillow), 9/7 wavelet + ICT, one layer at a target ratio (``ratio24`` = 1 bpp)."""

    name = "jpeg2000"
    deterministic_across_hosts = True  # bit-exact given the library versions in identity()
    columns = ("payload_bytes",)

    def __init__(self) -> None:
        _require("jpg_2000", self.name)

    def default_points(self) -> list[str]:
        return [f"ratio{r}" for r in J2K_RATIOS]

    def search_points(self) -> list[str]:
        """Integer compression ratios vs 24-bit RGB from 2400 (0.01 bpp) down to 2 (12 bpp), about 2.4 % apart."""
        steps = 300
        ratios = {round(SEARCH_RATIO_MAX * (2 / SEARCH_RATIO_MAX) ** (k / (steps - 1))) for k in range(steps)}
        return [f"ratio{r}" for r in sorted(ratios, reverse=True)]

    def coder(self, point: str) -> PillowCoder:
        ratio = _number(RATIO_LABEL, point, 1, 10000, self.name, "ratio24 = 1 bpp")
        options = {"quality_mode": "rates", "quality_layers": [ratio], "irreversible": True, "mct": 1,
                   "no_jp2": True}
        return PillowCoder(point, "JPEG2000", options, j2k_payload_bytes)

    def identity(self) -> dict[str, Any]:
        return {
            "library": "Pillow", "pillow": PIL.__version__, "openjpeg": features.version("jpg_2000"),
            "wavelet": "irreversible 9/7", "mct": "ICT (irreversible colour transform)",
            "rate_control": "quality_mode=rates, one layer at the point's compression ratio vs 24-bit RGB",
            "container": "raw J2K codestream (no JP2 boxes)",
            "other": "OpenJPEG defaults: 6 resolution levels (fewer for tiny images), 64x64 code-blocks, "
                     "LRCP, one tile",
        }

    def describe(self) -> str:
        return (f"JPEG 2000 (OpenJPEG {features.version('jpg_2000')} via Pillow {PIL.__version__}), 9/7 + ICT, "
                f"J2K codestream, ratio{J2K_RATIOS[0]}…ratio{J2K_RATIOS[-1]} "
                f"({24 / J2K_RATIOS[0]:g}…{24 / J2K_RATIOS[-1]:g} bpp)")


class AvifCodec(Codec):
    """AVIF (libavif + libaom, AV1 intra) via Pillow, quality 0–100 (labels ``q0`` … ``q100``)."""

    deterministic_across_hosts = True  # bit-exact given the library versions in identity()
    columns = ("payload_bytes",)

    def __init__(self, name: str, subsampling: str) -> None:
        _require("avif", name)
        from PIL import _avif

        if not _avif.encoder_codec_available("aom"):
            raise CodecError(f"{name}: Pillow's libavif has no libaom encoder (it has: {_avif.codec_versions()}); "
                             "install the pinned pillow wheel")
        self.name = name
        self.subsampling = subsampling

    def default_points(self) -> list[str]:
        return [f"q{q}" for q in AVIF_QUALITIES]

    def search_points(self) -> list[str]:
        return [f"q{q}" for q in range(0, 101)]

    def coder(self, point: str) -> AvifCoder:
        quality = _number(QUALITY_LABEL, point, 0, 100, self.name, "q50")
        options = {"quality": quality, "subsampling": self.subsampling, "speed": AVIF_SPEED, "codec": "aom",
                   "max_threads": 1, "autotiling": False, "range": "full", "advanced": {"tune": "psnr"}}
        return AvifCoder(point, "AVIF", options, mdat_payload_bytes)

    def identity(self) -> dict[str, Any]:
        from PIL import AvifImagePlugin

        return {
            "library": "Pillow", "pillow": PIL.__version__, "libavif": features.version("avif"),
            "encoder": "aom", "aom": AvifImagePlugin.get_codec_version("aom"),
            "decoder": "dav1d", "dav1d": AvifImagePlugin.get_codec_version("dav1d"),
            "subsampling": self.subsampling, "speed": AVIF_SPEED, "tune": "psnr", "range": "full",
            "matrix_coefficients": 6,
            "tiles": 1, "threads": 1, "bit_depth": 8, "container": "AVIF (ISO BMFF)",
        }

    def describe(self) -> str:
        from PIL import AvifImagePlugin

        return (f"AVIF (libavif {features.version('avif')}, libaom {AvifImagePlugin.get_codec_version('aom')}, "
                f"via Pillow {PIL.__version__}), AV1 intra, speed {AVIF_SPEED}, tune psnr, {self.subsampling}, "
                f"q{AVIF_QUALITIES[0]}…q{AVIF_QUALITIES[-1]}")


@register("webp", "WebP via Pillow, lossy, method 6, 4:2:0, quality 0…90")
def make_webp(options: Mapping[str, Any]) -> WebpCodec:
    return WebpCodec()


@register("jpeg2000", "JPEG 2000 via Pillow/OpenJPEG, 9/7 wavelet, target ratios 240:1…12:1 (0.1…2 bpp)")
def make_jpeg2000(options: Mapping[str, Any]) -> Jpeg2000Codec:
    return Jpeg2000Codec()


@register("avif", "AVIF via Pillow (libavif + libaom), speed 6, tune psnr, 4:2:0, quality 10…85")
def make_avif(options: Mapping[str, Any]) -> AvifCodec:
    return AvifCodec("avif", "4:2:0")


@register("avif-444", "AVIF via Pillow (libavif + libaom), speed 6, tune psnr, 4:4:4, quality 10…85")
def make_avif_444(options: Mapping[str, Any]) -> AvifCodec:
    return AvifCodec("avif-444", "4:4:4")
