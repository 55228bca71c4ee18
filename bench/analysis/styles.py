"""One colour and one marker per codec, the same in every figure and report, and distinct within a figure.

A curve's codec is its family (:func:`family`): ``published:mbt2018-8bit``, ``ref:VTM`` and a measured
``mbt2018`` share a style, so a published or reference curve is drawn in its codec's colour.

Styles come from :data:`PALETTE`: twelve colour-blind-safe colours (Okabe–Ito's eight, four of Paul Tol's
"muted"), each with its own marker, so curves stay apart in grayscale (where colours of equal lightness
meet, the markers differ). Codecs of the study and the usual published anchors prefer a fixed entry
(:data:`STYLES`); any other name prefers the entry its name's CRC-32 picks. :func:`assign_styles` gives
the families of one figure distinct entries, up to twelve: a family whose preferred entry another
(earlier in :data:`STYLES`, or a known one before an unknown one) holds takes the next free one.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PALETTE", "STYLES", "Style", "assign_styles", "codec_style", "family"]


@dataclass(frozen=True)
class Style:
    """How a codec is drawn: a colour (``#rrggbb``) and a matplotlib marker."""

    colour: str
    marker: str


PALETTE: tuple[Style, ...] = (
    Style("#000000", "o"),  # Okabe–Ito black
    Style("#0072b2", "s"),  # blue
    Style("#e69f00", "^"),  # orange
    Style("#009e73", "D"),  # bluish green
    Style("#cc79a7", "v"),  # reddish purple
    Style("#56b4e9", "P"),  # sky blue
    Style("#d55e00", "X"),  # vermillion
    Style("#882255", "<"),  # Tol muted wine
    Style("#999933", ">"),  # Tol muted olive
    Style("#332288", "h"),  # Tol muted indigo
    Style("#44aa99", "p"),  # Tol muted teal
    Style("#777777", "*"),  # grey
)
"""The figures' styles: each marker once; colours from Okabe & Ito (2008) and Paul Tol's muted scheme."""

_PREFERRED = {
    "jpeg": 0, "bmshj2018-factorized": 1, "webp": 2, "jpeg2000": 3, "heic": 4, "bmshj2018-hyperprior": 5,
    "mbt2018": 6, "avif": 7, "avif-444": 8, "heic-444": 9, "vtm": 10, "bpg": 11, "hm": 11, "av1": 2,
    "mbt2018-mean": 5, "cheng2020-anchor": 3, "cheng2020-attn": 9,
}
STYLES: dict[str, Style] = {name: PALETTE[index] for name, index in _PREFERRED.items()}
"""Preferred styles, by family, in priority order; other codecs: their name's CRC-32 (:func:`codec_style`)."""

_ALIASES = {"bpg 8b 444 x265 ycbcr": "bpg", "bpg_444_x265_ycbcr": "bpg"}


def family(name: str) -> str:
    """The codec a curve belongs to: ``published:mbt2018-8bit`` → ``mbt2018``, ``ref:VTM`` → ``vtm``."""
    base = name.split(":", 1)[1] if name.startswith(("published:", "ref:")) else name
    base = base.removesuffix("-8bit")
    lowered = base.lower()
    lowered = _ALIASES.get(lowered, lowered)
    return lowered if lowered in STYLES else base


def _preferred(key: str) -> int:
    if key in _PREFERRED:
        return _PREFERRED[key]
    return zlib.crc32(key.encode("utf-8")) % len(PALETTE)


def codec_style(name: str) -> Style:
    """The preferred style of a codec or curve name (measured, ``published:…`` or ``ref:…``), alone in a figure."""
    return PALETTE[_preferred(family(name))]


def assign_styles(names: Iterable[str]) -> dict[str, Style]:
    """A style for each curve name of one figure: distinct across families while there are at most
    :data:`PALETTE`'s twelve, each family's preferred one where free (see the module's docstring)."""
    names = list(names)
    families = list(dict.fromkeys(family(n) for n in names))
    order = sorted(families, key=lambda f: (list(_PREFERRED).index(f) if f in _PREFERRED else len(_PREFERRED),
                                            families.index(f)))
    taken: dict[int, str] = {}
    chosen: dict[str, int] = {}
    for key in order:
        slot = _preferred(key)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.setdefault(slot, key)
        chosen[key] = slot
    return {name: PALETTE[chosen[family(name)]] for name in names}
