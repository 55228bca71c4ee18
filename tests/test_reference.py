"""Reading and writing CompressAI results JSON."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from bench.core.errors import BenchError
from bench.analysis.reference import ReferenceCurve, ReferenceFileError, read_reference, write_reference

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BENCH_SHARED_DIR", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"
needs_shared = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"shared reference curves not found at {REFERENCE}")


def _files() -> list[Path]:
    return sorted(REFERENCE.glob("compressai-kodak*/*.json")) if REFERENCE.is_dir() else []


@needs_shared
@pytest.mark.parametrize("path", _files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reads_every_published_file(path: Path) -> None:
    raw = json.loads(path.read_text())["results"]
    curve = read_reference(path)
    assert curve.name and curve.source == str(path)
    assert curve.bpp == tuple(raw["bpp"])
    assert curve.psnr is not None or curve.ms_ssim is not None
    for values in (curve.psnr, curve.ms_ssim, curve.ms_ssim_db, *curve.extra.values()):
        assert values is None or len(values) == len(curve.bpp)
    if "psnr-rgb" in raw:
        assert curve.psnr == tuple(raw["psnr-rgb"])
    if "ms-ssim-rgb" in raw:
        assert curve.ms_ssim == tuple(raw["ms-ssim-rgb"])
    if "ms-ssim-db-rgb" in raw:  # stored in dB by the paper curves: converted and back
        assert curve.ms_ssim_db == pytest.approx(raw["ms-ssim-db-rgb"], abs=1e-9)


@needs_shared
def test_jpeg_values() -> None:
    curve = read_reference(REFERENCE / "compressai-kodak" / "jpeg.json")
    assert curve.name == "JPEG" and len(curve.bpp) == 19
    assert curve.bpp[0] == 0.22115325927734372 and curve.psnr[0] == 23.779894921045457
    assert curve.ms_ssim_db[0] == pytest.approx(-10 * math.log10(1 - 0.8030709524949392), abs=1e-12)
    assert set(curve.extra) == {"encoding_time", "decoding_time"}


@needs_shared
def test_published_file_round_trips(tmp_path: Path) -> None:
    for name in ("jpeg.json", "paper-cheng2020-checkerboard-6M_mse.json"):
        curve = read_reference(REFERENCE / "compressai-kodak" / name)
        out = tmp_path / name
        write_reference(
            out, curve.name, curve.description, curve.bpp, curve.psnr, curve.ms_ssim, meta=curve.meta, **curve.extra
        )
        again = read_reference(out)
        assert (again.name, again.description, again.bpp, again.psnr, again.meta) == (
            curve.name,
            curve.description,
            curve.bpp,
            curve.psnr,
            curve.meta,
        )
        assert again.ms_ssim == pytest.approx(curve.ms_ssim, abs=1e-15)
        assert dict(again.extra) == dict(curve.extra)


def test_write_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    args = ("codec", "a test codec", [0.1, 0.2, 0.4, 0.8], [28.0, 30.5, 33.0, 35.25], [0.9, 0.95, 0.97, 0.985])
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_reference(first, *args, encoding_time=[1, 2, 3, 4])
    write_reference(second, *args, encoding_time=[1, 2, 3, 4])
    text = first.read_text()
    assert text == second.read_text() and text.endswith("}\n")
    assert text.startswith('{\n  "description": "a test codec",\n  "name": "codec",\n  "results": {\n    "bpp": [')
    curve = read_reference(first)
    assert curve == ReferenceCurve(
        "codec",
        "a test codec",
        (0.1, 0.2, 0.4, 0.8),
        (28.0, 30.5, 33.0, 35.25),
        (0.9, 0.95, 0.97, 0.985),
        str(first),
        {"encoding_time": (1.0, 2.0, 3.0, 4.0)},
    )
    assert curve.ms_ssim_db == pytest.approx([10.0, 13.0103, 15.2288, 18.2391], abs=1e-4)


def test_write_refuses_bad_lists(tmp_path: Path) -> None:
    with pytest.raises(ReferenceFileError, match="unequal lengths"):
        write_reference(tmp_path / "x.json", "x", "", [0.1, 0.2], [30.0], None)
    with pytest.raises(ReferenceFileError, match="non-finite"):
        write_reference(tmp_path / "x.json", "x", "", [0.1, float("nan")], None, None)
    with pytest.raises(ReferenceFileError, match="clashes"):
        write_reference(tmp_path / "x.json", "x", "", [0.1], None, None, **{"psnr-rgb": [30.0]})
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"name": "x", "description": ""}', 'missing "results" object'),
        ('{"name": "x", "results": {"psnr-rgb": [30.0]}}', 'missing results["bpp"]'),
        (
            '{"name": "x", "results": {"bpp": [0.1, 0.2], "psnr-rgb": [30.0]}}',
            "results lists have unequal lengths (bpp: 2, psnr-rgb: 1)",
        ),
        ('{"name": "x", "results": {"bpp": [0.1, "a"]}}', 'results["bpp"] has a non-numeric value ("a")'),
        ('{"name": "x", "results": {"bpp": [0.1, null]}}', 'results["bpp"] has a non-numeric value (null)'),
        ('{"name": "x", "results": {"bpp": [0.1, NaN]}}', 'results["bpp"] has a non-finite value (nan)'),
        ('{"name": "x", "results": {"bpp": 0.1}}', 'results["bpp"] is not a list'),
        ('{"name": "x", "results": {"bpp": [0.1], "ms-ssim-rgb": [12.0]}}', "values above 1"),
        ('{"name": "x", "results": {"bpp": [0.1], "psnr": [30.0], "psnr-rgb": [30.0]}}', "keep one"),
        ("[1, 2]", "top level is not a JSON object"),
        ('{"name": "x", ', "not valid JSON"),
    ],
)
def test_read_refuses_naming_the_file(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ReferenceFileError) as info:
        read_reference(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
    assert isinstance(info.value, BenchError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReferenceFileError, match="no such file"):
        read_reference(tmp_path / "absent.json")


def test_old_key_names(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"name": "old", "results": {"bpp": [0.1, 0.2], "psnr": [30, 32], "ms-ssim": [0.9, 0.99]}}')
    curve = read_reference(path)
    assert curve.psnr == (30.0, 32.0) and curve.ms_ssim_db == pytest.approx([10.0, 20.0])
    assert curve.description == "" and curve.extra == {}
