"""Dataset identity, row identity and bad input, with real folders, real runs and the real store (issue 12).

References are independent of the harness: bitstream sizes and reconstructions from Pillow's own JPEG
encoder/decoder, pixel comparisons with numpy, and the committed results of the published run.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.analysis.export import export_results
from bench.core import registry
from bench.core.datasets import folder_dataset, kodak
from bench.core.errors import DatasetError
from bench.core.reuse import codec_hash
from bench.core.manifest import Manifest, check_same_dataset, load_current_rows, read_manifest
from bench.core.metrics import psnr
from bench.core.store import ResultStore
from bench.pipeline import CodecRun, Settings, evaluate
import clitools
from clitools import Done
from conftest import REPO, natural_image

STALE_2 = "2 stale rows of images no longer in the dataset, kept in rows.csv, not averaged"


def bench(*args: object) -> Done:
    return clitools.bench(*map(str, args))


def run(data: Path, results: Path, *extra: object) -> Done:
    return bench("run", "--data", data, "--results", results, "--no-progress", "--jobs", "1", *extra)


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    """Pillow's own JPEG at the harness's settings (4:2:0), the reference for sizes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, subsampling=2)
    return buffer.getvalue()


def one_line_error(result: Done) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --- images deleted or replaced: stale rows ---------------------------------------------------------


def test_deleted_and_replaced_images_are_stale_never_averaged(tmp_path):
    data, results = tmp_path / "photos", tmp_path / "r"
    data.mkdir()
    first = {f"im{i}.png": natural_image(64, 96, seed=i) for i in range(3)}
    for name, pixels in first.items():
        Image.fromarray(pixels).save(data / name)
    evaluate(folder_dataset(data), [CodecRun(registry.create("jpeg"), ("q50",))], results, Settings(progress=False))

    (data / "im2.png").unlink()  # deleted
    replaced = natural_image(64, 96, seed=7)
    Image.fromarray(replaced).save(data / "im1.png")  # same name, other pixels
    again = run(data, results, "--points", "q50")
    assert again.returncode == 0, again.stderr
    assert STALE_2 in again.stdout

    rows = ResultStore(results / "photos/rows.csv").frame()
    assert len(rows) == 4  # every row is kept: im0, the old im1, im2, the new im1
    current = {"im0.png": first["im0.png"], "im1.png": replaced}
    expected = np.mean([8 * len(jpeg_bytes(p, 50)) / (64 * 96) for p in current.values()])
    summary = pd.read_csv(results / "photos/summary.csv")
    assert summary.images.tolist() == [2]
    assert summary.bpp.iloc[0] == pytest.approx(expected, rel=1e-5)  # summary.csv keeps 6 digits

    loaded = load_current_rows(results / "photos")
    assert loaded.stale == 2
    assert sorted(zip(loaded.rows.image, loaded.rows.bytes)) == sorted(
        (name, len(jpeg_bytes(p, 50))) for name, p in current.items())

    shown = bench("summary", "--results", results, "--dataset", "photos")
    assert shown.returncode == 0 and STALE_2 in shown.stdout
    export_results(results, "photos")
    curve = json.loads((results / "photos/compressai/jpeg.json").read_text())["results"]
    assert curve["bpp"] == [pytest.approx(expected, rel=1e-12)]


# --- another dataset under an existing name ------------------------------------------------------------


