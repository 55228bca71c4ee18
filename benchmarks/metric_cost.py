"""What each metric costs: seconds to score one reconstruction of a Kodak image, one process, one torch thread.

Every metric (the built-in PSNR, Y′CbCr PSNR and MS-SSIM, and each plug-in of ``python -m bench metrics``)
scores the same JPEG q50 reconstruction of each image given, in interleaved rounds (each round times every
metric once, in a new order), after one untimed call; the reference's own work (:meth:`Metric.prepare`) is
timed apart, once per image. Prints a Markdown table (median and range over rounds × images) and writes it as
CSV with ``--csv``. Run it on an otherwise idle machine.

    python benchmarks/metric_cost.py ../shared/data/kodak/kodim01.png ../shared/data/kodak/kodim19.png
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core.images import load_rgb  # noqa: E402
from bench.core.metric_registry import create_metric, metric_names  # noqa: E402
from bench.core.metrics import MsSsimReference, psnr, psnr_ycbcr  # noqa: E402


def jpeg_q50(pixels: np.ndarray) -> np.ndarray:
    """The image through Pillow's JPEG at quality 50, 4:2:0."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=50, subsampling=2)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def scorers(pixels: np.ndarray, names: list[str]) -> tuple[dict[str, Callable[[np.ndarray], object]], dict[str, float]]:
    """Per metric, a scorer of reconstructions of ``pixels``, and the seconds its preparation took."""
    prepared: dict[str, Callable[[np.ndarray], object]] = {
        "psnr": lambda recon: psnr(pixels, recon),
        "psnr-ycbcr": lambda recon: psnr_ycbcr(pixels, recon),
    }
    start = time.perf_counter()
    reference = MsSsimReference(pixels)
    prepare_s = {"psnr": 0.0, "psnr-ycbcr": 0.0, "ms-ssim": time.perf_counter() - start}
    prepared["ms-ssim"] = reference.score
    for name in names:
        metric = create_metric(name)
        start = time.perf_counter()
        prepared[name] = metric.prepare(pixels)
        prepare_s[name] = time.perf_counter() - start
    return prepared, prepare_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--metrics", default="", help="plug-in metrics (default: every registered one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    names = [n for n in args.metrics.split(",") if n] or metric_names()
    times: dict[str, list[float]] = {}
    prepares: dict[str, list[float]] = {}
    rng = random.Random(0)
    for path in args.images:
        pixels = load_rgb(path).pixels
        recon = jpeg_q50(pixels)
        prepared, prepare_s = scorers(pixels, names)
        for name, scorer in prepared.items():
            scorer(recon)  # untimed first call
            prepares.setdefault(name, []).append(prepare_s[name])
        order = list(prepared)
        for _ in range(args.rounds):
            rng.shuffle(order)
            for name in order:
                start = time.perf_counter()
                prepared[name](recon)
                times.setdefault(name, []).append(time.perf_counter() - start)
    lines = ["| metric | score [s] median (min–max) | reference prepared [s] |", "|---|---|---|"]
    rows = []
    for name in sorted(times, key=lambda n: (n not in ("psnr", "psnr-ycbcr", "ms-ssim"), n)):
        values = times[name]
        median = statistics.median(values)
        prep = statistics.median(prepares[name])
        lines.append(f"| {name} | {median:.3f} ({min(values):.3f}–{max(values):.3f}) | {prep:.3f} |")
        rows.append({"metric": name, "score_s": median, "score_min_s": min(values), "score_max_s": max(values),
                     "prepare_s": prep, "images": len(args.images), "rounds": args.rounds})
    print("\n".join(lines))
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
