"""How a whole figure looks: size, text size, title, legend place, file settings (screen or paper).

``screen`` is the on-screen look (8 in wide, 10 pt, a title, the legend inside the axes, SVG text as paths so
the files are the same on every machine). ``paper`` is a journal figure: one column (3.5 in) or the page
(7.16 in, IEEE's two-column widths), 8 pt text, no title, the legend under the axes, PDF with its fonts
embedded (TrueType, ``pdf.fonttype`` 42) and SVG whose text stays ``<text>`` (``svg.fonttype`` none), PNG
at 300 dpi. :func:`figure_style` turns the command line's choices into one :class:`FigureStyle`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bench.core.errors import BenchError

__all__ = ["PAPER", "SCREEN", "STYLE_NAMES", "WIDTHS", "FigureStyle", "FigureStyleError", "figure_style",
           "parse_figsize"]

WIDTHS = {"column": 3.5, "page": 7.16}
"""Paper widths in inches: one column and the full page of a two-column layout (IEEE)."""


class FigureStyleError(BenchError):
    """A figure size or text size that cannot be used."""


@dataclass(frozen=True)
class FigureStyle:
    """Size and text of a figure; ``height`` None: chosen from the width, the panels and the legend's rows."""

    width: float
    height: float | None
    font_size: float
    title: bool
    """Draw a default title when none is given."""
    legend_below: bool
    """The legend under the axes (in columns), else inside them."""
    dpi: int
    """Raster (PNG) resolution."""
    text_as_text: bool
    """SVG text as ``<text>`` elements (else as paths)."""
    line_width: float
    marker_size: float
    aspect: float = 0.62
    """Height of one panel's axes region over the width (without the legend under it)."""
    max_axes_height: float = 3.2
    """At most this many inches of axes region for one panel (page-wide figures stay short)."""

    def rc(self) -> dict[str, Any]:
        """matplotlib settings for drawing and saving the figure."""
        return {
            "svg.hashsalt": "lic-bench",
            "svg.fonttype": "none" if self.text_as_text else "path",
            "pdf.fonttype": 42,
            "path.simplify": False,
            "font.family": "DejaVu Sans",
            "font.size": self.font_size,
            "axes.titlesize": self.font_size,
            "axes.labelsize": self.font_size,
            "xtick.labelsize": self.font_size - 1,
            "ytick.labelsize": self.font_size - 1,
            "legend.fontsize": self.font_size - 1,
            "figure.dpi": 100,
            "savefig.dpi": self.dpi,
            "axes.linewidth": 0.6 if self.legend_below else 0.8,
            "grid.linewidth": 0.5,
        }

    def legend_columns(self) -> int:
        """Columns of a legend under the axes: about one per 1.75 in of width."""
        return max(1, round(self.width / 1.75))

    def size(self, *, panels: int = 1, legend_rows: int = 0, notes: int = 0) -> tuple[float, float]:
        """Width and height in inches: ``height`` when given, else the axes' (:attr:`aspect` of the width, at
        most :attr:`max_axes_height`; ×1.4 with the Δ panel) plus room for the legend's rows and the notes."""
        if self.height is not None:
            return self.width, self.height
        axes = min(self.aspect * self.width, self.max_axes_height) * (1.4 if panels > 1 else 1.0)
        line = 1.45 * self.font_size / 72
        return self.width, round(axes + (legend_rows + notes) * line + (0.1 if legend_rows else 0.0), 2)


SCREEN = FigureStyle(width=8.0, height=None, font_size=10.0, title=True, legend_below=False, dpi=100,
                     text_as_text=False, line_width=1.6, marker_size=5.0, aspect=5.5 / 8.0, max_axes_height=40.0)
PAPER = FigureStyle(width=WIDTHS["column"], height=None, font_size=8.0, title=False, legend_below=True, dpi=300,
                    text_as_text=True, line_width=1.0, marker_size=3.5)
STYLE_NAMES = {"screen": SCREEN, "paper": PAPER}


def parse_figsize(text: str) -> tuple[float, float]:
    """``"3.5x2.4"`` or ``"3.5,2.4"`` (inches) → ``(3.5, 2.4)``."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        width, height = (float(p) for p in parts)
    except ValueError:
        raise FigureStyleError(f"--figsize {text!r}: expected WIDTHxHEIGHT in inches, e.g. 3.5x2.6") from None
    if not (0.5 <= width <= 40 and 0.5 <= height <= 40):
        raise FigureStyleError(f"--figsize {text!r}: width and height must lie between 0.5 and 40 inches")
    return width, height


def figure_style(style: str = "screen", *, width: str | None = None, figsize: str | None = None,
                 font_size: float | None = None) -> FigureStyle:
    """The style named ``style`` (``screen`` or ``paper``); ``width`` (``column``, ``page``) implies paper;
    ``figsize`` (``WxH`` inches) and ``font_size`` (points) override."""
    if style not in STYLE_NAMES:
        raise FigureStyleError(f"unknown figure style {style!r}; use one of {', '.join(STYLE_NAMES)}")
    chosen = STYLE_NAMES[style]
    if width is not None:
        if width not in WIDTHS:
            raise FigureStyleError(f"--width {width!r}: use one of {', '.join(WIDTHS)}")
        chosen = replace(PAPER, width=WIDTHS[width])
    if figsize is not None:
        chosen = replace(chosen, width=parse_figsize(figsize)[0], height=parse_figsize(figsize)[1])
    if font_size is not None:
        if not 4 <= font_size <= 30:
            raise FigureStyleError(f"--font-size {font_size:g}: give a size in points between 4 and 30")
        chosen = replace(chosen, font_size=font_size)
    return chosen