def test_another_folder_of_the_same_name_is_refused_never_merged(tmp_path):
    mine, theirs, results = tmp_path / "x/photos", tmp_path / "y/photos", tmp_path / "r"
    for folder, seeds in ((mine, (0, 1)), (theirs, (10, 11))):
        folder.mkdir(parents=True)
        for seed in seeds:
            Image.fromarray(natural_image(48, 64, seed=seed)).save(folder / f"im{seed % 10}.png")
    assert run(mine, results, "--points", "q50").returncode == 0
    rows_before = (results / "photos/rows.csv").read_bytes()
    manifest_before = (results / "photos/manifest.json").read_bytes()
    runs_before = sorted((results / "photos/runs").iterdir())

    line = one_line_error(run(theirs, results, "--points", "q50"))
    assert "--name" in line and "--results" in line and str(mine.resolve()) in line
    assert (results / "photos/rows.csv").read_bytes() == rows_before  # nothing merged, nothing written
    assert (results / "photos/manifest.json").read_bytes() == manifest_before
    assert sorted((results / "photos/runs").iterdir()) == runs_before

    named = run(theirs, results, "--points", "q50", "--name", "photos-y")
    assert named.returncode == 0, named.stderr
    other = ResultStore(results / "photos-y/rows.csv").frame()
    assert sorted(other.bytes) == sorted(len(jpeg_bytes(natural_image(48, 64, seed=s), 50)) for s in (10, 11))
    assert set(ResultStore(results / "photos/rows.csv").frame().dataset) == {"photos"}

    copy = tmp_path / "z/photos"  # the same images in another folder: the same dataset
    shutil.copytree(mine, copy)
    moved = evaluate(folder_dataset(copy), [CodecRun(registry.create("jpeg"), ("q50",))], results,
                     Settings(progress=False))
    assert moved.measured == 0 and len(moved.rows) == 2
    assert read_manifest(results / "photos").folder == str(copy.resolve())


def test_the_identity_rule():
    images = {"a.png": "1" * 64, "b.png": "2" * 64}
    recorded = Manifest("photos", images, folder="/data/photos")
    check_same_dataset(None, Manifest("photos", {"z.png": "9" * 64}, folder="/else/photos"), "r")  # nothing recorded
    check_same_dataset(recorded, Manifest("photos", {"a.png": "3" * 64}, folder="/data/photos"), "r")  # same folder
    check_same_dataset(recorded, Manifest("photos", dict(images), folder="/copy/photos"), "r")  # same images
    with pytest.raises(DatasetError, match="--name NAME"):
        check_same_dataset(recorded, Manifest("photos", {"a.png": "1" * 64}, folder="/copy/photos"), "r")


def test_a_name_must_be_a_plain_folder_name(tmp_path):
    Image.fromarray(natural_image(16, 16)).save(tmp_path / "a.png")
    for bad in ("../up", "a/b", "", ".hidden"):
        with pytest.raises(DatasetError, match="--name"):
            folder_dataset(tmp_path, name=bad)
    assert folder_dataset(tmp_path, name="mine").name == "mine"


# --- row identity: the file name is part of it -----------------------------------------------------------


def test_identical_pixels_under_two_names_are_two_rows(tmp_path):
    data = tmp_path / "twins"
    data.mkdir()
    pixels = natural_image(40, 56, seed=3)
    for name in ("a.png", "b.png"):
        Image.fromarray(pixels).save(data / name)
    runs = [CodecRun(registry.create("jpeg"), ("q30", "q70"))]
    report = evaluate(folder_dataset(data), runs, tmp_path / "r", Settings(progress=False))
    rows = report.rows
    assert sorted(zip(rows.image, rows.point)) == [("a.png", "q30"), ("a.png", "q70"), ("b.png", "q30"),
                                                    ("b.png", "q70")]
    assert rows.key.nunique() == 4
    for point in ("q30", "q70"):
        assert set(rows[rows.point == point].bytes) == {len(jpeg_bytes(pixels, int(point[1:])))}
    assert report.summary.images.tolist() == [2, 2]
    again = evaluate(folder_dataset(data), runs, tmp_path / "r", Settings(progress=False))
    assert again.measured == 0 and again.reused == 4


