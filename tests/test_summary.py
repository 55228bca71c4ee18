import math

import pandas as pd
import pytest

from bench.analysis.summary import host_times, summarize


def test_averaging_convention_by_hand():
    rows = pd.DataFrame(
        {
            "dataset": ["d"] * 3, "codec": ["c"] * 3, "point": ["p"] * 3,
            "status": ["ok", "ok", "failed"],
            "bpp": [0.5, 1.5, 9.0], "psnr": [30.0, 40.0, 99.0], "ms_ssim": [0.9, 0.99, 0.5],
            "encode_s": [1.0, 3.0, 7.0], "decode_s": [2.0, 4.0, 7.0],
        }
    )
    line = summarize(rows).iloc[0]
    assert line.images == 2 and line.failed == 1
    assert line.bpp == 1.0 and line.psnr == 35.0
    assert line.ms_ssim == pytest.approx(0.945)
    # MS-SSIM dB of the mean, not the mean of per-image dB (which would be 15.0)
    assert line.ms_ssim_db == pytest.approx(-10 * math.log10(1 - 0.945))
    assert line.encode_s == 2.0 and line.decode_s == 3.0
    assert line.ycbcr_images == 0 and math.isnan(line.psnr_y)  # rows from before the Y′CbCr columns
    with_ycbcr = rows.assign(psnr_y=[31.0, math.nan, 50.0], psnr_u=[40.0, math.nan, 0.0],
                             psnr_v=[41.0, math.nan, 0.0], psnr_yuv=[33.375, math.nan, 0.0])
    line = summarize(with_ycbcr).iloc[0]  # the failed row's values never count; a stored row without them neither
    assert line.ycbcr_images == 1 and (line.psnr_y, line.psnr_u, line.psnr_v, line.psnr_yuv) == (31, 40, 41, 33.375)


def test_each_mean_over_the_rows_that_have_its_value_and_times_from_one_host():
    rows = pd.DataFrame(
        {
            "dataset": ["d"] * 6, "codec": ["c"] * 6, "point": ["p", "p", "p", "p", "r", "r"],
            "image": ["a", "b", "c", "d", "a", "b"],
            "status": ["ok", "ok", "ok", "failed", "ok", "ok"],
            # run ids start with the UTC time: the second run (host h2) is the most recent
            "run_id": ["20250101T000000Z-1", "20250102T000000Z-2", "20250102T000000Z-2", "20250102T000000Z-2",
                       "20250101T000000Z-1", "20250101T000000Z-1"],
            "host": ["h1", "h2", "h2", "h2", "h1", "h1"],
            "bpp": [1.0, 2.0, 3.0, math.nan, 1.0, 1.0], "psnr": [30.0, 31.0, 35.0, math.nan, 30.0, 30.0],
            "ms_ssim": [0.9, math.nan, 0.99, math.nan, 0.9, math.nan],  # b: an image under 161 px
            "encode_s": [1.0, 3.0, 5.0, math.nan, 7.0, 9.0], "decode_s": [2.0, 4.0, 6.0, math.nan, 8.0, 10.0],
        }
    )
    table = summarize(rows).set_index("point")
    p, r = table.loc["p"], table.loc["r"]
    assert (p.images, p.failed, p.ms_ssim_images, p.timed_images) == (3, 1, 2, 2)
    assert p.bpp == 2.0 and p.psnr == 32.0
    assert p.ms_ssim == pytest.approx(0.945) and p.ms_ssim_db == pytest.approx(-10 * math.log10(1 - 0.945))
    assert (p.encode_s, p.decode_s, p.host) == (4.0, 5.0, "h2")  # host h2 only: a's h1 timing is left out
    # the codec's times come from one host: point r was timed on h1 only, so it has none
    assert (r.images, r.ms_ssim_images, r.timed_images, r.host) == (2, 1, 0, "h2")
    assert r.ms_ssim == 0.9 and math.isnan(r.encode_s) and math.isnan(r.decode_s)
    # without hosts (rows written before them) every timed row counts, as before
    legacy = summarize(rows.drop(columns=["host"])).set_index("point")
    assert legacy.loc["p"].encode_s == 3.0 and legacy.loc["p"].timed_images == 3 and legacy.loc["p"].host == ""
    # per host, every timed row counts, each host's means over its own images
    per_host = {(r.host, r.point): r for r in host_times(rows).itertuples(index=False)}
    assert set(per_host) == {("h1", "p"), ("h2", "p"), ("h1", "r")}
    assert (per_host["h1", "p"].timed_images, per_host["h1", "p"].encode_s) == (1, 1.0)
    assert (per_host["h2", "p"].encode_s, per_host["h2", "p"].decode_sd_s) == (4.0, pytest.approx(2 ** 0.5))
    assert (per_host["h1", "r"].timed_images, per_host["h1", "r"].decode_s) == (2, 9.0)
