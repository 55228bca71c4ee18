"""Screening notes files stored in a lossy format, told by content, and warns once per dataset."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image

from bench.core.datasets import folder_dataset
from bench.core.screening import lossy_format, prepare_images
from conftest import natural_image


def save(folder: Path, name: str, fmt: str, seed: int, **options) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.fromarray(natural_image(48, 64, seed=seed)).save(path, fmt, **options)
    return path


def test_lossy_formats_are_told_by_content_not_by_name(tmp_path: Path) -> None:
    written = {  # file → what it was encoded as (the reference)
        save(tmp_path, "a.jpg", "JPEG", 0, quality=90): "JPEG",
        save(tmp_path, "looks-lossless.png", "JPEG", 1, quality=95): "JPEG",
        save(tmp_path, "b.webp", "WEBP", 2, quality=80): "lossy WebP",
        save(tmp_path, "c.webp", "WEBP", 3, lossless=True): None,
        save(tmp_path, "d.webp", "WEBP", 4, quality=80, exif=b"Exif\0\0MM"): "lossy WebP",  # extended (VP8X)
        save(tmp_path, "e.png", "PNG", 5): None,
        save(tmp_path, "looks-lossy.jpg", "PNG", 6): None,
        save(tmp_path, "f.tiff", "TIFF", 7): None,
    }
    heif = tmp_path / "g.avif"  # ISO-BMFF: box size, 'ftyp', major brand
    heif.write_bytes(b"\0\0\0\x1cftypavif\0\0\0\0mif1miaf")
    written[heif] = "AVIF"
    (tmp_path / "h.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1")
    written[tmp_path / "h.heic"] = "HEIC"
    assert {path.name: lossy_format(path) for path in written} == {path.name: kind for path, kind in written.items()}
    assert lossy_format(tmp_path / "missing.jpg") is None


def test_a_dataset_of_jpeg_files_gets_one_warning_naming_the_high_quality_effect(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "photos"
    for i in range(3):
        save(folder, f"p{i}.jpg", "JPEG", i, quality=85)
    save(folder, "q.png", "PNG", 9)
    with caplog.at_level(logging.WARNING, logger="bench.core.screening"):
        screening = prepare_images(folder_dataset(folder))
    assert {image.name: image.lossy for image in screening.images} == {
        "p0.jpg": "JPEG", "p1.jpg": "JPEG", "p2.jpg": "JPEG", "q.png": ""}
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "3 of the 4 images" in warned[0] and "(JPEG: 3)" in warned[0]
    assert "q100 below q95" in warned[0] and "--rate-range" in warned[0]


def test_lossless_files_give_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "clean"
    save(folder, "a.png", "PNG", 0)
    save(folder, "b.webp", "WEBP", 1, lossless=True)
    with caplog.at_level(logging.WARNING, logger="bench.core.screening"):
        screening = prepare_images(folder_dataset(folder))
    assert screening.lossy_warning() is None and not caplog.records


def test_a_run_on_jpeg_files_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bench.cli import main

    folder = tmp_path / "photos"
    save(folder, "p.jpg", "JPEG", 0, quality=85)
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--data", str(folder), "--codecs", "jpeg", "--points", "q90", "--results",
                     str(tmp_path / "results"), "--no-progress"]) == 0
    assert sum("lossy files" in r.getMessage() for r in caplog.records) == 1
