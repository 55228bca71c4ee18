import math

import pandas as pd
import pytest

from bench.analysis.summary import summarize


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
