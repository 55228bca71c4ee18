"""The per-image BD-rate figure: for each metric, a box and every image's point per codec
(:mod:`bench.analysis.bdimages`), beside the mean-curve BD-rate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.analysis.bdtable import BdTable
from bench.analysis.plots import FORMATS, save_figure
from bench.analysis.styles import codec_style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FIGURE_STEM", "per_image_figure", "write_per_image_figure"]

FIGURE_STEM = "bd-rate-images"


def per_image_figure(table: BdTable) -> Figure | None:
    """One panel per metric (the table's first method): per codec, a box of the images' BD-rates against the
    anchor, each image a dot, and the mean-curve BD-rate a black bar; None without per-image values."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    method = table.methods[0]
    found = [i for i in (table.comparisons.images if table.comparisons else ()) if i.method == method]
    metrics = [m for m in table.axes if any(i.metric == m for i in found)]
    if not metrics:
        return None
    codecs = list(dict.fromkeys(i.codec for i in found))
    figure = Figure(figsize=(4.5 * len(metrics), 0.45 * len(codecs) + 1.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    jitter = np.random.default_rng(0)
    for axes, metric in zip(figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0], metrics):
        for row, codec in enumerate(codecs):
            item = next((i for i in found if (i.codec, i.metric) == (codec, metric)), None)
            if item is None or not item.defined.size:
                continue
            colour = codec_style(codec).colour
            axes.boxplot(item.defined, positions=[row], orientation="horizontal", widths=0.6, showfliers=False,
                         medianprops={"color": colour}, boxprops={"color": colour}, whiskerprops={"color": colour},
                         capprops={"color": colour})
            axes.scatter(item.defined, row + jitter.uniform(-0.18, 0.18, item.defined.size), s=10, color=colour,
                         alpha=0.7, linewidths=0)
            mean = table.entry(codec, metric, method).rate.value
            if mean is not None:
                axes.plot([mean, mean], [row - 0.35, row + 0.35], color="black", linewidth=1.5)
        axes.axvline(0.0, color="grey", linewidth=0.8, linestyle="--")
        axes.set_yticks(range(len(codecs)), codecs)
        axes.set_ylim(len(codecs) - 0.5, -0.5)
        axes.set_xlabel(f"BD-rate vs {table.anchor.name} per image [%]")
        axes.set_title(table.axis(metric).title)
    figure.suptitle(f"Per-image BD-rate ({method}); box: quartiles, black bar: mean curves")
    return figure


def write_per_image_figure(table: BdTable, reports: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write :func:`per_image_figure` as ``bd-rate-images.<format>`` into ``reports``; nothing without one."""
    figure = per_image_figure(table)
    return [] if figure is None else save_figure(figure, Path(reports) / FIGURE_STEM, formats)
