"""Two modern JPEG encoders beside libjpeg-turbo: MozJPEG and jpegli, quality 5…100, 4:2:0 as ``jpeg``.

Both write baseline-compatible JPEG files that any JPEG decoder reads; bpp counts the whole file and
``verify()`` returns the entropy-coded scan data as ``payload_bytes``, as for ``jpeg``.

* ``mozjpeg``: MozJPEG 4.0.3 through ``jpeglib`` (which ships it compiled without SIMD, so its encode
  times are those of MozJPEG's C code), with MozJPEG's default profile (``jpeg_set_defaults``: progressive
  with optimised scans, trellis quantisation, optimised Huffman tables, its default quantisation tables)
  at the point's quality, 4:2:0. ``jpeglib`` writes to a path only: each encode writes to an in-memory
  file (``memfd``; elsewhere than Linux a temporary file), counted in ``encode_s`` (0.15 ms a call). Decoded by Pillow's libjpeg-turbo, whose decoder MozJPEG
  inherits: the same pixels as MozJPEG's own decoder (tests/test_new_anchors.py checks it).
* ``jpegli``: Google's jpegli through ``pyjpegli`` (jpegli compiled into the wheel), its defaults at the
  point's quality (adaptive quantisation, 4:2:0, sequential), decoded by jpegli's own decoder.

jpegli computes in floating point with CPU-specific SIMD, so its bytes are not promised bit-exact
across hosts; MozJPEG's build here has no SIMD and no runtime dispatch.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench import study
from bench.core.codec import Codec, Coder
from bench.core.containers import jpeg_payload_bytes, payload_fields
from bench.core.errors import CodecError
from bench.core.registry import register

QUALITY_LABEL = re.compile(r"q(\d{1,3})")
#: jpeglib's name of the MozJPEG build it ships (MozJPEG 4.0.3).
MOZJPEG_BUILD = "mozjpeg403"


def quality_of(codec: str, point: str) -> int:
    """The quality of a ``q<1…100>`` label; an unknown label names the valid ones."""
    match = QUALITY_LABEL.fullmatch(point)
    if not match or not 1 <= int(match.group(1)) <= 100:
        raise CodecError(f"{codec} has no operating point {point!r}; use q1 … q100 (e.g. q75)")
    return int(match.group(1))


def _require(module: str, codec: str, pin: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise CodecError(f"{codec} needs {pin.split('==')[0]}: pip install -r requirements.txt (pins {pin})") from None


def written(write: Callable[[str], None]) -> bytes:
    """The bytes ``write(path)`` writes: to an in-memory file where the OS has one (Linux), else a temporary file."""
    if hasattr(os, "memfd_create"):
        descriptor = os.memfd_create("lic-bench-jpeg")
        with open(descriptor, "rb") as file:
            write(f"/proc/self/fd/{descriptor}")
            return file.read()
    with tempfile.TemporaryDirectory(prefix="lic-bench-jpeg-") as folder:
        path = Path(folder) / "image.jpg"
        write(str(path))
        return path.read_bytes()


class JpegFileCoder(Coder):
    """A JPEG encoder at one quality; ``payload_bytes`` is the scan data."""

    def __init__(self, quality: int) -> None:
        self.quality = quality
        self.point = f"q{quality}"

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        return payload_fields(data, jpeg_payload_bytes)


class MozjpegCoder(JpegFileCoder):
    def encode(self, image: np.ndarray) -> bytes:
        import jpeglib

        if jpeglib.version.get() != MOZJPEG_BUILD:  # jpeglib keeps one library per process
            jpeglib.version.set(MOZJPEG_BUILD)
        spatial = jpeglib.from_spatial(np.ascontiguousarray(image))
        return written(lambda path: spatial.write_spatial(path, qt=self.quality))

    def decode(self, data: bytes) -> np.ndarray:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
            return np.asarray(img.convert("RGB"))


class JpegliCoder(JpegFileCoder):
    def encode(self, image: np.ndarray) -> bytes:
        import pyjpegli

        height, width = image.shape[:2]
        return pyjpegli.encode(np.ascontiguousarray(image), width, height, quality=self.quality)

    def decode(self, data: bytes) -> np.ndarray:
        import pyjpegli

        pixels, width, height = pyjpegli.decode(data)
        return np.frombuffer(pixels, np.uint8).reshape(height, width, 3)


class JpegEncoderCodec(Codec):
    """A JPEG encoder at quality 1–100 (labels ``q1`` … ``q100``); by default ``jpeg``'s points."""

    columns = ("payload_bytes",)
    coder_class: type[JpegFileCoder]

    def default_points(self) -> list[str]:
        return list(study.JPEG_POINTS)

    def search_points(self) -> list[str]:
        return [f"q{q}" for q in range(1, 101)]

    def coder(self, point: str) -> JpegFileCoder:
        return self.coder_class(quality_of(self.name, point))


class MozjpegCodec(JpegEncoderCodec):
    """MozJPEG 4.0.3 (jpeglib), its default profile, 4:2:0."""

    name = "mozjpeg"
    deterministic_across_hosts = True  # C code without SIMD or runtime dispatch, given identity()'s versions
    coder_class = MozjpegCoder

    def __init__(self) -> None:
        self.jpeglib = _require("jpeglib", self.name, "jpeglib==1.0.2").__version__

    def identity(self) -> dict[str, Any]:
        from PIL import features

        return {
            "library": "jpeglib", "jpeglib": self.jpeglib, "mozjpeg": "4.0.3", "simd": False,
            "profile": "mozjpeg defaults (JCP_MAX_COMPRESSION: progressive, trellis, optimised Huffman)",
            "subsampling": "4:2:0", "decoder": "Pillow libjpeg-turbo",
            "libjpeg_turbo": features.version("libjpeg_turbo"), "payload": "entropy-coded scan data",
        }

    def describe(self) -> str:
        return f"MozJPEG 4.0.3 (jpeglib {self.jpeglib}, no SIMD), default profile, 4:2:0, q5…q100"


class JpegliCodec(JpegEncoderCodec):
    """jpegli (pyjpegli), its defaults, 4:2:0."""

    name = "jpegli"
    deterministic_across_hosts = False  # floating point with per-CPU SIMD: not promised bit-exact
    coder_class = JpegliCoder

    def __init__(self) -> None:
        self.pyjpegli = _require("pyjpegli", self.name, "pyjpegli==0.3.2").__version__

    def identity(self) -> dict[str, Any]:
        return {
            "library": "pyjpegli", "pyjpegli": self.pyjpegli, "jpegli": f"as bundled in pyjpegli {self.pyjpegli}",
            "settings": "jpegli defaults (adaptive quantisation, sequential)", "subsampling": "4:2:0",
            "decoder": "jpegli", "payload": "entropy-coded scan data",
        }

    def describe(self) -> str:
        return f"jpegli (pyjpegli {self.pyjpegli}), defaults, 4:2:0, decoded by jpegli, q5…q100"


@register("mozjpeg", "MozJPEG 4.0.3 via jpeglib, default profile (progressive, trellis), 4:2:0, quality 5…100")
def make_mozjpeg(options: Mapping[str, Any]) -> MozjpegCodec:
    return MozjpegCodec()


@register("jpegli", "jpegli via pyjpegli, defaults, 4:2:0, quality 5…100")
def make_jpegli(options: Mapping[str, Any]) -> JpegliCodec:
    return JpegliCodec()
