"""Published rate–quality curves in CompressAI's results-JSON format.

The format (``compressai/results/image/<dataset>/*.json``)::

    {"name": ..., "description": ..., "meta": {...optional...},
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], "encoding_time": [...], ...}}

Accepted quality keys: ``psnr-rgb`` (or ``psnr``), ``ms-ssim-rgb`` (or ``ms-ssim``) holding raw
MS-SSIM, and ``ms-ssim-db-rgb`` (or ``ms-ssim-db``) holding MS-SSIM in dB, as some paper curves do;
dB values are converted back to raw MS-SSIM when no raw list is present. Every other list in
``results`` is kept in :attr:`ReferenceCurve.extra` (times, for instance). A file may declare the dataset
its curve was measured on, as a top-level ``"dataset"`` or ``meta["dataset"]`` string, and the number of
images its means are over as ``"images"`` (or ``meta["images"]``; a number, or one per point). A file that
declares no dataset takes the tag of a :data:`TAG_FILE` beside it (``dataset``, ``images``, ``source``), as the
shipped published curves in ``bench/data/reference`` do: their JSON stays byte for byte CompressAI's.

The same curves as a tidy CSV (:func:`read_reference_csv`): one line per codec × operating point with the
columns ``codec, point, bpp, psnr, ms_ssim`` (raw MS-SSIM; ``psnr`` or ``ms_ssim`` may be left empty on
every line of a codec), and optionally ``dataset``, ``images`` and ``description``; one curve per codec.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.metrics import ms_ssim_db
from bench.core.errors import BenchError

__all__ = ["CSV_COLUMNS", "TAG_FILE", "DatasetTag", "ReferenceCurve", "ReferenceFileError", "read_reference",
           "read_reference_csv", "read_tag", "write_reference"]

_PSNR_KEYS = ("psnr-rgb", "psnr")
_MS_SSIM_KEYS = ("ms-ssim-rgb", "ms-ssim")
_MS_SSIM_DB_KEYS = ("ms-ssim-db-rgb", "ms-ssim-db")
_KNOWN_KEYS = ("bpp", *_PSNR_KEYS, *_MS_SSIM_KEYS, *_MS_SSIM_DB_KEYS)

TAG_FILE = "dataset.toml"
"""The file beside reference files that tags those which declare no dataset themselves."""


class ReferenceFileError(BenchError):
    """A reference results file is missing, malformed, or cannot be written."""


@dataclass(frozen=True)
class DatasetTag:
    """What a reference's means were measured on: dataset name, image count and source (each where known)."""

    dataset: str | None = None
    images: int | None = None
    source: str | None = None


def read_tag(folder: str | os.PathLike[str]) -> DatasetTag:
    """The :data:`TAG_FILE` of ``folder`` (an empty tag when there is none); raises :class:`ReferenceFileError`
    naming the file when it is malformed."""
    path = Path(folder) / TAG_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DatasetTag()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ReferenceFileError(f"{path}: cannot read it ({exc}); fix it or remove it") from None
    dataset, images, source = data.get("dataset"), data.get("images"), data.get("source")
    if not isinstance(dataset, str) or not dataset or (source is not None and not isinstance(source, str)):
        raise ReferenceFileError(f'{path}: expected dataset = "<name>" (and optionally images = N, source = "…")')
    return DatasetTag(dataset, _image_count(images, lambda problem: ReferenceFileError(f"{path}: {problem}")),
                      source)


def _image_count(value: Any, fail: Any) -> int | None:
    """A declared image count: None, a positive whole number, or one per point (``export``'s ``meta``: the
    largest is the dataset's); else ``fail(problem)`` is raised."""
    counts = value if isinstance(value, list) and value else [value]
    if value is None:
        return None
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
        raise fail(f'"images" must be a positive whole number (or one per point), not {json.dumps(value)}')
    return max(counts)


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
    dataset: str | None = None
    """The dataset the file declares the curve was measured on; None when it does not say."""
    points: tuple[str, ...] | None = None
    """Operating-point labels (a tidy CSV's ``point`` column); None for CompressAI JSON, which has none."""
    images: int | None = None
    """How many images the curve's means are over, where declared."""
    dataset_source: str | None = None
    """Where the dataset tag comes from, in words (a :data:`TAG_FILE`'s ``source``), where given."""

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
    dataset = data.get("dataset", meta.get("dataset"))
    if dataset is not None and not isinstance(dataset, str):
        raise fail('"dataset" must be a string')
    images = _image_count(data.get("images", meta.get("images")), fail)
    tag = DatasetTag(dataset, images) if dataset is not None else read_tag(path.parent)

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
    return ReferenceCurve(name, description, lists["bpp"], psnr, ms_ssim, str(path), extra, meta, tag.dataset,
                          images=tag.images, dataset_source=tag.source)


