"""Wall time of the harness's JPEG run against CompressAI's own bench, side by side.

Both do the same work on Kodak: JPEG at q = 5, 10, …, 100, one encode and one
decode per image and quality, PSNR and MS-SSIM. The harness starts from an
empty results folder each time (no cached rows). The two commands alternate,
so a change of machine load hits both; the ratio per pair is reported.

    .venv/bin/python benchmarks/jpeg_vs_compressai_bench.py --kodak-dir ../shared/data/kodak --pairs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUALITIES = ",".join(str(q) for q in range(5, 101, 5))


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", required=True, type=Path)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="harness --jobs (default: all cores)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    theirs = [sys.executable, "-m", "compressai.utils.bench", "jpeg", str(args.kodak_dir), "-q", QUALITIES]
    ratios = []
    for pair in range(args.pairs):
        with tempfile.TemporaryDirectory() as results:
            ours = [sys.executable, "-m", "bench", "run", "--kodak-dir", str(args.kodak_dir), "--codecs", "jpeg",
                    "--jobs", str(args.jobs), "--results", results, "--no-progress"]
            t_ours = timed(ours, env)
        t_theirs = timed(theirs, env)
        ratios.append(t_ours / t_theirs)
        print(f"pair {pair + 1}: harness {t_ours:6.2f} s   compressai.utils.bench {t_theirs:6.2f} s   "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"median ratio harness / compressai.utils.bench: {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}, {args.pairs} pairs, {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
