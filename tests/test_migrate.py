"""``migrate_results`` rewrites stored results in the current format; readers see the same values."""

import csv
import json
import shutil
from copy import deepcopy
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.summary import summarize
from bench.cli import main
from bench.core.errors import StoreError
from bench.core.migrate import migrate_results
from bench.core.schema import COLUMNS, RUNS_FORMAT, read_run
from bench.core.store import ResultStore, load_rows
from conftest import REPO

SOURCES = {  # dataset folders of committed results, copied into one results folder
    "kodak": REPO / "tests" / "fixtures" / "results-v1" / "kodak",
    "fixture": REPO / "tests" / "fixtures" / "results" / "kodak",
    "complexity": REPO / "tests" / "fixtures" / "complexity",
}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    for name, source in SOURCES.items():
        shutil.copytree(source, results / name, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return results


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_migration_keeps_every_value_and_every_summary(copy):
    before_rows = {name: ResultStore(copy / name / "rows.csv").rows() for name in SOURCES}
    before_runs = {p.relative_to(copy): read_run(p) for p in copy.glob("*/runs/*.json")}
    before_raw = {p.relative_to(copy): json.loads(p.read_text()) for p in copy.glob("*/runs/*.json")}

    report = migrate_results(copy)

    rewritten = {item.path.relative_to(copy) for item in report.rewritten}
    assert rewritten == {Path(name, "rows.csv") for name in SOURCES} | set(before_runs)  # all are format 1
    assert report.current == []
    kodak = next(item for item in report.files if item.path == copy / "kodak" / "rows.csv")
    assert "column format_version added (legacy value '1')" in kodak.changes
    fixture = next(item for item in report.files if item.path == copy / "fixture" / "rows.csv")
    assert "column allocator added (legacy value 'system')" in fixture.changes
    assert "column payload_bytes added (empty)" in fixture.changes
    for name in SOURCES:
        path = copy / name / "rows.csv"
        with open(path, newline="") as fh:
            assert tuple(next(csv.reader(fh))) == COLUMNS
        assert ResultStore(path).rows() == before_rows[name]
        original, migrated = load_rows(SOURCES[name] / "rows.csv"), load_rows(path)
        pd.testing.assert_frame_equal(summarize(original), summarize(migrated))
    for relative, meta in before_runs.items():
        raw = json.loads((copy / relative).read_text())
        assert raw == meta and raw["format_version"] == RUNS_FORMAT
        assert read_run(copy / relative) == meta
        # what was recorded is kept; the first run's settings gain the heap policy its rows read as
        expected = deepcopy(before_raw[relative])
        if "settings" in expected:
            expected["settings"].setdefault("allocator", "system")
        for info in expected.get("codecs", {}).values():
            info.setdefault("point_details", {})
        assert {key: raw[key] for key in expected} == expected


def test_a_second_migration_touches_nothing(copy):
    migrate_results(copy)
    before = snapshot(copy)
    report = migrate_results(copy)
    assert report.rewritten == [] and len(report.current) == len(report.files) == 3 + 5
    assert snapshot(copy) == before


def test_current_files_are_left_byte_for_byte_even_when_untidy(tmp_path):
    folder = tmp_path / "results" / "d"
    store = ResultStore(folder / "rows.csv")
    store.append({"key": "a", "status": "ok", "bpp": 1.0})
    store.append({"key": "a", "status": "ok", "bpp": 2.0})  # a superseded row: not a format matter
    (folder / "runs").mkdir()
    (folder / "runs" / "r.json").write_text(json.dumps({"format_version": RUNS_FORMAT, "run_id": "r"}))
    before = snapshot(folder)
    report = migrate_results(tmp_path / "results")
    assert report.rewritten == [] and snapshot(folder) == before


def test_a_format_1_file_with_repeated_keys_and_a_torn_line(tmp_path):
    folder = tmp_path / "results" / "d"
    folder.mkdir(parents=True)
    (folder / "rows.csv").write_text("codec,key,bpp,status\njpeg,a,1.0,ok\njpeg,a,2.0,ok\njpeg,b,3.0,ok\njpeg,c,4")
    (item,) = migrate_results(tmp_path / "results").files
    assert set(item.changes) >= {"torn final line dropped", "columns put in schema order",
                                 "1 superseded row(s) dropped (the last row of each key is kept)"}
    rows = ResultStore(folder / "rows.csv").rows()
    assert [(r["key"], r["bpp"], r["allocator"], r["format_version"]) for r in rows] == [
        ("a", "2.0", "system", "1"), ("b", "3.0", "system", "1")]


def test_unreadable_run_metadata_stops_the_migration_naming_the_file(tmp_path):
    runs = tmp_path / "results" / "d" / "runs"
    runs.mkdir(parents=True)
    (runs / "x.json").write_text("{")
    with pytest.raises(StoreError, match="x.json"):
        migrate_results(tmp_path / "results")
    with pytest.raises(StoreError, match="no results folder"):
        migrate_results(tmp_path / "missing")


def test_cli_migrate_reports_each_rewritten_file(copy, capsys):
    assert main(["migrate", "--results", str(copy)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "8 file(s) rewritten, 0 already current"
    kodak = [line for line in out if line.startswith(f"{copy / 'kodak' / 'rows.csv'}: column ")]
    assert len(kodak) == 1 and "; column format_version added (legacy value '1')" in kodak[0]
    assert main(["migrate", "--results", str(copy)]) == 0
    assert capsys.readouterr().out.splitlines() == ["0 file(s) rewritten, 8 already current"]
