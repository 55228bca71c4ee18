"""Priors for a run's ETA: how long a codec's unit of work may take, from its stored rows.

A row measured now is one untimed pass (the warm-up, or the parallel RD pass) and ``repeats`` timed
encodes and decodes, so its cost is about ``(repeats + 1) × (encode_s + decode_s)`` of a stored row of
that codec (the metrics and the image's loading come on top: an estimate, shown as one).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["unit_seconds"]


def unit_seconds(rows: pd.DataFrame, repeats: int) -> dict[str, float]:
    """Codec → estimated seconds per unit of progress: ``(repeats + 1)`` × the mean ``encode_s + decode_s``
    of its timed ``ok`` rows in ``rows`` (columns ``codec``, ``encode_s``, ``decode_s``, optional ``status``);
    codecs without a timed row are absent."""
    if rows.empty or not {"codec", "encode_s", "decode_s"} <= set(rows.columns):
        return {}
    seconds = pd.to_numeric(rows["encode_s"], errors="coerce") + pd.to_numeric(rows["decode_s"], errors="coerce")
    ok = rows["status"].astype(str).eq("ok") if "status" in rows else pd.Series(True, index=rows.index)
    timed = pd.DataFrame({"codec": rows["codec"].astype(str), "s": seconds})[ok & seconds.notna()]
    return {str(codec): (repeats + 1) * float(mean) for codec, mean in timed.groupby("codec")["s"].mean().items()}
