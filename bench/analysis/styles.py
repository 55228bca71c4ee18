"""One colour and one marker per codec, the same in every figure and report.

A curve's codec is its family (:func:`family`): ``published:mbt2018-8bit``, ``ref:VTM`` and a measured
``mbt2018`` share a style, so a published or reference curve is drawn in its codec's colour. Codecs of
the study and the usual published anchors have a fixed entry in :data:`STYLES`; any other name gets a
colour and marker chosen from its name's CRC-32, so it too is the same in every figure, whatever else
is plotted beside it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["STYLES", "Style", "codec_style", "family"]


@dataclass(frozen=True)
class Style:
    """How a codec is drawn: a colour (``#rrggbb``) and a matplotlib marker."""

    colour: str
    marker: str


# matplotlib's tab10 and tab20 colours, written out so that no matplotlib version can change them
_TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")

STYLES: dict[str, Style] = {
    "jpeg": Style("#d62728", "o"),
    "jpeg2000": Style("#8c564b", "s"),
    "webp": Style("#2ca02c", "^"),
    "heic": Style("#9467bd", "D"),
    "heic-444": Style("#c5b0d5", "d"),
    "avif": Style("#ff7f0e", "v"),
    "avif-444": Style("#ffbb78", "<"),
    "bpg": Style("#e377c2", ">"),
    "vtm": Style("#000000", "*"),
    "hm": Style("#7f7f7f", "p"),
    "av1": Style("#bcbd22", "h"),
    "bmshj2018-factorized": Style("#1f77b4", "P"),
    "bmshj2018-hyperprior": Style("#17becf", "X"),
    "mbt2018-mean": Style("#aec7e8", "8"),
    "mbt2018": Style("#393b79", "H"),
    "cheng2020-anchor": Style("#637939", "d"),
    "cheng2020-attn": Style("#843c39", "p"),
}
"""Fixed styles, by family; other codecs: :func:`codec_style`'s hash rule."""

_ALIASES = {"bpg 8b 444 x265 ycbcr": "bpg", "bpg_444_x265_ycbcr": "bpg"}


def family(name: str) -> str:
    """The codec a curve belongs to: ``published:mbt2018-8bit`` → ``mbt2018``, ``ref:VTM`` → ``vtm``."""
    base = name.split(":", 1)[1] if name.startswith(("published:", "ref:")) else name
    base = base.removesuffix("-8bit")
    lowered = base.lower()
    lowered = _ALIASES.get(lowered, lowered)
    return lowered if lowered in STYLES else base


def codec_style(name: str) -> Style:
    """The style of a codec or curve name (measured, ``published:…`` or ``ref:…``)."""
    key = family(name)
    if key in STYLES:
        return STYLES[key]
    digest = zlib.crc32(key.encode("utf-8"))
    return Style(_TAB10[digest % len(_TAB10)], _MARKERS[(digest // len(_TAB10)) % len(_MARKERS)])
