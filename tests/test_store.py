import csv

import pytest

from bench.core.store import COLUMNS, ResultStore, StoreError


def row(key, **values):
    return {"key": key, "codec": "jpeg", "point": "q5", "status": "ok", **values}


def test_rows_survive_reopen_and_last_row_per_key_wins(tmp_path):
    path = tmp_path / "rows.csv"
    store = ResultStore(path)
    store.append(row("a", bpp=0.5, psnr=30.25))
    store.append(row("b", bpp=1.0, note='comma, "quote"'))
    store.append(row("a", bpp=0.5, psnr=30.25, encode_s=0.001))
    again = ResultStore(path)
    assert [r["key"] for r in again.rows()] == ["a", "b"]
    assert again.get("a")["encode_s"] == "0.001"
    assert again.get("b")["note"] == 'comma, "quote"'
    frame = again.frame()
    assert frame.loc[frame.key == "a", "psnr"].item() == 30.25
    assert frame.loc[frame.key == "b", "psnr"].isna().item()


def test_compact_keeps_one_row_per_key(tmp_path):
    path = tmp_path / "rows.csv"
    store = ResultStore(path)
    for i in range(3):
        store.append(row("a", bpp=float(i)))
    store.compact()
    with open(path, newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == 1 and lines[0]["bpp"] == "2.0"


def test_torn_last_line_is_dropped_and_appends_continue(tmp_path):
    path = tmp_path / "rows.csv"
    store = ResultStore(path)
    store.append(row("a", bpp=0.5))
    with open(path, "a") as fh:
        fh.write("b,run,kodak,kodim01.png,abc")  # a row cut short by a crash
    store = ResultStore(path)
    assert [r["key"] for r in store.rows()] == ["a"]
    store.append(row("c", bpp=0.7))
    assert [r["key"] for r in ResultStore(path).rows()] == ["a", "c"]


def test_unknown_columns_are_refused_with_the_fix(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("key,bpp,colour\na,1,red\n")
    with pytest.raises(StoreError, match="move it away"):
        ResultStore(path)


def test_older_file_without_new_columns_is_read_and_upgraded_on_append(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("key,codec,bpp,status\na,jpeg,0.5,ok\n")
    store = ResultStore(path)
    assert store.get("a")["bpp"] == "0.5" and store.get("a")["payload_bytes"] == ""
    assert store.get("a")["allocator"] == "system"  # timed before the column existed: glibc's default
    assert path.read_text().startswith("key,codec,bpp,status")  # reading alone changes nothing
    store.append(row("b", bpp=0.7))
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        assert [r["key"] for r in reader] == ["a", "b"]


def test_unknown_column_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ResultStore(tmp_path / "rows.csv").append(row("a", colour="red"))


def test_columns_are_unique():
    assert len(set(COLUMNS)) == len(COLUMNS)
