"""Priors for a run's ETA: how long a codec's unit of work may take, from its stored rows.

A row measured now is one untimed pass (the warm-up, or the parallel RD pass) and its timed encode
and decode under the run's :class:`~bench.core.timing.TimingPolicy`, so its cost is about
``encode_s + decode_s`` of a stored row of that codec plus what the policy spends on each call (the
metrics and the image's loading come on top: an estimate, shown as one).
"""

from __future__ import annotations

import pandas as pd

from bench.core.timing import TimingPolicy

__all__ = ["timed_cost", "unit_seconds"]


def timed_cost(seconds: pd.Series, policy: TimingPolicy) -> pd.Series:
    """Seconds ``policy`` spends timing calls of ``seconds`` each (one value a row; a short call's first call
    calibrates, then its loop lasts ``min_value_s``)."""
    if policy.repeats is not None:
        return policy.repeats * seconds
    return seconds.where(seconds >= policy.short_s, seconds + policy.min_value_s)


def unit_seconds(rows: pd.DataFrame, policy: TimingPolicy) -> dict[str, float]:
    """Codec → estimated seconds per unit of progress: the mean over its timed ``ok`` rows in ``rows``
    (columns ``codec``, ``encode_s``, ``decode_s``, optional ``status``) of one untimed encode and decode
    plus their :func:`timed_cost`; codecs without a timed row are absent."""
    if rows.empty or not {"codec", "encode_s", "decode_s"} <= set(rows.columns):
        return {}
    encode = pd.to_numeric(rows["encode_s"], errors="coerce")
    decode = pd.to_numeric(rows["decode_s"], errors="coerce")
    seconds = encode + decode + timed_cost(encode, policy) + timed_cost(decode, policy)
    ok = rows["status"].astype(str).eq("ok") if "status" in rows else pd.Series(True, index=rows.index)
    timed = pd.DataFrame({"codec": rows["codec"].astype(str), "s": seconds})[ok & seconds.notna()]
    return {str(codec): float(mean) for codec, mean in timed.groupby("codec")["s"].mean().items()}
