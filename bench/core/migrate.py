"""Rewrite stored results in the current format (``python -m bench migrate``).

Readers upgrade older files in memory (:mod:`bench.core.schema`); this makes the upgrade permanent:
every ``<results>/<dataset>/rows.csv`` and ``runs/*.json`` not yet in the current format is rewritten
atomically, with the values a reader would see. A file already current is not touched.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from bench.core.errors import StoreError
from bench.core.schema import COLUMNS, LEGACY_VALUES, RUNS_FORMAT, parse_run, run_json, upgrade_run
from bench.core.store import ResultStore, write_text_atomic

__all__ = ["FileMigration", "MigrationReport", "migrate_results"]


@dataclass(frozen=True)
class FileMigration:
    """One file: what its rewrite changed (``changes`` empty: already current, left untouched)."""

    path: Path
    changes: tuple[str, ...] = ()

    @property
    def rewritten(self) -> bool:
        return bool(self.changes)


@dataclass
class MigrationReport:
    results_dir: Path
    files: list[FileMigration] = field(default_factory=list)

    @property
    def rewritten(self) -> list[FileMigration]:
        return [f for f in self.files if f.rewritten]

    @property
    def current(self) -> list[FileMigration]:
        return [f for f in self.files if not f.rewritten]


def _header(path: Path) -> tuple[str, ...]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return tuple(next(csv.reader(fh), ()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StoreError(f"{path}: cannot read ({exc}); restore the file or move it away") from None


def _migrate_rows(path: Path) -> FileMigration:
    header = _header(path)
    if not header or header[: len(COLUMNS)] == COLUMNS:  # empty, or the schema's columns then extension ones
        return FileMigration(path)
    text = path.read_text(encoding="utf-8")
    changes = []
    if not text.endswith("\n"):
        changes.append("torn final line dropped")
        text = text[: text.rfind("\n") + 1]
    store = ResultStore(path)
    changes += [f"column {column} added" + (f" (legacy value {LEGACY_VALUES[column]!r})" if column in LEGACY_VALUES
                                            else " (empty)") for column in COLUMNS if column not in header]
    if list(header) != [column for column in COLUMNS if column in header]:
        changes.append("columns put in schema order")
    superseded = sum(1 for _ in csv.reader(io.StringIO(text))) - 1 - len(store.rows())
    if superseded > 0:
        changes.append(f"{superseded} superseded row(s) dropped (the last row of each key is kept)")
    store.compact()
    return FileMigration(path, tuple(changes))


def _migrate_run(path: Path) -> FileMigration:
    meta = parse_run(path)
    if meta.get("format_version") == RUNS_FORMAT:
        return FileMigration(path)
    upgraded, changes = upgrade_run(meta, path.stem)
    write_text_atomic(path, run_json(upgraded))
    return FileMigration(path, tuple(changes))


def migrate_results(results_dir: str | Path) -> MigrationReport:
    """Rewrite every ``<results_dir>/<dataset>/rows.csv`` and ``runs/*.json`` in the current format.

    Each file is replaced atomically; one already current is left byte for byte as it was. Raises
    :class:`StoreError` for a file that cannot be read (before or after others were migrated).
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise StoreError(f"no results folder {results_dir}; pass the one `python -m bench run` wrote (--results)")
    report = MigrationReport(results_dir)
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir()):
        rows = folder / "rows.csv"
        if rows.is_file():
            report.files.append(_migrate_rows(rows))
        for path in sorted((folder / "runs").glob("*.json")):
            report.files.append(_migrate_run(path))
    return report
