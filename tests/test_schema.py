"""The result format: row columns, codec column declarations, run metadata and its one reader."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from bench.core import schema, store
from bench.core.errors import StoreError
from bench.core.schema import (
    CODEC_FILLED, COLUMNS, GENERIC, NUMERIC, ROWS_FORMAT, RUNS_FORMAT, Column, SchemaError, declared_columns,
    read_run, read_runs,
)
from bench.core.store import ResultStore
from conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
RESULTS = FIXTURES / "results-v1" / "kodak"  # the Kodak results as committed before the schema (4 images)
FIXTURE_RESULTS = FIXTURES / "results" / "kodak"
COMPLEXITY = FIXTURES / "complexity"

# The row columns before the schema module existed, typed out: committed files and reports depend on them.
COLUMNS_V1 = (
    "key", "run_id", "dataset", "image", "image_sha256", "width", "height", "codec", "point", "codec_hash", "bytes",
    "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "encode_s", "decode_s", "encode_spread_s",
    "decode_spread_s", "timing_repeats", "threads", "allocator", "device", "padding", "weights_sha256",
    "bpp_estimated", "status", "note",
)
NUMERIC_V1 = (
    "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "encode_s", "decode_s",
    "encode_spread_s", "decode_spread_s", "timing_repeats", "threads", "bpp_estimated",
)


def header(path: Path) -> tuple[str, ...]:
    with open(path, newline="") as fh:
        return tuple(next(csv.reader(fh)))


def test_columns_keep_todays_order_and_add_format_version_last():
    ycbcr = ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv")
    timing = ("encode_loops", "decode_loops", "timing_sampled")
    added = ("conversion", "host", *ycbcr, "metrics", *timing, "derived")  # columns added since, each at its place
    assert tuple(c for c in COLUMNS if c not in added) == (*COLUMNS_V1, "format_version")
    assert COLUMNS.index("host") == COLUMNS.index("allocator") + 1  # the timing conditions together
    start = COLUMNS.index("ms_ssim_db") + 1  # the quality columns together
    assert COLUMNS[start:start + len(ycbcr) + 1] == (*ycbcr, "metrics")  # and which plug-in metrics scored the row
    assert header(RESULTS / "rows.csv") == COLUMNS_V1  # the published results were written with them
    start = COLUMNS.index("timing_repeats") + 1  # how a time was taken, beside its count of values
    assert COLUMNS[start:start + len(timing)] == timing
    assert tuple(c for c in NUMERIC if c not in ycbcr + timing) == (*NUMERIC_V1, "format_version")
    assert store.COLUMNS is COLUMNS and store.NUMERIC is NUMERIC
    # every value timed before loops existed was one call
    assert store.LEGACY_VALUES == {"allocator": "system", "format_version": "1", "encode_loops": "1", "decode_loops": "1"}
    assert set(GENERIC) | set(CODEC_FILLED) == set(COLUMNS) and not set(GENERIC) & set(CODEC_FILLED)
    assert len(set(COLUMNS)) == len(COLUMNS)
    assert all(column.description for column in schema.ROW_COLUMNS)


def test_column_names_and_kinds_are_checked():
    with pytest.raises(SchemaError, match="lower_snake_case"):
        Column("Bad Name")
    with pytest.raises(SchemaError, match="use one of"):
        Column("ok_name", "complex")  # type: ignore[arg-type]


def test_declarations_resolve_to_schema_columns_or_new_ones():
    new = Column("colour_error", "float", "ΔE of the reconstruction")
    resolved = declared_columns(("payload_bytes", new, "device"))
    assert [c.name for c in resolved] == ["payload_bytes", "colour_error", "device"]
    assert resolved[0].kind == "int" and resolved[1] is new
    with pytest.raises(SchemaError, match="not a codec-filled column"):
        declared_columns(("colour",))
    with pytest.raises(SchemaError, match="generic column"):
        declared_columns(("psnr",))
    with pytest.raises(SchemaError, match="already has"):
        declared_columns((Column("bpp_estimated", "float"),))
    with pytest.raises(SchemaError, match="twice"):
        declared_columns((Column("x", "int"), Column("x", "float")))
    with pytest.raises(SchemaError, match="names or Column"):
        declared_columns((3,))


def test_shipped_codecs_declare_what_their_coders_fill():
    from bench.core import registry
    from bench.core.errors import CodecError

    expected = {"jpeg": {"payload_bytes"}, "webp": {"payload_bytes"}, "jpeg2000": {"payload_bytes"}, "avif": {"payload_bytes"},
                "heic": {"payload_bytes"}}
    for name, columns in expected.items():
        try:
            codec = registry.create(name)
        except CodecError:  # a Pillow without this format: the codec cannot be built here
            continue
        assert set(codec.columns) == columns, name


# --- reading committed files through the schema (they stay in format 1 on disk) --------------------


@pytest.mark.parametrize("rows_path", [RESULTS / "rows.csv", FIXTURE_RESULTS / "rows.csv", COMPLEXITY / "rows.csv"])
def test_committed_rows_are_read_upgraded_without_being_written(rows_path):
    before = rows_path.read_bytes()
    old_header = header(rows_path)
    assert "format_version" not in old_header
    with open(rows_path, newline="") as fh:
        raw = {row["key"]: row for row in csv.DictReader(fh)}
    rows = ResultStore(rows_path).rows()
    assert rows and rows_path.read_bytes() == before
    for row in rows:
        assert tuple(row) == COLUMNS
        assert row["format_version"] == "1"
        expected_allocator = raw[row["key"]]["allocator"] if "allocator" in old_header else "system"
        assert row["allocator"] == expected_allocator
        assert all(row[c] == (raw[row["key"]][c] or "") for c in old_header)
    if "allocator" not in old_header:
        assert {row["allocator"] for row in rows} == {"system"}


def test_committed_run_metadata_is_read_upgraded_without_being_written():
    files = sorted(RESULTS.glob("runs/*.json"))
    before = {path: path.read_bytes() for path in files}
    runs = read_runs(RESULTS)
    assert sorted(runs) == ["20261124T225332Z-06f0a3", "20261129T120819Z-8d6201"]
    for run_id, meta in runs.items():
        raw = json.loads((RESULTS / "runs" / f"{run_id}.json").read_text())
        assert "format_version" not in raw
        assert meta["format_version"] == RUNS_FORMAT
        assert set(meta) == set(schema.RunMeta.__annotations__)
        assert meta["environment"] == raw["environment"] and meta["codecs"] == raw["codecs"]
    # the first run predates the heap-policy setting: glibc's default, as its rows read
    assert "allocator" not in json.loads(files[0].read_text())["settings"]
    assert runs["20261124T225332Z-06f0a3"]["settings"]["allocator"] == "system"
    assert runs["20261129T120819Z-8d6201"]["settings"]["allocator"] == "caching"
    assert {path: path.read_bytes() for path in files} == before


def test_fixture_run_metadata_missing_keys_are_filled():
    runs = read_runs(COMPLEXITY)
    meta = runs["20250102T000000Z-cpu001"]
    assert meta["format_version"] == 2 and meta["codecs"] == {} and meta["command"] == []
    assert meta["started"] is None and meta["settings"] == {"allocator": "system"} and meta["rows"] == {}
    assert meta["environment"]["cpu"]  # recorded values are kept
    fixture = read_run(FIXTURE_RESULTS / "runs" / "20250101T000000Z-f1x7re.json")
    assert all(info["point_details"] == {} for info in fixture["codecs"].values())
    assert set(fixture["codecs"]) == {"jpeg", "bmshj2018-factorized"}


def test_current_run_metadata_is_read_as_written(tmp_path):
    meta = {"format_version": RUNS_FORMAT, "run_id": "r1", "status": "complete", "started": "2025", "command": [],
            "dataset": {"name": "d"}, "codecs": {}, "settings": {"allocator": "caching"}, "averages": "mean",
            "rows": {"measured": 1, "timed": 1, "reused": 0}, "environment": {"cpu": "x"}}
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r1.json").write_text(schema.run_json(meta))
    assert read_runs(tmp_path) == {"r1": meta}
    # written by an Evaluation without the pipeline's extra metadata: the key reads as not recorded
    del meta["averages"]
    (tmp_path / "runs" / "r1.json").write_text(schema.run_json(meta))
    assert read_run(tmp_path / "runs" / "r1.json") == {**meta, "averages": None}


# --- one error policy for run metadata, in every reader ---------------------------------------------


def _readers(folder: Path):
    from bench.analysis.report import load_runs
    from bench.core.verify import _run_options
    from bench.learned.complexity.tables import run_environments

    return {
        "read_runs": lambda: read_runs(folder),
        "report": lambda: load_runs(folder, ["r1", "bad"]),
        "complexity": lambda: run_environments(folder),
        "verify": lambda: _run_options(folder),
    }


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read run metadata"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({"format_version": RUNS_FORMAT + 1, "run_id": "bad"}), "upgrade the harness"),
    (json.dumps({"format_version": "two"}), "not a version number"),
    (json.dumps({"run_id": "bad", "codecs": [{"points": ["q50"]}]}), "key 'codecs' is an array"),
    (json.dumps({"format_version": RUNS_FORMAT, "codecs": {"jpeg": None}}), "key 'codecs.jpeg' is null"),
    (json.dumps({"codecs": {"jpeg": {"identity": [1]}}}), "key 'codecs.jpeg.identity' is an array"),
    (json.dumps({"environment": "x"}), "key 'environment' is a string, expected an object"),
])
def test_a_bad_run_file_is_one_store_error_naming_it_everywhere(tmp_path, content, message):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "r1.json").write_text(json.dumps({"run_id": "r1", "codecs": {}}))
    (runs / "bad.json").write_text(content)
    for name, read in _readers(tmp_path).items():
        with pytest.raises(StoreError, match=message) as info:
            read()
        assert str(runs / "bad.json") in str(info.value), name
        assert "\n" not in str(info.value)


# --- the store and extension columns ----------------------------------------------------------------


def test_appended_rows_carry_the_current_format(tmp_path):
    path = tmp_path / "rows.csv"
    shutil.copy(FIXTURE_RESULTS / "rows.csv", path)
    first = ResultStore(path).rows()[0]
    store_ = ResultStore(path)
    store_.append({"key": "new", "codec": "jpeg", "point": "q1", "status": "ok"})
    again = ResultStore(path)
    assert header(path) == COLUMNS
    assert again.get("new")["format_version"] == str(ROWS_FORMAT)
    assert again.get(first["key"]) == first  # upgraded rows keep their values, version 1 included


def test_extension_columns_grow_the_header_and_are_kept(tmp_path):
    path = tmp_path / "rows.csv"
    one = ResultStore(path)
    one.append({"key": "a", "codec": "c", "status": "ok", "bpp": 0.5})
    extra = Column("colour_error", "float", "ΔE")
    one.declare([extra])
    assert header(path) == COLUMNS  # declaring alone writes nothing
    one.append({"key": "b", "codec": "c", "status": "ok", "colour_error": 1.25})
    assert header(path) == (*COLUMNS, "colour_error")
    reread = ResultStore(path)  # no declaration: the column is kept, as text
    assert reread.columns == (*COLUMNS, "colour_error")
    assert reread.get("a")["colour_error"] == "" and reread.get("b")["colour_error"] == "1.25"
    assert reread.frame()["colour_error"].tolist() == ["", "1.25"]
    reread.declare([extra])
    assert reread.frame()["colour_error"].iloc[1] == 1.25
    reread.append({"key": "c", "codec": "c", "status": "ok"})  # a codec without the column appends fine
    assert header(path) == (*COLUMNS, "colour_error")
    with open(path, newline="") as fh:
        assert [r["key"] for r in csv.DictReader(fh)] == ["a", "b", "c"]


def test_rows_of_a_newer_format_are_refused(tmp_path):
    path = tmp_path / "rows.csv"
    ResultStore(path).append({"key": "a", "status": "ok"})
    path.write_text(path.read_text().replace(f",{ROWS_FORMAT}\n", f",{ROWS_FORMAT + 1}\n"))
    with pytest.raises(StoreError, match="upgrade the harness"):
        ResultStore(path)
