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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.analysis.curves import METRICS, REFERENCE_PREFIX, Curve, dataset_of, measured_curves, published_curve, published_for
from bench.analysis.styles import codec_style
from bench.core.store import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FORMATS", "SPREADS", "PlotError", "delta_quality", "figure_bytes", "image_quality", "jpeg_vs_published_figure",
    "rd_figure", "relabel", "save_figure", "write_rd_plots",
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


SPREADS = ("band", "scatter")
"""How per-image spread is drawn: a band of ± one standard deviation of the images' quality around each
mean point, or every image's own (bpp, quality) as a faint dot."""
DELTA_SIZE = (8.0, 7.5)
"""Inches of an RD figure with a Δ-quality panel under it."""


def _draw(axes, curves: Sequence[Curve], metric: str, max_bpp: float | None, *, log_rate: bool = False,
          spread: str | None = None, rows: pd.DataFrame | None = None) -> None:
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
        if spread is not None and rows is not None and not curve.published:
            _draw_spread(axes, curve, metric, spread, rows, style.colour)
    axes.set_xlabel(RATE_LABEL + (" (log scale)" if log_rate else ""))
    axes.set_ylabel(QUALITY_LABEL[metric])
    if log_rate:
        axes.set_xscale("log")
    axes.grid(True, which="major", alpha=0.4)
    axes.grid(True, which="minor", alpha=0.15)
    axes.minorticks_on()
    if max_bpp is not None:
        _limit(axes, curves, metric, max_bpp, log_rate=log_rate)
    axes.legend(loc="lower right", fontsize="small")


def image_quality(rows: pd.DataFrame, codec: str, metric: str) -> pd.DataFrame:
    """The codec's ok rows as columns ``point``, ``bpp``, ``quality`` (PSNR, or each image's MS-SSIM in dB)."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    if metric == "psnr":
        quality = part["psnr"].to_numpy(np.float64)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            quality = -10.0 * np.log10(1.0 - part["ms_ssim"].to_numpy(np.float64))
    table = pd.DataFrame({"point": part["point"].astype(str).to_numpy(), "bpp": part["bpp"].to_numpy(np.float64),
                          "quality": quality})
    return table[np.isfinite(table["bpp"]) & np.isfinite(table["quality"])]


def _draw_spread(axes, curve: Curve, metric: str, spread: str, rows: pd.DataFrame, colour: str) -> None:
    images = image_quality(rows, curve.name, metric)
    if spread == "scatter":
        axes.scatter(images["bpp"], images["quality"], s=6, color=colour, alpha=0.3, linewidths=0)
        return
    sd = images.groupby("point")["quality"].std(ddof=1)
    rate, quality = curve.rate(), curve.quality(metric)
    band = [(r, q, float(sd[p])) for p, r, q in zip(curve.points, rate, quality)
            if p in sd and np.isfinite(sd[p]) and np.isfinite(r) and np.isfinite(q)]
    if len(band) < 2:
        return
    r, q, d = (np.asarray(v) for v in zip(*sorted(band)))
    axes.fill_between(r, q - d, q + d, color=colour, alpha=0.15, linewidth=0)


def _limit(axes, curves: Sequence[Curve], metric: str, max_bpp: float, *, log_rate: bool = False) -> None:
    """Show bit rates up to ``max_bpp``, with the quality axis fitted to the points shown."""
    if log_rate:
        rates = [r for c in curves for r in c.rate() if np.isfinite(r) and 0 < r <= max_bpp]
        axes.set_xlim(min(rates) / 1.2 if rates else max_bpp / 100, max_bpp)
    else:
        axes.set_xlim(0, max_bpp)
    shown = [q for c in curves for r, q in zip(c.rate(), c.quality(metric))
             if np.isfinite(r) and np.isfinite(q) and r <= max_bpp]
    if shown:
        low, high = min(shown), max(shown)
        margin = 0.05 * (high - low) or 0.5
        axes.set_ylim(low - margin, high + margin)


def delta_quality(anchor: Curve, curve: Curve, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``curve``'s quality minus the anchor's at the same rate, at ``curve``'s points inside the anchor's rate
    range: the anchor interpolated linearly in log rate between its points. Returns (rates, differences)."""
    a_rate, a_quality = anchor.rate(), anchor.quality(metric)
    keep = np.isfinite(a_rate) & np.isfinite(a_quality) & (a_rate > 0)
    a_rate, a_quality = a_rate[keep], a_quality[keep]
    order = np.argsort(a_rate, kind="stable")
    a_rate, a_quality = a_rate[order], a_quality[order]
    rate, quality = curve.rate(), curve.quality(metric)
    if a_rate.size < 2:
        return np.empty(0), np.empty(0)
    inside = np.isfinite(rate) & np.isfinite(quality) & (rate >= a_rate[0]) & (rate <= a_rate[-1])
    rate, quality = rate[inside], quality[inside]
    order = np.argsort(rate, kind="stable")
    rate, quality = rate[order], quality[order]
    return rate, quality - np.interp(np.log(rate), np.log(a_rate), a_quality)


