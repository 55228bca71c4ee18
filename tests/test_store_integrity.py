"""The store never loses or invents rows: malformed lines, concurrent runs, read-only results.

Real files and real processes throughout; the references are the files themselves read with the
standard library's ``csv`` module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from bench.cli import main
from bench.core.lock import folder_lock
from bench.core.store import ResultStore, load_rows, write_text_atomic
from clitools import bench
from conftest import REPO, image_files, natural_image

FIXTURE = REPO / "tests" / "fixtures" / "results"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def digest(path: Path) -> tuple[str, int, int]:
    """Content hash, modification time and mode: what "the file was not touched" means."""
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def tree(folder: Path) -> dict[str, tuple[str, int, int]]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def insert_line(path: Path, number: int, text: str) -> None:
    """Make ``text`` line ``number`` (1-based) of the file."""
    lines = path.read_bytes().split(b"\n")
    lines.insert(number - 1, text.encode())
    path.write_bytes(b"\n".join(lines))


def row(key: str, **values: object) -> dict[str, object]:
    return {"key": key, "codec": "jpeg", "point": "q5", "status": "ok", **values}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A copy of the committed test results (a real rows.csv written by the harness)."""
    shutil.copytree(FIXTURE, tmp_path / "results")
    return tmp_path / "results"


# --- malformed lines --------------------------------------------------------------------------


def test_stray_quote_line_skips_that_line_only(results):
    path = results / "kodak" / "rows.csv"
    original = csv_rows(path)
    assert len(original) > 10
    insert_line(path, 8, '"a stray line, half a note')  # line 8 of the file: between rows 6 and 7
    before = digest(path)

    store = ResultStore(path)
    assert [r["key"] for r in store.rows()] == [r["key"] for r in original]
    assert [(p.line, p.path) for p in store.problems] == [(8, path)]
    assert load_rows(path)["key"].tolist() == [r["key"] for r in original]
    assert digest(path) == before  # reading never writes

    summary = bench("summary", "--results", str(results), "--dataset", "kodak")
    assert summary.returncode == 0, summary.stderr
    assert (f"warning: {path} line 8: a quote (\") opens a field that never closes into a valid row; skipped"
            in summary.stderr.splitlines())
    assert digest(path) == before


def test_multiline_note_is_a_row_and_compaction_sets_bad_lines_aside(tmp_path):
    path = tmp_path / "ds" / "rows.csv"
    store = ResultStore(path)
    store.append(row("a", bpp=0.5))
    store.append(row("b", note='decoder said:\nline two, "quoted"\n\nend'))
    store.append(row("c", bpp=0.7))
    insert_line(path, 3, '"stray')  # before the row whose note spans four lines
    insert_line(path, 2, "only,three,fields")
    with open(path, "ab") as fh:
        fh.write(b"d,r,ds,\xff\xfe.png\n")  # not UTF-8
    lines_before = path.read_bytes().split(b"\n")

    again = ResultStore(path)
    assert [r["key"] for r in again.rows()] == ["a", "b", "c"]
    assert again.get("b")["note"] == 'decoder said:\nline two, "quoted"\n\nend'
    assert [p.line for p in again.problems] == [2, 4, 10]
    assert "3 fields" in again.problems[0].reason and "UTF-8" in again.problems[2].reason

    again.compact()
    reference = csv_rows(path)  # the standard library agrees on the rewritten file
    assert [r["key"] for r in reference] == ["a", "b", "c"]
    assert reference[1]["note"] == 'decoder said:\nline two, "quoted"\n\nend'
    aside = path.with_name("rows.csv.malformed").read_bytes().split(b"\n")[:-1]
    assert aside == [lines_before[1], lines_before[3], lines_before[9]]  # nothing is lost
    assert ResultStore(path).problems == []


