"""Append-only, crash-safe store of per-image result rows (one CSV per dataset).

Why a CSV file and not SQLite: ``rows.csv`` is the committed, diffable format of the published
results, and other code (the fixtures, the reports' readers, users' own scripts) reads it as CSV.
What SQLite would give is done here instead: an append is all or nothing (a short write is
completed, a failed one cut back to the file's previous size, so a full disk, a file size limit or
an interruption never leaves half a line, and :class:`StoreError` names the file and the cause);
a row whose numeric cell does not parse is quarantined like a malformed line, never a
``ValueError``; and no write follows a symbolic link (``O_NOFOLLOW``, :func:`refuse_links`).

A row is identified by ``key``, a hash of everything that produced it; when a key appears more than
once the last row wins (a retried failure, timings added by a later pass). :meth:`ResultStore.compact`
rewrites the file atomically with one row per key.

One writer at a time: every write happens under the folder's lock (:mod:`bench.core.lock`), and
compaction re-reads the file under it, so rows another process wrote are never lost. Reading
never writes: a line that does not parse into the header's fields (a stray quote, a torn last
line, a numeric cell that is not a number) is skipped and reported (:attr:`ResultStore.problems`, and a logged warning naming the file
and line); the next writer moves such lines to ``rows.csv.malformed`` before it rewrites the file.
"""

from __future__ import annotations

import csv
import errno
import io
import logging
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import StoreError, write_failure
from bench.core.lock import LOCK_FILE, folder_lock
from bench.core.schema import COLUMNS, LEGACY_VALUES, NUMERIC, ROWS_FORMAT, Column

__all__ = [
    "COLUMNS", "LEGACY_VALUES", "NUMERIC", "ResultStore", "RowProblem", "StoreError", "check_writable", "load_rows",
    "refuse_links", "rows_frame",
    "write_bytes_atomic", "write_text_atomic",
]

log = logging.getLogger(__name__)

#: Suffix of the file (next to ``rows.csv``) that receives the lines a writer removed as malformed.
MALFORMED_SUFFIX = ".malformed"


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class RowProblem:
    """A line of a rows file that was skipped: its 1-based line number and why."""

    path: Path
    line: int
    reason: str
    raw: bytes = field(default=b"", repr=False, compare=False)  #: the line as stored, without its line end

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.reason}; skipped"


@dataclass
class _Parsed:
    header: tuple[str, ...] = ()
    rows: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    lines: dict[str, tuple[int, bytes]] = field(default_factory=dict)  #: key → its row's line number and bytes


_reported: set[tuple[str, int, str]] = set()


def _report(problems: Iterable[RowProblem]) -> None:
    """Log each problem once per process (a run reads its file more than once)."""
    for problem in problems:
        ident = (str(problem.path), problem.line, problem.reason)
        if ident not in _reported:
            _reported.add(ident)
            log.warning("%s", problem)


def _fields(text: str) -> list[str] | None:
    """The fields of exactly one CSV record, or ``None`` when ``text`` is not one valid record."""
    try:
        records = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error:
        return None
    return records[0] if len(records) == 1 else None


def _not_a_number(row: Mapping[str, str], numeric: Iterable[str]) -> str:
    """Why a row is not a row of numbers where ``numeric`` columns hold them (empty: it is one)."""
    for column in numeric:
        value = row.get(column)
        if value in ("", None):
            continue
        try:
            float(value)  # type: ignore[arg-type]
        except ValueError:
            return f"column {column} holds {value!r}, not a number (key {row.get('key', '')})"
    return ""


