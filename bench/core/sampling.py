"""The repeatability sample: the images whose rows get more timed values, at every operating point.

A row's time is one value (a long call) or one calibrated loop (a short one); whether that value would
come out the same again is measured on a sample of rows, not on every row: a few images of each
orientation (a codec's speed depends on the image's shape), the same images at every point of every
codec, so each codec × point has its repeatability.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

__all__ = ["SAMPLE_FRACTION", "repeatability_sample"]

SAMPLE_FRACTION = 1 / 8
"""Share of each orientation's images in the sample (at least one of each orientation present)."""


class _Image(Protocol):
    sha256: str
    pixels: np.ndarray


def repeatability_sample(images: Sequence[_Image], fraction: float = SAMPLE_FRACTION) -> list[_Image]:
    """The sampled images: per orientation (landscape, square, portrait), ``max(1, round(n·fraction))``
    of its ``n`` images, the first by pixel hash (fixed for a dataset, unrelated to names or content)."""
    groups: dict[int, list[_Image]] = {}
    for image in images:
        height, width = image.pixels.shape[:2]
        groups.setdefault(int(np.sign(width - height)), []).append(image)
    sample = []
    for _, group in sorted(groups.items()):
        ordered = sorted(group, key=lambda image: image.sha256)
        sample += ordered[: max(1, round(len(ordered) * fraction))]
    return sample
