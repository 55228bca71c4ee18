"""The Dask executor's overhead on one machine: Kodak JPEG sweep, 2 workers × 1 thread against `--jobs 2`
local, each command's whole wall time, in two settings:

* ``dask``: `--executor dask` without an address: the command starts (and stops) a local cluster;
* ``dask-running``: `--executor dask --scheduler ADDRESS` against a cluster started beforehand
  (`dask scheduler`, two `dask worker --nthreads 1 --no-nanny --preload bench.core.cluster`, the first
  with `timing=1`, the workers' profiler off, as docs/cluster.md advises), as a lab's cluster runs: the
  cost of executing through Dask without that of starting it. The cluster is started before this
  command's clock starts and stopped after it stops, so no other command runs beside an idle cluster
  (its heartbeats take about 0.1 of a core here).

Each round runs the three commands into fresh results folders, in an order that rotates from round to
round; the ratios are per round against its local run, then their median. RD rows are checked identical.

    .venv/bin/python benchmarks/dask_overhead.py --kodak-dir ../shared/data/kodak --pairs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    parser.add_argument("--pairs", type=int, default=2, help="rounds of the three runs (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        kinds = {"local": [], "dask": ["--executor", "dask"], "dask-running": ["--executor", "dask", "--scheduler"]}
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for pair in range(args.pairs):
            order = list(kinds)[pair % 3:] + list(kinds)[:pair % 3]
            for kind in order:
                results = Path(scratch) / f"{kind}{pair}"
                if kind == "dask-running":
                    with running_cluster(Path(scratch) / f"cluster{pair}") as address:
                        times[kind].append(timed_run(args.kodak_dir, results, [*kinds[kind], address]))
                else:
                    times[kind].append(timed_run(args.kodak_dir, results, kinds[kind]))
                print(f"round {pair + 1} {kind}: {times[kind][-1]:.1f} s", flush=True)
            frames = [ResultStore(Path(scratch) / f"{kind}{pair}/kodak/rows.csv").frame() for kind in kinds]
            rd = [f.sort_values("key")[RD].reset_index(drop=True) for f in frames]
            print(f"round {pair + 1}: {len(frames[0])} rows, RD columns identical: "
                  f"{all(r.equals(rd[0]) for r in rd[1:])}", flush=True)
    print(f"local --jobs 2: {', '.join(f'{t:.1f}' for t in times['local'])} s")
    for kind in ("dask", "dask-running"):
        ratios = [d / l for d, l in zip(times[kind], times["local"])]
        print(f"{kind}: {', '.join(f'{t:.1f}' for t in times[kind])} s; ratio / local: median "
              f"{statistics.median(ratios):.3f} ({', '.join(f'{r:.3f}' for r in ratios)})")
    return 0


@contextmanager
def running_cluster(folder: Path) -> Iterator[str]:
    """A `dask scheduler` and two one-thread workers (the first with timing=1) on 127.0.0.1, started and
    warmed (harness preloaded); its address."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
    processes = []

    def start(*args: str) -> None:
        processes.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=REPO, env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        scheduler_file = folder / "scheduler.json"
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
              str(scheduler_file))
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        for resources in (["--resources", "timing=1"], []):
            start("worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                  "--preload", "bench.core.cluster", *resources)
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            client.run(os.getpid)  # answered once each worker's preload (torch, the harness) is done
        yield address
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a worker still closing its connections
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
