import json
import math

import numpy as np
import pytest
from PIL import Image

from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.pipeline import CodecRun, Settings, evaluate
from bench.core.metrics import ms_ssim, psnr
from conftest import natural_image


def jpeg_run(points=("q10", "q50", "q90")):
    return CodecRun(registry.create("jpeg"), tuple(points))


def test_rows_match_an_independent_round_trip(image_folder, tmp_path):
    report = evaluate(folder_dataset(image_folder), [jpeg_run()], tmp_path / "results",
                      Settings(jobs=1, progress=False))
    rows = report.rows
    assert len(rows) == 9 and (rows.status == "ok").all()
    for r in rows.itertuples():
        pixels = np.asarray(Image.open(image_folder / r.image).convert("RGB"))
        buffer = __import__("io").BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=int(r.point[1:]), subsampling=2)
        decoded = np.asarray(Image.open(buffer))
        assert r.bytes == len(buffer.getvalue())
        assert r.bpp == 8 * len(buffer.getvalue()) / (r.width * r.height)
        assert r.psnr == pytest.approx(psnr(pixels, decoded), abs=1e-12)
        assert r.ms_ssim == pytest.approx(ms_ssim(pixels, decoded), abs=1e-12)
        assert r.ms_ssim_db == pytest.approx(-10 * math.log10(1 - r.ms_ssim))
        assert r.encode_s > 0 and r.decode_s > 0 and r.timing_repeats == 3  # the default
        assert 0 <= r.encode_spread_s < math.inf and 0 <= r.decode_spread_s < math.inf
    summary = report.summary
    assert list(summary.point) == ["q10", "q50", "q90"]  # sorted by rate
    q50 = rows[rows.point == "q50"]
    assert summary.set_index("point").loc["q50", "bpp"] == pytest.approx(q50.bpp.mean())
    meta = json.loads(next((tmp_path / "results" / "synthetic" / "runs").glob("*.json")).read_text())
    assert meta["status"] == "complete"
    assert meta["codecs"]["jpeg"]["identity"]["subsampling"] == "4:2:0"
    assert meta["codecs"]["jpeg"]["identity"]["libjpeg_turbo"]
    assert {"cpu", "git_commit", "date", "versions"} <= set(meta["environment"])


def test_parallel_rd_pass_equals_sequential_and_is_timed(image_folder, tmp_path):
    sequential = evaluate(folder_dataset(image_folder), [jpeg_run()], tmp_path / "a",
                          Settings(jobs=1, repeats=1, progress=False))  # the reference for RD values: one timed call a row
    parallel = evaluate(folder_dataset(image_folder), [jpeg_run()], tmp_path / "b", Settings(jobs=2, progress=False))
    cols = ["key", "bytes", "bpp", "psnr", "ms_ssim"]
    a = sequential.rows.sort_values("key")[cols].reset_index(drop=True)
    b = parallel.rows.sort_values("key")[cols].reset_index(drop=True)
    assert a.equals(b)
    assert parallel.rows.encode_s.notna().all() and parallel.rows.decode_s.notna().all()
    # the first row is measured timed in this process (it tells the call's cost), the others in the timing pass;
    # each is counted once, as measured: none was a stored row re-timed
    assert parallel.measured == 9 and parallel.timed == 0 and parallel.timed_now == 9


def test_rerun_reuses_rows(image_folder, tmp_path):
    dataset = folder_dataset(image_folder)
    settings = Settings(repeats=1, progress=False)  # one timed call a row: reuse is the point
    evaluate(dataset, [jpeg_run()], tmp_path, settings)
    again = evaluate(dataset, [jpeg_run(("q10", "q50", "q90", "q95"))], tmp_path, settings)
    assert again.reused == 9 and again.measured == 3 and len(again.rows) == 12


def test_rows_timed_under_other_conditions_are_timed_again_not_measured_again(image_folder, tmp_path):
    dataset = folder_dataset(image_folder)  # one timed call a row (repeats=1): which rows are timed is the point
    first = evaluate(dataset, [jpeg_run()], tmp_path, Settings(repeats=1, progress=False))
    assert set(first.rows.allocator) == {"system"} and set(first.rows.threads) == {1}
    same = evaluate(dataset, [jpeg_run()], tmp_path, Settings(repeats=1, progress=False))
    assert same.reused == 9 and same.timed == 0
    heap = evaluate(dataset, [jpeg_run()], tmp_path, Settings(allocator="caching", repeats=1, progress=False))
    assert heap.measured == 0 and heap.timed == 9 and set(heap.rows.allocator) == {"caching"}
    cols = ["key", "bytes", "psnr", "ms_ssim"]
    assert heap.rows.sort_values("key")[cols].reset_index(drop=True).equals(
        first.rows.sort_values("key")[cols].reset_index(drop=True))
    threads = evaluate(dataset, [jpeg_run()], tmp_path, Settings(allocator="caching", threads=2, repeats=1,
                                                                 progress=False))
    assert threads.measured == 0 and threads.timed == 9 and set(threads.rows.threads) == {2}


def test_small_image_keeps_its_row_with_ms_ssim_missing(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    Image.fromarray(natural_image(64, 100)).save(folder / "small.png")
    report = evaluate(folder_dataset(folder), [jpeg_run(("q50",))], tmp_path / "r", Settings(progress=False))
    r = report.rows.iloc[0]
    assert r.status == "ok" and math.isfinite(r.psnr) and math.isnan(r.ms_ssim)
    assert "ms_ssim missing" in r.note and "160" in r.note
    assert math.isnan(report.summary.iloc[0].ms_ssim) and report.summary.iloc[0].ms_ssim_images == 0


def test_codec_fault_marks_the_row_and_the_run_goes_on(image_folder, tmp_path):
    from bench.core.codec import Codec, Coder

    class Broken(Coder):
        point = "x"

        def encode(self, image):
            raise RuntimeError("boom")

        def decode(self, data):
            raise AssertionError

    class BrokenCodec(Codec):
        name = "broken"

        def default_points(self):
            return ["x"]

        def coder(self, point):
            return Broken()

        def identity(self):
            return {}

    report = evaluate(folder_dataset(image_folder), [CodecRun(BrokenCodec(), ("x",)), jpeg_run(("q50",))],
                      tmp_path, Settings(progress=False))
    broken = report.rows[report.rows.codec == "broken"]
    assert (broken.status == "failed").all() and broken.note.str.contains("RuntimeError: boom").all()
    assert (report.rows[report.rows.codec == "jpeg"].status == "ok").all()
    line = report.summary[report.summary.codec == "broken"].iloc[0]
    assert line.images == 0 and line.failed == 3 and math.isnan(line.bpp)


def test_reconstructions_and_bitstreams_are_written(image_folder, tmp_path):
    settings = Settings(progress=False, reco_dir=tmp_path / "reco", bitstream_dir=tmp_path / "bits")
    report = evaluate(folder_dataset(image_folder), [jpeg_run(("q30",))], tmp_path / "r", settings)
    coder = registry.create("jpeg").coder("q30")
    for r in report.rows.itertuples():  # named by the full file name: img0.png.bin, img0.png.png
        data = (tmp_path / "bits/jpeg/q30" / f"{r.image}.bin").read_bytes()
        assert len(data) == r.bytes
        recon = np.asarray(Image.open(tmp_path / "reco/jpeg/q30" / f"{r.image}.png"))
        assert np.array_equal(recon, coder.decode(data))
        assert r.psnr == pytest.approx(psnr(np.asarray(Image.open(image_folder / r.image)), recon), abs=1e-12)
