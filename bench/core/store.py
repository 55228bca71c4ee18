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

from bench.core.errors import StoreError
from bench.core.schema import COLUMNS, LEGACY_VALUES, NUMERIC, ROWS_FORMAT, Column

__all__ = [
    "COLUMNS", "LEGACY_VALUES", "NUMERIC", "ResultStore", "StoreError", "load_rows", "rows_frame", "write_bytes_atomic",
    "write_text_atomic",
]


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    return str(value)


class ResultStore:
    """Rows of one dataset in ``<results_dir>/rows.csv``.

    The columns are the schema's (:data:`bench.core.schema.COLUMNS`) followed by extension columns:
    those the file already has, then those :meth:`declare` adds. Reading never changes the file's
    header; the first append after the columns changed rewrites it (atomically) with all of them.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._rows: dict[str, dict[str, str]] = {}
        self.columns: tuple[str, ...] = COLUMNS
        self._numeric: tuple[str, ...] = NUMERIC
        self._header: tuple[str, ...] | None = None  # the header on disk (None: no file yet)
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
        extensions = tuple(column for column in header if column not in COLUMNS)
        # Extension columns exist from rows format 2 on, whose files carry ``format_version``.
        if "key" not in header or (extensions and "format_version" not in header):
            raise StoreError(
                f"{self.path} has columns this version of the harness does not know; "
                "move it away (or pass another --results folder) and rerun"
            )
        self._header = header
        self.columns = COLUMNS + extensions
        # An older file without the newest columns: read it with those empty (or with their
        # LEGACY_VALUES); the first append rewrites it with the current header.
        absent = {column: LEGACY_VALUES.get(column, "") for column in COLUMNS if column not in header}
        for row in reader:
            values = {column: row.get(column) or "" for column in self.columns} | absent
            version = values["format_version"]
            if version.isdigit() and int(version) > ROWS_FORMAT:
                raise StoreError(f"{self.path} holds rows of format {version}, this harness reads up to "
                                 f"{ROWS_FORMAT}; upgrade the harness")
            self._rows[row["key"]] = values

    def declare(self, columns: Iterable[Column]) -> None:
        """Accept extension columns (a plug-in's new ones); rows that predate one hold its ``legacy``."""
        for column in columns:
            if column.kind != "str" and column.name not in self._numeric:
                self._numeric += (column.name,)
            if column.name in self.columns:
                continue
            self.columns += (column.name,)
            for row in self._rows.values():
                row[column.name] = column.legacy

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, str] | None:
        return self._rows.get(key)

    def rows(self) -> list[dict[str, str]]:
        """Current rows, one per key, in first-written order."""
        return list(self._rows.values())

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row durably enough to survive the process being killed.

        The row is stamped with the current rows format (``format_version``).
        """
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}; declare them (ResultStore.declare)")
        row = {**row, "format_version": ROWS_FORMAT}
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        if not new_file and self._header != self.columns:
            self.compact()
        values = [_format(row.get(column)) for column in self.columns]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if new_file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            writer.writerow(self.columns)
        writer.writerow(values)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, buffer.getvalue().encode("utf-8"))
        finally:
            os.close(fd)
        if new_file:
            self._header = self.columns
        self._rows[str(row["key"])] = dict(zip(self.columns, values))

    def compact(self) -> None:
        """Rewrite the file with one row per key and the store's columns (atomic replace)."""
        if not self.path.exists():
            return
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows.values())
        _atomic_write(self.path, buffer.getvalue())
        self._header = self.columns

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with numeric columns parsed (missing values are NaN)."""
        return rows_frame(self.rows(), columns=self.columns, numeric=self._numeric)


def rows_frame(rows: Iterable[Mapping[str, str]], columns: Iterable[str] = COLUMNS,
               numeric: Iterable[str] = NUMERIC) -> pd.DataFrame:
    """Rows as a DataFrame with ``columns``, the ``numeric`` ones parsed as float (empty: NaN)."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for column in numeric:
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
