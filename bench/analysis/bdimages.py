"""Per-image BD-rates: each image's own curve of a codec against the anchor's on that image.

The mean-curve BD-rate of :mod:`bench.analysis.bdtable` says how the codecs compare on average; these say
how often and by how much: the median, the interquartile range and how many images favour the codec
(negative BD-rate), by the same rules (method, fit range, minimum overlap) applied image by image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.bdrate import bd_rate_each
from bench.analysis.bdtable import BdTable, Memo, common_images, per_image
from bench.core.metrics import ms_ssim_db

__all__ = ["ImageBd", "per_image_bd"]


@dataclass(frozen=True)
class ImageBd:
    """One codec × metric × method: the BD-rate of each image (NaN where undefined, with its reason)."""

    codec: str
    metric: str
    method: str
    images: tuple[str, ...]
    values: tuple[float, ...]
    reasons: tuple[str | None, ...]

    @property
    def defined(self) -> np.ndarray:
        values = np.asarray(self.values, dtype=np.float64)
        return values[np.isfinite(values)]

    @property
    def median(self) -> float | None:
        return float(np.median(self.defined)) if self.defined.size else None

    @property
    def quartiles(self) -> tuple[float, float] | None:
        """The first and third quartiles (the interquartile range's ends)."""
        if not self.defined.size:
            return None
        low, high = np.quantile(self.defined, [0.25, 0.75])
        return float(low), float(high)

    @property
    def favour(self) -> int:
        """Images on which the codec needs fewer bits than the anchor (BD-rate below 0)."""
        return int(np.sum(self.defined < 0))


def per_image_bd(rows: pd.DataFrame, table: BdTable, *, memo: Memo | None = None) -> tuple[ImageBd, ...]:
    """Per-image BD-rates of every measured codec of ``table`` against its measured anchor, for each of its
    methods and metrics, on the images both have (:func:`bench.analysis.bdtable.common_images`); none when
    the anchor is a published curve."""
    if table.anchor.published:
        return ()
    out = []
    for entry in table.entries:
        test = table.curves[entry.codec]
        if test.published or not entry.images:
            continue
        images = common_images(rows, table.anchor, test, entry.metric, memo=memo)
        curves = []
        for curve in (table.anchor, test):
            part = per_image(rows, curve.name, curve.points, entry.metric, memo=memo).loc[images]
            quality = part["quality"].to_numpy(np.float64)
            curves += [part["bpp"].to_numpy(np.float64), ms_ssim_db(quality) if entry.metric == "ms_ssim_db" else quality]
        values, reasons = bd_rate_each(*curves, method=entry.method, min_overlap=table.min_overlap)
        out.append(ImageBd(entry.codec, entry.metric, entry.method, tuple(images), tuple(map(float, values)),
                           tuple(reasons)))
    return tuple(out)
