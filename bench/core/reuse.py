"""Which stored rows a run may use: the key of a measurement, and the reuse rule across hosts.

A row is keyed by everything that produced it (:func:`row_key`); a rerun finds it by that key and
:func:`reuse_rule` decides whether its RD values and timings still hold on this host.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from bench.core.codec import Codec

__all__ = ["LATER_QUALITY", "METRICS_VERSION", "Action", "codec_hash", "legacy_row_key", "lacks_metrics", "lacks_quality", "reuse_rule",
           "row_key", "timing_differs"]

#: Bump when a change of the metric code changes stored numbers: it invalidates every row.
METRICS_VERSION = 1


class Action(StrEnum):
    """What a run does with the stored row of a key (:func:`reuse_rule`); each is its lower-case name."""

    MEASURE = "measure"  #: RD values, then timings
    TIME = "time"  #: timings only: the stored RD values hold
    SCORE = "score"  #: the :data:`LATER_QUALITY` columns only, from the bitstream made again
    REUSE = "reuse"  #: nothing: the stored row holds as it is


#: Quality columns added after rows were first stored (Y′CbCr PSNR). A stored row without them is
#: scored again (:attr:`Action.SCORE`, or in the timing pass): its bitstream is made again and must have the
#: stored length and give the stored PSNR, then the new columns are filled and nothing else changes.
LATER_QUALITY: tuple[str, ...] = ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv")
_OTHER_HOST = "rows from another host"
_UNKNOWN_HOST = "rows from an unknown host: written before hosts were recorded"


def reuse_rule(existing: Mapping[str, str] | None, host: str, bit_exact: bool, repeats: int | None = 1, *,
               sampled: bool = False, metrics: Mapping[str, int] | None = None) -> tuple[Action, str]:
    """What to do with the stored row of a key on the host ``host``: (an :class:`Action`, why).

    * no stored row, or a failed one: measure it (RD values, then timings);
    * a row of this host (the same :func:`bench.core.environment.fingerprint`): time it when it lacks
      timings or they were taken another way than this run's (:func:`timing_differs`: ``repeats`` single
      calls, or by duration with ``sampled`` saying whether the row is in the repeatability sample; the
      timing pass also fills :data:`LATER_QUALITY`), else score it when it lacks :data:`LATER_QUALITY`
      or one of the run's plug-in ``metrics`` ({name: version}; :func:`lacks_metrics`), else reuse it;
    * a row of another host, or of an unknown one (``host`` empty: written before hosts were recorded):
      timings are never reused: it is timed again for codecs bit-exact across hosts
      (``Codec.deterministic_across_hosts``, RD values kept) and measured again for the others.
    """
    if existing is None or existing.get("status") != "ok":
        return Action.MEASURE, "measured (new, or failed before)"
    stored = existing.get("host") or ""
    if stored == host:
        if existing.get("encode_s", "") == "":
            return Action.TIME, "timings taken (RD values stored without timings)"
        differs = timing_differs(existing, repeats, sampled)
        if differs:
            return Action.TIME, differs
        if lacks_quality(existing):
            return Action.SCORE, "Y′CbCr PSNR added (stored before it was recorded; bytes and PSNR checked)"
        if lacks_metrics(existing, metrics or {}):
            return Action.SCORE, "metrics added (bytes and PSNR checked)"
        return Action.REUSE, "reused as stored (same host)"
    origin = _OTHER_HOST if stored else _UNKNOWN_HOST
    if bit_exact:
        return Action.TIME, f"RD values reused (bit-exact codecs), timings taken again on this host ({origin})"
    return Action.MEASURE, f"recomputed on this host (codecs not declared bit-exact across hosts; {origin})"


def timing_differs(row: Mapping[str, str], repeats: int | None, sampled: bool) -> str | None:
    """Why the stored ``row``'s timings do not answer this run's policy (``repeats`` single calls, or None:
    by duration, the row in the repeatability sample when ``sampled``), or None when they do.

    ``timing_sampled`` tells the policies apart: empty under a fixed number of repeats (and in rows from
    before the policy), 0 or 1 by duration."""
    flag = str(row.get("timing_sampled") or "")
    if repeats is not None:
        if flag:
            return "timings taken again (stored by duration; --repeats asks for single calls)"
        if _repeats_of(row) < repeats:
            return f"timings taken again (stored from fewer than {repeats} repeats)"
        return None
    if not flag:
        return "timings taken again by duration (stored with a fixed number of repeats)"
    if flag != str(int(sampled)):
        return "timings taken again (the row joined or left the repeatability sample)"
    return None


def lacks_quality(row: Mapping[str, str]) -> bool:
    """Whether a stored row predates the :data:`LATER_QUALITY` columns."""
    return any(not row.get(column) for column in LATER_QUALITY)


def lacks_metrics(row: Mapping[str, str], metrics: Mapping[str, int]) -> list[str]:
    """The plug-in ``metrics`` ({name: version}) that the stored ``row`` was not scored by at that version
    (its ``metrics`` cell, :func:`bench.core.measure.metrics_label`)."""
    scored = dict(item.rsplit(":", 1) for item in (row.get("metrics") or "").split(",") if ":" in item)
    return [name for name, version in metrics.items() if scored.get(name) != str(version)]


def _repeats_of(row: Mapping[str, str]) -> int:
    """The stored row's timing repeats (1 where not recorded)."""
    try:
        return int(float(row.get("timing_repeats") or 1))
    except ValueError:
        return 1


def codec_hash(codec: Codec) -> str:
    """Short hash of the codec's name, identity and the metric version."""
    blob = json.dumps([codec.name, codec.identity(), METRICS_VERSION], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def row_key(codec_hash_: str, point: str, coder_identity: Mapping[str, Any], image_sha256: str,
            image_name: str) -> str:
    """The cache key of one measurement: codec, point, coder identity, the image's pixels and its file name
    (two files with the same pixels are two rows)."""
    blob = json.dumps([codec_hash_, point, dict(coder_identity), image_sha256, image_name], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def legacy_row_key(codec_hash_: str, point: str, coder_identity: Mapping[str, Any], image_sha256: str) -> str:
    """The key of rows written before keys held the file name; such a row is reused (under its own key)
    by the image whose name it holds."""
    blob = json.dumps([codec_hash_, point, dict(coder_identity), image_sha256], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]
