import subprocess
import sys

import pytest

from bench.core import registry
from bench.core.errors import CodecError
from conftest import REPO


def test_jpeg_is_registered_from_the_codecs_folder():
    assert "jpeg" in registry.names()
    assert registry.entry("jpeg").plugin.endswith("codecs/jpeg.py")


def test_unknown_codec_lists_known_ones():
    with pytest.raises(CodecError, match=r"unknown codec 'jpg'; known codecs: .*jpeg"):
        registry.entry("jpg")


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
