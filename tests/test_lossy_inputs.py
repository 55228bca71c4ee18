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


def test_photos_already_jpeg_give_bd_numbers_though_the_anchor_turns_back_above_them(
        tmp_path: Path, kodak_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A folder of JPEG photos (Kodak crops saved at q90, like a BSDS download): re-encoding at q90 nearly
    reproduces them, so JPEG's mean PSNR falls from q90 to q95. Those points lie beyond WebP's range; the fit
    rule keeps only the nearest of them, so every BD-rate is a number, equal to the one with the others left
    out by hand."""
    import csv

    from bench.cli import main

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("kodim01", "kodim05", "kodim13", "kodim23"):
        image = Image.open(kodak_dir / f"{name}.png").convert("RGB")
        w, h = image.size
        image.crop((w // 2 - 192, h // 2 - 128, w // 2 + 192, h // 2 + 128)).save(folder / f"{name}.jpg", "JPEG",
                                                                                  quality=90)
    results = tmp_path / "results"
    with caplog.at_level(logging.WARNING):
        assert main(["run", "--data", str(folder), "--codecs", "jpeg,webp", "--results", str(results),
                     "--no-progress", "--repeats", "1"]) == 0
    assert sum("lossy files" in r.getMessage() for r in caplog.records) == 1
    rows = list(csv.DictReader((results / "photos" / "rows.csv").open()))
    mean = {p: sum(float(r["psnr"]) for r in rows if r["codec"] == "jpeg" and r["point"] == p) / 4
            for p in ("q90", "q95")}
    assert mean["q90"] > mean["q95"]  # the anchor is not monotonic: the case this test is about

    def bd(reports: Path, *extra: str) -> dict[str, float]:
        assert main(["bd-rate", "--results", str(results), "--dataset", "photos", "--reports", str(reports),
                     "--method", "cubic", "--bootstrap", "20", *extra]) == 0
        return {r["metric"]: float(r["bd_rate"]) for r in csv.DictReader((reports / "bd-rate.csv").open())}

    every = bd(tmp_path / "all")
    # BD-rate fits along quality: above WebP's top the nearest anchor point is q95 (lower PSNR than q90)
    low = ",".join(f"q{q}" for q in (*range(5, 90, 5), 95))
    assert set(every) == {"psnr", "ms_ssim_db", "psnr_y"}
    assert every == pytest.approx(bd(tmp_path / "low", "--anchor-points", low), abs=1e-9)
