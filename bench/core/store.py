"""Append-only, crash-safe store of per-image result rows (one CSV per dataset).

Each row is written with a single ``write`` on a file opened in append mode, so
a killed run loses at most the row in flight; a torn last line (power loss) is
dropped when the file is next read. A row is identified by ``key``, a hash of
everything that produced it; when a key appears more than once the last row
wins (a retried failure, timings added by a later pass). :meth:`compact`
rewrites the file atomically with one row per key.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError

COLUMNS: tuple[str, ...] = (
    "key",
    "run_id",
    "dataset",
    "image",
    "image_sha256",
    "width",
    "height",
    "codec",
    "point",
    "codec_hash",
    "bytes",
    "payload_bytes",
    "bpp",
    "psnr",
    "ms_ssim",
    "ms_ssim_db",
    "encode_s",
    "decode_s",
    "encode_spread_s",
    "decode_spread_s",
    "timing_repeats",
    "threads",
    "allocator",
    "device",
    "padding",
    "weights_sha256",
    "bpp_estimated",
    "status",
    "note",
)

#: What a column holds in rows written before it existed (other new columns read as empty): every
#: row timed before the ``allocator`` column ran under glibc's default heap policy.
LEGACY_VALUES: dict[str, str] = {"allocator": "system"}

NUMERIC = (
    "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "encode_s", "decode_s",
    "encode_spread_s", "decode_spread_s", "timing_repeats", "threads", "bpp_estimated",
)


class StoreError(BenchError):
    """A results file that cannot be read or extended."""


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    return str(value)


class ResultStore:
    """Rows of one dataset in ``<results_dir>/rows.csv``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rows: dict[str, dict[str, str]] = {}
        self._migrate = False
        self._read()

    def _read(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        text = self.path.read_text(encoding="utf-8")
        if not text.endswith("\n"):
            # A torn final row: drop it now so the next append starts on a fresh line.
            cut = text.rfind("\n") + 1
            text = text[:cut]
            with open(self.path, "r+b") as fh:
                fh.truncate(len(text.encode("utf-8")))
        reader = csv.DictReader(io.StringIO(text))
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            if not set(header) <= set(COLUMNS) or "key" not in header:
                raise StoreError(
                    f"{self.path} has columns this version of the harness does not know; "
                    "move it away (or pass another --results folder) and rerun"
                )
            # An older file without the newest columns: read it with those empty (or with their
            # LEGACY_VALUES); the first append rewrites it with the current header.
            self._migrate = True
        absent = {column: LEGACY_VALUES.get(column, "") for column in COLUMNS if column not in header}
        for row in reader:
            self._rows[row["key"]] = {column: row.get(column) or "" for column in COLUMNS} | absent

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, str] | None:
        return self._rows.get(key)

    def rows(self) -> list[dict[str, str]]:
        """Current rows, one per key, in first-written order."""
        return list(self._rows.values())

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row durably enough to survive the process being killed."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
        if self._migrate:
            self.compact()
            self._migrate = False
        values = [_format(row.get(column)) for column in COLUMNS]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        if new_file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.writerow(COLUMNS)
        writer.writerow(values)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, buffer.getvalue().encode("utf-8"))
        finally:
            os.close(fd)
        self._rows[str(row["key"])] = dict(zip(COLUMNS, values))

    def compact(self) -> None:
        """Rewrite the file with one row per key (atomic replace)."""
        if not self.path.exists():
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows.values())
        _atomic_write(self.path, buffer.getvalue())

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with numeric columns parsed (missing values are NaN)."""
        return rows_frame(self.rows())


def rows_frame(rows: Iterable[Mapping[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for column in NUMERIC:
        # float() round-trips repr() exactly; pandas' fast parser may be off by one ulp
        frame[column] = [float(v) if v not in ("", None) else math.nan for v in frame[column]]
    return frame


def load_rows(path: str | Path) -> pd.DataFrame:
    """Read a rows CSV written by the harness into a DataFrame (one row per key)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no results at {path}; run `python -m bench run` first")
    return ResultStore(path).frame()


def _atomic_write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results and reports are meant to be shared
        with os.fdopen(fd, "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a whole text file so that readers see the old or the new content, never half."""
    _atomic_write(Path(path), text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write a whole binary file atomically (temporary file, fsync, rename)."""
    _atomic_write(Path(path), data)
