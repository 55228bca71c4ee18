"""Rate–distortion figures: PSNR and MS-SSIM (dB) against bpp, written as byte-identical PNG and SVG.

Figures are built with matplotlib's object API on the Agg canvas (never pyplot), so a test can inspect
the returned :class:`~matplotlib.figure.Figure` before it is saved. Measured curves are solid with one
marker per operating point; published curves are dashed, in the colour of the codec they belong to
(each codec's colour and marker: :mod:`bench.analysis.styles`, the same in every figure).

Determinism: the same curves give the same bytes — SVG without date and with a fixed hash salt, PNG
without the software tag, both from the fonts matplotlib ships.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.analysis.curves import METRICS, PUBLISHED_PREFIX, Curve, dataset_of, measured_curves, published_curve, published_for
from bench.analysis.styles import codec_style
from bench.core.store import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS", "PlotError", "figure_bytes", "jpeg_vs_published_figure", "rd_figure", "save_figure", "write_rd_plots",
]

FORMATS = ("png", "svg")
DPI = 100
RD_SIZE = (8.0, 5.5)
"""Inches of one RD figure; at :data:`DPI` the PNG is 800 × 550 pixels."""
PAIR_SIZE = (13.0, 5.0)
RATE_LABEL = "bit rate [bpp]"
QUALITY_LABEL = {"psnr": "PSNR (RGB) [dB]", "ms_ssim_db": "MS-SSIM (RGB) [dB]"}
_RC = {
    "svg.hashsalt": "lic-bench",
    "svg.fonttype": "path",
    "path.simplify": False,
    "font.family": "DejaVu Sans",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}


class PlotError(BenchError):
    """Nothing to plot, or a figure that cannot be written."""


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _draw(axes, curves: Sequence[Curve], metric: str, max_bpp: float | None) -> None:
    for curve in curves:
        style = codec_style(curve.name)
        rate, quality = curve.rate(), curve.quality(metric)
        keep = np.isfinite(rate) & np.isfinite(quality)
        order = np.argsort(rate[keep], kind="stable")
        axes.plot(
            rate[keep][order], quality[keep][order],
            label=curve.label, color=style.colour, marker=style.marker,
            linestyle="--" if curve.published else "-", markersize=4 if curve.published else 5,
            linewidth=1.2 if curve.published else 1.6, markerfacecolor="none" if curve.published else None,
        )
    axes.set_xlabel(RATE_LABEL)
    axes.set_ylabel(QUALITY_LABEL[metric])
    axes.grid(True, which="major", alpha=0.4)
    axes.grid(True, which="minor", alpha=0.15)
    axes.minorticks_on()
    if max_bpp is not None:
        _limit(axes, curves, metric, max_bpp)
    axes.legend(loc="lower right", fontsize="small")


def _limit(axes, curves: Sequence[Curve], metric: str, max_bpp: float) -> None:
    """Show bit rates up to ``max_bpp``, with the quality axis fitted to the points shown."""
    axes.set_xlim(0, max_bpp)
    shown = [q for c in curves for r, q in zip(c.rate(), c.quality(metric))
             if np.isfinite(r) and np.isfinite(q) and r <= max_bpp]
    if shown:
        low, high = min(shown), max(shown)
        margin = 0.05 * (high - low) or 0.5
        axes.set_ylim(low - margin, high + margin)


def rd_figure(curves: Sequence[Curve], metric: str, *, title: str | None = None,
              max_bpp: float | None = None) -> Figure:
    """One RD figure: each curve's ``metric`` (``psnr`` or ``ms_ssim_db``) against bpp.

    A line per curve, labelled with :attr:`Curve.label`, holding the curve's points sorted by bpp
    (points without a value are left out). ``max_bpp`` limits the axis, not the data.
    """
    if metric not in METRICS:
        raise PlotError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not curves:
        raise PlotError("no curves to plot; run `python -m bench run` first")
    with _rc():
        figure = _new_figure(RD_SIZE)
        axes = figure.add_subplot()
        _draw(axes, curves, metric, max_bpp)
        axes.set_title(title or f"{METRICS[metric]} vs bit rate")
    return figure


def jpeg_vs_published_figure(measured: Curve, published: Curve, *, title: str | None = None) -> Figure:
    """The harness's JPEG beside CompressAI's published JPEG curve: PSNR and MS-SSIM dB panels."""
    curves = [replace(measured, label=f"{measured.label} (this harness)"), published]
    with _rc():
        figure = _new_figure(PAIR_SIZE)
        for axes, metric in zip(figure.subplots(1, 2), METRICS):
            _draw(axes, curves, metric, None)
            axes.set_title(f"{METRICS[metric]}")
        figure.suptitle(title or f"{measured.label} (this harness) vs {published.label}")
    return figure


def _rc():
    import matplotlib

    return matplotlib.rc_context(_RC)


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The figure encoded as ``png`` or ``svg``, with no date or software tag (byte-identical reruns)."""
    metadata = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
    if fmt not in metadata:
        raise PlotError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")
    buffer = io.BytesIO()
    with _rc():
        figure.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata[fmt])
    return buffer.getvalue()


def save_figure(figure: Figure, stem: str | Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` (atomically); returns the paths."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        write_bytes_atomic(path, figure_bytes(figure, fmt))
        paths.append(path)
    return paths


def write_rd_plots(
    rows: pd.DataFrame,
    out_dir: str | Path,
    *,
    references: Sequence[str] | None = None,
    max_bpp: float | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``rd-psnr``, ``rd-ms-ssim`` and (when JPEG was run on Kodak) ``jpeg-vs-published`` figures.

    ``references`` names published curves to overlay (``"mbt2018"``, ``"published:jpeg"`` …); by default
    the published curves of the codecs in the results, on Kodak only; ``[]`` for none.
    """
    curves = measured_curves(rows)
    dataset = dataset_of(rows)
    overlays = (published_for(curves, dataset) if references is None
                else [published_curve(name) for name in references])
    shown = [*curves.values(), *overlays]
    out = Path(out_dir)
    written = []
    for metric, stem in (("psnr", "rd-psnr"), ("ms_ssim_db", "rd-ms-ssim")):
        title = f"{METRICS[metric]} vs bit rate, {dataset}"
        figure = rd_figure(shown, metric, title=title, max_bpp=max_bpp)
        written += save_figure(figure, out / stem, formats)
    if "jpeg" in curves and dataset == "kodak":
        figure = jpeg_vs_published_figure(curves["jpeg"], published_curve("jpeg"),
                                          title="JPEG on Kodak: this harness vs CompressAI's published jpeg.json")
        written += save_figure(figure, out / "jpeg-vs-published", formats)
    return written
