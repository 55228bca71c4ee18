"""JPEG through Pillow (libjpeg-turbo), 4:2:0, as in the reference study."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import PIL
from PIL import Image, features

from bench import study
from bench.core.codec import Codec, Coder
from bench.core.containers import jpeg_payload_bytes, payload_fields
from bench.core.errors import CodecError
from bench.core.registry import register

QUALITY_LABEL = re.compile(r"q(\d{1,3})")


class JpegCoder(Coder):
    def __init__(self, quality: int) -> None:
        self.quality = quality
        self.point = f"q{quality}"

    def encode(self, image: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(buffer, "JPEG", quality=self.quality, subsampling=2)
        return buffer.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        """``payload_bytes``: the entropy-coded scan data (:func:`~bench.core.containers.jpeg_payload_bytes`)."""
        return payload_fields(data, jpeg_payload_bytes)


class JpegCodec(Codec):
    """Pillow JPEG, quality 1–100 (labels ``q1`` … ``q100``), chroma 4:2:0, no optimisation."""

    name = "jpeg"
    deterministic_across_hosts = True  # bit-exact given the library versions in identity()
    columns = ("payload_bytes",)

    def default_points(self) -> list[str]:
        return list(study.JPEG_POINTS)

    def search_points(self) -> list[str]:
        return [f"q{q}" for q in range(1, 101)]

    def coder(self, point: str) -> JpegCoder:
        match = QUALITY_LABEL.fullmatch(point)
        if not match or not 1 <= int(match.group(1)) <= 100:
            raise CodecError(f"jpeg has no operating point {point!r}; use q1 … q100 (e.g. q75)")
        return JpegCoder(int(match.group(1)))

    def identity(self) -> dict[str, Any]:
        return {
            "library": "Pillow",
            "pillow": PIL.__version__,
            "libjpeg_turbo": features.version("libjpeg_turbo"),
            "libjpeg": features.version("jpg"),
            "subsampling": "4:2:0",
            "optimize": False,
            "progressive": False,
            "payload": "entropy-coded scan data",  # rows since payload_bytes was recorded for JPEG
        }

    def describe(self) -> str:
        return f"JPEG (Pillow {PIL.__version__}, libjpeg-turbo {features.version('libjpeg_turbo')}), 4:2:0, q5…q100"


@register("jpeg", "JPEG via Pillow, 4:2:0, quality 5…100")
def make_jpeg(options: Mapping[str, Any]) -> JpegCodec:
    return JpegCodec()
