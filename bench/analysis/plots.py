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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.analysis.curves import (
    BD_METRICS, BUILTIN_AXES, METRICS, Axis, Curve, dataset_of, measured_curves, published_curve, published_for,
)
from bench.analysis.figstyle import SCREEN, WIDTHS, FigureStyle
from bench.analysis.styles import Style, assign_styles
from bench.core.store import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ALL_FORMATS", "FORMATS", "SPREADS", "PlotError", "delta_quality", "figure_bytes", "image_quality",
    "figure_curves", "figure_format", "jpeg_vs_published_figure", "rd_figure", "relabel", "save_figure",
    "write_figure", "write_rd_plots",
]

FORMATS = ("png", "svg")
"""The formats of the report's figures; :data:`ALL_FORMATS` can be written."""
ALL_FORMATS = ("png", "svg", "pdf")
DPI = SCREEN.dpi
RD_SIZE = SCREEN.size()
"""Inches of one screen-style RD figure; at :data:`DPI` the PNG is 800 × 550 pixels."""
PAIR_SIZE = (13.0, 5.0)
RATE_LABEL = "bit rate [bpp]"
QUALITY_LABEL = {"psnr": "PSNR (RGB) [dB]", "ms_ssim_db": "MS-SSIM (RGB) [dB]", "psnr_y": "PSNR-Y (BT.709) [dB]"}
_SHORT = {"psnr": "PSNR", "ms_ssim_db": "MS-SSIM", "psnr_y": "PSNR-Y"}


def _axis(curves: Sequence[Curve], metric: str) -> Axis | None:
    """The axis ``metric`` names among the curves' (built-in, or a plug-in metric's primary column)."""
    return next((curve.axes[metric] for curve in curves if metric in curve.axes), BUILTIN_AXES.get(metric))


def quality_label(axis: Axis) -> str:
    """The quality axis's label: ``PSNR (RGB) [dB]`` …, ``<metric> [unit]`` for a plug-in metric, which says
    when lower is better."""
    if axis.key in QUALITY_LABEL:
        return QUALITY_LABEL[axis.key]
    return f"{axis.title}{axis.unit_text}" + ("" if axis.higher_is_better else " (lower is better)")


