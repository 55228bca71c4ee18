"""Where a result's inputs came from, in words: the weights behind a learned codec's rows (the CompressAI
zoo's files or other checkpoints) and the build of a codec as its run recorded it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

__all__ = ["codec_description", "codec_records", "non_zoo_codecs", "study_caveats", "weights_origin"]

ZOO_PREFIX = "CompressAI zoo"


def weights_origin(codec: str, point: str, sha256: str) -> str:
    """Whether a weights hash is the CompressAI zoo's file for this point (zoo file names carry the
    first hex digits of their SHA-256), or other weights (a user checkpoint)."""
    from bench.core.errors import CodecError
    from bench.learned import zoo

    if codec not in zoo.ARCHITECTURES or not zoo.is_zoo_label(point):
        return "user checkpoint (no zoo model for this codec and point)"
    try:
        filename = zoo.zoo_filename(zoo.zoo_point(codec, point))
        prefix = zoo.hash_prefix(filename)
    except (CodecError, ImportError) as exc:
        return f"unknown ({exc})"
    if sha256.lower().startswith(prefix):
        return f"{ZOO_PREFIX}, `{filename}`"
    return f"not the CompressAI zoo's `{filename}`: a user checkpoint"


def _origins(rows: pd.DataFrame) -> dict[str, set[bool]]:
    """Codec → whether each of its (point, weights) pairs is the zoo's file."""
    weighted = rows[rows["weights_sha256"].fillna("").astype(str) != ""]
    found: dict[str, set[bool]] = {}
    for codec, point, sha in weighted[["codec", "point", "weights_sha256"]].drop_duplicates().itertuples(index=False):
        found.setdefault(codec, set()).add(weights_origin(codec, point, str(sha)).startswith(ZOO_PREFIX))
    return found


def non_zoo_codecs(rows: pd.DataFrame) -> list[str]:
    """The codecs with at least one point whose weights are not the CompressAI zoo's file."""
    return sorted(codec for codec, zoo in _origins(rows).items() if False in zoo)


def codec_records(runs: Iterable[Mapping[str, Any] | None], codec: str) -> list[Mapping[str, Any]]:
    """What each run that ran ``codec`` recorded of it (``runs/<id>.json`` → ``codecs``), in the runs' order."""
    return [m["codecs"][codec] for m in runs
            if m is not None and isinstance(m.get("codecs"), Mapping) and codec in m["codecs"]]


def codec_description(runs: Iterable[Mapping[str, Any] | None], codec: str) -> str | None:
    """The codec's description (build, options) as the last run that recorded it wrote it."""
    found = [d for d in (record.get("description") for record in codec_records(runs, codec)) if d]
    return found[-1] if found else None


def study_caveats(rows: pd.DataFrame, runs: Iterable[Mapping[str, Any] | None], codecs: Iterable[str],
                  anchor: str) -> dict[str, str]:
    """Codec → what the harness's BD-rate of that codec rests on: its weights and the anchor's build."""
    origins = _origins(rows)
    runs = list(runs)
    build = codec_description(runs, anchor) or "build not recorded"
    out = {}
    for codec in codecs:
        zoo = origins.get(codec)
        if not zoo:
            weights = "no weights in these rows"
        elif zoo == {True}:
            weights = "CompressAI zoo weights"
        elif zoo == {False}:
            weights = "not the zoo's weights (user checkpoints)"
        else:
            weights = "zoo weights at some points, user checkpoints at others"
        out[codec] = f"{weights}; {anchor}: {build}"
    return out