def _parse(data: bytes, path: Path, numeric: Iterable[str] = NUMERIC) -> _Parsed:
    """Rows of a rows file, line by line: a line that is not a valid row is skipped, never more.

    A field may hold line ends (the writer quotes it); such a record spans the lines up to the next
    one that closes the quote, and is kept only if it is one valid record of the header's width and
    its ``numeric`` cells parse as numbers (else an earlier row of its key, if any, stays current).
    """
    parsed = _Parsed()
    complete = data.rfind(b"\n") + 1
    raw_lines = data[:complete].split(b"\n")[:-1]
    if data[complete:]:
        parsed.problems.append(RowProblem(path, len(raw_lines) + 1, "incomplete last line (no line end: a write "
                                          "was cut off)", data[complete:]))
    if not raw_lines:
        return parsed
    lines: list[str | None] = []
    for number, raw in enumerate(raw_lines):
        try:
            text = raw.decode("utf-8-sig" if number == 0 else "utf-8")
        except UnicodeDecodeError:
            lines.append(None)
            continue
        lines.append(text.removesuffix("\r"))
    header = tuple(_fields(lines[0]) or ()) if lines[0] is not None else ()
    extensions = tuple(column for column in header if column not in COLUMNS)
    # Extension columns exist from rows format 2 on, whose files carry ``format_version``.
    if "key" not in header or (extensions and "format_version" not in header):
        raise StoreError(f"{path} has columns this version of the harness does not know; "
                         "move it away (or pass another --results folder) and rerun")
    parsed.header = header
    odd = [line is not None and line.count('"') % 2 == 1 for line in lines]  # ends inside a quoted field
    closing: list[int | None] = [None] * len(lines)
    following: int | None = None
    for i in reversed(range(len(lines))):
        closing[i] = following
        if odd[i]:
            following = i
    i = 1
    while i < len(lines):
        line, end = lines[i], i
        if line == "":
            i += 1
            continue
        if odd[i]:
            end = closing[i]  # type: ignore[assignment]
            if end is not None and any(lines[k] is None for k in range(i, end + 1)):
                end = None
        fields = None
        if line is not None and end is not None:
            fields = _fields("\n".join(lines[i:end + 1]))  # type: ignore[arg-type]
        reason = _invalid(fields, header, line, odd[i])
        if reason:
            parsed.problems.append(RowProblem(path, i + 1, reason, raw_lines[i]))
            i += 1  # only this line: the next one is read as a row of its own
            continue
        row = dict(zip(header, fields))  # type: ignore[arg-type]
        reason = _not_a_number(row, numeric)
        if reason:  # a whole record (all its lines) that is not a row of numbers
            parsed.problems.append(RowProblem(path, i + 1, reason, b"\n".join(raw_lines[i:end + 1])))
            i = end + 1
            continue
        version = row.get("format_version", "")
        if version.isdigit() and int(version) > ROWS_FORMAT:
            raise StoreError(f"{path} holds rows of format {version}, this harness reads up to "
                             f"{ROWS_FORMAT}; upgrade the harness")
        parsed.rows[row["key"]] = row
        parsed.lines[row["key"]] = (i + 1, b"\n".join(raw_lines[i:end + 1]))
        i = end + 1
    return parsed


def _invalid(fields: list[str] | None, header: tuple[str, ...], line: str | None, unbalanced: bool) -> str:
    """Why a record is not a row (empty: it is one)."""
    if line is None:
        return "not UTF-8 text"
    if fields is None:
        return 'a quote (") opens a field that never closes into a valid row' if unbalanced else "not valid CSV"
    if len(fields) != len(header):
        return f"{len(fields)} fields, the header has {len(header)}"
    if tuple(fields) == header:
        return "a second header line"
    if not fields[header.index("key")]:
        return "no key"
    return ""


