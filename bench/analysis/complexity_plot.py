"""Decode time against BD-rate: the complexity report's trade-off plot and what it is drawn from.

The BD-rates come from the BD-rate CSV (``reports/bd-rate.csv``); the decode times from one time table
of the complexity measurement (harness results or instrumented timing, one device). matplotlib is
imported only when a figure is made; torch never.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.learned.complexity.files import RANDOM_INIT, ComplexityError
from bench.analysis.styles import codec_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["decode_time_vs_bd_rate_figure", "decode_times", "plot_times", "read_bd_rates"]


def read_bd_rates(path: str | Path, *, metric: str = "psnr", method: str = "cubic") -> dict[str, float]:
    """``codec → BD-rate [%]`` from a BD-rate CSV (``reports/bd-rate.csv``): columns ``codec`` and
    ``bd_rate``, filtered on ``metric`` and ``method`` where those columns exist; empty cells skipped;
    the ``anchor`` codec (when there is such a column) at 0."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ComplexityError(f"cannot read BD-rates from {path}: {exc}; run `make bd-rate` first") from None
    if not {"codec", "bd_rate"} <= set(frame.columns):
        raise ComplexityError(f"{path} has no 'codec' and 'bd_rate' columns (has {', '.join(frame.columns)})")
    for column, value in (("metric", metric), ("method", method)):
        if column in frame.columns:
            frame = frame[frame[column] == value]
    rates = {}
    if "anchor" in frame.columns:  # the anchor is at 0 % against itself
        rates.update({str(a): 0.0 for a in frame["anchor"].dropna().unique()})
    frame = frame[pd.to_numeric(frame["bd_rate"], errors="coerce").notna()]
    rates.update({str(c): float(v) for c, v in zip(frame["codec"], frame["bd_rate"])})
    return rates


def decode_times(table: pd.DataFrame, *, device: str, hardware: str | None = None) -> dict[str, float]:
    """``codec → mean decode time [s]`` over its points, for one device (and hardware) of a time table
    with a ``decode_s`` column (:func:`results_time_table`) or ``decode_total_s`` (:func:`split_table`)."""
    column = "decode_s" if "decode_s" in table.columns else "decode_total_s"
    rows = table[table["device"] == device]
    if hardware is not None:
        rows = rows[rows["hardware"] == hardware]
    if rows["hardware"].nunique() > 1:
        raise ComplexityError(f"{device} rows come from {rows['hardware'].nunique()} different machines "
                              f"({', '.join(rows['hardware'].unique())}); pass hardware=")
    return {str(c): float(v) for c, v in rows.groupby("codec", sort=False)[column].mean().items()}


def decode_time_vs_bd_rate_figure(decode_s: Mapping[str, float], bd_rates: Mapping[str, float], *,
                                  caption: str = "", untrained: Iterable[str] = ()) -> Figure:
    """Decode time (log axis) against BD-rate for the codecs in both mappings; open markers for
    codecs timed with untrained weights."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    codecs = [c for c in decode_s if c in bd_rates and decode_s[c] > 0]
    if not codecs:
        raise ComplexityError("no codec has both a decode time and a BD-rate; nothing to plot")
    untrained = set(untrained)
    figure = Figure(figsize=(7.0, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for codec in codecs:
        open_marker = codec in untrained
        style = codec_style(codec)
        axes.scatter([decode_s[codec]], [bd_rates[codec]], s=50, marker=style.marker,
                     facecolors="none" if open_marker else style.colour, edgecolors=style.colour)
        axes.annotate(codec + (" (untrained)" if open_marker else ""), (decode_s[codec], bd_rates[codec]),
                      textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xscale("log")
    shown = [decode_s[c] for c in codecs]
    axes.set_xlim(min(shown) / 2, max(shown) * 5)  # room for the labels right of the points
    axes.axhline(0.0, color="0.6", linewidth=0.8)
    axes.set_xlabel("decode time per image [s] (log)")
    axes.set_ylabel("BD-rate [%] (lower is better)")
    axes.grid(True, which="both", alpha=0.3)
    if caption:
        axes.set_title(caption, fontsize=9)
    return figure


def plot_times(results_table: pd.DataFrame | None, split: pd.DataFrame | None, bd_rates: Mapping[str, float]
               ) -> tuple[dict[str, float], str, set[str]] | None:
    """``(codec → decode time, caption, untrained codecs)`` for the plot, from one source and one device:
    the source (harness results, else the instrumented measurement) and device that cover most codecs
    with a BD-rate; None when none does."""
    best = None
    for name, table in (("harness results", results_table), ("instrumented timing", split)):
        if table is None or table.empty:
            continue
        for (device, hardware), _ in table.groupby(["device", "hardware"], sort=False):
            times = decode_times(table, device=device, hardware=hardware)
            covered = len(set(times) & set(bd_rates))
            if covered and (best is None or covered > best[0]):
                untrained = set(table[table["weights"] == RANDOM_INIT]["codec"]) if "weights" in table else set()
                caption = f"{device} ({hardware}): decode time per image from the {name}, mean over points"
                best = (covered, times, caption, untrained)
    return None if best is None else best[1:]
