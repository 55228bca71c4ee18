"""Per-call time of MS-SSIM on one 768×512 image at one thread: pytorch_msssim vs bench.core.metrics.

Usage: python benchmarks/msssim_speed.py [--image PATH] [--repeats N]

Without --image it uses $BENCH_KODAK_DIR/kodim01.png, or a synthetic 512×768 image. The test image
is a JPEG (quality 50) round trip of it. The methods are timed interleaved (one call of each per
round, after discarded warm-up calls), so that a busy machine slows them alike; the median of the
rounds is printed with its spread (min–max), and a warning when the spread is large. "whole maps"
is bench.core.metrics with its row blocks turned off (each map filtered in one go, as it was before
the blocks): the same sums, with a working set larger than a 2 MiB L2 cache.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.core import metrics
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


def time_interleaved(
    methods: dict[str, Callable[[], object]], rounds: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Wall-clock seconds of each method over ``rounds`` rounds of one call each, after warm-ups."""
    for _ in range(warmup):
        for fn in methods.values():
            fn()
    times: dict[str, list[float]] = {label: [] for label in methods}
    for _ in range(rounds):
        for label, fn in methods.items():
            start = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - start)
    return times


@contextmanager
def whole_maps() -> Iterator[None]:
    """bench.core.metrics with its row blocks turned off: every map filtered in one go."""
    saved = metrics._BLOCK_BYTES
    metrics._BLOCK_BYTES = 1 << 62
    try:
        yield
    finally:
        metrics._BLOCK_BYTES = saved


def in_whole_maps(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run under :func:`whole_maps`."""

    def call() -> object:
        with whole_maps():
            return fn()

    return call


def report(label: str, times: list[float]) -> float:
    median = statistics.median(times)
    low, high = min(times), max(times)
    line = f"{label:<52} median {median * 1e3:6.1f} ms  (min {low * 1e3:.1f}, max {high * 1e3:.1f})"
    if high > 1.5 * low:
        line += "   WARNING: large spread, machine busy?"
    print(line)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, help="reference image (default: kodim01 or synthetic)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (one call per method)")
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
    with whole_maps():
        prepared_whole = MsSsimReference(reference)
    score_label = "MsSsimReference.score (float64, row blocks)"
    whole_label = "MsSsimReference.score, whole maps"
    pt_label = "pytorch_msssim.ms_ssim (float32)"
    plane = torch.from_numpy(reference[None, :, :, 0].astype(np.float64))
    times = time_interleaved(
        {
            score_label: lambda: prepared.score(test),
            whole_label: in_whole_maps(lambda: prepared_whole.score(test)),
            pt_label: lambda: pt_ms_ssim(x, y, data_range=255),
            "MsSsimReference(reference) (row blocks)": lambda: MsSsimReference(reference),
            "MsSsimReference(reference), whole maps": in_whole_maps(lambda: MsSsimReference(reference)),
            "metrics.ms_ssim (one-shot)": lambda: ms_ssim(reference, test),
            "_blur of one channel (row blocks)": lambda: metrics._blur(plane),
            "_blur of one channel, whole map": in_whole_maps(lambda: metrics._blur(plane)),
        },
        args.repeats,
    )
    medians = {label: report(label, values) for label, values in times.items()}
    score_time = medians[score_label]
    print(
        f"score() speed-up: {medians[pt_label] / score_time:.2f}× over pytorch_msssim, "
        f"{medians[whole_label] / score_time:.2f}× over whole maps"
    )
    ours = prepared.score(test)
    theirs = float(pt_ms_ssim(x, y, data_range=255))
    whole = prepared_whole.score(test)
    print(f"MS-SSIM: ours {ours:.9f}, pytorch_msssim {theirs:.9f}, difference {ours - theirs:+.2e}")
    print(f"row blocks vs whole maps: {ours!r} vs {whole!r} ({'identical' if ours == whole else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