def _writable(path: Path, *, folder: bool = False) -> bool:
    """Whether this process may write ``path`` and it is not marked read-only (no write bit at all).

    The second test makes a folder or file someone made read-only (``chmod a-w``) read-only for root too.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & 0o222) and os.access(path, os.W_OK | (os.X_OK if folder else 0))


class ResultStore:
    """Rows of one dataset in ``<results_dir>/rows.csv``.

    The columns are the schema's (:data:`bench.core.schema.COLUMNS`) followed by extension columns:
    those the file already has, then those :meth:`declare` adds. Reading never changes the file;
    the first append after the columns changed rewrites it (atomically) with all of them.
    :attr:`problems` lists the lines the last read skipped.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.problems: list[RowProblem] = []
        self.columns: tuple[str, ...] = COLUMNS
        self._numeric: tuple[str, ...] = NUMERIC
        self._declared: dict[str, Column] = {}
        self._rows: dict[str, dict[str, str]] = {}
        self._lines: dict[str, tuple[int, bytes]] = {}  # key → line number and bytes of its row as last read
        self._written: set[str] = set()  # keys this store appended (the rows this process stored)
        self._depth = 0  # nesting of this store's hold on the folder's lock
        self._read()

    # --- reading ---------------------------------------------------------------------------

    def _bytes(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path} ({exc.strerror or exc}); fix its permissions or pass "
                             "another --results") from None

    def _read(self) -> bytes | None:
        """Load the file into memory (it is not modified); returns its bytes."""
        data = self._bytes()
        parsed = _parse(data, self.path, self._numeric) if data else _Parsed()
        self._adopt(parsed)
        self.problems = parsed.problems
        _report(parsed.problems)
        return data

    def _adopt(self, parsed: _Parsed) -> None:
        header = parsed.header
        extensions = tuple(column for column in header if column not in COLUMNS)
        declared = tuple(name for name in self._declared if name not in header)
        self.columns = COLUMNS + extensions + declared
        # An older file without the newest columns: read it with those empty (or with their
        # LEGACY_VALUES); the first append rewrites it with the current header.
        absent = {column: LEGACY_VALUES.get(column, "") for column in COLUMNS if column not in header}
        absent |= {name: self._declared[name].legacy for name in declared}
        self._rows = {key: {column: row.get(column) or "" for column in self.columns} | absent
                      for key, row in parsed.rows.items()}
        self._lines = parsed.lines

    def declare(self, columns: Iterable[Column]) -> None:
        """Accept extension columns (a plug-in's new ones); rows that predate one hold its ``legacy``.

        A numeric column the file already has is checked now: a row whose cell is not a number is
        skipped (and reported) as when it is read.
        """
        for column in columns:
            if column.kind != "str" and column.name not in self._numeric:
                self._numeric += (column.name,)
                self._quarantine((column.name,))
            if column.name in self.columns:
                continue
            self._declared[column.name] = column
            self.columns += (column.name,)
            for row in self._rows.values():
                row[column.name] = column.legacy

    def _quarantine(self, numeric: tuple[str, ...]) -> None:
        """Skip the rows in memory whose ``numeric`` cells are not numbers, as :func:`_parse` would."""
        problems = []
        for key, row in list(self._rows.items()):
            reason = _not_a_number(row, numeric)
            if reason:
                line, raw = self._lines.get(key, (0, b""))
                problems.append(RowProblem(self.path, line, reason, raw))
                del self._rows[key]
        self.problems += problems
        _report(problems)

    def __contains__(self, key: str) -> bool:
        return key in self._rows

    def get(self, key: str) -> dict[str, str] | None:
        return self._rows.get(key)

    def rows(self) -> list[dict[str, str]]:
        """Current rows, one per key, in first-written order."""
        return list(self._rows.values())

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with numeric columns parsed (missing values are NaN)."""
        return rows_frame(self.rows(), columns=self.columns, numeric=self._numeric)

    # --- writing -----------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise :class:`StoreError` (one line, naming the fix) unless rows can be written here."""
        check_writable(self.path)

    @contextmanager
    def locked(self, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None,
               purpose: str = "run") -> Iterator[ResultStore]:
        """Be the folder's only writer for the ``with`` block, with the rows re-read from disk.

        Checks first that the folder and file are writable (:class:`StoreError` otherwise). Waits
        for another process's writer (``timeout`` and ``on_wait`` as in
        :func:`bench.core.lock.folder_lock`). Appends and compaction take the lock themselves;
        hold it around a whole run so that what is missing is decided on current rows.
        """
        with self._lock(timeout=timeout, on_wait=on_wait, purpose=purpose):
            if self._depth == 1:
                self._read()  # what other writers added before this one got the lock
            yield self

    @contextmanager
    def _lock(self, *, timeout: float | None = None, on_wait: Callable[[str], None] | None = None,
              purpose: str = "run") -> Iterator[None]:
        if self._depth == 0:
            self.check_writable()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create results folder {self.path.parent} ({exc.strerror or exc}); "
                                 "pass another --results or fix its permissions") from None
        with folder_lock(self.path.parent, timeout=timeout, on_wait=on_wait, purpose=purpose):
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row durably enough to survive the process being killed, all of it or nothing.

        The row is stamped with the current rows format (``format_version``). Under the lock: a torn
        last line is moved aside first, and a file whose header differs is compacted first. A short
        write is completed; a write that fails (disk full, file size limit, read-only, an
        interruption) is cut back to the file's previous size, so every line on disk stays a whole
        row, and raises :class:`StoreError` naming the file, the cause and the rows kept (an
        interruption is re-raised as it is). The row counts as stored only once all of it is written.
        """
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}; declare them (ResultStore.declare)")
        row = {**row, "format_version": ROWS_FORMAT}
        with self._lock():
            size, header, torn = self._disk_state()
            if size and torn and not header:  # nothing but a torn first line
                self._set_aside([RowProblem(self.path, 1, "incomplete first line", torn)])
                try:
                    os.truncate(self.path, 0)
                except OSError as exc:
                    raise self._failed(exc) from None
            elif size and (torn or header != self.columns):
                self.compact()  # from the file on disk: keeps every row, moves the torn line aside
            new_file = not self.path.exists() or self.path.stat().st_size == 0
            values = [_format(row.get(column)) for column in self.columns]
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if new_file:
                writer.writerow(self.columns)
            writer.writerow(values)
            try:
                _append_all(self.path, buffer.getvalue().encode("utf-8"))
            except OSError as exc:
                raise self._failed(exc) from None
            key = str(row["key"])
            self._rows[key] = dict(zip(self.columns, values))
            self._written.add(key)

    @property
    def written(self) -> int:
        """Rows (distinct keys) this store has appended, every one of them whole on disk."""
        return len(self._written)

    def _failed(self, exc: OSError, path: Path | None = None, lost: str = "the row in flight was not stored"
                ) -> StoreError:
        """The one-line :class:`StoreError` of a write to ``path`` (default: the rows file) that failed."""
        path = path or self.path
        cause, fix = write_failure(exc) or (" ".join(str(exc).split()), "fix the cause or pass another --results")
        return StoreError(f"cannot write {path}: {cause}; {lost}, {self.path} holds {len(self._rows)} whole rows "
                          f"({self.written} stored by this run); {fix}, then rerun the same command to resume")

    def _disk_state(self) -> tuple[int, tuple[str, ...], bytes]:
        """The file's size, header (empty: no complete first line) and torn tail (bytes after the last line end)."""
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size == 0:
                    return 0, (), b""
                first = fh.readline()
                if not first.endswith(b"\n"):
                    return size, (), first
                fh.seek(size - 1)
                tail = b"" if fh.read(1) == b"\n" else _torn_tail(fh, size)
        except FileNotFoundError:
            return 0, (), b""
        header = _fields(first.decode("utf-8-sig", errors="replace").rstrip("\r\n")) or ()
        return size, tuple(header), tail

    def compact(self) -> None:
        """Rewrite the file with one row per key and the store's columns (atomic replace).

        Done under the lock from the file as it is on disk, never from memory: rows other processes
        appended are kept; lines that are not rows are moved to ``rows.csv.malformed`` first.
        """
        with self._lock():
            data = self._read()
            if data is None:
                return
            if self.problems:
                self._set_aside(self.problems)
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, self.columns, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(self._rows.values())
            text = buffer.getvalue().encode("utf-8")
            if text != data:
                try:
                    _atomic_write(self.path, text)
                except OSError as exc:
                    raise self._failed(exc, lost="its compaction was not written (the file is as it was)") from None
            self.problems = []

    def _set_aside(self, problems: list[RowProblem]) -> None:
        """Append skipped lines to ``rows.csv.malformed`` (nothing is lost), and say so."""
        aside = self.path.with_name(self.path.name + MALFORMED_SUFFIX)
        try:
            _append_all(aside, b"".join(problem.raw + b"\n" for problem in problems), sync=True)
        except OSError as exc:
            raise self._failed(exc, aside, lost="the lines to set aside stay where they were") from None
        numbers = ", ".join(str(problem.line) for problem in problems)
        log.warning("%s: moved %d line(s) that are not rows (line %s) to %s; fix and append them back if they "
                    "hold results", self.path, len(problems), numbers, aside)


