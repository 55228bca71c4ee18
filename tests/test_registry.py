import csv
import subprocess
import sys

import pytest
from PIL import Image

from bench.core import registry
from bench.core.errors import CodecError
import clitools
from clitools import fresh_registry
from conftest import REPO, natural_image


def test_jpeg_is_registered_from_the_codecs_folder():
    assert "jpeg" in registry.names()
    assert registry.entry("jpeg").plugin.endswith("codecs/jpeg.py")


def test_unknown_codec_lists_known_ones():
    with pytest.raises(CodecError, match=r"unknown codec 'jpg' \(did you mean 'jpeg'\?\); known codecs: .*jpeg"):
        registry.entry("jpg")
    with pytest.raises(CodecError, match=r"unknown codec 'mbt2081' \(did you mean 'mbt2018'\?\); known codecs"):
        registry.entry("mbt2081")
    with pytest.raises(CodecError, match=r"unknown codec 'zzzz'; known codecs: "):  # nothing close: no guess
        registry.entry("zzzz")


def test_duplicate_name_is_an_error():
    registry.names()
    with pytest.raises(CodecError, match="registered twice"):
        registry.register("jpeg")(lambda options: None)


def test_asking_for_jpeg_does_not_import_torch():
    code = (
        "import sys; from bench.core import registry; c = registry.create('jpeg'); "
        "c.coder('q50').encode(__import__('numpy').zeros((8, 8, 3), 'uint8')); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_jpeg_labels():
    codec = registry.create("jpeg")
    assert codec.default_points() == [f"q{q}" for q in range(5, 101, 5)]
    assert codec.coder("q1").quality == 1
    for bad in ("q0", "q101", "75", "q7.5"):
        with pytest.raises(CodecError, match="q1 … q100"):
            codec.coder(bad)


# --- plug-ins load in isolation ------------------------------------------------------------------

GOOD_PLUGIN = '''
import numpy as np
from bench.core.codec import Codec, Coder
from bench.core.registry import register


class Raw(Coder):
    point = "raw"

    def encode(self, image):
        return bytes([image.shape[0], image.shape[1]]) + image.tobytes()

    def decode(self, data):
        return np.frombuffer(data[2:], np.uint8).reshape(data[0], data[1], 3)


class RawCodec(Codec):
    name = "raw-test"

    def default_points(self):
        return ["raw"]

    def coder(self, point):
        return Raw()

    def identity(self):
        return {"raw": 1}


@register("raw-test", "uncompressed pixels (a test plug-in)")
def make(options):
    return RawCodec()
'''

BROKEN_PLUGINS = {
    "a_syntax.py": ("def oops(:\n", "SyntaxError"),
    "b_missing.py": ("import bench_no_such_module_xyz\n", "ModuleNotFoundError: No module named 'bench_no_such_module_xyz'"),
    "c_boom.py": ("raise RuntimeError('the plug-in exploded')\n", "RuntimeError: the plug-in exploded"),
    "d_half.py": ("from bench.core.registry import register\n"
                  "register('half-test', 'registered before the failure')(lambda options: None)\n"
                  "raise ValueError('after registering')\n", "ValueError: after registering"),
}


def bench(*args, plugins):
    return clitools.bench(*args, env={"BENCH_CODEC_PATH": str(plugins)})


@pytest.fixture
def plugins(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "good.py").write_text(GOOD_PLUGIN)
    for name, (source, _) in BROKEN_PLUGINS.items():
        (folder / name).write_text(source)
    return folder


def test_broken_plugins_are_left_out_with_one_warning_each(plugins, tmp_path):
    listed = bench("codecs", plugins=plugins)
    assert listed.returncode == 0, listed.stderr
    names = [line.split()[0] for line in listed.stdout.splitlines() if line and not line.startswith(" ")]
    assert "raw-test" in names and "jpeg" in names and "bmshj2018-factorized" in names
    assert "half-test" not in names  # what a failed plug-in registered is dropped with it
    warnings = listed.stderr.strip().splitlines()
    assert len(warnings) == len(BROKEN_PLUGINS), listed.stderr
    for line, (name, (_, error)) in zip(warnings, sorted(BROKEN_PLUGINS.items())):
        assert line.startswith(f"warning: codec plug-in {plugins / name} failed to load") and error in line, line

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(natural_image(16, 24)).save(folder / "a.png")
    run = bench("run", "--data", str(folder), "--codecs", "raw-test", "--results", str(tmp_path / "r"),
                "--no-progress", "--jobs", "1", plugins=plugins)
    assert run.returncode == 0, run.stderr
    assert sum(line.startswith("warning: codec plug-in") for line in run.stderr.splitlines()) == len(BROKEN_PLUGINS)
    with open(tmp_path / "r" / "imgs" / "rows.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert (row["codec"], row["status"], row["bytes"]) == ("raw-test", "ok", str(2 + 16 * 24 * 3))

    asked = bench("run", "--data", str(folder), "--codecs", "half-test", "--results", str(tmp_path / "r"),
                  plugins=plugins)
    error = asked.stderr.strip().splitlines()[-1]
    assert asked.returncode == 2 and error.startswith("error: unknown codec 'half-test'") and "; known codecs: " in error
    assert "4 plug-in(s) failed to load" in error


def test_broken_plugins_do_not_affect_the_registry_api(plugins, monkeypatch):
    monkeypatch.setenv("BENCH_CODEC_PATH", str(plugins))
    with fresh_registry():
        codec = registry.create("jpeg")
        assert (len(registry.load_errors()), "raw-test" in registry.names(), codec.name) == (len(BROKEN_PLUGINS), True,
                                                                                              "jpeg")


def test_a_duplicate_name_in_a_plugin_stays_an_error(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "dup.py").write_text("from bench.core.registry import register\n"
                                   "register('jpeg', 'a second jpeg')(lambda options: None)\n")
    result = bench("codecs", plugins=folder)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: codec 'jpeg' registered twice") and str(folder / "dup.py") in lines[0]


@pytest.mark.parametrize("option, message", [
    ('Option("x", str, "a", "another device", flag="--device")', "declare the flag --device differently"),
    ('Option("x", int, 1, "threads", flag="--threads")', "clashes with another option"),
])
def test_a_plugin_flag_that_clashes_is_one_error_line(tmp_path, option, message):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "clash.py").write_text("from bench.core.options import Option\n"
                                     "from bench.core.registry import register\n"
                                     f"register('clash-test', 'x', options=({option},))(lambda options: None)\n")
    result = bench("codecs", plugins=folder)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