def _draw_delta(axes, curves: Sequence[Curve], anchor: Curve, metric: str, log_rate: bool) -> None:
    for curve in curves:
        if curve.name == anchor.name:
            continue
        rate, delta = delta_quality(anchor, curve, metric)
        if rate.size:
            style = codec_style(curve.name)
            axes.plot(rate, delta, color=style.colour, marker=style.marker, markersize=4,
                      linestyle="--" if curve.published else "-", linewidth=1.2,
                      markerfacecolor="none" if curve.published else None)
    axes.axhline(0.0, color=codec_style(anchor.name).colour, linewidth=1.0)
    quality = "PSNR" if metric == "psnr" else "MS-SSIM"
    axes.set_ylabel(f"Δ{quality} vs {anchor.label} [dB]")
    axes.set_xlabel(RATE_LABEL + (" (log scale)" if log_rate else ""))
    axes.grid(True, which="major", alpha=0.4)


def rd_figure(curves: Sequence[Curve], metric: str, *, title: str | None = None,
              max_bpp: float | None = None, log_rate: bool = False, spread: str | None = None,
              rows: pd.DataFrame | None = None, delta_anchor: Curve | None = None) -> Figure:
    """One RD figure: each curve's ``metric`` (``psnr`` or ``ms_ssim_db``) against bpp.

    A line per curve, labelled with :attr:`Curve.label`, holding the curve's points sorted by bpp
    (points without a value are left out). ``max_bpp`` limits the axis, not the data. Options: ``log_rate``
    (a logarithmic rate axis); ``spread`` (one of :data:`SPREADS`) with the ``rows`` behind measured curves;
    ``delta_anchor``: a panel below with each curve's quality minus that curve's (:func:`delta_quality`).
    """
    if metric not in METRICS:
        raise PlotError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not curves:
        raise PlotError("no curves to plot; run `python -m bench run` first")
    if spread is not None and spread not in SPREADS:
        raise PlotError(f"unknown spread {spread!r}; use one of {', '.join(SPREADS)}")
    with _rc():
        figure = _new_figure(RD_SIZE if delta_anchor is None else DELTA_SIZE)
        if delta_anchor is None:
            axes = figure.add_subplot()
        else:
            axes, lower = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1)})
        _draw(axes, curves, metric, max_bpp, log_rate=log_rate, spread=spread, rows=rows)
        axes.set_title(title or f"{METRICS[metric]} vs bit rate")
        if delta_anchor is not None:
            _draw_delta(lower, curves, delta_anchor, metric, log_rate)
            axes.set_xlabel("")
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


def relabel(curves: Sequence[Curve], labels: Mapping[str, str]) -> list[Curve]:
    """``curves`` with the legend labels given by curve name (``jpeg``, ``ref:VTM`` or just ``VTM``,
    ``published:vtm``); a label that names no curve raises."""
    def key(curve: Curve) -> str | None:
        short = curve.name.removeprefix(REFERENCE_PREFIX)
        return curve.name if curve.name in labels else short if short in labels else None

    used = {key(c) for c in curves} - {None}
    unknown = [name for name in labels if name not in used]
    if unknown:
        raise PlotError(f"--label for {', '.join(unknown)}: no such curve in the figure; curves: "
                        f"{', '.join(c.name for c in curves)}")
    return [replace(c, label=labels[k]) if (k := key(c)) is not None else c for c in curves]


def write_rd_plots(
    rows: pd.DataFrame,
    out_dir: str | Path,
    *,
    references: Sequence[str] | None = None,
    max_bpp: float | None = None,
    formats: Sequence[str] = FORMATS,
    overlays: Sequence[Curve] = (),
    labels: Mapping[str, str] | None = None,
    log_rate: bool = False,
    spread: str | None = None,
    delta_anchor: Curve | None = None,
) -> list[Path]:
    """Write ``rd-psnr``, ``rd-ms-ssim`` and (when JPEG was run on Kodak) ``jpeg-vs-published`` figures.

    ``references`` names published curves to overlay (``"mbt2018"``, ``"published:jpeg"`` …); by default
    the published curves of the codecs in the results, on Kodak only; ``[]`` for none. ``overlays``: more
    curves drawn dashed (reference curves, :mod:`bench.analysis.refcurves`). ``labels``: legend text by curve
    name (:func:`relabel`). ``log_rate``, ``spread``, ``delta_anchor``: as :func:`rd_figure`.
    """
    curves = measured_curves(rows)
    dataset = dataset_of(rows)
    defaults = (published_for(curves, dataset) if references is None
                else [published_curve(name) for name in references])
    extra = [c for c in overlays if c.name not in {d.name for d in defaults}]
    shown = relabel([*curves.values(), *defaults, *extra], labels or {})
    if delta_anchor is not None:  # drawn with the label it has in the figure
        delta_anchor = next((c for c in shown if c.name == delta_anchor.name), delta_anchor)
    out = Path(out_dir)
    written = []
    for metric, stem in (("psnr", "rd-psnr"), ("ms_ssim_db", "rd-ms-ssim")):
        title = f"{METRICS[metric]} vs bit rate, {dataset}"
        figure = rd_figure(shown, metric, title=title, max_bpp=max_bpp, log_rate=log_rate, spread=spread,
                           rows=rows, delta_anchor=delta_anchor)
        written += save_figure(figure, out / stem, formats)
    if "jpeg" in curves and dataset == "kodak":
        figure = jpeg_vs_published_figure(curves["jpeg"], published_curve("jpeg"),
                                          title="JPEG on Kodak: this harness vs CompressAI's published jpeg.json")
        written += save_figure(figure, out / "jpeg-vs-published", formats)
    return written
