"""The Dask executor's overhead on one machine: Kodak JPEG sweep, `--executor dask` (a local cluster of 2
workers × 1 thread, started by the command) against `--jobs 2` local, each command's whole wall time.

Each pair runs both commands into fresh results folders, alternating which goes first; the ratio is
dask / local per pair, then its median. RD rows of both runs are checked identical.

    .venv/bin/python benchmarks/dask_overhead.py --kodak-dir ../shared/data/kodak --pairs 2
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.core.store import ResultStore  # noqa: E402

RD = ["key", "bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "status"]


def timed_run(kodak: str, results: Path, extra: list[str]) -> float:
    command = [sys.executable, "-m", "bench", "run", "--kodak-dir", kodak, "--codecs", "jpeg", "--jobs", "2",
               "--results", str(results), "--no-progress", *extra]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak-dir", required=True, help="local Kodak copy")
    parser.add_argument("--pairs", type=int, default=2, help="pairs of runs (default: %(default)s)")
    args = parser.parse_args()
    kinds = {"local": [], "dask": ["--executor", "dask"]}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as scratch:
        for pair in range(args.pairs):
            order = list(kinds) if pair % 2 == 0 else list(reversed(kinds))
            for kind in order:
                results = Path(scratch) / f"{kind}{pair}"
                times[kind].append(timed_run(args.kodak_dir, results, kinds[kind]))
                print(f"pair {pair + 1} {kind}: {times[kind][-1]:.1f} s", flush=True)
            a, b = (ResultStore(Path(scratch) / f"{kind}{pair}/kodak/rows.csv").frame() for kind in kinds)
            same = a.sort_values("key")[RD].reset_index(drop=True).equals(b.sort_values("key")[RD].reset_index(drop=True))
            print(f"pair {pair + 1}: {len(a)} rows, RD columns identical: {same}", flush=True)
    ratios = [d / l for d, l in zip(times["dask"], times["local"])]
    print(f"local --jobs 2: {', '.join(f'{t:.1f}' for t in times['local'])} s; "
          f"dask 2 workers × 1 thread: {', '.join(f'{t:.1f}' for t in times['dask'])} s; "
          f"ratio dask / local: median {statistics.median(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
