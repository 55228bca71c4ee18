"""PSNR in Y′CbCr (full-range BT.709): against colour-science, by hand, and filled into stored rows.

colour-science (``colour.RGB_to_YCbCr``) is an independent implementation of the conversion; the
hand case is one pixel's error pushed through the BT.709 equations written out here. Stored rows
written before the columns existed get them from a bitstream made again, checked against the row.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.core.metrics import psnr, psnr_ycbcr
from bench.core.reuse import LATER_QUALITY, Action, reuse_rule
from clitools import Done, bench
from conftest import read_csv_rows, write_csv_rows


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality, subsampling=2)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _colour_science_psnr(reference: np.ndarray, test: np.ndarray) -> list[float]:
    colour = pytest.importorskip("colour")
    weights = colour.WEIGHTS_YCBCR["ITU-R BT.709"]

    def convert(image: np.ndarray) -> np.ndarray:  # normalised full-range Y′CbCr, ×255 to the 8-bit scale
        return 255.0 * colour.RGB_to_YCbCr(image, K=weights, in_bits=8, in_legal=False, in_int=True,
                                           out_bits=8, out_legal=False, out_int=False)

    a, b = convert(reference), convert(test)
    return [10 * math.log10(255.0**2 / float(np.mean((a[..., c] - b[..., c]) ** 2))) for c in range(3)]


def test_psnr_ycbcr_equals_colour_science_on_kodak(kodak_dir: Path) -> None:
    image = np.asarray(Image.open(kodak_dir / "kodim23.png").convert("RGB"))
    for quality in (10, 50, 90):
        decoded = _jpeg(image, quality)
        ours = psnr_ycbcr(image, decoded)
        expected = _colour_science_psnr(image, decoded)
        assert [ours["psnr_y"], ours["psnr_u"], ours["psnr_v"]] == pytest.approx(expected, abs=1e-9)
        assert ours["psnr_yuv"] == pytest.approx((6 * expected[0] + expected[1] + expected[2]) / 8, abs=1e-9)
        assert ours["psnr"] == psnr(image, decoded)  # the same sums' trace: the RGB PSNR, bit for bit
        # 4:2:0 JPEG keeps chroma at a quarter of the samples but quantises it less: here chroma PSNR is higher
        assert ours["psnr_u"] > ours["psnr_y"] and ours["psnr_v"] > ours["psnr_y"]


def test_one_pixel_by_hand() -> None:
    reference = np.full((2, 2, 3), 100, np.uint8)
    test = reference.copy()
    test[0, 0] = (110, 100, 100)  # +10 in R at one of four pixels
    # BT.709: Y′ = 0.2126 R + 0.7152 G + 0.0722 B; Cb = (B − Y′)/1.8556; Cr = (R − Y′)/1.5748
    dy = 0.2126 * 10
    dcb = (0 - dy) / 1.8556
    dcr = (10 - dy) / 1.5748
    expected = [10 * math.log10(255**2 / (d * d / 4)) for d in (dy, dcb, dcr)]
    got = psnr_ycbcr(reference, test)
    assert [got["psnr_y"], got["psnr_u"], got["psnr_v"]] == pytest.approx(expected, abs=1e-9)
    assert got["psnr_yuv"] == pytest.approx((6 * expected[0] + expected[1] + expected[2]) / 8, abs=1e-12)
    # a grey error (equal in R, G and B) is pure luma: chroma untouched, luma PSNR = RGB PSNR
    grey = reference.copy()
    grey[1, 1] = 90
    got = psnr_ycbcr(reference, grey)
    assert got["psnr_u"] == got["psnr_v"] == math.inf and got["psnr_yuv"] == math.inf
    assert got["psnr_y"] == pytest.approx(psnr(reference, grey), abs=1e-9)
    assert set(psnr_ycbcr(reference, reference).values()) == {math.inf}


def test_the_rule_for_rows_without_ycbcr() -> None:
    ok = {"status": "ok", "encode_s": "0.1", "timing_repeats": "3", "host": "aaaaaaaaaaaa",
          **{column: "40.0" for column in LATER_QUALITY}}
    assert reuse_rule(ok, "aaaaaaaaaaaa", True, 3)[0] == Action.REUSE
    assert reuse_rule({**ok, "psnr_y": ""}, "aaaaaaaaaaaa", True, 3)[0] == Action.SCORE
    # a row that needs timing anyway is filled in the timing pass
    assert reuse_rule({**ok, "psnr_y": "", "encode_s": ""}, "aaaaaaaaaaaa", True, 3)[0] == Action.TIME


def test_stored_rows_get_their_ycbcr_and_codec_filled_columns(image_folder: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    rows_path = results / "synthetic" / "rows.csv"

    def run() -> Done:
        return bench("run", "--data", image_folder, "--codecs", "jpeg", "--points", "q20,q60",
                     "--results", results, "--no-progress", "--jobs", "1", "--repeats", "1").check()

    run()
    header, first = read_csv_rows(rows_path)
    assert all(float(row[column]) > 0 for row in first for column in LATER_QUALITY)
    # the file as a version before the columns wrote it; one row's bytes as another encoder made them
    old_header = [column for column in header if column not in LATER_QUALITY]
    changed = first[0]["key"]
    stored = [{**row, "payload_bytes": ""} for row in first]  # as before JPEG's payload was recorded too
    write_csv_rows(rows_path, old_header, [{**row, "bytes": str(int(row["bytes"]) + 1)} if row["key"] == changed else row
                                   for row in stored])
    done = run()
    report = done.report
    assert (report.measured, report.timed, report.scored, report.reused, report.timed_now) == (1, 0, 5, 0, 1)
    assert "5 given the scores they lacked" in done.stdout and "measured again: encoder gave" in done.stderr
    _, after = read_csv_rows(rows_path)
    by_key = {row["key"]: row for row in first}
    assert len(after) == len(first)
    for row in after:
        old = by_key[row["key"]]
        filled = (*LATER_QUALITY, "payload_bytes")
        assert [row[c] for c in filled] == [old[c] for c in filled]
        if row["key"] != changed:  # scored: its timings and run are the stored ones
            assert (row["encode_s"], row["run_id"], row["bytes"]) == (old["encode_s"], old["run_id"], old["bytes"])
        else:  # its stored bytes were not what the codec makes: measured again
            assert row["bytes"] == old["bytes"] and row["run_id"] != old["run_id"]
    report = run().report
    assert (report.measured, report.timed, report.scored, report.reused, report.timed_now) == (0, 0, 0, 6, 0)


def _rows(psnr_y: bool) -> pd.DataFrame:
    """Anchor ``a`` and test ``t`` on three images: t reaches a's RGB PSNR at 0.9× its rate, a's PSNR-Y at 0.8×."""
    lines = []
    for codec, rgb_scale, luma_scale in (("a", 1.0, 1.0), ("t", 0.9, 0.8)):
        for k, bpp in enumerate((0.25, 0.5, 1.0, 2.0, 4.0)):
            psnr = 25.0 + 5.0 * math.log2(4 * bpp / rgb_scale)
            for image in ("i1.png", "i2.png", "i3.png"):
                lines.append({"dataset": "d", "codec": codec, "point": f"p{k}", "image": image, "status": "ok",
                              "codec_hash": codec, "bpp": bpp, "psnr": psnr,
                              "ms_ssim": 1 - 10 ** (-psnr / 30), "width": 64, "height": 64, "encode_s": 0.1, "decode_s": 0.1,
                              "psnr_y": 24.0 + 5.0 * math.log2(4 * bpp / luma_scale) if psnr_y else math.nan})
    return pd.DataFrame(lines)


def test_bd_tables_on_psnr_y_by_hand():
    from bench.analysis.bdformat import table_markdown
    from bench.analysis.bdtable import bd_table

    table = bd_table(_rows(True), anchor="a", methods=("cubic", "pchip"), n_boot=50)
    for method in ("cubic", "pchip"):
        # a pure rate scaling of a curve is its BD-rate, whatever the fit: −10 % on RGB PSNR, −20 % on PSNR-Y
        assert table.entry("t", "psnr", method).rate.value == pytest.approx(-10.0, abs=1e-9)
        assert table.entry("t", "psnr_y", method).rate.value == pytest.approx(-20.0, abs=1e-9)
    assert "**PSNR-Y (BT.709 Y′), dB**" in table_markdown(table) and "BD-PSNR-Y [dB]" in table_markdown(table)
    # rows from before the column: no PSNR-Y table at all, rather than one of reasons
    table = bd_table(_rows(False), anchor="a", n_boot=50)
    assert {e.metric for e in table.entries} == {"psnr", "ms_ssim_db"} and "PSNR-Y" not in table_markdown(table)
