"""How long one looped value of a short call needs to be: the spread of values of 1 call, 10, 20, 50 and
100 ms (pyperf's default) on the same call, taken in turn so that the machine's load hits them alike.

For each codec call it prints, per value length, the median relative to that of 100 ms values and the
coefficient of variation (sd / mean) of the values. When every length spreads alike, the spread is the
machine's, not the loop's, and a longer value buys nothing.

    .venv/bin/python benchmarks/value_length.py --image ../shared/data/kodak/kodim01.png --rounds 15
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.core import registry  # noqa: E402

CALLS = (("jpeg", "q75"), ("webp", "q75"), ("jpeg2000", "ratio24"), ("avif", "q50"), ("heic", "q50"))
LENGTHS = (0.0, 0.01, 0.02, 0.05, 0.1)
"""Seconds a value lasts at least (0: one call, unlooped)."""


def value(fn: Callable[[], object], length: float) -> float:
    """One value: a calibration call, then ⌈length / call⌉ calls timed together, over their number."""
    began = time.perf_counter()
    fn()
    loops = max(1, math.ceil(length / (time.perf_counter() - began))) if length else 1
    began = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - began) / loops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, required=True, help="an RGB image, e.g. Kodak's kodim01.png")
    parser.add_argument("--rounds", type=int, default=15, help="values per length (default: %(default)s)")
    args = parser.parse_args()
    with Image.open(args.image) as img:
        pixels = np.asarray(img.convert("RGB"))
    print(f"{args.image.name}, {args.rounds} values per length, lengths {', '.join(f'{x:g} s' for x in LENGTHS)}")
    print("call | " + " | ".join(f"{x:g} s: median / 0.1 s's, cv" for x in LENGTHS))
    for name, point in CALLS:
        coder = registry.create(name).coder(point)
        data = coder.encode(pixels)
        for side, fn in (("encode", lambda: coder.encode(pixels)), ("decode", lambda: coder.decode(data))):
            fn()  # warm-up
            values: dict[float, list[float]] = {length: [] for length in LENGTHS}
            for _ in range(args.rounds):
                for length in LENGTHS:
                    values[length].append(value(fn, length))
            base = statistics.median(values[0.1])
            cells = [f"{statistics.median(v) / base:.3f}, {statistics.pstdev(v) / statistics.mean(v):.3f}"
                     for v in values.values()]
            print(f"{name} {point} {side} ({1e3 * base:.2f} ms) | " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
