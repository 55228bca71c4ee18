"""Codecs declare the columns they fill: an undeclared one stops the run with one line; a new one is stored."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bench.core.codec import Codec, Coder
from bench.core.datasets import folder_dataset
from bench.core.errors import CodecError
from bench.core.evaluator import CodecRun, Evaluation, Settings
from bench.core.schema import COLUMNS, RUNS_FORMAT, Column, read_runs
from bench.core.store import ResultStore
import clitools
from clitools import Done

PLUGIN = '''
"""A test plug-in: raw pixels behind a 4-byte shape header."""
import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.registry import register
from bench.core.schema import Column


class RawCoder(Coder):
    point = "raw"

    def encode(self, image):
        return image.shape[0].to_bytes(2, "big") + image.shape[1].to_bytes(2, "big") + image.tobytes()

    def decode(self, data):
        height, width = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
        return np.frombuffer(data[4:], np.uint8).reshape(height, width, 3).copy()

    def verify(self, image, data, recon):
        return {FIELDS}


class RawCodec(Codec):
    name = "{NAME}"
    columns = {COLUMNS}

    def default_points(self):
        return ["raw"]

    def coder(self, point):
        return RawCoder()

    def identity(self):
        return {{"format": "raw"}}


@register("{NAME}", "raw pixels (test plug-in)")
def make(options):
    return RawCodec()
'''


def write_plugin(folder: Path, name: str, fields: str, columns: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('-', '_')}.py"
    path.write_text(PLUGIN.replace("{FIELDS}", fields).replace("{NAME}", name).replace("{COLUMNS}", columns)
                    .replace("{{", "{").replace("}}", "}"))
    return path


def bench(*args: str, plugins: Path) -> Done:
    return clitools.bench(*args, env={"BENCH_CODEC_PATH": str(plugins)})


def test_a_plugin_filling_an_undeclared_column_is_one_line_naming_its_file(image_folder, tmp_path):
    plugin = write_plugin(tmp_path / "plugins", "rawtest-undeclared", '{"colour": "red"}', "()")
    results = tmp_path / "results"
    done = bench("run", "--data", str(image_folder), "--codecs", "rawtest-undeclared", "--results", str(results),
                 "--no-progress", plugins=plugin.parent)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(plugin) in lines[0] and "'rawtest-undeclared'" in lines[0]
    assert "colour" in lines[0] and "declare it in Codec.columns" in lines[0]
    rows = results / "synthetic" / "rows.csv"
    assert not rows.exists() or not ResultStore(rows).rows()  # nothing was stored for the bad row


def test_a_declared_extension_column_is_written_and_read_back(image_folder, tmp_path):
    plugin = write_plugin(tmp_path / "plugins", "rawtest-extension",
                          '{"colour_error": float(image.shape[0]), "payload_bytes": len(data) - 4}',
                          '(Column("colour_error", "float", "a made-up colour metric"), "payload_bytes")')
    results = tmp_path / "results"
    done = bench("run", "--data", str(image_folder), "--codecs", "rawtest-extension", "--results", str(results),
                 "--no-progress", plugins=plugin.parent)
    assert done.returncode == 0, done.stderr
    path = results / "synthetic" / "rows.csv"
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == (*COLUMNS, "colour_error")
        rows = list(reader)
    heights = {"img0.png": 192, "img1.png": 257, "img2.png": 200}
    widths = {"img0.png": 256, "img1.png": 193, "img2.png": 200}
    assert len(rows) == 3
    for row in rows:
        assert float(row["colour_error"]) == heights[row["image"]]
        assert int(row["payload_bytes"]) == heights[row["image"]] * widths[row["image"]] * 3
        assert row["format_version"] == "2" and row["status"] == "ok"
    frame = ResultStore(path).frame()
    assert sorted(frame["colour_error"]) == ["192.0", "200.0", "257.0"]  # kept as text when undeclared
    (run,) = read_runs(path.parent).values()
    assert run["format_version"] == RUNS_FORMAT and run["status"] == "complete"
    assert json.loads(next(path.parent.glob("runs/*.json")).read_text())["format_version"] == RUNS_FORMAT


# --- in process: a codec built in Python (not a registered plug-in) -----------------------------------


class _Coder(Coder):
    point = "raw"

    def __init__(self, fields):
        self.fields = fields

    def encode(self, image):
        return image.tobytes()

    def decode(self, data):
        return np.frombuffer(data, np.uint8).reshape(192, 256, 3).copy()

    def row_fields(self):
        return dict(self.fields)


class _Codec(Codec):
    name = "schema-test-raw"

    def __init__(self, fields, columns=()):
        self.fields, self.columns = fields, columns

    def default_points(self):
        return ["raw"]

    def coder(self, point):
        return _Coder(self.fields)

    def identity(self):
        return {}


@pytest.mark.parametrize("fields, columns, message", [
    ({"device": "cpu"}, (), "undeclared column(s) device"),
    ({}, ("colour",), "not a codec-filled column"),
])
def test_in_process_codec_errors_name_its_source_file(image_folder, tmp_path, fields, columns, message):
    (image_folder / "img1.png").unlink()
    (image_folder / "img2.png").unlink()
    evaluation = Evaluation(folder_dataset(image_folder), [CodecRun(_Codec(fields, columns), ("raw",))],
                            tmp_path / "results", Settings(progress=False))
    with pytest.raises(CodecError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        evaluation.run()
    assert __file__ in str(info.value) and "schema-test-raw" in str(info.value)
    assert not (tmp_path / "results" / "synthetic" / "rows.csv").exists()


def test_in_process_codec_with_declared_fields_runs(image_folder, tmp_path):
    (image_folder / "img1.png").unlink()
    (image_folder / "img2.png").unlink()
    codec = _Codec({"device": "cpu", "note_kind": "x"}, ("device", Column("note_kind", "str", "test")))
    report = Evaluation(folder_dataset(image_folder), [CodecRun(codec, ("raw",))], tmp_path,
                        Settings(progress=False)).run()
    assert report.rows["device"].tolist() == ["cpu"] and report.rows["note_kind"].tolist() == ["x"]
