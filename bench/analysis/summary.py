"""Averages over images, with one stated convention.

Per dataset × codec × operating point, over the rows that did not fail: mean
bpp, mean of per-image PSNR, mean of per-image MS-SSIM, and MS-SSIM dB of that
mean MS-SSIM — the convention of CompressAI's published results. (The mean of
per-image MSE converted to PSNR is lower: on the committed Kodak run by 0.1–0.5 dB per
operating point for most codecs, and by 1.2–1.9 dB for JPEG 2000, whose per-image PSNR
varies most at one setting; the BD tables show what that does to BD-rates.) Failed rows
are counted, never averaged in.

Each mean is over the rows that have a finite value of it, and says how many: ``images`` for bpp,
``psnr_images`` for PSNR (a lossless reconstruction's is inf), ``ms_ssim_images`` for MS-SSIM (an image under
161 px has none), ``ycbcr_images`` for PSNR-Y and ``psnr_u_images`` … for the others (a grey image's
chroma is reconstructed exactly: inf), ``timed_images`` for the times. NaN and inf values are neither
counted nor averaged.

Per codec, only the rows of one identity are averaged (:mod:`bench.core.identity`: the codec's current
settings and weights); :func:`summarize` selects them itself, so rows of other settings never mix in.
Times never mix hosts (:func:`bench.core.environment.fingerprint`): per codec they come from the
host of its most recently timed row (the current machine's after a run), named in ``host``
(empty: rows written before hosts were recorded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.identity import current_rows
from bench.core.metrics import ms_ssim_db
from bench.core.store import write_text_atomic

CONVENTION = (
    "mean bpp; mean of per-image PSNR (RGB, and Y′CbCr per channel); mean MS-SSIM; MS-SSIM dB = -10·log10(1 - mean MS-SSIM) "
    "(CompressAI's convention); failed rows excluded and counted; each mean over the images that have "
    "its value (counted per metric); times per codec from one host, that of its most recently timed rows"
)

SUMMARY_COLUMNS = (
    "dataset", "codec", "point", "images", "failed", "bpp", "psnr_images", "psnr", "ms_ssim_images", "ms_ssim",
    "ms_ssim_db", "ycbcr_images", "psnr_y", "psnr_u_images", "psnr_u", "psnr_v_images", "psnr_v", "psnr_yuv_images",
    "psnr_yuv", "timed_images", "encode_s", "decode_s", "encode_sd_s", "decode_sd_s",
    "encode_ci_s", "decode_ci_s", "repeated_rows", "encode_repeat", "decode_repeat", "derived_images", "host",
)
"""``images``: successful rows with a finite bpp, ``failed``: the others; ``psnr_images``, ``ms_ssim_images``,
``ycbcr_images`` (PSNR-Y), ``psnr_u_images``, ``psnr_v_images``, ``psnr_yuv_images``: the rows with a finite
value of the metric to their right, each mean over them (rows stored before the Y′CbCr columns have none); ``encode_s``/``decode_s``: mean over the timed images of each image's median time; ``*_sd_s``: their
standard deviation over those images (empty for one image); ``*_ci_s``: the half-width of the 95 % confidence
interval of the mean time over images (Student's t; empty for one image); ``repeated_rows``: timed rows with several
values (the repeatability sample, or every row under ``--repeats N``), ``*_repeat``: the median over them of each
row's spread (max − min) over its median — how far one row's time moves when taken again; ``derived_images``: of
``images``, rows whose RD values were derived (the ``derived`` column: the codec's own bitstream made another way,
checked on the run's sample; they have no times)."""

CI_TARGET = 0.05
"""A mean time is precise enough when its 95 % CI half-width is at most this share of it."""
UNKNOWN_HOST = "unknown host (rows written before hosts were recorded)"


def _hosts(rows: pd.DataFrame) -> pd.Series:
    """Each row's ``host`` as text (``""`` where unknown, or for frames without the column)."""
    if "host" not in rows:
        return pd.Series("", index=rows.index, dtype=object)
    return rows["host"].fillna("").astype(str)


def _timed(rows: pd.DataFrame) -> pd.Series:
    return (rows["status"] == "ok") & rows["encode_s"].notna() & rows["decode_s"].notna()


def timing_hosts(rows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(dataset, codec) → the host its times come from: that of its most recently timed row (the latest
    ``run_id``, which starts with the UTC time; file order breaks ties); ``""`` when unknown or untimed."""
    timed = rows.assign(_host=_hosts(rows).to_numpy())[_timed(rows).to_numpy()]
    if "run_id" in timed:
        timed = timed.sort_values("run_id", kind="stable", key=lambda ids: ids.fillna("").astype(str))
    return {(str(dataset), str(codec)): str(group["_host"].iloc[-1])
            for (dataset, codec), group in timed.groupby(["dataset", "codec"], sort=False)}


AVERAGED = ("bpp", "psnr", "ms_ssim", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv")
"""The quality and rate columns :func:`summarize` averages, each over its finite values."""


def _finite(rows: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` as float64 with NaN where it is not a finite number (all NaN when the frame lacks it):
    NaN and inf are not values to average."""
    if column not in rows:
        return np.full(len(rows), np.nan)
    values = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)


def _count_mean(values: pd.Series) -> tuple[int, float]:
    """How many values (finite, from :func:`_finite`) there are, and their mean (NaN when none)."""
    values = values.dropna()
    return len(values), float(values.mean()) if len(values) else float("nan")


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per dataset × codec × operating point, sorted by codec then mean bpp.

    Per codec, the rows of its current identity only (:func:`bench.core.identity.current_rows`; callers that
    chose another identity pass its rows); each mean over the finite values of its metric, counted.
    """
    if rows.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    rows = current_rows(rows)[0]
    hosts = timing_hosts(rows)
    frame = rows.assign(_host=_hosts(rows).to_numpy(), _timed=_timed(rows).to_numpy(),
                        **{f"_finite_{column}": _finite(rows, column) for column in AVERAGED})  # once, not per group
    lines = []
    for (dataset, codec, point), group in frame.groupby(["dataset", "codec", "point"], sort=False):
        good = group[group["status"] == "ok"]
        host = hosts.get((str(dataset), str(codec)), "")
        times = group[group["_timed"] & (group["_host"] == host)]
        counted = {column: _count_mean(good[f"_finite_{column}"]) for column in AVERAGED}
        mean_ms_ssim = counted["ms_ssim"][1]
        lines.append(
            {
                "dataset": dataset,
                "codec": codec,
                "point": point,
                "images": counted["bpp"][0],
                "failed": int((group["status"] != "ok").sum()),
                "bpp": counted["bpp"][1],
                "psnr_images": counted["psnr"][0],
                "psnr": counted["psnr"][1],
                "ms_ssim_images": counted["ms_ssim"][0],
                "ms_ssim": mean_ms_ssim,
                "ms_ssim_db": ms_ssim_db(mean_ms_ssim) if np.isfinite(mean_ms_ssim) else np.nan,
                "ycbcr_images": counted["psnr_y"][0],
                "psnr_y": counted["psnr_y"][1],
                "psnr_u_images": counted["psnr_u"][0],
                "psnr_u": counted["psnr_u"][1],
                "psnr_v_images": counted["psnr_v"][0],
                "psnr_v": counted["psnr_v"][1],
                "psnr_yuv_images": counted["psnr_yuv"][0],
                "psnr_yuv": counted["psnr_yuv"][1],
                "timed_images": len(times),
                "encode_s": times["encode_s"].mean(),
                "decode_s": times["decode_s"].mean(),
                "encode_sd_s": times["encode_s"].std(ddof=1),
                "decode_sd_s": times["decode_s"].std(ddof=1),
                **time_precision(times),
                "derived_images": int(good["derived"].fillna("").astype(str).ne("").sum()) if "derived" in good else 0,
                "host": host,
            }
        )
    table = pd.DataFrame(lines, columns=list(SUMMARY_COLUMNS))
    return table.sort_values(["dataset", "codec", "bpp"], kind="stable").reset_index(drop=True)


def ci_half_width(values: pd.Series, level: float = 0.95) -> float:
    """Half-width of the ``level`` confidence interval of the mean of ``values`` (Student's t; NaN below 2)."""
    from scipy.special import stdtrit  # Student's t quantile; scipy.stats would add half a second of imports

    values = values.dropna()
    if len(values) < 2:
        return float("nan")
    return float(stdtrit(len(values) - 1, 0.5 + level / 2) * values.std(ddof=1) / np.sqrt(len(values)))


def time_precision(times: pd.DataFrame) -> dict[str, float | int]:
    """The CI half-widths of the mean times over the rows of ``times`` and the repeatability of its rows
    with several values (:data:`SUMMARY_COLUMNS`)."""
    repeated = times[times["encode_spread_s"].notna()] if "encode_spread_s" in times else times.iloc[:0]
    return {
        "encode_ci_s": ci_half_width(times["encode_s"]),
        "decode_ci_s": ci_half_width(times["decode_s"]),
        "repeated_rows": len(repeated),
        **{f"{side}_repeat": float((repeated[f"{side}_spread_s"] / repeated[f"{side}_s"]).median())
           if len(repeated) else float("nan") for side in ("encode", "decode")},
    }


def imprecise_times(summary: pd.DataFrame, target: float = CI_TARGET) -> list[str]:
    """``codec point`` of the lines whose encode or decode mean has a 95 % CI half-width above ``target`` of it."""
    wide = (summary["encode_ci_s"] > target * summary["encode_s"]) | (summary["decode_ci_s"] > target * summary["decode_s"])
    return [f"{r.codec} {r.point}" for r in summary[wide].itertuples(index=False)]


def precision_line(summary: pd.DataFrame, target: float = CI_TARGET) -> str:
    """How precise the mean times are (95 % CI over images) and how repeatable a row's time is, in one line."""
    timed = summary[summary["timed_images"] > 1]
    if timed.empty:
        return "times: fewer than two timed images per point, no confidence interval"
    wide = imprecise_times(timed, target)
    repeat = timed[timed["repeated_rows"] > 0]
    text = (f"times: 95 % CI of the mean over images within ±{100 * target:g} % for "
            f"{len(timed) - len(wide)} of {len(timed)} codec × points")
    if wide:
        text += f" (wider: {', '.join(wide[:6])}{', …' if len(wide) > 6 else ''}; images differ in cost, see sd)"
    if not repeat.empty:
        text += (f"; a row timed again moves by a median {100 * repeat['encode_repeat'].median():.1f} % (encode), "
                 f"{100 * repeat['decode_repeat'].median():.1f} % (decode) over {int(repeat['repeated_rows'].sum())} "
                 "rows with several values")
    return text


HOST_TIME_COLUMNS = ("host", "codec", "point", "timed_images", "encode_s", "decode_s", "encode_sd_s", "decode_sd_s")


def host_times(rows: pd.DataFrame) -> pd.DataFrame:
    """Times per timing host: one line per host × codec × point with timed rows (``host`` ``""``: unknown).

    The summary keeps one host per codec (:func:`timing_hosts`); rows timed on several machines (a
    Dask run, merged shards) are all here, each host's means over its own images.
    """
    if rows.empty:
        return pd.DataFrame(columns=list(HOST_TIME_COLUMNS))
    timed = rows.assign(host=_hosts(rows).to_numpy())[_timed(rows).to_numpy()]
    lines = [
        {"host": host, "codec": codec, "point": point, "timed_images": len(group),
         "encode_s": group["encode_s"].mean(), "decode_s": group["decode_s"].mean(),
         "encode_sd_s": group["encode_s"].std(ddof=1), "decode_sd_s": group["decode_s"].std(ddof=1)}
        for (host, codec, point), group in timed.groupby(["host", "codec", "point"], sort=False)
    ]
    return pd.DataFrame(lines, columns=list(HOST_TIME_COLUMNS))


def write_summary(results_dir: str | Path, rows: pd.DataFrame) -> pd.DataFrame:
    """Write ``summary.csv`` of ``rows`` into ``results_dir`` (nothing when there are no rows); return it."""
    summary = summarize(rows)
    if not rows.empty:
        write_text_atomic(Path(results_dir) / "summary.csv", summary.to_csv(index=False, float_format="%.6g"))
    return summary


def host_text(host: str) -> str:
    """A host for people: its hash, or that it is unknown."""
    return f"host {host}" if host else UNKNOWN_HOST


def codecs_by_host(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Host (``""``: unknown) → the codecs of ``summary`` whose times come from it (codecs with times only)."""
    codecs: dict[str, list[str]] = {}
    timed = summary[summary["timed_images"] > 0]
    for codec, host in dict(zip(timed["codec"], timed["host"].fillna(""))).items():
        codecs.setdefault(str(host), []).append(str(codec))
    return codecs


def hosts_line(summary: pd.DataFrame) -> str:
    """Which host the times of each codec come from, in one line."""
    codecs = codecs_by_host(summary)
    if not codecs:
        return "no times"
    if len(codecs) == 1:
        return f"times from one host: {host_text(next(iter(codecs)))}"
    return "times per codec from one host: " + "; ".join(
        f"{host_text(host)}: {', '.join(names)}" for host, names in codecs.items())


def format_table(summary: pd.DataFrame) -> str:
    """A fixed-width text table for the terminal; ``n`` columns count the images behind the means to their right;
    ``± sd``: standard deviation over images of the time to its left."""
    header = (f"{'codec':<24} {'point':<14} {'n':>3} {'fail':>4} {'bpp':>8} {'n':>3} {'PSNR':>8} {'n':>3} {'MS-SSIM':>8} "
              f"{'dB':>7} {'n':>3} {'enc ms':>8} {'± sd':>7} {'dec ms':>8} {'± sd':>7}")
    lines = [header, "-" * len(header)]
    for r in summary.itertuples(index=False):
        lines.append(
            f"{r.codec:<24} {r.point:<14} {r.images:>3d} {r.failed:>4d} {r.bpp:>8.4f} {r.psnr_images:>3d} {r.psnr:>8.3f} "
            f"{r.ms_ssim_images:>3d} {r.ms_ssim:>8.5f} {r.ms_ssim_db:>7.3f} {r.timed_images:>3d} "
            f"{1e3 * r.encode_s:>8.2f} {1e3 * r.encode_sd_s:>7.2f} {1e3 * r.decode_s:>8.2f} {1e3 * r.decode_sd_s:>7.2f}"
        )
    if not summary.empty:
        lines.append(hosts_line(summary))
    return "\n".join(lines)
