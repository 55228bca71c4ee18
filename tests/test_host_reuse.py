"""Host-aware reuse: timings only on the same host fingerprint; RD values across hosts only for bit-exact codecs.

Real runs of ``python -m bench run`` on real files: rows marked as written on another host (their ``host``
rewritten in ``rows.csv``), rows written before hosts were recorded (no ``host`` column, as the committed
results), and the committed Kodak results themselves, as a fresh clone on another machine finds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from bench.core import environment
from bench.core.reuse import LATER_QUALITY, Action, reuse_rule
from clitools import Done, bench
from conftest import REPO, read_csv_rows, write_csv_rows

PLUGIN = '''
"""A test plug-in: drops low bits of every sample; it does not declare bit-exact output across hosts."""
import os

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.registry import register


class DropCoder(Coder):
    def __init__(self, point):
        self.point = point
        self.bits = 4 if point == "q20" else 2

    def encode(self, image):
        header = image.shape[0].to_bytes(2, "big") + image.shape[1].to_bytes(2, "big")
        return header + (image >> self.bits).tobytes()

    def decode(self, data):
        height, width = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
        return (np.frombuffer(data[4:], np.uint8).reshape(height, width, 3) << self.bits).astype(np.uint8)

    def verify(self, image, data, recon):
        with open(os.environ["DROPTEST_LOG"], "a") as log:  # one line per RD computation
            log.write(f"{self.point}\\n")
        return {}


class DropCodec(Codec):
    name = "droptest"

    def default_points(self):
        return ["q20", "q60"]

    def coder(self, point):
        return DropCoder(point)

    def identity(self):
        return {"format": "dropped bits"}


@register("droptest", "low bits dropped (test plug-in)")
def make(options):
    return DropCodec()
'''


def host_of(device: str = "cpu", threads: int = 1, allocator: str = "system") -> tuple[str, dict]:
    """This machine's host hash, computed here from the facts the fingerprint names."""
    fingerprint = {"cpu": environment.cpu_model(), "cpu_count": os.cpu_count(), "gpu": environment.gpu_model(),
                   "device": device, "threads": threads, "allocator": allocator}
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12], fingerprint


def test_the_rule() -> None:
    ok = {"status": "ok", "encode_s": "0.1", "host": "aaaaaaaaaaaa", **dict.fromkeys(LATER_QUALITY, "40.0")}
    assert [f"{action}" for action in Action] == ["measure", "time", "score", "reuse"]  # as strings, as before
    assert reuse_rule(None, "aaaaaaaaaaaa", True)[0] == Action.MEASURE
    assert reuse_rule({**ok, "status": "failed"}, "aaaaaaaaaaaa", True)[0] == Action.MEASURE
    assert reuse_rule(ok, "aaaaaaaaaaaa", False) == (Action.REUSE, "reused as stored (same host)")
    assert reuse_rule({**ok, "encode_s": ""}, "aaaaaaaaaaaa", False)[0] == Action.TIME
    for bit_exact, action in ((True, Action.TIME), (False, Action.MEASURE)):
        other, why = reuse_rule(ok, "bbbbbbbbbbbb", bit_exact)
        unknown, why_unknown = reuse_rule({**ok, "host": ""}, "bbbbbbbbbbbb", bit_exact)
        assert other == unknown == action
        assert "another host" in why and "unknown host" in why_unknown


def test_rows_of_another_host_and_of_no_host(image_folder: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "droptest.py").write_text(PLUGIN)
    log = tmp_path / "rd.log"
    env = {"BENCH_CODEC_PATH": str(plugins), "DROPTEST_LOG": str(log)}
    results = tmp_path / "results"
    rows_path = results / "synthetic" / "rows.csv"

    def run() -> Done:  # one timed call a row: which rows are timed, not their times, is the point
        return bench("run", "--data", image_folder, "--codecs", "jpeg,droptest", "--points", "q20,q60", "--results",
                     results, "--repeats", "1", "--no-progress", "--jobs", "1", env=env).check()

    def counts(done: Done) -> tuple[int, ...]:
        """Rows measured (of them recomputed: another host's), re-timed, reused, timed in this run."""
        report = done.report
        return report.measured, report.recomputed, report.timed, report.reused, report.timed_now

    def rd_lines() -> int:
        return len(log.read_text().splitlines())

    first = run()
    assert counts(first) == (12, 0, 0, 0, 12) and len(first.report.rows) == 12
    assert "12 rows (12 measured now, 0 re-timed, 0 reused; 12 timed in this run)" in first.stdout
    assert rd_lines() == 6
    host, fingerprint = host_of()
    header, before = read_csv_rows(rows_path)
    assert {r["host"] for r in before} == {host}
    runs = sorted((results / "synthetic" / "runs").glob("*.json"))
    assert json.loads(runs[-1].read_text())["environment"]["hosts"] == {host: fingerprint}
    summary = {(r["codec"], r["point"]): r for r in read_csv_rows(results / "synthetic" / "summary.csv")[1]}
    assert {r["host"] for r in summary.values()} == {host} and {r["timed_images"] for r in summary.values()} == {"3"}
    assert f"times from one host: host {host}" in first.stdout

    # the same rows as another machine left them
    write_csv_rows(rows_path, header, [{**r, "host": "0123456789ab"} for r in before])
    other = run()
    assert counts(other) == (6, 6, 6, 0, 12)  # the plug-in's rows recomputed, JPEG's (bit-exact) re-timed
    assert sorted(other.report.reasons.values()) == [6, 6]
    assert "  6 recomputed on this host (codecs not declared bit-exact across hosts; rows from another host)" in other.stdout
    assert rd_lines() == 12  # the plug-in's six rows were computed again, JPEG's were not
    _, after = read_csv_rows(rows_path)
    assert {r["host"] for r in after} == {host}
    by_key = {r["key"]: r for r in before}
    for row in after:
        old = by_key[row["key"]]
        assert (row["bytes"], row["psnr"], row["ms_ssim"]) == (old["bytes"], old["psnr"], old["ms_ssim"])
        assert row["encode_s"] != "" and row["run_id"] != old["run_id"]

    # rows written before hosts were recorded: no host column (and no format_version), as the committed results
    header, rows = read_csv_rows(rows_path)
    write_csv_rows(rows_path, [c for c in header if c not in ("host", "format_version")], rows)
    legacy = run()
    assert counts(legacy) == (6, 6, 6, 0, 12)
    assert "rows from an unknown host: written before hosts were recorded" in legacy.stdout
    assert rd_lines() == 18
    assert {r["host"] for r in read_csv_rows(rows_path)[1]} == {host}