def _committed_jpeg_rows(image: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    with open(REPO / "results/kodak/rows.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if r["codec"] == "jpeg" and (image is None or r["image"] == image)]
        header = list(reader.fieldnames or ())
    if rows[0]["codec_hash"] != codec_hash(registry.create("jpeg")):
        pytest.skip("the committed JPEG rows were measured with another libjpeg-turbo")
    return header, rows


def test_rows_written_before_keys_held_the_file_name_are_reused(kodak_dir, tmp_path):
    header, legacy = _committed_jpeg_rows("kodim01.png")  # committed rows: the old key formula
    folder = tmp_path / "r/kodak"
    folder.mkdir(parents=True)
    with open(folder / "rows.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(legacy)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(kodak_dir / "kodim01.png", data / "kodim01.png")
    shutil.copy(kodak_dir / "kodim01.png", data / "copy.png")  # the same pixels under another name
    points = tuple(sorted({r["point"] for r in legacy}))
    report = evaluate(folder_dataset(data, name="kodak"), [CodecRun(registry.create("jpeg"), points)],
                      tmp_path / "r", Settings(progress=False, repeats=1))  # one timed call a row: reuse is the point
    assert report.measured == len(points)  # the copy's rows only; kodim01's committed rows are kept
    rows = report.rows
    kept = rows[rows.image == "kodim01.png"]
    assert set(kept.key) == {r["key"] for r in legacy}  # under their own keys
    by_point = {r["point"]: int(r["bytes"]) for r in legacy}
    copy = rows[rows.image == "copy.png"]
    assert len(copy) == len(points) and not set(copy.key) & set(kept.key)
    assert all(by_point[p] == b for p, b in zip(copy.point, copy.bytes))  # same pixels, same bitstream
    assert len(rows) == 2 * len(points)


def test_committed_results_are_not_measured_again(kodak_dir, tmp_path):
    _committed_jpeg_rows()
    shutil.copytree(REPO / "results/kodak", tmp_path / "kodak")
    points = ("q5", "q50", "q95")
    # on any machine but the one that timed the committed rows, each row is timed again (not measured again):
    # one timed call a row, as above: reuse of the RD values is the point
    report = evaluate(kodak(local_dir=kodak_dir), [CodecRun(registry.create("jpeg"), points)], tmp_path,
                      Settings(progress=False, repeats=1))
    assert report.measured == 0
    assert len(report.rows) == len(ResultStore(REPO / "results/kodak/rows.csv").rows())
    assert read_manifest(tmp_path / "kodak").folder is None  # Kodak: identified by its bundled manifest
    assert load_current_rows(tmp_path / "kodak").stale == 0


# --- artifacts named by the full file name ---------------------------------------------------------------


def test_png_and_jpg_of_one_stem_keep_their_own_artifacts_and_verify(tmp_path):
    data, results, bits, reco = tmp_path / "mixed", tmp_path / "r", tmp_path / "bits", tmp_path / "reco"
    data.mkdir()
    Image.fromarray(natural_image(48, 64, seed=0)).save(data / "img.png")
    Image.fromarray(natural_image(48, 64, seed=1)).save(data / "img.jpg", quality=95)
    Image.fromarray(natural_image(48, 64, seed=2)).save(data / "solo.png")
    done = bench("run", "--data", data, "--results", results, "--points", "q20,q60", "--bitstreams", bits,
                 "--reco-dir", reco, "--no-progress", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    rows = ResultStore(results / "mixed/rows.csv").frame()
    assert len(rows) == 6
    for r in rows.itertuples():
        data_bytes = (bits / "jpeg" / r.point / f"{r.image}.bin").read_bytes()
        assert len(data_bytes) == r.bytes
        decoded = np.asarray(Image.open(io.BytesIO(data_bytes)).convert("RGB"))
        assert np.array_equal(decoded, np.asarray(Image.open(reco / "jpeg" / r.point / f"{r.image}.png")))
        original = np.asarray(Image.open(data / r.image).convert("RGB"))
        assert r.psnr == pytest.approx(psnr(original, decoded), abs=1e-12)

    # the older naming, <image stem>.bin: read where one image has the stem, left out (and said) where two do
    (bits / "jpeg/q60/solo.png.bin").rename(bits / "jpeg/q60/solo.bin")
    shutil.copy(bits / "jpeg/q20/img.png.bin", bits / "jpeg/q20/img.bin")
    checked = bench("verify", "--data", data, "--results", results, "--bitstreams", bits, "--device", "cpu")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert len(checked.report.checks) == 6 and checked.report.ok
    skipped = [line for line in checked.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and "img.bin" in skipped[0] and "img.jpg, img.png" in skipped[0], checked.stderr


# --- bad input, all at once ------------------------------------------------------------------------------


def _mixed_folder(folder: Path) -> dict[str, str]:
    """Three usable files and five unusable ones; returns each unusable name with a word of its reason."""
    folder.mkdir()
    pixels = natural_image(40, 48, seed=4)
    Image.fromarray(pixels).save(folder / "good.png")
    Image.fromarray(pixels[..., 0]).save(folder / "grey.png")
    Image.fromarray(pixels).convert("P").save(folder / "palette.png")
    (folder / "broken.png").write_bytes(b"not an image at all")
    whole = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(folder / "deep.png")
    rgba = np.dstack([pixels, np.full(pixels.shape[:2], 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "translucent.png")
    Image.new("CMYK", (16, 16), (0, 50, 100, 0)).save(folder / "cmyk.jpg")
    return {"broken.png": "not a readable", "truncated.png": "truncated", "deep.png": "16-bit",
            "translucent.png": "transparency", "cmyk.jpg": "CMYK"}


def test_every_unusable_file_is_named_at_once(tmp_path):
    data = tmp_path / "mixed"
    unusable = _mixed_folder(data)

    strict = run(data, tmp_path / "strict", "--points", "q50", "--strict")
    line = one_line_error(strict)
    for name, word in unusable.items():
        assert f"{name}: " in line and word in line, (name, line)
    assert "5 of 8 files" in line
    assert not (tmp_path / "strict").exists()  # refused before any file was written

    done = run(data, tmp_path / "r", "--points", "q50")
    assert done.returncode == 0, done.stderr
    for name, word in unusable.items():  # listed at the start and again with the summary
        assert done.stderr.count(f"  {name}: ") == 2, done.stderr
    rows = ResultStore(tmp_path / "r/mixed/rows.csv").frame()
    conversion = dict(zip(rows.image, rows.conversion.fillna("")))
    assert conversion == {"good.png": "", "grey.png": "grayscale (L) replicated to RGB",
                          "palette.png": "palette (P) converted to RGB"}
    assert set(read_manifest(tmp_path / "r/mixed").unusable) == set(unusable)
    shown = bench("summary", "--results", tmp_path / "r", "--dataset", "mixed")
    assert all(f"  {name}: " in shown.stdout for name in unusable), shown.stdout


def test_a_folder_with_no_usable_file_is_refused_naming_each(tmp_path):
    data = tmp_path / "bad"
    data.mkdir()
    (data / "a.png").write_bytes(b"garbage")
    (data / "b.jpg").write_bytes(b"\xff\xd8 more garbage")
    line = one_line_error(run(data, tmp_path / "r"))
    assert "a.png: " in line and "b.jpg: " in line and "none of the 2 files" in line


def test_a_damaged_manifest_is_named_with_the_fix(tmp_path):
    from bench.core.errors import StoreError

    for text in ("{", "[1]", '{"name": "a"}', '{"name": "a", "manifest": {"x.png": 1}}'):
        (tmp_path / "manifest.json").write_text(text)
        with pytest.raises(StoreError, match="manifest.json: .*delete it, the next run writes it again"):
            read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format_version": 99, "name": "a", "manifest": {}}')
    with pytest.raises(StoreError, match="upgrade the harness"):
        read_manifest(tmp_path)
