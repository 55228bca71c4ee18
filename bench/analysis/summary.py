"""Averages over images, with one stated convention.

Per dataset × codec × operating point, over the rows that did not fail: mean
bpp, mean of per-image PSNR, mean of per-image MS-SSIM, and MS-SSIM dB of that
mean MS-SSIM — the convention of CompressAI's published results. (The mean of
per-image MSE converted to PSNR would be 0.4–0.5 dB lower on Kodak.) Failed rows
are counted, never averaged in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.metrics import ms_ssim_db
from bench.core.store import write_text_atomic

CONVENTION = (
    "mean bpp; mean of per-image PSNR; mean MS-SSIM; MS-SSIM dB = -10·log10(1 - mean MS-SSIM) "
    "(CompressAI's convention); failed rows excluded and counted"
)

SUMMARY_COLUMNS = (
    "dataset", "codec", "point", "images", "failed", "bpp", "psnr", "ms_ssim", "ms_ssim_db",
    "encode_s", "decode_s",
)


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per dataset × codec × operating point, sorted by codec then mean bpp."""
    if rows.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    lines = []
    for (dataset, codec, point), group in rows.groupby(["dataset", "codec", "point"], sort=False):
        good = group[group["status"] == "ok"]
        mean_ms_ssim = good["ms_ssim"].mean() if good["ms_ssim"].notna().all() else np.nan
        lines.append(
            {
                "dataset": dataset,
                "codec": codec,
                "point": point,
                "images": len(good),
                "failed": int((group["status"] != "ok").sum()),
                "bpp": good["bpp"].mean(),
                "psnr": good["psnr"].mean(),
                "ms_ssim": mean_ms_ssim,
                "ms_ssim_db": ms_ssim_db(mean_ms_ssim) if np.isfinite(mean_ms_ssim) else np.nan,
                "encode_s": good["encode_s"].mean(),
                "decode_s": good["decode_s"].mean(),
            }
        )
    table = pd.DataFrame(lines, columns=list(SUMMARY_COLUMNS))
    return table.sort_values(["dataset", "codec", "bpp"], kind="stable").reset_index(drop=True)


def write_summary(results_dir: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Write ``summary.csv`` of ``rows`` into ``results_dir`` (nothing when there are no rows); return it."""
    summary = summarize(rows)
    if not rows.empty:
        write_text_atomic(Path(results_dir) / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    return summary


def format_table(summary: pd.DataFrame) -> str:
    """A fixed-width text table for the terminal."""
    header = f"{'codec':<24} {'point':<14} {'n':>3} {'fail':>4} {'bpp':>8} {'PSNR':>8} {'MS-SSIM':>8} {'dB':>7} {'enc ms':>8} {'dec ms':>8}"
    lines = [header, "-" * len(header)]
    for r in summary.itertuples(index=False):
        lines.append(
            f"{r.codec:<24} {r.point:<14} {r.images:>3d} {r.failed:>4d} {r.bpp:>8.4f} {r.psnr:>8.3f} "
            f"{r.ms_ssim:>8.5f} {r.ms_ssim_db:>7.3f} {1e3 * r.encode_s:>8.2f} {1e3 * r.decode_s:>8.2f}"
        )
    return "\n".join(lines)