def _short(curves: Sequence[Curve], metric: str) -> str:
    axis = _axis(curves, metric)
    return _SHORT.get(metric, metric if axis is None else axis.short)


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
mean point (filled lightly, its edges drawn in the curve's colour so that overlapping bands stay apart), or
every image's own (bpp, quality) as a faint dot."""


@dataclass(frozen=True)
class _Plan:
    """What one RD figure shows: the curves drawn, those left out and why, the axis limits."""

    shown: tuple[Curve, ...]
    hidden: tuple[str, ...]
    """``"label (why)"`` of each curve with no point inside the axis range."""
    rate_range: tuple[float | None, float | None]


def _plan(curves: Sequence[Curve], metric: str, rate_range: tuple[float | None, float | None]) -> _Plan:
    low, high = rate_range
    shown, hidden = [], []
    for curve in curves:
        rate, quality = curve.rate(), curve.quality(metric)
        valid = np.isfinite(rate) & np.isfinite(quality)
        inside = valid & (rate >= (-np.inf if low is None else low)) & (rate <= (np.inf if high is None else high))
        if inside.any():
            shown.append(curve)
        elif not valid.any():
            hidden.append(f"{curve.label} (no {_short(curves, metric)} values)")
        elif high is not None and (rate[valid] > high).all():
            hidden.append(f"{curve.label} (every point above {high:g} bpp)")
        elif low is not None and (rate[valid] < low).all():
            hidden.append(f"{curve.label} (every point below {low:g} bpp)")
        else:
            hidden.append(f"{curve.label} (no point in {low:g}–{high:g} bpp)")
    return _Plan(tuple(shown), tuple(hidden), rate_range)


def _draw(axes, plan: _Plan, metric: str, styles: Mapping[str, Style], look: FigureStyle, *,
          log_rate: bool = False, spread: str | None = None, rows: pd.DataFrame | None = None) -> list:
    """Draw the plan's curves on ``axes``; returns the lines, for the legend."""
    lines = []
    for curve in plan.shown:
        style = styles[curve.name]
        rate, quality = curve.rate(), curve.quality(metric)
        keep = np.isfinite(rate) & np.isfinite(quality)
        order = np.argsort(rate[keep], kind="stable")
        line, = axes.plot(
            rate[keep][order], quality[keep][order],
            label=curve.label, color=style.colour, marker=style.marker,
            linestyle="--" if curve.published else "-",
            markersize=look.marker_size * (0.8 if curve.published else 1.0),
            linewidth=look.line_width * (0.75 if curve.published else 1.0),
            markerfacecolor="none" if curve.published else None,
        )
        lines.append(line)
        if spread is not None and rows is not None and not curve.published:
            _draw_spread(axes, curve, metric, spread, rows, style.colour)
    axes.set_xlabel(RATE_LABEL + (" (log scale)" if log_rate else ""))
    axis = _axis(plan.shown, metric)
    axes.set_ylabel(QUALITY_LABEL[metric] if axis is None else quality_label(axis))
    if log_rate:
        axes.set_xscale("log")
    axes.grid(True, which="major", alpha=0.4)
    axes.grid(True, which="minor", alpha=0.15)
    axes.minorticks_on()
    if plan.rate_range != (None, None):
        _limit(axes, plan, metric, log_rate=log_rate)
    if log_rate:
        _log_ticks(axes)
    return lines


def _log_ticks(axes) -> None:
    """Decades labelled as plain numbers (0.1, 1); within 2.5 decades the minor ticks at 2 and 5 too."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = axes.get_xlim()
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,)))
    axes.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10))))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    if np.log10(high / low) <= 2.5:
        def minor(value: float, _: int) -> str:
            return f"{value:g}" if round(value / 10 ** np.floor(np.log10(value) + 1e-9)) in (2, 5) else ""
        axes.xaxis.set_minor_formatter(FuncFormatter(minor))
    else:
        axes.xaxis.set_minor_formatter(NullFormatter())


def image_quality(rows: pd.DataFrame, codec: str, metric: str) -> pd.DataFrame:
    """The codec's ok rows as columns ``point``, ``bpp``, ``quality`` (PSNR, PSNR-Y, each image's MS-SSIM in dB,
    or a plug-in metric's value)."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    if metric != "ms_ssim_db":
        quality = pd.to_numeric(part[metric], errors="coerce").to_numpy(np.float64)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            quality = -10.0 * np.log10(1.0 - part["ms_ssim"].to_numpy(np.float64))
    table = pd.DataFrame({"point": part["point"].astype(str).to_numpy(), "bpp": part["bpp"].to_numpy(np.float64),
                          "quality": quality})
    return table[np.isfinite(table["bpp"]) & np.isfinite(table["quality"])]


def _draw_spread(axes, curve: Curve, metric: str, spread: str, rows: pd.DataFrame, colour: str) -> None:
    from matplotlib.colors import to_rgba

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
    axes.fill_between(r, q - d, q + d, facecolor=to_rgba(colour, 0.12), edgecolor=to_rgba(colour, 0.7),
                      linewidth=0.6, linestyle=(0, (3, 2)))


def _limit(axes, plan: _Plan, metric: str, *, log_rate: bool = False) -> None:
    """Show bit rates in the plan's range, with the quality axis fitted to the points shown."""
    low, high = plan.rate_range
    rates = [r for c in plan.shown for r in c.rate() if np.isfinite(r) and r > 0
             and (low is None or r >= low) and (high is None or r <= high)]
    if log_rate:
        left = low if low else (min(rates) / 1.2 if rates else (high or 1.0) / 100)
        right = high if high is not None else max(rates) * 1.2
    else:
        left = low if low is not None else 0.0
        right = high if high is not None else max(rates) * 1.05
    axes.set_xlim(left, right)
    shown = [q for c in plan.shown for r, q in zip(c.rate(), c.quality(metric))
             if np.isfinite(r) and np.isfinite(q) and left <= r <= right]
    if shown:
        bottom, top = min(shown), max(shown)
        margin = 0.05 * (top - bottom) or 0.5
        axes.set_ylim(bottom - margin, top + margin)


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


def _draw_delta(axes, plan: _Plan, anchor: Curve, metric: str, styles: Mapping[str, Style], look: FigureStyle,
                log_rate: bool) -> None:
    for curve in plan.shown:
        if curve.name == anchor.name:
            continue
        rate, delta = delta_quality(anchor, curve, metric)
        if rate.size:
            style = styles[curve.name]
            axes.plot(rate, delta, color=style.colour, marker=style.marker, markersize=0.8 * look.marker_size,
                      linestyle="--" if curve.published else "-", linewidth=0.75 * look.line_width,
                      markerfacecolor="none" if curve.published else None)
    axes.axhline(0.0, color=styles[anchor.name].colour, linewidth=0.6 * look.line_width)
    # the anchor inside the panel, so that the y-label stays short enough for the panel's height
    axis = _axis([anchor, *plan.shown], metric)
    axes.set_ylabel(f"Δ{_short([anchor, *plan.shown], metric)}{' [dB]' if axis is None else axis.unit_text}")
    axes.text(0.01, 0.96, f"vs {anchor.label}", transform=axes.transAxes, ha="left", va="top",
              fontsize=look.font_size - 1,
              bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    axes.set_xlabel(RATE_LABEL + (" (log scale)" if log_rate else ""))
    axes.grid(True, which="major", alpha=0.4)


def _legend(figure, axes, lines: Sequence, hidden: Sequence[str], look: FigureStyle) -> None:
    """The legend of the curves drawn (inside the axes, or under them in columns) and, under the axes, the
    curves with no point in range named with why (on paper the heading of the legend below the axes: two
    texts in the figure's bottom margin would overlap)."""
    import textwrap

    note = "not shown: " + "; ".join(hidden) if hidden else None
    if note is not None:  # about 0.5 em per character
        note = textwrap.fill(note, width=int(look.width * 72 / (0.5 * (look.font_size - 1))))
    if lines and look.legend_below:
        figure.legend(handles=list(lines), loc="outside lower center", ncols=look.legend_columns(), frameon=False,
                      handlelength=2.2, columnspacing=1.2, title=note, title_fontsize=look.font_size - 1)
        return
    if lines:
        axes.legend(handles=list(lines), loc="lower right", fontsize="small")
    if note is not None:
        figure.supxlabel(note, fontsize=look.font_size - 1)


def rd_figure(curves: Sequence[Curve], metric: str, *, title: str | None = None,
              max_bpp: float | None = None, log_rate: bool = False, spread: str | None = None,
              rows: pd.DataFrame | None = None, delta_anchor: Curve | None = None,
              rate_range: tuple[float | None, float | None] | None = None,
              look: FigureStyle = SCREEN) -> Figure:
    """One RD figure: each curve's ``metric`` (``psnr``, ``ms_ssim_db``, ``psnr_y`` or the primary column of a
    plug-in metric the curves have, in its own values) against bpp.

    A line per curve, labelled with :attr:`Curve.label`, holding the curve's points sorted by bpp
    (points without a value are left out); the families of the curves get distinct styles
    (:func:`bench.analysis.styles.assign_styles`). ``max_bpp`` (or ``rate_range``, (low, high) in bpp, either
    None) limits the axis, not the data; a curve with no point in range is not drawn nor in the legend but
    named under the figure. Options: ``log_rate`` (a logarithmic rate axis); ``spread`` (one of
    :data:`SPREADS`) with the ``rows`` behind measured curves; ``delta_anchor``: a panel below with each
    curve's quality minus that curve's (:func:`delta_quality`). ``look``: size and text
    (:mod:`bench.analysis.figstyle`); ``title`` replaces the default one, which only a style with titles draws.
    """
    if metric not in BD_METRICS and not any(metric in curve.axes for curve in curves):
        known = dict.fromkeys(key for curve in curves for key in curve.axes) or BD_METRICS
        raise PlotError(f"no curve has the quality axis {metric!r} (a metric the rows were not scored by, or an "
                        f"unknown name); use one of {', '.join(known)}")
    if not curves:
        raise PlotError("no curves to plot; run `python -m bench run` first")
    if spread is not None and spread not in SPREADS:
        raise PlotError(f"unknown spread {spread!r}; use one of {', '.join(SPREADS)}")
    if rate_range is None:
        rate_range = (None, max_bpp)
    plan = _plan(curves, metric, rate_range)
    styles = assign_styles([*(c.name for c in curves), *([delta_anchor.name] if delta_anchor else [])])
    rows_of_legend = -(-len(plan.shown) // look.legend_columns()) if look.legend_below else 0
    size = look.size(panels=1 if delta_anchor is None else 2, legend_rows=rows_of_legend,
                     notes=1 + len(" ".join(plan.hidden)) * look.font_size // (72 * look.width) if plan.hidden else 0)
    with _rc(look):
        figure = _new_figure(size)
        if delta_anchor is None:
            axes = figure.add_subplot()
        else:
            axes, lower = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (2.4, 1)})
        lines = _draw(axes, plan, metric, styles, look, log_rate=log_rate, spread=spread, rows=rows)
        if title is not None or look.title:
            axes.set_title(title if title is not None else f"{_axis(curves, metric).title} vs bit rate")
        if delta_anchor is not None:
            _draw_delta(lower, plan, delta_anchor, metric, styles, look, log_rate)
            axes.set_xlabel("")
            figure.align_ylabels([axes, lower])
        _legend(figure, axes, lines, plan.hidden, look)
    return figure


def jpeg_vs_published_figure(measured: Curve, published: Curve, *, title: str | None = None,
                             look: FigureStyle = SCREEN) -> Figure:
    """The harness's JPEG beside CompressAI's published JPEG curve: PSNR and MS-SSIM dB panels (on paper:
    the page's width)."""
    curves = [replace(measured, label=f"{measured.label} (this harness)"), published]
    styles = assign_styles(c.name for c in curves)
    if look.legend_below:
        look = replace(look, width=max(look.width, WIDTHS["page"]), aspect=0.62 / 2)
    with _rc(look):
        figure = _new_figure(PAIR_SIZE if look == SCREEN else look.size(legend_rows=1))
        for axes, metric in zip(figure.subplots(1, 2), METRICS):
            lines = _draw(axes, _plan(curves, metric, (None, None)), metric, styles, look)
            if look.title:
                axes.set_title(f"{METRICS[metric]}")
        _legend(figure, axes, lines, (), look)
        if look.title:
            figure.suptitle(title or f"{measured.label} (this harness) vs {published.label}")
    return figure


def _rc(look: FigureStyle = SCREEN):
    import matplotlib

    return matplotlib.rc_context(look.rc())


def figure_bytes(figure: Figure, fmt: str, look: FigureStyle = SCREEN) -> bytes:
    """The figure encoded as ``png``, ``svg`` or ``pdf`` under ``look``'s file settings, with no date or
    software tag (byte-identical reruns)."""
    metadata = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
                "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}
    if fmt not in metadata:
        raise PlotError(f"unknown figure format {fmt!r}; use one of {', '.join(ALL_FORMATS)}")
    buffer = io.BytesIO()
    with _rc(look):
        figure.savefig(buffer, format=fmt, dpi=look.dpi, metadata=metadata[fmt])
    return buffer.getvalue()


def save_figure(figure: Figure, stem: str | Path, formats: Sequence[str] = FORMATS,
                look: FigureStyle = SCREEN) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` (or ``formats``), atomically; returns the paths."""
    return [write_figure(figure, Path(f"{stem}.{fmt}"), look) for fmt in formats]


def figure_format(path: str | Path) -> str:
    """The format a figure file's extension names (``png``, ``svg``, ``pdf``); any other raises."""
    path = Path(path)
    fmt = path.suffix.lower().removeprefix(".")
    if fmt not in ALL_FORMATS:
        raise PlotError(f"{path}: unknown figure format {path.suffix or '(no extension)'!r}; end the name "
                        f"with {', '.join('.' + f for f in ALL_FORMATS)}")
    return fmt


def write_figure(figure: Figure, path: str | Path, look: FigureStyle = SCREEN) -> Path:
    """Write the figure to ``path`` in the format its extension names (:func:`figure_format`)."""
    write_bytes_atomic(Path(path), figure_bytes(figure, figure_format(path), look))
    return Path(path)


def relabel(curves: Sequence[Curve], labels: Mapping[str, str]) -> list[Curve]:
    """``curves`` with the legend labels given by curve name (``jpeg``, ``ref:VTM`` or just ``VTM``,
    ``published:vtm``: :func:`bench.analysis.labels.label_key`); a label that names no curve raises."""
    from bench.analysis.labels import label_key

    used = {label_key(c.name, labels) for c in curves} - {None}
    unknown = [name for name in labels if name not in used]
    if unknown:
        raise PlotError(f"--label for {', '.join(unknown)}: no such curve in the figure; curves: "
                        f"{', '.join(c.name for c in curves)}")
    return [replace(c, label=labels[k]) if (k := label_key(c.name, labels)) is not None else c for c in curves]


def figure_curves(rows: pd.DataFrame, *, references: Sequence[str] | None = None, overlays: Sequence[Curve] = (),
                  labels: Mapping[str, str] | None = None) -> tuple[dict[str, Curve], list[Curve]]:
    """The measured curves by codec, and every curve a figure of ``rows`` draws, relabelled: the measured ones,
    then ``references`` (published keys; None: those of the measured codecs on Kodak, :func:`published_for`),
    then ``overlays`` (curves from files) not already among them."""
    curves = measured_curves(rows)
    defaults = (published_for(curves, dataset_of(rows)) if references is None
                else [published_curve(name) for name in references])
    extra = [c for c in overlays if c.name not in {d.name for d in defaults}]
    return curves, relabel([*curves.values(), *defaults, *extra], labels or {})


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
    look: FigureStyle = SCREEN,
) -> list[Path]:
    """Write ``rd-psnr``, ``rd-ms-ssim`` and (when JPEG was run on Kodak) ``jpeg-vs-published`` figures.

    ``references`` names published curves to overlay (``"mbt2018"``, ``"published:jpeg"`` …); by default
    the published curves of the codecs in the results, on Kodak only; ``[]`` for none. ``overlays``: more
    curves drawn dashed (reference curves, :mod:`bench.analysis.refcurves`). ``labels``: legend text by curve
    name (:func:`relabel`). ``log_rate``, ``spread``, ``delta_anchor``, ``look``: as :func:`rd_figure`.
    """
    curves, shown = figure_curves(rows, references=references, overlays=overlays, labels=labels)
    dataset = dataset_of(rows)
    if delta_anchor is not None:  # drawn with the label it has in the figure
        delta_anchor = next((c for c in shown if c.name == delta_anchor.name), delta_anchor)
    out = Path(out_dir)
    written = []
    for metric, stem in (("psnr", "rd-psnr"), ("ms_ssim_db", "rd-ms-ssim")):
        title = f"{METRICS[metric]} vs bit rate, {dataset}" if look.title else None
        figure = rd_figure(shown, metric, title=title, max_bpp=max_bpp, log_rate=log_rate, spread=spread,
                           rows=rows, delta_anchor=delta_anchor, look=look)
        written += save_figure(figure, out / stem, formats, look)
    if "jpeg" in curves and dataset == "kodak":
        figure = jpeg_vs_published_figure(curves["jpeg"], published_curve("jpeg"), look=look,
                                          title="JPEG on Kodak: this harness vs CompressAI's published jpeg.json")
        written += save_figure(figure, out / "jpeg-vs-published", formats, look)
    return written
