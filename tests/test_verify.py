"""``python -m bench verify`` rebuilds each codec from the options its run recorded.

A toy plug-in (a real file on BENCH_CODEC_PATH) has an option its bitstream does not carry: every
sample is stored plus ``offset`` (mod 256), so a decoder built with another offset gives other
pixels. The run's PSNR is the reference the decodes must meet.
"""

from __future__ import annotations

import json

from PIL import Image

from clitools import bench
from conftest import natural_image

TOY_PLUGIN = '''
import numpy as np
from bench.core.codec import Codec, Coder
from bench.core.errors import CodecError
from bench.core.options import Option
from bench.core.registry import register


class ToyCoder(Coder):
    def __init__(self, shift, offset):
        self.point, self.shift, self.offset = f"s{shift}", shift, offset

    def encode(self, image):
        samples = ((image.astype(np.int64) >> self.shift) + self.offset) % 256
        return bytes([image.shape[0], image.shape[1]]) + samples.astype(np.uint8).tobytes()

    def decode(self, data):
        samples = (np.frombuffer(data[2:], np.uint8).astype(np.int64) - self.offset) % 256
        pixels = (samples << self.shift) + (1 << self.shift >> 1)
        return pixels.clip(0, 255).astype(np.uint8).reshape(data[0], data[1], 3)


class ToyCodec(Codec):
    name = "toy-test"

    def __init__(self, offset):
        self.offset = offset

    def default_points(self):
        return ["s1", "s3"]

    def coder(self, point):
        if point not in ("s1", "s2", "s3"):
            raise CodecError(f"toy-test has no point {point!r}")
        return ToyCoder(int(point[1:]), self.offset)

    def identity(self):
        return {"toy": 1, "offset": self.offset}


@register("toy-test", "quantised samples plus an offset (a test plug-in)",
          options=(Option("offset", int, 0, "added to every stored sample, mod 256"),))
def make(options):
    return ToyCodec(options["offset"])
'''


def test_verify_rebuilds_codecs_from_the_recorded_options(tmp_path):
    plugins, data = tmp_path / "plugins", tmp_path / "imgs"
    plugins.mkdir()
    data.mkdir()
    (plugins / "toy.py").write_text(TOY_PLUGIN)
    for i in range(2):
        Image.fromarray(natural_image(24, 32, seed=i)).save(data / f"im{i}.png")
    env = {"BENCH_CODEC_PATH": str(plugins)}
    results, bits = tmp_path / "r", tmp_path / "bits"

    def verify(*extra):
        return bench("verify", "--data", str(data), "--results", str(results), "--bitstreams", str(bits),
                     "--device", "cpu", *extra, env=env)

    done = bench("run", "--data", str(data), "--codecs", "toy-test", "--codec-args", "toy-test:offset=7",
                 "--results", str(results), "--bitstreams", str(bits), "--no-progress", "--jobs", "2", env=env)
    assert done.returncode == 0, done.stderr
    (meta_path,) = (results / "imgs" / "runs").glob("*.json")
    meta = json.loads(meta_path.read_text())
    assert meta["codecs"]["toy-test"]["options"] == {"offset": 7}
    assert meta["codecs"]["toy-test"]["identity"]["offset"] == 7  # the workers (--jobs 2) had it too

    same = verify()
    assert same.returncode == 0, same.stdout + same.stderr
    assert len(same.report.checks) == 4 and same.report.ok
    assert "4 bitstreams decoded twice: 4 identical, 0 with problems" in same.stdout

    # a run recorded before options existed: rebuilt as before (padding/update from the identity), so
    # the offset is the default unless the command line gives it (options given to verify override)
    del meta["codecs"]["toy-test"]["options"]
    meta_path.write_text(json.dumps(meta))
    legacy = verify()
    assert legacy.returncode == 1 and sum(bool(check.problems) for check in legacy.report.checks) == 4
    mismatches = [line for line in legacy.stdout.splitlines() if line.startswith("MISMATCH")]
    assert len(mismatches) == 4 and all("the run measured" in line for line in mismatches), legacy.stdout
    given = verify("--codec-args", "toy-test:offset=7")
    assert given.returncode == 0, given.stdout + given.stderr


def test_a_malformed_run_file_is_one_line_naming_it(tmp_path):
    """Each malformed ``runs/<id>.json``: one line ``error: <file>: <what is wrong>``, exit 2, no traceback."""
    data, results, bits = tmp_path / "imgs", tmp_path / "r", tmp_path / "bits"
    data.mkdir()
    Image.fromarray(natural_image(24, 32)).save(data / "im.png")

    done = bench("run", "--data", str(data), "--codecs", "jpeg", "--points", "q50", "--results", str(results),
                 "--bitstreams", str(bits), "--no-progress", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    (path,) = (results / "imgs" / "runs").glob("*.json")
    good = json.loads(path.read_text())

    def changed(edit):
        meta = json.loads(json.dumps(good))
        edit(meta)
        return json.dumps(meta)

    cases = {
        "codecs as a list": (changed(lambda m: m.update(codecs=list(m["codecs"].values()))),
                             "run metadata key 'codecs' is an array, expected an object of codec name"),
        "codecs null": (changed(lambda m: m.update(codecs=None)), "'codecs' is null, expected an object"),
        "a codec's entry a string": (changed(lambda m: m["codecs"].update(jpeg="q50")),
                                     "'codecs.jpeg' is a string, expected an object"),
        "options a list": (changed(lambda m: m["codecs"]["jpeg"].update(options=[])),
                           "'codecs.jpeg.options' is an array, expected an object"),
        "command an object": (changed(lambda m: m.update(command={})), "'command' is an object, expected an array"),
        "the codec of its rows missing": (changed(lambda m: m.update(codecs={"webp": m["codecs"]["jpeg"]})),
                                          "records codec(s) webp but not jpeg"),
        "invalid JSON": ('{"codecs": ', "cannot read run metadata"),
        "not an object": ("[1, 2]", "not a JSON object"),
        "empty": ("", "cannot read run metadata"),
    }
    for case, (text, message) in cases.items():
        path.write_text(text)
        checked = bench("verify", "--data", str(data), "--results", str(results), "--bitstreams", str(bits),
                        "--device", "cpu")
        lines = checked.stderr.strip().splitlines()
        assert checked.returncode == 2 and len(lines) == 1, (case, checked.stderr)
        assert lines[0].startswith(f"error: {path}: ") and message in lines[0], (case, lines[0])
        assert "restore the file or move it out of the runs folder" in lines[0] and not checked.stdout, case

    # a key the file lacks reads as not recorded (the schema's rule for older files): JPEG has no options
    # to rebuild from, so its bitstream still decodes as measured
    path.write_text(changed(lambda m: m.pop("codecs")))
    lacking = bench("verify", "--data", str(data), "--results", str(results), "--bitstreams", str(bits),
                    "--device", "cpu")
    assert lacking.returncode == 0 and len(lacking.report.checks) == 1 and lacking.report.ok, lacking.stderr
