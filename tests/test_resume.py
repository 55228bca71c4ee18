"""Resume for real: SIGKILL a run (a process of its own) at a random row, rerun, compare with an uninterrupted run."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from bench.core.store import ResultStore
from clitools import bench
from conftest import REPO, image_files

COMPARED = ["key", "image", "codec", "point", "bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "status"]


def run(folder, results, jobs):
    return ["run", "--data", str(folder), "--codecs", "jpeg", "--results", str(results), "--jobs", str(jobs),
            "--repeats", "1", "--no-progress"]  # one timed call per row: what is resumed is the rows, not the timing


def line_count(path):
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.fixture
def folder(tmp_path):
    return image_files(tmp_path / "resume", [(192, 256)] * 6, prefix="im")


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_then_rerun_equals_uninterrupted(folder, tmp_path, jobs):
    bench(*run(folder, tmp_path / "straight", jobs)).check()
    straight = ResultStore(tmp_path / "straight/resume/rows.csv").frame()
    assert len(straight) == 120

    rows = tmp_path / "killed/resume/rows.csv"
    kill_at = random.Random(os.getpid()).randint(5, 100)
    proc = subprocess.Popen([sys.executable, "-m", "bench", *run(folder, tmp_path / "killed", jobs)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while line_count(rows) < kill_at + 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = ResultStore(rows).rows()  # parses after SIGKILL
    assert 0 < len(partial) < 120, f"the kill came too late ({len(partial)} rows)"

    report = bench(*run(folder, tmp_path / "killed", jobs)).check().report
    assert (report.measured, report.timed + report.reused) == (120 - len(partial), len(partial))  # each row once
    resumed = ResultStore(rows).frame()
    a = straight.sort_values("key")[COMPARED].reset_index(drop=True)
    b = resumed.sort_values("key")[COMPARED].reset_index(drop=True)
    assert a.equals(b)
    assert resumed.encode_s.notna().all()