CSV_COLUMNS = ("codec", "point", "bpp", "psnr", "ms_ssim")
"""The columns a tidy reference CSV must have (``dataset`` and ``description`` are optional)."""


def read_reference_csv(path: str | os.PathLike[str]) -> list[ReferenceCurve]:
    """Read a tidy CSV of mean curves, one :class:`ReferenceCurve` per codec (in order of first
    appearance, points in file order); raises :class:`ReferenceFileError` naming the file, line and problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            lines = list(reader)
    except FileNotFoundError:
        raise ReferenceFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReferenceFileError(f"{path}: cannot read ({exc})") from None
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise ReferenceFileError(f"{path}: missing column(s) {', '.join(missing)}; a reference CSV has the columns "
                                 f"{', '.join(CSV_COLUMNS)} (and optionally dataset, description)")
    if not lines:
        raise ReferenceFileError(f"{path}: no curve (the file has a header only)")
    by_codec: dict[str, list[dict[str, str]]] = {}
    for number, line in enumerate(lines, start=2):
        codec = (line["codec"] or "").strip()
        if not codec:
            raise ReferenceFileError(f"{path}, line {number}: empty codec")
        by_codec.setdefault(codec, []).append({**line, "_line": str(number)})
    return [_csv_curve(path, codec, part) for codec, part in by_codec.items()]


def _csv_curve(path: Path, codec: str, lines: list[dict[str, str]]) -> ReferenceCurve:
    def number(line: dict[str, str], column: str, *, optional: bool) -> float | None:
        text = (line[column] or "").strip()
        if not text and optional:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ReferenceFileError(f"{path}, line {line['_line']}: {column} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ReferenceFileError(f"{path}, line {line['_line']}: {column} is not finite ({text})")
        return value

    points = tuple((line["point"] or "").strip() for line in lines)
    if len(set(points)) != len(points) or not all(points):
        raise ReferenceFileError(f"{path}: codec {codec!r} has empty or repeated point labels ({', '.join(points)})")
    bpp = tuple(number(line, "bpp", optional=False) for line in lines)
    if min(bpp) <= 0:
        raise ReferenceFileError(f"{path}: codec {codec!r} has non-positive bpp")
    qualities = {}
    for column in ("psnr", "ms_ssim"):
        values = [number(line, column, optional=True) for line in lines]
        given = [v is not None for v in values]
        if any(given) and not all(given):
            raise ReferenceFileError(f"{path}: codec {codec!r} has {column} on some lines only; fill it on every "
                                     "line or on none")
        qualities[column] = tuple(values) if all(given) else None
    if qualities["ms_ssim"] is not None and max(qualities["ms_ssim"]) > 1:
        raise ReferenceFileError(f"{path}: codec {codec!r} has ms_ssim above 1: raw MS-SSIM expected, not dB")

    def single(column: str) -> str | None:
        found = {(line.get(column) or "").strip() for line in lines} - {""}
        if len(found) > 1:
            raise ReferenceFileError(f"{path}: codec {codec!r} has several values of {column} ({', '.join(sorted(found))})")
        return found.pop() if found else None

    images, dataset = single("images"), single("dataset")
    if images is not None and not (images.isdigit() and int(images) > 0):
        raise ReferenceFileError(f"{path}: codec {codec!r} has images {images!r}; give a positive whole number")
    tag = DatasetTag(dataset, images and int(images)) if dataset is not None else read_tag(path.parent)
    return ReferenceCurve(codec, single("description") or "", bpp, qualities["psnr"], qualities["ms_ssim"],
                          str(path), dataset=tag.dataset, points=points, images=tag.images,
                          dataset_source=tag.source)


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