def _link_refusal(path: Path) -> StoreError:
    return StoreError(f"{path} is a symbolic link; the harness never writes through links: replace it by a "
                      "regular file or folder (or remove it), or pass another --results")


def refuse_links(path: str | Path, *, within: str | Path | None = None) -> None:
    """Raise :class:`StoreError` when a write to ``path`` would follow a symbolic link.

    ``path`` itself must not be a link; with ``within`` (a folder above it), neither may any folder
    between the two, so the write cannot resolve outside ``within``. Missing components pass (they are
    created as real folders and files). Writes nothing.
    """
    path = Path(path)
    components = [path]
    if within is not None:
        try:
            relative = path.relative_to(within)
        except ValueError:
            raise StoreError(f"{path} is not inside {within}; write it there or pass another --results") from None
        if ".." in relative.parts:
            raise StoreError(f"{path} leaves {within} (it holds '..'); give a path inside it")
        components = [Path(within).joinpath(*relative.parts[:n]) for n in range(1, len(relative.parts) + 1)]
    for component in components:
        try:
            mode = os.lstat(component).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            continue  # unreadable: the write itself says why
        if stat.S_ISLNK(mode):
            raise _link_refusal(component)


def _append_all(path: Path, data: bytes, *, sync: bool = False) -> None:
    """Append all of ``data`` to ``path`` (created 0644), never through a symbolic link, or nothing.

    A short write is continued; when a write fails or is interrupted (any exception), the file is cut
    back to its size before the call, and the exception propagates. The caller holds the folder's lock,
    so nothing else appends meanwhile.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _link_refusal(path) from None
        raise
    try:
        start = os.fstat(fd).st_size
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, data[done:])
            if sync:
                os.fsync(fd)
        except BaseException:
            if done:
                try:
                    os.ftruncate(fd, start)  # shrinking needs no space and stays under any size limit
                except OSError:
                    pass  # the torn tail is skipped by readers and moved aside by the next writer
            raise
    finally:
        os.close(fd)


def check_writable(path: str | Path, *, within: str | Path | None = None) -> None:
    """Raise :class:`StoreError` (one line, naming the fix) unless a rows file can be written at ``path``.

    Writes nothing: a missing folder passes when the nearest existing folder above it is writable. A
    folder or file without any write bit counts as read-only, for root too. The rows file, its lock
    and its ``.malformed`` file must not be symbolic links, nor (with ``within``, the results folder)
    any folder between ``within`` and the rows file.
    """
    path = Path(path)
    refuse_links(path, within=within)
    for sibling in (LOCK_FILE, path.name + MALFORMED_SUFFIX):
        refuse_links(path.with_name(sibling))
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not _writable(existing, folder=True):
        raise StoreError(f"results folder {folder} is not writable; pass another --results or fix its permissions")
    if path.exists() and not _writable(path):
        raise StoreError(f"results file {path} is read-only; pass another --results or make it writable")


def _torn_tail(fh: Any, size: int) -> bytes:
    """The bytes after the last line end of an open file of ``size`` bytes that does not end with one."""
    position, chunk = size, 1 << 16
    while position > 0:
        start = max(0, position - chunk)
        fh.seek(start)
        block = fh.read(position - start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            fh.seek(start + cut + 1)
            return fh.read()
        position = start
    fh.seek(0)
    return fh.read()


def rows_frame(rows: Iterable[Mapping[str, str]], columns: Iterable[str] = COLUMNS,
               numeric: Iterable[str] = NUMERIC) -> pd.DataFrame:
    """Rows as a DataFrame with ``columns``, the ``numeric`` ones parsed as float (empty: NaN)."""
    frame = pd.DataFrame(list(rows), columns=list(columns))
    for column in numeric:
        # float() round-trips repr() exactly; pandas' fast parser may be off by one ulp
        frame[column] = [float(v) if v not in ("", None) else math.nan for v in frame[column]]
    return frame


def load_rows(path: str | Path) -> pd.DataFrame:
    """Read a rows CSV written by the harness into a DataFrame (one row per key).

    Never modifies the file; lines that are not rows are skipped with a logged warning.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no results at {path}; run `python -m bench run` first")
    store = ResultStore(path)
    store.declare(_plugin_columns(store.rows()))
    return store.frame()


