"""Images below the minimum size (issue 24): refused at screening, with real files and real runs.

References are independent of the harness: the JPEG container's size from the marker segments of the
standard (ITU-T T.81, JFIF 1.02) counted by hand and by walking Pillow's own files, and mean bpp from
Pillow's own JPEG encoder.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.core.images import JPEG_FIXED_BYTES, MIN_SIDE, pixel_sha256, too_small
from bench.core.manifest import load_current_rows, read_manifest
import clitools
from clitools import Done
from conftest import natural_image, read_csv_rows, write_csv_rows

TINY = {"dot.png": (1, 1), "eight.png": (8, 8), "fifteen.png": (15, 15), "strip.png": (1, 40)}
OK = {"sixteen.png": (16, 16), "small.png": (32, 48)}


def bench(*args: object) -> Done:
    return clitools.bench(*map(str, args))


def run(data: Path, results: Path, *extra: object) -> Done:
    return bench("run", "--data", data, "--results", results, "--codecs", "jpeg", "--points", "q50",
                 "--no-progress", "--jobs", "1", *extra)


def jpeg_bytes(pixels: np.ndarray, quality: int = 50) -> bytes:
    """Pillow's own JPEG at the harness's settings (4:2:0)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, subsampling=2)
    return buffer.getvalue()


def pixels(height: int, width: int, seed: int) -> np.ndarray:
    if min(height, width) < 2:
        return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return natural_image(height, width, seed=seed)


def folder(path: Path, shapes: dict[str, tuple[int, int]]) -> Path:
    path.mkdir()
    for seed, (name, (height, width)) in enumerate(shapes.items()):
        Image.fromarray(pixels(height, width, seed)).save(path / name)
    return path


