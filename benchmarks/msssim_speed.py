"""Per-call time of MS-SSIM on one 768×512 image at one thread: pytorch_msssim vs bench.core.metrics.

Usage: python benchmarks/msssim_speed.py [--image PATH] [--repeats N]

Without --image it uses $BENCH_KODAK_DIR/kodim01.png, or a synthetic 512×768 image. The test image
is a JPEG (quality 50) round trip of it. Warm-up calls are discarded; the median of the repeats is
printed with its spread (min–max), and a warning when the spread is large.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.core.metrics import MsSsimReference, ms_ssim


def load_reference(path: Path | None) -> tuple[np.ndarray, str]:
    """The reference image and a description of where it came from."""
    if path is None:
        kodak = os.environ.get("BENCH_KODAK_DIR")
        if kodak and (Path(kodak) / "kodim01.png").is_file():
            path = Path(kodak) / "kodim01.png"
    if path is not None:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB")), str(path)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:768]
    base = 128 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    image = np.stack([base, np.roll(base, 7, axis=1), 255 - base], axis=-1)
    image += rng.normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), "synthetic 512×768"


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` discarded calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    low, high = min(times), max(times)
    line = f"{label:<46} median {median * 1e3:6.1f} ms  (min {low * 1e3:.1f}, max {high * 1e3:.1f})"
    if high > 1.5 * low:
        line += "   WARNING: large spread, machine busy?"
    print(line)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, help="reference image (default: kodim01 or synthetic)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per method")
    args = parser.parse_args()

    from importlib.metadata import version

    from pytorch_msssim import ms_ssim as pt_ms_ssim

    torch.set_num_threads(1)
    reference, source = load_reference(args.image)
    test = jpeg_round_trip(reference, 50)
    height, width = reference.shape[:2]
    print(f"image: {source} ({width}×{height}), test = JPEG q50")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"pytorch_msssim {version('pytorch-msssim')}, numpy {np.__version__}; "
        f"cpu {platform.processor() or platform.machine()}, os.cpu_count {os.cpu_count()}, "
        f"torch threads {torch.get_num_threads()}, load avg {os.getloadavg()[0]:.2f}"
    )

    def as_tensor(image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None]

    x, y = as_tensor(reference), as_tensor(test)
    prepared = MsSsimReference(reference)
    pt_time = report(
        "pytorch_msssim.ms_ssim (float32)",
        time_calls(lambda: pt_ms_ssim(x, y, data_range=255), args.repeats),
    )
    report(
        "bench.core.metrics.MsSsimReference(reference)",
        time_calls(lambda: MsSsimReference(reference), args.repeats),
    )
    score_time = report(
        "bench.core.metrics.MsSsimReference.score (float64)",
        time_calls(lambda: prepared.score(test), args.repeats),
    )
    report(
        "bench.core.metrics.ms_ssim (one-shot)",
        time_calls(lambda: ms_ssim(reference, test), args.repeats),
    )
    print(f"score() speed-up over pytorch_msssim: {pt_time / score_time:.1f}×")
    ours = prepared.score(test)
    theirs = float(pt_ms_ssim(x, y, data_range=255))
    print(f"MS-SSIM: ours {ours:.9f}, pytorch_msssim {theirs:.9f}, difference {ours - theirs:+.2e}")


if __name__ == "__main__":
    main()