def test_committed_results_on_a_fresh_machine(kodak_dir: Path, tmp_path: Path) -> None:
    """``make bench`` on a clone: the committed rows have no host, so JPEG's RD values are kept, its timings
    taken again here; the other codecs' rows and times stay as they are, and no mean mixes the two. The
    committed rows of JPEG, WebP and the learned model (the anchor, a classical codec, a learned one), not
    of every codec: the report of all of them takes twice as long and checks nothing more here."""
    committed = REPO / "results" / "kodak"
    results = tmp_path / "results"
    shutil.copytree(committed, results / "kodak", ignore=shutil.ignore_patterns("summary.csv"))
    header, copied = read_csv_rows(results / "kodak" / "rows.csv")  # as a clone elsewhere sees them: another host's
    copied = [r for r in copied if r["codec"] in ("jpeg", "webp", "bmshj2018-factorized")]
    write_csv_rows(results / "kodak" / "rows.csv", header, [{**r, "host": ""} for r in copied])
    done = bench("run", "--codecs", "jpeg", "--points", "q5,q10", "--kodak-dir", kodak_dir, "--results", results,
                 "--repeats", "1", "--no-progress").check()
    report = done.report
    assert (len(report.rows), report.measured, report.timed, report.reused, report.timed_now) == (len(copied), 0, 48, 0, 48)
    assert list(report.reasons.values()) == [48]
    _, old_rows = read_csv_rows(committed / "rows.csv")
    _, new_rows = read_csv_rows(results / "kodak" / "rows.csv")
    old = {r["key"]: r for r in old_rows}
    host, _ = host_of()
    for row in new_rows:
        before = old[row["key"]]
        assert (row["bytes"], row["psnr"], row["ms_ssim"]) == (before["bytes"], before["psnr"], before["ms_ssim"])
        if row["codec"] == "jpeg" and row["point"] in ("q5", "q10"):
            assert row["host"] == host and row["run_id"] != before["run_id"]
        else:
            assert row["host"] == "" and row["encode_s"] == before["encode_s"]
    summary = {(r["codec"], r["point"]): r for r in read_csv_rows(results / "kodak" / "summary.csv")[1]}
    assert (summary["jpeg", "q5"]["host"], summary["jpeg", "q5"]["timed_images"]) == (host, "24")
    # JPEG's times now come from this host: points timed only on the old one have none, never a mix
    assert (summary["jpeg", "q50"]["timed_images"], summary["jpeg", "q50"]["encode_s"]) == ("0", "")
    assert (summary["webp", "q50"]["host"], summary["webp", "q50"]["timed_images"]) == ("", "24")
    webp = [r for r in old_rows if r["codec"] == "webp" and r["point"] == "q50"]
    assert float(summary["webp", "q50"]["encode_s"]) == pytest.approx(
        sum(float(r["encode_s"]) for r in webp) / 24, rel=1e-5)

    # REPORT.md says which host each codec's times come from, with the fingerprint from the run metadata
    from bench.analysis.report import write_report

    write_report(results, "kodak", tmp_path / "reports", n_boot=10)
    text = (tmp_path / "reports" / "REPORT.md").read_text()
    _, fingerprint = host_of()
    others = ", ".join(sorted({r["codec"] for r in copied} - {"jpeg"}))  # every codec copied but JPEG
    assert (f"Times of each codec come from one host, that of its most recently timed rows: unknown host (rows "
            f"written before hosts were recorded); the machine of each run is in Test conditions ({others}); "
            f"host `{host}`: {fingerprint['cpu']} "
            f"({fingerprint['cpu_count']} logical cores), GPU {fingerprint['gpu'] or 'none'}, device cpu, 1 torch "
            "thread, heap system (jpeg).") in text
    q50 = next(line for line in text.splitlines() if line.startswith("| jpeg | q50 |")).split(" | ")
    assert (q50[2], q50[6], q50[9:]) == ("24", "24", ["0", "—", "— |"])  # images, MS-SSIM images, no times