def test_reading_a_torn_tail_never_writes_and_the_next_writer_repairs_it(tmp_path):
    path = tmp_path / "ds" / "rows.csv"
    store = ResultStore(path)
    store.append(row("a", bpp=0.5))
    with open(path, "ab") as fh:
        fh.write(b"b,run,ds,kodim01.png,abc")  # a row cut short by a crash
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = digest(path)

    reader = ResultStore(path)
    assert [r["key"] for r in reader.rows()] == ["a"]
    assert [p.line for p in reader.problems] == [3]
    load_rows(path)
    assert digest(path) == before  # same bytes, same mtime

    ResultStore(path).append(row("c", bpp=0.7))
    assert [r["key"] for r in csv_rows(path)] == ["a", "c"]
    assert path.read_bytes().endswith(b"\n")
    assert path.with_name("rows.csv.malformed").read_bytes() == b"b,run,ds,kodim01.png,abc\n"


# --- one writer at a time -----------------------------------------------------------------------


def test_compaction_keeps_rows_another_process_appended(tmp_path):
    path = tmp_path / "ds" / "rows.csv"
    store = ResultStore(path)
    store.append(row("a", bpp=0.5))
    code = ("import sys; from bench.core.store import ResultStore; "
            "ResultStore(sys.argv[1]).append({'key': 'b', 'codec': 'webp', 'point': 'q5', 'status': 'ok'})")
    subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, check=True)
    store.append(row("a", bpp=0.5, encode_s=0.001))  # this store's memory has never seen "b"
    store.compact()
    assert [(r["key"], r["encode_s"]) for r in csv_rows(path)] == [("a", "0.001"), ("b", "")]


