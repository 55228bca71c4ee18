"""Published rate–quality curves in CompressAI's results-JSON format.

The format (``compressai/results/image/<dataset>/*.json``)::

    {"name": ..., "description": ..., "meta": {...optional...},
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], "encoding_time": [...], ...}}

Accepted quality keys: ``psnr-rgb`` (or ``psnr``), ``ms-ssim-rgb`` (or ``ms-ssim``) holding raw
MS-SSIM, and ``ms-ssim-db-rgb`` (or ``ms-ssim-db``) holding MS-SSIM in dB, as some paper curves do;
dB values are converted back to raw MS-SSIM when no raw list is present. Every other list in
``results`` is kept in :attr:`ReferenceCurve.extra` (times, for instance).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.metrics import ms_ssim_db
from bench.core.errors import BenchError

__all__ = ["ReferenceCurve", "ReferenceFileError", "read_reference", "write_reference"]

_PSNR_KEYS = ("psnr-rgb", "psnr")
_MS_SSIM_KEYS = ("ms-ssim-rgb", "ms-ssim")
_MS_SSIM_DB_KEYS = ("ms-ssim-db-rgb", "ms-ssim-db")
_KNOWN_KEYS = ("bpp", *_PSNR_KEYS, *_MS_SSIM_KEYS, *_MS_SSIM_DB_KEYS)


class ReferenceFileError(BenchError):
    """A reference results file is missing, malformed, or cannot be written."""


@dataclass(frozen=True)
class ReferenceCurve:
    """One codec's mean rate–quality curve; ``ms_ssim`` holds raw MS-SSIM (not dB)."""

    name: str
    description: str
    bpp: tuple[float, ...]
    psnr: tuple[float, ...] | None
    ms_ssim: tuple[float, ...] | None
    source: str
    extra: Mapping[str, tuple[float, ...]] = field(default_factory=dict, hash=False)
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def ms_ssim_db(self) -> tuple[float, ...] | None:
        """MS-SSIM in dB, ``-10·log10(1 − MS-SSIM)``."""
        if self.ms_ssim is None:
            return None
        return tuple(float(v) for v in ms_ssim_db(self.ms_ssim))


def read_reference(path: str | os.PathLike[str]) -> ReferenceCurve:
    """Read a CompressAI results JSON; raises :class:`ReferenceFileError` naming the file and the problem."""
    path = Path(path)

    def fail(problem: str) -> ReferenceFileError:
        return ReferenceFileError(f"{path}: {problem}")

    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise fail("no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise fail("top level is not a JSON object")
    results = data.get("results")
    if not isinstance(results, dict):
        raise fail('missing "results" object' if results is None else '"results" is not an object')

    name = data.get("name", path.stem)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail('"name" and "description" must be strings')
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise fail('"meta" is not an object')

    lists: dict[str, tuple[float, ...]] = {}
    for key, values in results.items():
        problem = _list_problem(values)
        if problem:
            raise fail(f'results["{key}"] {problem}')
        lists[key] = tuple(float(v) for v in values)
    if "bpp" not in lists:
        raise fail('missing results["bpp"]')
    lengths = {key: len(values) for key, values in lists.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{key}: {n}" for key, n in lengths.items())
        raise fail(f"results lists have unequal lengths ({listed})")
    if not lists["bpp"]:
        raise fail('results["bpp"] is empty')
    if min(lists["bpp"]) <= 0:
        raise fail('results["bpp"] has non-positive values')

    def pick(keys: tuple[str, ...]) -> tuple[str | None, tuple[float, ...] | None]:
        present = [k for k in keys if k in lists]
        if len(present) > 1:
            raise fail(f"both {present[0]!r} and {present[1]!r} given; keep one")
        return (present[0], lists[present[0]]) if present else (None, None)

    _, psnr = pick(_PSNR_KEYS)
    ms_key, ms_ssim = pick(_MS_SSIM_KEYS)
    db_key, ms_ssim_dbs = pick(_MS_SSIM_DB_KEYS)
    if ms_ssim is not None and max(ms_ssim) > 1:
        raise fail(f'results["{ms_key}"] has values above 1: raw MS-SSIM expected (dB goes in "ms-ssim-db-rgb")')
    if ms_ssim is None and ms_ssim_dbs is not None:
        ms_ssim = tuple(float(v) for v in -np.expm1(-np.asarray(ms_ssim_dbs) * math.log(10) / 10))
    elif ms_ssim is not None and ms_ssim_dbs is not None:
        if not np.allclose(ms_ssim_db(ms_ssim), ms_ssim_dbs, rtol=0, atol=1e-6):
            raise fail(f'results["{ms_key}"] and results["{db_key}"] disagree')

    extra = {key: values for key, values in lists.items() if key not in _KNOWN_KEYS}
    return ReferenceCurve(name, description, lists["bpp"], psnr, ms_ssim, str(path), extra, meta)


def _list_problem(values: Any) -> str | None:
    if not isinstance(values, list):
        return "is not a list"
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return f"has a non-numeric value ({json.dumps(v)})"
        if not math.isfinite(v):
            return f"has a non-finite value ({v})"
    return None


def write_reference(
    path: str | os.PathLike[str],
    name: str,
    description: str,
    bpp: Sequence[float],
    psnr: Sequence[float] | None,
    ms_ssim: Sequence[float] | None,
    *,
    meta: Mapping[str, Any] | None = None,
    **extra_lists: Sequence[float],
) -> None:
    """Write a curve in CompressAI's format (keys sorted, indent 2, trailing newline; deterministic).

    ``ms_ssim`` is raw MS-SSIM, written as ``ms-ssim-rgb``; ``psnr`` as ``psnr-rgb``. Extra lists
    (``encoding_time=[...]``) are written under their own names.
    """
    path = Path(path)
    results: dict[str, list[float]] = {"bpp": _float_list(path, "bpp", bpp)}
    if psnr is not None:
        results["psnr-rgb"] = _float_list(path, "psnr", psnr)
    if ms_ssim is not None:
        results["ms-ssim-rgb"] = _float_list(path, "ms_ssim", ms_ssim)
    for key, values in extra_lists.items():
        if key in _KNOWN_KEYS:
            raise ReferenceFileError(f"{path}: extra list {key!r} clashes with a quality key; use the named argument")
        results[key] = _float_list(path, key, values)
    lengths = {key: len(values) for key, values in results.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{key}: {n}" for key, n in lengths.items())
        raise ReferenceFileError(f"{path}: lists have unequal lengths ({listed})")
    data: dict[str, Any] = {"name": name, "description": description, "results": results}
    if meta:
        data["meta"] = dict(meta)
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
    path.write_text(text, encoding="utf-8")


def _float_list(path: Path, key: str, values: Sequence[float]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ReferenceFileError(f"{path}: {key} has non-numeric values") from None
    if not all(math.isfinite(v) for v in out):
        raise ReferenceFileError(f"{path}: {key} has non-finite values")
    return out
