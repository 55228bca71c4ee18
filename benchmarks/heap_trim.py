"""Does returning freed memory before a timed call (glibc's ``malloc_trim(0)``) make its cost independent of
what the process allocated before?

Under glibc's default heap a learned codec's call maps and page-faults its large activations again, but
how much depends on the heap's state: free chunks that an earlier allocation left behind are reused
without faults. This script times the harness's own coder (the factorized prior on
``../shared/weights``, one thread, the CPU) on Kodak images, each call preceded by one of two histories —

- ``quiet``: nothing between calls (the harness's timing pass, where calls follow calls);
- ``scoring``: the harness's own scoring of a reconstruction (float64 PSNR and MS-SSIM,
  :mod:`bench.core.metrics`), which precedes the next row's RD call when that call is its timed value;
- ``metrics``: a float32 MS-SSIM in torch (pytorch-msssim) on the image, as ``compressai.utils.eval_model``
  computes between its calls, whose freed tensors stay in the heap —

and, for each, with and without ``malloc_trim(0)`` just before the call. For every call it counts minor
page faults (``getrusage``, exact whatever the machine's load) and wall time. The conditions of one image
run interleaved, in an order that rotates from image to image. The history's effect is the difference
between ``metrics`` and ``quiet`` under the same trim setting: trimming removes the dependence if that
difference vanishes.

    .venv/bin/python benchmarks/heap_trim.py --kodak-dir ../shared/data/kodak --images 6 --rounds 3
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from bench.core import registry  # noqa: E402
from bench.core.images import load_rgb  # noqa: E402

POINT = "lambda0.0130"
HISTORIES = ("quiet", "scoring", "metrics")
TRIMS = (False, True)


def _trim() -> None:
    ctypes.CDLL(None).malloc_trim(0)


def _metrics_history(pixels: np.ndarray) -> None:
    """What eval_model does between two calls: a float32 MS-SSIM in torch on the image against itself."""
    import torch
    from pytorch_msssim import ms_ssim

    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float()
    ms_ssim(x, x.flip(-1), data_range=255)


def _scoring_history(pixels: np.ndarray, decoded: np.ndarray) -> None:
    """The harness's scoring of one row: PSNR and float64 MS-SSIM of a reconstruction."""
    from bench.core.metrics import ms_ssim, psnr

    psnr(pixels, decoded)
    ms_ssim(pixels, decoded)


def _measured(call) -> tuple[float, int, object]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kodak-dir", type=Path, default=SHARED / "data" / "kodak")
    parser.add_argument("--weights", type=Path, default=SHARED / "weights")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="calls per condition and image")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    codec = registry.create("bmshj2018-factorized", {"checkpoint_dir": str(args.weights), "device": "cpu"})
    coder = codec.coder(POINT)
    conditions = list(itertools.product(HISTORIES, TRIMS))
    # per condition and side: (seconds, faults) of every call
    calls: dict[tuple[str, bool, str], list[tuple[float, int]]] = {(h, t, s): [] for h, t in conditions
                                                                    for s in ("encode", "decode")}
    for index in range(1, args.images + 1):
        pixels = load_rgb(args.kodak_dir / f"kodim{index:02d}.png").pixels
        data = coder.encode(pixels)  # the warm-up (one per shape in the harness; one per image here)
        decoded = coder.decode(data)
        order = conditions[index % len(conditions):] + conditions[:index % len(conditions)]
        for _ in range(args.rounds):
            for history, trim in order:
                for side in ("encode", "decode"):
                    if history == "metrics":
                        _metrics_history(pixels)
                    elif history == "scoring":
                        _scoring_history(pixels, decoded)
                    if trim:
                        _trim()
                    call = (lambda: coder.encode(pixels)) if side == "encode" else (lambda: coder.decode(data))
                    seconds, faults, _ = _measured(call)
                    calls[history, trim, side].append((seconds, faults))
        print(f"kodim{index:02d} done", file=sys.stderr)
    print(f"factorized prior {POINT}, {args.images} Kodak images × {args.rounds} calls per condition, one thread")
    print("| side | trim | history | median minor faults | range | median time [ms] |")
    print("|---|---|---|---:|---:|---:|")
    for side, trim, history in itertools.product(("encode", "decode"), TRIMS, HISTORIES):
        values = calls[history, trim, side]
        faults = [f for _, f in values]
        print(f"| {side} | {'malloc_trim(0)' if trim else 'none'} | {history} | {statistics.median(faults):.0f} | "
              f"{min(faults)}–{max(faults)} | {1e3 * statistics.median(s for s, _ in values):.1f} |")
    print()
    for side, trim, history in itertools.product(("encode", "decode"), TRIMS, HISTORIES[1:]):
        quiet = statistics.median(f for _, f in calls["quiet", trim, side])
        other = statistics.median(f for _, f in calls[history, trim, side])
        t_quiet = statistics.median(s for s, _ in calls["quiet", trim, side])
        t_other = statistics.median(s for s, _ in calls[history, trim, side])
        print(f"{side}, {'malloc_trim(0)' if trim else 'no trim'}: {history} before the call changes its faults by "
              f"{other - quiet:+.0f} ({100 * (other / quiet - 1):+.1f} %), its time by {100 * (t_other / t_quiet - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
