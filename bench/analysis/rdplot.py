"""One RD figure from stored rows, as the ``plot`` command draws it: the curves chosen, written to the files named.

The curves are those of :func:`bench.analysis.plots.figure_curves` (measured codecs, their published curves on
Kodak unless left out, reference curves), relabelled, then narrowed to the ones asked for; the figure itself is
:func:`bench.analysis.plots.rd_figure`'s, in a :mod:`bench.analysis.figstyle` look; each output path's
extension (``.pdf``, ``.svg``, ``.png``) chooses its format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bench.analysis.curves import PUBLISHED_PREFIX, REFERENCE_PREFIX, Curve, published_curve
from bench.analysis.figstyle import SCREEN, FigureStyle
from bench.analysis.plots import PlotError, figure_curves, figure_format, rd_figure, write_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["axis_key", "choose_curves", "plot_figure", "write_plot"]


def _names(curve: Curve) -> set[str]:
    """The names a user may give a curve by: its name, its label, and a reference's name without ``ref:``."""
    return {curve.name, curve.label, curve.name.removeprefix(REFERENCE_PREFIX)}


def choose_curves(curves: Sequence[Curve], wanted: Sequence[str] | None) -> list[Curve]:
    """The curves ``wanted`` names (by name, label, or a reference's name without ``ref:``), in that order;
    None: all. A name that matches no curve raises, listing the curves."""
    if wanted is None:
        return list(curves)
    chosen = []
    for name in wanted:
        match = [c for c in curves if name in _names(c)]
        if not match:
            raise PlotError(f"--codecs {name}: no such curve in the results; curves: "
                            f"{', '.join(c.name for c in curves)} (a published one: --reference published:KEY)")
        chosen += [c for c in match if c not in chosen]
    return chosen


def _anchor(curves: Sequence[Curve], name: str) -> Curve:
    for curve in curves:
        if name in _names(curve):
            return curve
    if name.startswith(PUBLISHED_PREFIX):
        return published_curve(name)
    raise PlotError(f"--anchor {name}: no such curve for the delta panel; curves: "
                    f"{', '.join(c.name for c in curves)}")


def axis_key(curves: Sequence[Curve], metric: str) -> str:
    """The quality key ``metric`` names: a key itself (``psnr``, ``ms_ssim_db``, ``psnr_y``, a plug-in metric's
    primary column), or a plug-in metric's name (``nlpd`` → its primary column); unknown names are left to
    :func:`rd_figure` to refuse."""
    keys = {key: axis for curve in curves for key, axis in curve.axes.items()}
    if metric in keys:
        return metric
    return next((key for key, axis in keys.items() if axis.metric == metric), metric)


def plot_figure(rows: pd.DataFrame, metric: str = "psnr", *, codecs: Sequence[str] | None = None,
                published: bool = True, overlays: Sequence[Curve] = (), labels: Mapping[str, str] | None = None,
                rate_range: tuple[float | None, float | None] | None = None, log_rate: bool = False,
                spread: str | None = None, delta_anchor: str | None = None, look: FigureStyle = SCREEN,
                title: str | None = None) -> Figure:
    """The RD figure of ``rows``: ``metric`` (a quality key or a plug-in metric's name: :func:`axis_key`) against bpp for the curves ``codecs`` names (default: all, with the
    measured codecs' published curves unless ``published`` is false), and the ``overlays`` (curves the user
    gave, always drawn); ``delta_anchor`` names the curve of the Δ panel (it need not be among ``codecs``).
    Other options: :func:`rd_figure`'s."""
    _, every = figure_curves(rows, references=None if published else [], overlays=overlays, labels=labels)
    given = {c.name for c in overlays}
    chosen = choose_curves(every, codecs)
    chosen += [c for c in every if c.name in given and c not in chosen]
    anchor = _anchor(every, delta_anchor) if delta_anchor is not None else None
    return rd_figure(chosen, axis_key(every, metric), title=title, rate_range=rate_range, log_rate=log_rate, spread=spread,
                     rows=rows, delta_anchor=anchor, look=look)


def write_plot(figure: Figure, outputs: Sequence[str | Path], look: FigureStyle = SCREEN) -> list[Path]:
    """Write the figure to each path, in the format its extension names; every extension is checked first."""
    for path in outputs:
        figure_format(path)
    return [write_figure(figure, path, look) for path in outputs]