def scan_bytes(data: bytes) -> int:
    """Bytes between the end of the (single) SOS header and the EOI marker, by walking the segments."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    start = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    assert data[-2:] == b"\xff\xd9"
    return len(data) - 2 - start


# --- the threshold, by hand --------------------------------------------------------------------------


def test_the_jpeg_container_by_hand_and_in_pillows_files():
    # marker (2) + length field (2) + content, per T.81 B.2 and JFIF 1.02
    app0 = 2 + 2 + 5 + 2 + 1 + 2 + 2 + 1 + 1  # "JFIF\0", version, units, densities, thumbnail 0×0
    dqt = 2 + 2 + 1 + 64  # one 8-bit table per segment, luma and chroma
    sof0 = 2 + 2 + 1 + 2 + 2 + 1 + 3 * 3  # precision, height, width, 3 components of 3 bytes
    dht = [2 + 2 + 1 + 16 + n for n in (12, 162, 12, 162)]  # the standard tables (T.81 K.3): DC/AC luma, chroma
    sos = 2 + 2 + 1 + 3 * 2 + 3
    hand = 2 + app0 + 2 * dqt + sof0 + sum(dht) + sos + 2  # SOI … EOI
    assert hand == JPEG_FIXED_BYTES == 625
    for height, width in ((1, 1), (16, 16), (64, 96)):
        data = jpeg_bytes(pixels(height, width, 0))
        assert len(data) - scan_bytes(data) == JPEG_FIXED_BYTES, (height, width)
    # the 1×1 file of the issue: the container alone is 5000 bits, so over 5000 bpp
    assert 8 * len(jpeg_bytes(pixels(1, 1, 0))) > 5000


def test_the_minimum_side_is_where_the_container_alone_stops_exceeding_raw_pixels():
    raw_bpp = 24  # 8-bit RGB, uncompressed
    container_bpp = lambda side: 8 * JPEG_FIXED_BYTES / side**2  # noqa: E731
    assert container_bpp(14) > raw_bpp > container_bpp(15)  # 25.5 > 24 > 22.2
    assert MIN_SIDE == 16 == 2 * 8  # rounded up to one 4:2:0 MCU: 2×2 blocks of 8×8 luma samples
    assert container_bpp(MIN_SIDE) == pytest.approx(19.53125)


def test_too_small_on_sizes_and_on_stored_columns():
    assert too_small(1, 1) and too_small(15, 15) and too_small(1000, 15) and too_small(15, 1000)
    assert not too_small(16, 16) and not too_small(768, 512)
    assert isinstance(too_small(16, 16), bool)
    rows = pd.DataFrame({"width": [1, 16, 48, np.nan], "height": [1, 16, 8, np.nan]})
    assert too_small(rows["width"], rows["height"]).tolist() == [True, False, True, False]  # NaN: unknown, kept


# --- a run ---------------------------------------------------------------------------------------------


def test_tiny_images_are_named_one_line_each_and_never_measured(tmp_path):
    data = folder(tmp_path / "mixed", {**TINY, **OK})
    done = run(data, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    for name, (height, width) in TINY.items():  # listed at the start and again under the summary
        lines = [line for line in done.stderr.splitlines() if line.startswith(f"  {name}: ")]
        assert len(lines) == 2, done.stderr
        assert f"{width}×{height} pixels, below the 16-pixel minimum side" in lines[0]
        assert "remove it or use an image at least 16×16" in lines[0]
        assert f"{8 * 625 / (width * height):.0f} bpp" in lines[0]
    assert "4 of 6 files are unusable" in done.stderr
    current = load_current_rows(tmp_path / "r" / "mixed")
    assert sorted(current.rows.image) == sorted(OK)
    assert set(current.manifest.unusable) == set(TINY)
    # the mean is over the usable images only, against Pillow's own files
    expected = np.mean([8 * len(jpeg_bytes(pixels(h, w, seed))) / (h * w)
                        for seed, (name, (h, w)) in enumerate({**TINY, **OK}.items()) if name in OK])
    summary = pd.read_csv(tmp_path / "r" / "mixed" / "summary.csv")
    assert summary.loc[0, "bpp"] == pytest.approx(expected, rel=1e-5)
    assert summary.loc[0, "images"] == 2

    strict = run(data, tmp_path / "strict", "--strict")
    assert strict.returncode == 2
    (line,) = strict.stderr.strip().splitlines()
    assert line.startswith("error: 4 of 6 files") and all(f"[{name}: " in line for name in TINY), line


def test_a_folder_of_tiny_images_only_is_refused(tmp_path):
    data = folder(tmp_path / "icons", {"dot.png": (1, 1), "eight.png": (8, 8)})
    done = run(data, tmp_path / "r")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "none of the 2 files" in line and "[dot.png: 1×1 pixels" in line and "[eight.png: 8×8 pixels" in line


def test_a_tiny_images_rows_stored_before_the_check_leave_the_means_on_the_next_run(tmp_path):
    data = folder(tmp_path / "d", OK)
    results = tmp_path / "r" / "d"
    assert run(data, tmp_path / "r").returncode == 0
    # what a run before the check stored: the 1×1 image measured, 631 bytes, 5048 bpp, and usable in the manifest
    dot = pixels(1, 1, 9)
    Image.fromarray(dot).save(data / "dot.png")
    header, rows = read_csv_rows(results / "rows.csv")
    stored = {**rows[0], "key": "0" * 24, "image": "dot.png", "width": "1", "height": "1", "bytes": "631",
              "bpp": "5048.0"}
    stored["image_sha256"] = pixel_sha256(dot)
    write_csv_rows(results / "rows.csv", header, [*rows, stored])
    manifest = json.loads((results / "manifest.json").read_text())
    manifest["manifest"]["dot.png"] = stored["image_sha256"]
    (results / "manifest.json").write_text(json.dumps(manifest))
    stored_rows = pd.read_csv(results / "rows.csv")
    assert too_small(stored_rows["width"], stored_rows["height"]).tolist() == [i == "dot.png" for i in stored_rows.image]
    # readers leave it out before any rerun, and say so
    before = load_current_rows(results)
    assert "dot.png" not in set(before.rows.image) and before.tiny == 1 and before.stale == 0
    assert "1 row of images below 16 pixels a side (stored before such images were refused), kept in rows.csv, " \
           "not averaged" in before.notes
    summary = bench("summary", "--results", tmp_path / "r", "--dataset", "d")
    assert summary.returncode == 0 and "1 row of images below 16 pixels a side" in summary.stdout + summary.stderr

    again = run(data, tmp_path / "r")
    assert again.returncode == 0, again.stderr
    assert "  dot.png: 1×1 pixels" in again.stderr
    current = load_current_rows(results)
    assert sorted(current.rows.image) == sorted(OK) and current.stale == 1 and current.tiny == 0  # stale now
    assert "dot.png" in {row["image"] for row in read_csv_rows(results / "rows.csv")[1]}
    assert "dot.png" in read_manifest(results).unusable
    expected = np.mean([8 * len(jpeg_bytes(pixels(h, w, seed))) / (h * w) for seed, (h, w) in enumerate(OK.values())])
    assert pd.read_csv(results / "summary.csv").loc[0, "bpp"] == pytest.approx(expected, rel=1e-5)