def test_a_killed_writer_leaves_no_lock_even_with_a_forked_child_alive(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    code = ("import multiprocessing, os, sys, time\n"
            "from bench.core.lock import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n"
            "    child = multiprocessing.get_context('fork').Process(target=time.sleep, args=(120,))\n"
            "    child.start()\n"
            "    print(child.pid, flush=True)\n"
            "    os.kill(os.getpid(), 9)\n")
    out = tmp_path / "child.pid"
    with open(out, "w") as fh:  # a file, not a pipe: the child keeps the parent's stdout open
        subprocess.run([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=fh, timeout=120, check=False)
    child = int(out.read_text().split()[0])
    try:
        with folder_lock(folder, timeout=10):  # the worker outlived its parent, but does not hold the lock
            assert os.path.exists(f"/proc/{child}")
    finally:
        os.kill(child, 9)


def run_args(images: Path, results: Path, codec: str, *extra: str) -> list[str]:
    """A run of two points on ``images``, one timed call a row (these tests check rows and files, not times)."""
    return ["run", "--data", str(images), "--codecs", codec, "--points", "q50,q75", "--results", str(results), "--jobs",
            "1", "--repeats", "1", "--no-progress", *extra]


def run_command(images: Path, results: Path, codec: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench", *run_args(images, results, codec, *extra)]


@pytest.fixture
def pair(tmp_path: Path) -> Path:
    images = tmp_path / "pair"
    images.mkdir()
    for i in range(2):
        Image.fromarray(natural_image(64, 96, seed=i)).save(images / f"im{i}.png")
    return images


def test_two_runs_at_once_keep_every_row(pair, tmp_path, capsys):
    results = tmp_path / "results"
    folder = results / "pair"
    folder.mkdir(parents=True)
    waiting = f"waiting for the run of PID {os.getpid()} to finish"
    logs = {codec: (tmp_path / f"{codec}.out", tmp_path / f"{codec}.err") for codec in ("jpeg", "webp")}
    with folder_lock(folder):  # a writer holds the folder: both runs start now and must wait for it
        procs = {}
        for codec, (out, err) in logs.items():
            with open(out, "w") as o, open(err, "w") as e:
                procs[codec] = subprocess.Popen(run_command(pair, results, codec), cwd=REPO, stdout=o, stderr=e)
        refused = subprocess.run(run_command(pair, results, "jpeg", "--wait", "0"), cwd=REPO, capture_output=True,
                                 text=True, timeout=300, check=False)
        deadline = time.monotonic() + 240
        while not all(waiting in err.read_text() for _, err in logs.values()):
            assert time.monotonic() < deadline, {c: err.read_text() for c, (_, err) in logs.items()}
            assert all(p.poll() is None for p in procs.values()), "a run did not wait for the lock"
            time.sleep(0.2)
        assert not (folder / "rows.csv").exists()
    for codec, proc in procs.items():
        assert proc.wait(timeout=300) == 0, logs[codec][1].read_text()

    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[-1] == (f"error: results folder {folder} is in use by the run of PID "
                                                f"{os.getpid()}; wait for it to finish (or wait longer: --wait "
                                                "SECONDS) or pass another --results")
    stored = csv_rows(folder / "rows.csv")
    assert len(stored) == 2 * 2 + 2 * 2  # images × points of each codec
    assert sorted((r["codec"], r["point"], r["image"]) for r in stored) == sorted(
        (codec, point, f"im{i}.png") for codec in ("jpeg", "webp") for point in ("q50", "q75") for i in range(2))
    assert {r["codec"] for r in csv_rows(folder / "summary.csv")} == {"jpeg", "webp"}
    capsys.readouterr()
    assert main(["summary", "--results", str(results), "--dataset", "pair"]) == 0
    shown = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.split()}
    assert {"jpeg", "webp"} <= shown


# --- read-only results --------------------------------------------------------------------------


def test_rewriting_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    path.chmod(0o640)
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.fixture
def unprivileged(tmp_path: Path) -> list[str]:
    """A command prefix under which permission bits apply.

    As root (CI), root's capabilities to ignore file permissions are dropped with ``setpriv``; the
    process keeps its user, so it can still run the interpreter, and reads or writes exactly what
    an ordinary owner of the files could.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make permission bits apply")
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    check = "import sys\ntry:\n    open(sys.argv[1], 'a')\nexcept PermissionError:\n    print('denied')"
    result = subprocess.run([*prefix, sys.executable, "-c", check, str(probe)], capture_output=True, text=True,
                            check=False)
    if result.stdout.strip() != "denied":
        pytest.skip(f"setpriv cannot drop root's file capabilities here: {result.stderr.strip()[:200]}")
    return prefix


def as_user(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    """``python -m bench ARGS`` under ``prefix`` (see :func:`unprivileged`): a process of its own."""
    return subprocess.run([*prefix, sys.executable, "-m", "bench", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)


def read_only(folder: Path) -> None:
    for path in folder.rglob("*"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    folder.chmod(0o555)


def test_read_only_results_are_read_and_never_written(results, pair, tmp_path, unprivileged):
    folder = results / "kodak"
    images = tmp_path / "kodak"
    pair.rename(images)  # a folder dataset named like the results: `run` would write into them
    read_only(results)
    before = tree(results)
    try:
        summary = as_user(unprivileged, "summary", "--results", str(results))
        assert summary.returncode == 0, summary.stderr
        assert "jpeg" in summary.stdout
        reports = tmp_path / "reports"
        bd = as_user(unprivileged, "bd-rate", "--results", str(results), "--reports", str(reports), "--bootstrap", "20")
        assert bd.returncode == 0, bd.stderr
        report = as_user(unprivileged, "report", "--results", str(results), "--reports", str(reports), "--bootstrap",
                       "20")
        assert report.returncode == 0, report.stderr
        assert (reports / "REPORT.md").is_file()

        export = as_user(unprivileged, "export", "--results", str(results))
        assert export.returncode == 2 and "Traceback" not in export.stderr
        assert export.stderr.splitlines()[-1].startswith(f"error: {folder / 'compressai'}")

        run = as_user(unprivileged, "run", "--data", str(images), "--codecs", "jpeg", "--points", "q50",
                    "--results", str(results), "--no-progress")
        assert run.returncode == 2 and "Traceback" not in run.stderr and run.stdout == ""
        assert run.stderr.splitlines()[-1] == (f"error: results folder {folder} is not writable; pass another "
                                               "--results or fix its permissions")
        assert tree(results) == before  # no file written, replaced or re-moded
    finally:
        for path in [results, *results.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_read_only_rows_file_is_refused_and_kept(results, pair, tmp_path, unprivileged):
    folder = results / "kodak"
    images = tmp_path / "kodak"
    pair.rename(images)
    rows = folder / "rows.csv"
    rows.chmod(0o444)  # the folder stays writable: replacing the file would succeed
    before = digest(rows)
    run = as_user(unprivileged, "run", "--data", str(images), "--codecs", "jpeg", "--points", "q50",
                "--results", str(results), "--no-progress")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1] == (f"error: results file {rows} is read-only; pass another --results or "
                                           "make it writable")
    assert digest(rows) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (FIXTURE / "kodak").iterdir())


# --- a full disk, a non-numeric cell --------------------------------------------------------------


def whole_rows(path: Path) -> list[dict[str, str]]:
    """The rows of ``path`` by the standard library, checked to be whole: every line ended, every row of the
    header's width, every numeric cell a number."""
    from bench.core.schema import NUMERIC

    data = path.read_bytes()
    assert data.endswith(b"\n"), data[-200:]
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, strict=True)
        header = next(reader)
        records = list(reader)
    assert all(len(record) == len(header) for record in records)
    rows = [dict(zip(header, record)) for record in records]
    for stored in rows:
        for column in NUMERIC:
            if stored.get(column):
                float(stored[column])
    return rows


def test_a_full_disk_stops_the_run_with_one_line_and_only_whole_rows(tmp_path):
    import re
    import resource
    import signal

    images = image_files(tmp_path / "three", [(64, 96), (64, 96), (96, 64)])
    results = tmp_path / "results"
    points = "q20,q30,q40,q50,q60,q70"  # 18 rows of ~480 bytes: far more than the limit lets through
    args = ["run", "--data", str(images), "--codecs", "jpeg", "--points", points, "--results", str(results), "--jobs",
            "1", "--repeats", "1", "--no-progress"]
    command = [sys.executable, "-m", "bench", *args]
    limit = 6144  # bytes a file of the child may reach (ulimit -f 6); the run's metadata file fits

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    stopped = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=limited,
                             check=False)
    rows = results / "three" / "rows.csv"
    assert stopped.returncode == 2, stopped.stderr
    assert "Traceback" not in stopped.stderr and stopped.stdout == ""
    errors = [line for line in stopped.stderr.splitlines() if line.startswith("error:")]
    assert errors == [stopped.stderr.splitlines()[-1]]
    said = re.fullmatch(rf"error: cannot write {re.escape(str(rows))}: the file size limit is reached \(EFBIG; see "
                        rf"ulimit -f\); the row in flight was not stored, {re.escape(str(rows))} holds (\d+) whole rows "
                        r"\((\d+) stored by this run\); raise the limit \(ulimit -f unlimited\) or pass another "
                        r"--results, then rerun the same command to resume", errors[0])
    assert said, errors[0]
    kept = whole_rows(rows)
    assert 0 < len(kept) < 18 and int(said[1]) == int(said[2]) == len(kept)
    assert rows.stat().st_size <= limit and not rows.with_name("rows.csv.malformed").exists()

    resumed = bench(*args).check()  # no limit: in this process
    assert (resumed.report.measured, resumed.report.reused) == (18 - len(kept), len(kept))
    final = {r["key"]: r for r in whole_rows(rows)}
    assert len(final) == 18 and all(final[r["key"]] == r for r in kept)  # the rows kept are the rows reused


