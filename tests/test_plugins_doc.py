"""docs/plugins.md runs as written: its ``# file:`` code blocks are written to a folder, that folder goes on
``BENCH_CODEC_PATH``, and ``python -m bench run`` benchmarks both example codecs on two small images.
Its table of environment variables names every ``BENCH_*`` variable the code reads."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clitools import bench, python
from conftest import natural_image

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "plugins.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
FILE_LINE = re.compile(r"# file: (\S+)\n")


def doc_files() -> dict[str, str]:
    """``{file name: code}`` of the page's code blocks that start with ``# file: NAME``."""
    files = {}
    for _, code in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        match = FILE_LINE.match(code)
        if match:
            files[match.group(1)] = code
    return files


def test_the_page_has_both_examples_and_the_weights_script():
    assert sorted(doc_files()) == ["_untrained_weights.py", "png_palette.py", "tiny_factorized.py"]


@pytest.fixture
def doc_run(tmp_path):
    """The page's plug-ins, run on two small images: (rows, plug-in folder, images folder, reconstructions)."""
    plugins = tmp_path / "my-codecs"
    plugins.mkdir()
    for name, code in doc_files().items():
        (plugins / name).write_text(code, encoding="utf-8")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(162, 170), (176, 164)]):  # 162×170: padded to a multiple of 4; MS-SSIM needs ≥ 161
        Image.fromarray(natural_image(h, w, seed=i)).save(photos / f"p{i}.png")
    weights = tmp_path / "weights"
    made = python(plugins / "_untrained_weights.py", "weights", cwd=tmp_path)  # as the page runs it
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in weights.iterdir()) == [f"tiny-lambda{lam}.pth" for lam in ("0.0067", "0.0130", "0.0250", "0.0483")]
    reco = tmp_path / "reco"
    done = bench("run", "--data", photos, "--codecs", "png-palette,tiny-factorized", "--codec-args",
                 f"tiny-factorized:weights_dir={weights}", "--results", tmp_path / "results", "--repeats", "1",
                 "--jobs", "1", "--no-progress", "--reco-dir", reco, env={"BENCH_CODEC_PATH": str(plugins)})
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    return pd.read_csv(tmp_path / "results" / "photos" / "rows.csv"), photos, reco


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def test_both_example_codecs_give_real_rows(doc_run):
    rows, photos, reco = doc_run
    assert sorted(set(zip(rows["codec"], rows["point"]))) == [
        ("png-palette", "c128"), ("png-palette", "c32"), ("png-palette", "c8"),
        ("tiny-factorized", "lambda0.0067"), ("tiny-factorized", "lambda0.0130"), ("tiny-factorized", "lambda0.0250"),
        ("tiny-factorized", "lambda0.0483")]
    assert len(rows) == 14 and (rows["status"] == "ok").all(), rows[["codec", "point", "note"]]
    assert rows["note"].isna().all()  # the latent check passed and the rate estimate agrees
    assert rows["ms_ssim"].between(0, 1).all()
    assert rows["encode_s"].gt(0).all() and rows["decode_s"].gt(0).all()
    for row in rows.itertuples():
        original = np.asarray(Image.open(photos / row.image).convert("RGB"))
        height, width = original.shape[:2]
        assert row.bpp == pytest.approx(8 * row.bytes / (height * width))
        decoded = np.asarray(Image.open(reco / row.codec / row.point / f"{row.image}.png").convert("RGB"))
        assert decoded.shape == original.shape
        assert row.psnr == pytest.approx(_psnr(original, decoded), abs=1e-6)
        if row.codec == "png-palette":  # Pillow itself, without the harness, writes the same bytes
            buffer = io.BytesIO()
            Image.fromarray(original).quantize(int(row.point[1:])).save(buffer, "PNG", optimize=False)
            assert row.bytes == len(buffer.getvalue())
            assert len(np.unique(decoded.reshape(-1, 3), axis=0)) <= int(row.point[1:])
    tiny = rows[rows["codec"] == "tiny-factorized"]
    assert (tiny["padding"] == "replicate-4").all() and (tiny["device"] == "cpu").all()
    assert tiny["weights_sha256"].nunique() == 4  # one hash per point's weights
    assert (tiny["payload_bytes"] < tiny["bytes"]).all()  # the container's header is counted in bytes
    assert np.isfinite(tiny["bpp_estimated"]).all()


def _variables_read(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        names.update(re.findall(r"environ(?:\.get)?\(\s*[\"'](BENCH_[A-Z_]+)", path.read_text(encoding="utf-8")))
        names.update(re.findall(r"environ\[[\"'](BENCH_[A-Z_]+)", path.read_text(encoding="utf-8")))
        names.update(re.findall(r"plugin_dirs\([^)]*[\"'](BENCH_[A-Z_]+)", path.read_text(encoding="utf-8")))
    return names


def test_the_table_lists_every_environment_variable_the_code_reads():
    sources = [*(REPO / "bench").rglob("*.py"), *(REPO / "codecs").glob("*.py"), *(REPO / "metrics").glob("*.py"),
               REPO / "tests" / "conftest.py"]
    read = _variables_read(sources)
    assert {"BENCH_CODEC_PATH", "BENCH_METRIC_PATH", "BENCH_KODAK_DIR", "BENCH_CACHE_DIR"} <= read  # the search finds them
    table = set(re.findall(r"^\| `(BENCH_[A-Z_]+)` \|", DOC.read_text(encoding="utf-8"), re.M))
    assert table == read
