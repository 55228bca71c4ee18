"""The names codecs and curves are shown by (``--label CURVE=TEXT``), the same in tables, CSV and figures.

A label is keyed by a curve's name (``jpeg``, ``published:vtm``, ``ref:VTM``) or a reference's name without
``ref:`` (``VTM``). Figures relabel their curves (:func:`bench.analysis.plots.relabel`); BD tables their
codecs and anchor (:func:`relabel_table`), so that the Markdown, the CSV and the LaTeX name them alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bench.analysis.bdtable import BdTable
from bench.analysis.curves import PUBLISHED_PREFIX, REFERENCE_PREFIX, Curve
from bench.core.errors import BenchError

__all__ = ["LabelError", "label_key", "parse_labels", "relabel_table"]


class LabelError(BenchError):
    """A ``--label`` that is malformed or names no curve."""


def parse_labels(specs: Sequence[str]) -> dict[str, str]:
    """``["jpeg=JPEG (libjpeg-turbo)"]`` → ``{"jpeg": "JPEG (libjpeg-turbo)"}``."""
    labels = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise LabelError(f"--label {spec!r}: expected CURVE=TEXT, e.g. jpeg=\"JPEG (libjpeg-turbo)\"")
        labels[name.strip()] = text
    return labels


def label_key(name: str, labels: Mapping[str, str]) -> str | None:
    """The key of ``labels`` that names the curve ``name`` (itself, or a reference's name without ``ref:``)."""
    short = name.removeprefix(REFERENCE_PREFIX)
    return name if name in labels else short if short in labels else None


def _shown(curve: Curve, labels: Mapping[str, str]) -> Curve:
    """``curve`` named by its label in ``labels``, if any; a published or reference curve keeps its prefix."""
    key = label_key(curve.name, labels)
    if key is None:
        return curve
    prefix = next((p for p in (PUBLISHED_PREFIX, REFERENCE_PREFIX) if curve.name.startswith(p)), "")
    return replace(curve, name=prefix + labels[key], label=labels[key])


def relabel_table(table: BdTable, labels: Mapping[str, str], *, strict: bool = True) -> BdTable:
    """``table`` with its codecs and anchor named by ``labels``; with ``strict``, a label that names none of
    them raises (the report passes False: its labels may name curves only its figures draw)."""
    names = [table.anchor.name, *dict.fromkeys(e.codec for e in table.entries)]
    used = {label_key(n, labels) for n in names} - {None}
    unknown = [key for key in labels if key not in used]
    if strict and unknown:
        raise LabelError(f"--label for {', '.join(unknown)}: no such codec in the table; codecs: {', '.join(names)}")
    curves = {name: _shown(curve, labels) for name, curve in table.curves.items()}
    entries = tuple(replace(e, codec=curves[e.codec].name if e.codec in curves else e.codec) for e in table.entries)
    return replace(table, anchor=_shown(table.anchor, labels), entries=entries,
                   curves={curve.name: curve for curve in curves.values()})