def set_cell(path: Path, line: int, column: str, value: str) -> str:
    """Put ``value`` in ``column`` of the row on ``line`` (1-based) of a rows file; returns the row's key."""
    lines = path.read_text(encoding="utf-8").split("\n")
    header = next(csv.reader([lines[0]]))
    fields = next(csv.reader([lines[line - 1]]))
    fields[header.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    lines[line - 1] = buffer.getvalue()
    path.write_text("\n".join(lines), encoding="utf-8")
    return fields[header.index("key")]


def test_a_non_numeric_cell_is_skipped_with_one_line_by_every_reader(results, tmp_path):
    path = results / "kodak" / "rows.csv"
    original = [r["key"] for r in csv_rows(path)]
    key = set_cell(path, 6, "psnr", "3x.51")
    warning = f"warning: {path} line 6: column psnr holds '3x.51', not a number (key {key}); skipped"
    before = digest(path)

    store = ResultStore(path)
    assert [r["key"] for r in store.rows()] == [k for k in original if k != key]
    assert [(p.line, p.reason) for p in store.problems] == [(6, f"column psnr holds '3x.51', not a number (key {key})")]
    assert load_rows(path)["psnr"].notna().all()

    reports = tmp_path / "reports"
    for command in (["summary"], ["bd-rate", "--reports", str(reports), "--bootstrap", "20"],
                    ["report", "--reports", str(reports), "--bootstrap", "20"], ["export"]):
        done = bench(*command, "--results", str(results), "--dataset", "kodak")
        assert done.returncode == 0 and "Traceback" not in done.stderr, (command, done.stderr)
        assert warning in done.stderr.splitlines(), (command, done.stderr)
    assert digest(path) == before  # readers never write


def test_a_run_sets_a_non_numeric_row_aside_and_measures_it_again(pair, tmp_path):
    results = tmp_path / "results"
    bench(*run_args(pair, results, "jpeg")).check()
    path = results / "pair" / "rows.csv"
    key = set_cell(path, 3, "width", "x9")
    bad_line = path.read_bytes().split(b"\n")[2]

    again = bench(*run_args(pair, results, "jpeg")).check()
    assert (f"warning: {path} line 3: column width holds 'x9', not a number (key {key}); skipped"
            in again.stderr.splitlines())
    report = again.report
    assert (len(report.rows), report.measured, report.timed, report.reused, report.timed_now) == (4, 1, 0, 3, 1)
    stored = {r["key"]: r for r in whole_rows(path)}
    assert len(stored) == 4 and stored[key]["width"] in ("64", "96")
    assert path.with_name("rows.csv.malformed").read_bytes() == bad_line + b"\n"  # nothing is lost


def test_a_numeric_extension_column_is_checked_when_declared(tmp_path):
    from bench.core.schema import Column

    path = tmp_path / "ds" / "rows.csv"
    store = ResultStore(path)
    store.declare([Column("gain_db", "float")])
    store.append(row("a", gain_db=1.5))
    store.append(row("b", gain_db=2.5))
    set_cell(path, 3, "gain_db", "two")
    reader = ResultStore(path)  # the file's extension column is text until a codec declares its kind
    assert len(reader.rows()) == 2
    reader.declare([Column("gain_db", "float")])
    assert [r["key"] for r in reader.rows()] == ["a"] and reader.frame()["gain_db"].tolist() == [1.5]
    assert [p.line for p in reader.problems] == [3]


# --- no write leaves the folder ------------------------------------------------------------------


def test_a_linked_lock_file_is_refused_and_its_target_untouched(pair, tmp_path):
    from bench.core.errors import StoreError

    results = tmp_path / "results"
    folder = results / "pair"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    before = digest(victim)
    (folder / ".lock").symlink_to(victim)

    with pytest.raises(StoreError, match="is a symbolic link"):
        with folder_lock(folder):
            pass
    with pytest.raises(StoreError, match="is a symbolic link"):
        ResultStore(folder / "rows.csv").append(row("a"))
    run = bench(*run_args(pair, results, "jpeg"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines()[-1] == (f"error: {folder / '.lock'} is a symbolic link; the harness never writes "
                                           "through links: replace it by a regular file or folder (or remove it), or "
                                           "pass another --results")
    assert digest(victim) == before and not (folder / "rows.csv").exists()

    (folder / ".lock").unlink()
    os.link(victim, folder / ".lock")  # a hard link would be truncated just the same
    with pytest.raises(StoreError, match="hard-linked"):
        with folder_lock(folder):
            pass
    assert digest(victim)[0] == before[0]


def test_a_dangling_rows_link_is_refused_and_nothing_written_at_its_target(pair, tmp_path):
    from bench.core.errors import StoreError

    results = tmp_path / "results"
    folder = results / "pair"
    folder.mkdir(parents=True)
    target = tmp_path / "elsewhere" / "rows.csv"
    target.parent.mkdir()
    (folder / "rows.csv").symlink_to(target)

    run = bench(*run_args(pair, results, "jpeg"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines()[-1].startswith(f"error: {folder / 'rows.csv'} is a symbolic link; ")
    with pytest.raises(StoreError, match="is a symbolic link"):
        ResultStore(folder / "rows.csv").append(row("a"))
    assert not target.exists() and list(target.parent.iterdir()) == []
    assert (folder / "rows.csv").is_symlink()  # refused, not replaced either


def test_a_linked_runs_folder_is_refused_before_any_row(pair, tmp_path):
    results = tmp_path / "results"
    folder = results / "pair"
    folder.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "runs").symlink_to(outside, target_is_directory=True)
    run = bench(*run_args(pair, results, "jpeg"))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.splitlines()[-1].startswith(f"error: {folder / 'runs'} is a symbolic link; ")
    assert list(outside.iterdir()) == [] and not (folder / "rows.csv").exists()


def test_merge_refuses_a_linked_run_file(results, tmp_path):
    source = tmp_path / "shard"
    shutil.copytree(results, source)
    runs = source / "kodak" / "runs"
    secret = tmp_path / "secret.json"
    secret.write_text('{"not": "a run"}\n')
    (runs / "20990101T000000Z-linked.json").symlink_to(secret)
    target = tmp_path / "merged"
    done = bench("merge", str(source), "--results", str(target))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"error: {runs / '20990101T000000Z-linked.json'} is a symbolic "
                                                   "link; merge copies only a results folder's own files")
    assert not target.exists()


# --- SIGTERM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("whom", ["parent", "group"])
def test_sigterm_marks_the_run_interrupted_and_keeps_whole_rows(tmp_path, whom):
    import json
    import signal

    images = image_files(tmp_path / "six", [(192, 256)] * 6, prefix="im")
    results = tmp_path / "results"
    rows = results / "six" / "rows.csv"
    command = [sys.executable, "-m", "bench", "run", "--data", str(images), "--codecs", "jpeg", "--results",
               str(results), "--jobs", "2", "--no-progress"]
    err = tmp_path / "err"
    with open(err, "w") as stderr:
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if rows.exists() and rows.read_bytes().count(b"\n") > 10:  # in the parallel RD pass (120 rows)
                break
            time.sleep(0.005)
        try:
            if whom == "parent":  # as `kill PID`: the workers learn of it from the evaluator
                os.kill(proc.pid, signal.SIGTERM)
            else:  # as a scheduler or `timeout` ending a job: every process of the group at once
                os.killpg(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=120) == 143
        finally:
            if proc.poll() is None:  # hung: leave no process behind
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = err.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
    assert text.splitlines()[-1] == (f"terminated (SIGTERM): finished rows are kept in {rows}; rerun the same command "
                                     "to resume")
    [run_file] = (results / "six" / "runs").glob("*.json")
    assert json.loads(run_file.read_text())["status"] == "interrupted"
    kept = whole_rows(rows)
    assert 0 < len(kept) < 120 and ResultStore(rows).problems == []
