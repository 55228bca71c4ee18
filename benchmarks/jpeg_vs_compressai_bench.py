"""Wall and CPU time of the harness's JPEG run against CompressAI's own bench, side by side.

Both do the same work on Kodak: JPEG at q = 5, 10, …, 100, one timed encode and one timed decode per
image and quality (the harness: ``--repeats 1``, plus its untimed warm-up per quality and image
shape), PSNR and MS-SSIM. The harness starts from an empty results folder each time. Two harness
settings are compared with CompressAI's bench, which runs in one process:

* equal parallelism: the harness with ``--jobs 1`` (one process), like with like;
* each tool at its best: the harness with ``--jobs`` = all cores (its default).

The three commands take turns, in a rotating order, so a change of machine load hits all of them;
the ratio per round is reported, for wall time and for CPU time (user + system of the process tree).

    .venv/bin/python benchmarks/jpeg_vs_compressai_bench.py --kodak-dir ../shared/data/kodak --pairs 3

``--images N`` runs both on the first N Kodak images (links in a temporary folder, which the harness
reads with ``--data``), for a quicker comparison.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUALITIES = ",".join(str(q) for q in range(5, 101, 5))


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(name: str, values: list[float]) -> str:
    return f"{name} {statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", required=True, type=Path)
    parser.add_argument("--pairs", type=int, default=3, help="rounds of the three commands (default: 3)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="harness --jobs of the 'best setting' run (default: all cores)")
    parser.add_argument("--images", type=int, help="only the first N Kodak images (default: all 24)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        return compare(args, _images(args.kodak_dir.resolve(), args.images, Path(scratch)))


def _images(kodak: Path, count: int | None, scratch: Path) -> list[str]:
    """The harness's dataset flags: the Kodak copy, or a folder of links to its first ``count`` images."""
    if count is None:
        return ["--kodak-dir", str(kodak)]
    folder = scratch / "kodak-subset"
    folder.mkdir()
    for path in sorted(kodak.glob("kodim*.png"))[:count]:
        (folder / path.name).symlink_to(path)
    return ["--data", str(folder)]


def compare(args: argparse.Namespace, dataset: list[str]) -> int:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    theirs = [sys.executable, "-m", "compressai.utils.bench", "jpeg", dataset[1], "-q", QUALITIES]

    def ours(jobs: int, results: str) -> list[str]:
        return [sys.executable, "-m", "bench", "run", *dataset, "--codecs", "jpeg",
                "--jobs", str(jobs), "--repeats", "1", "--results", results, "--no-progress"]

    names = ("harness -j 1", f"harness -j {args.jobs}", "compressai.utils.bench")
    ratios: dict[str, list[float]] = {k: [] for k in ("wall 1v1", "cpu 1v1", "wall best", "cpu best")}
    for pair in range(args.pairs):
        times: dict[str, tuple[float, float]] = {}
        order = [names[(pair + i) % 3] for i in range(3)]
        for name in order:
            with tempfile.TemporaryDirectory() as results:
                command = theirs if name == names[2] else ours(1 if name == names[0] else args.jobs, results)
                times[name] = timed(command, env)
        (w1, c1), (wb, cb), (wt, ct) = (times[n] for n in names)
        ratios["wall 1v1"].append(w1 / wt)
        ratios["cpu 1v1"].append(c1 / ct)
        ratios["wall best"].append(wb / wt)
        ratios["cpu best"].append(cb / ct)
        print(f"round {pair + 1} ({' → '.join(order)}): " + "   ".join(
            f"{n} {times[n][0]:.2f} s wall, {times[n][1]:.2f} s CPU" for n in names), flush=True)
    print(f"ratios harness / compressai.utils.bench, median (min–max) over {args.pairs} rounds, "
          f"{os.cpu_count()} cores:")
    print("  equal parallelism (harness -j 1):  " + summary("wall", ratios["wall 1v1"]) + "   "
          + summary("CPU", ratios["cpu 1v1"]))
    print(f"  each at its best (harness -j {args.jobs}): " + summary("wall", ratios["wall best"]) + "   "
          + summary("CPU", ratios["cpu best"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
