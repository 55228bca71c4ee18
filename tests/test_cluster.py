"""`run --executor dask` against a real cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1 (random ports), compared with a local `--jobs 2` run of the same command: the reference.

One such cluster serves the module (its workers' first tasks import torch and build the codecs once); the
test that kills a worker adds a worker of its own to it and kills that one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.core.store import ResultStore
from clitools import bench
from conftest import REPO

pytest.importorskip("distributed")

IMAGES = [f"kodim{i:02d}.png" for i in (1, 4, 19, 23)]  # both orientations
RUN = ["run", "--codecs", "webp,jpeg", "--points", "q10,q90", "--repeats", "1", "--no-progress"]
RD = ["key", "image", "codec", "point", "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim",
      "ms_ssim_db", "status", "note"]
ROWS = len(IMAGES) * 2 * 2


@pytest.fixture(scope="module")
def four_kodak(tmp_path_factory) -> Path:
    value = os.environ.get("BENCH_KODAK_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("BENCH_KODAK_DIR not set (CI points it at ../shared/data/kodak)")
    folder = tmp_path_factory.mktemp("four") / "four"
    folder.mkdir()
    for name in IMAGES:
        (folder / name).symlink_to(Path(value) / name)
    return folder


@pytest.fixture(scope="module")
def local_rows(four_kodak, tmp_path_factory):
    """The reference: the same run with the local executor."""
    results = tmp_path_factory.mktemp("local")
    bench(*RUN, "--data", four_kodak, "--results", results, "--jobs", "2").check()
    return ResultStore(results / "four/rows.csv").frame()


class Cluster:
    """A `dask scheduler` and workers as subprocesses of this test, all stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.scheduler_file = folder / "scheduler.json"
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(self.scheduler_file))
        self.address = self._wait(lambda: json.loads(self.scheduler_file.read_text())["address"], "the scheduler")

    def _start(self, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{len(self.processes)}-{args[0]}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=REPO, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def _wait(self, probe, what: str, timeout: float = 60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                return probe()
            except (OSError, ValueError, KeyError, AssertionError):
                time.sleep(0.1)
        raise TimeoutError(f"{what} did not start in {timeout} s; logs in {self.folder}")

    def worker(self, *resources: str) -> subprocess.Popen:
        """A one-thread worker without a nanny (a killed worker stays dead), with ``resources`` like timing=1."""
        extra = ["--resources", " ".join(resources)] if resources else []
        return self._start("worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                           "--death-timeout", "60", *extra)

    def wait_for_workers(self, count: int) -> None:
        def ready():
            text = "".join(path.read_text(errors="replace") for path in self.folder.glob("*-worker.log"))
            assert text.count("Registered to:") >= count
        self._wait(ready, f"{count} workers")

    def stop(self) -> None:
        """The workers first, then the scheduler: a worker stopping while the scheduler closes may hang
        on its connection until it is killed."""
        scheduler, *workers = self.processes
        self._terminate(workers)
        self._terminate([scheduler])

    @staticmethod
    def _terminate(processes: list[subprocess.Popen]) -> None:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """The module's cluster: a scheduler, a worker declaring timing=1 and a plain one, both registered."""
    started = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        started.worker("timing=1")
        started.worker()
        started.wait_for_workers(2)
        yield started
    finally:
        started.stop()


def _compare(local, results: Path) -> None:
    rows = ResultStore(results / "four/rows.csv").frame()
    assert len(rows) == ROWS and rows["key"].is_unique
    a = local.sort_values("key")[RD].reset_index(drop=True)
    b = rows.sort_values("key")[RD].reset_index(drop=True)
    assert a.equals(b), a.compare(b).to_string()
    assert (rows["status"] == "ok").all()
    assert rows["encode_s"].notna().all() and rows["decode_s"].notna().all()
    assert (rows["host"].astype(str).str.len() == 12).all()  # the timing worker's host, recorded
    hosts = json.loads(next((results / "four/runs").glob("*.json")).read_text())["environment"]["hosts"]
    assert set(rows["host"]) <= set(hosts)


def test_dask_cluster_rows_equal_local_run(four_kodak, local_rows, cluster, tmp_path):
    results = tmp_path / "dask"
    done = bench(*RUN, "--data", four_kodak, "--results", results, "--executor", "dask", "--scheduler",
                 cluster.address)
    assert done.returncode == 0, done.stderr
    _compare(local_rows, results)


def test_worker_killed_mid_run_rows_still_complete(four_kodak, local_rows, cluster, tmp_path):
    victim = cluster.worker()  # a third worker, this test's own: the module's two outlive it
    cluster.wait_for_workers(3)
    results = tmp_path / "dask"
    rows = results / "four/rows.csv"
    driver = subprocess.Popen([sys.executable, "-m", "bench", *RUN, "--data", str(four_kodak), "--results", str(results),
                               "--executor", "dask"], cwd=REPO, env={**os.environ, "BENCH_DASK_SCHEDULER": cluster.address},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 120
        while (not rows.exists() or rows.read_bytes().count(b"\n") < 3) and driver.poll() is None \
                and time.time() < deadline:
            time.sleep(0.005)
        written = rows.read_bytes().count(b"\n") - 1 if rows.exists() else 0
        os.kill(victim.pid, signal.SIGKILL)  # during webp's RD pass: every worker holds tasks
        victim.wait(timeout=10)
        _, err = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert 0 < written < len(IMAGES) * 2, f"the kill came too late ({written} rows)"
    assert driver.returncode == 0, err.decode()
    _compare(local_rows, results)


def test_self_started_local_cluster_rows_equal_local_run(four_kodak, local_rows, tmp_path):
    """`--executor dask` without an address: the command starts two preloaded workers, measures and stops
    them, with the local run's rows and nothing on stderr but its progress and warnings."""
    results = tmp_path / "dask"
    done = bench(*RUN, "--data", four_kodak, "--results", results, "--executor", "dask", "--jobs", "2",
                 env={"BENCH_DASK_SCHEDULER": None})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and " ERROR " not in done.stderr, done.stderr
    _compare(local_rows, results)