def _plugin_columns(rows: Iterable[Mapping[str, str]]) -> list[Column]:
    """The float columns of the metric plug-ins named in the rows' ``metrics`` cells (read as numbers, as the
    schema's own), and the rate targets' ``target_bpp``; a plug-in that cannot be loaded leaves its columns as
    text (the analysis names it)."""
    from bench.core.errors import MetricError
    from bench.core.metric_registry import create_metric

    names: set[str] = set()
    columns: list[Column] = []
    for row in rows:
        names.update(item.rsplit(":", 1)[0] for item in (row.get("metrics") or "").split(",") if ":" in item)
        if row.get("target_bpp") and not columns:
            columns.append(Column("target_bpp", "float"))
    for name in sorted(names):
        try:
            columns.extend(create_metric(name).columns)
        except MetricError:
            continue
    return columns


def datasets_in(results_dir: str | Path) -> list[str]:
    """The datasets that have stored rows in ``results_dir`` (its subfolders holding a ``rows.csv``), sorted."""
    folder = Path(results_dir)
    if not folder.is_dir():
        return []
    return sorted(child.name for child in folder.iterdir() if (child / "rows.csv").is_file())


def _atomic_write(path: Path, content: str | bytes) -> None:
    """Replace ``path`` by a new file; an existing file's permissions (and, where allowed, owner) are kept.

    A symbolic link at ``path`` is refused (:class:`StoreError`), not replaced nor followed. A write that
    fails leaves ``path`` as it was and no temporary file behind; its ``OSError`` propagates.
    """
    refuse_links(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing: os.stat_result | None = path.stat()
    except FileNotFoundError:
        existing = None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600; a new file is meant to be shared (0644), a replaced one keeps its mode
        os.chmod(tmp, stat.S_IMODE(existing.st_mode) if existing else 0o644)
        if existing and (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, existing.st_uid, existing.st_gid)
            except OSError:
                pass  # only root may give a file away; the mode is kept regardless
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
