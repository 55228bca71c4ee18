"""Rate search: the setting of a parametric codec whose bit rate on one image is nearest a target.

A codec's :meth:`~bench.core.codec.Codec.search_points` lists its settings lowest rate first (JPEG's q1 … q100).
:func:`nearest_points` encodes the image at as few of them as it can: a bisection for the first setting at or
above each target (bit rates assumed non-decreasing along the list), then every setting within ``window``
steps of it either side, so that a rate that dips by a step or two near the target is still seen. The nearest
is the one with the smallest ``|bpp − target|``, ties going to the lower-rate setting (the earlier one) —
what a search of every setting gives (checked against one in ``tests/test_ratesearch.py``) wherever the rate
is monotonic beyond the window. Every encode is kept, so the targets of one image share them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.core.errors import BenchError

__all__ = ["Hit", "WINDOW", "nearest_points", "parse_targets"]

WINDOW = 2
"""Settings checked on each side of the bisection's bracket."""


@dataclass(frozen=True)
class Hit:
    """The setting nearest a target on one image: its label, its bytes and bit rate."""

    point: str
    bytes: int
    bpp: float


def parse_targets(text: str) -> tuple[float, ...]:
    """``"0.06,0.12,0.25"`` as bit rates (positive, distinct, in the given order); a clear error otherwise."""
    values: list[float] = []
    for item in (part.strip() for part in text.split(",")):
        try:
            value = float(item)
        except ValueError:
            raise BenchError(f"--targets: {item!r} is not a bit rate; give bpp values like 0.06,0.12,0.25") from None
        if not (math.isfinite(value) and value > 0):
            raise BenchError(f"--targets: {item} is not a positive bit rate")
        if value in values:
            raise BenchError(f"--targets: {item} is given twice")
        values.append(value)
    return tuple(values)


def nearest_points(encoded_bytes: Callable[[str], int], points: Sequence[str], targets: Sequence[float],
                   pixels: int, window: int = WINDOW) -> dict[float, Hit]:
    """Per target, the setting of ``points`` (lowest rate first) whose bit rate is nearest it.

    ``encoded_bytes(point)`` encodes the image at ``point`` and returns the bitstream's length; ``pixels`` is
    the image's width × height. Each point is encoded at most once.
    """
    if not points:
        raise BenchError("a rate search needs at least one setting")
    lengths: dict[int, int] = {}

    def bpp(index: int) -> float:
        if index not in lengths:
            lengths[index] = encoded_bytes(points[index])
        return 8.0 * lengths[index] / pixels

    hits: dict[float, Hit] = {}
    last = len(points) - 1
    for target in targets:
        low, high = 0, last
        while low < high:  # the first setting at or above the target (the last when none is)
            middle = (low + high) // 2
            if bpp(middle) < target:
                low = middle + 1
            else:
                high = middle
        near = range(max(0, low - window - 1), min(last, low + window) + 1)
        best = min(near, key=lambda i: (abs(bpp(i) - target), i))
        while best > 0 and bpp(best - 1) == bpp(best):  # a flat run of rates: its first setting, as a full search
            best -= 1
        hits[target] = Hit(points[best], lengths[best], bpp(best))
    return hits
