"""The comparisons beside the BD table against the anchor: per-image BD-rates (:mod:`bench.analysis.bdimages`),
one common interval and, when asked, every pair (:mod:`bench.analysis.bdpairs`), computed together."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.analysis.bdimages import ImageBd, per_image_bd
from bench.analysis.bdpairs import CommonBd, PairBd, common_interval_table, pair_table
from bench.analysis.bdtable import BdTable, Memo

__all__ = ["Comparisons", "comparisons"]


@dataclass(frozen=True)
class Comparisons:
    images: tuple[ImageBd, ...]
    common: tuple[CommonBd, ...]
    pairs: tuple[PairBd, ...] | None
    """None when not asked for (``--pairs``)."""


def comparisons(rows: pd.DataFrame, table: BdTable, *, pairs: bool = False, memo: Memo | None = None) -> Comparisons:
    """Per-image BD-rates and the common-interval table of ``table``, and with ``pairs`` every pair of its
    measured codecs (resampled to the table's ``mc_target``)."""
    return Comparisons(
        per_image_bd(rows, table, memo=memo),
        common_interval_table(rows, table, memo=memo),
        pair_table(rows, table, memo=memo, mc_target=table.mc_target) if pairs else None,
    )
