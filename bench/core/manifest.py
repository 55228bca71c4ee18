"""A dataset's identity is its content: the manifest, and which stored rows are current.

A run screens every file of its dataset and records the *manifest*: each usable file's name
(relative to the dataset) with the SHA-256 of its decoded pixels, the files it could not use and
why, and the folder the files came from. The run's ``runs/<run_id>.json`` keeps a copy (what that
run saw); ``<results>/<dataset>/manifest.json`` holds the *current* one (each run replaces it) and
is the only one readers use.

Averages, BD-rates, plots, exports and reports use exactly the rows whose ``(image,
image_sha256)`` is in the current manifest (:func:`current_rows`, :func:`load_current_rows`). The
other rows, of images deleted or replaced since (same name, other pixels), are *stale*: kept in
``rows.csv``, never averaged. A results folder without a manifest (written before manifests
existed) has every row current. Of the current images' rows, :func:`load_current_rows` keeps per
codec those of one identity (:mod:`bench.core.identity`); the rows of other settings are kept and
counted too.

A dataset name belongs to one dataset: a run whose folder is not the recorded one and whose
images differ is refused (:func:`check_same_dataset`); images added, removed or replaced in the
recorded folder make a new manifest, and the rows of the old images stale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core import identity
from bench.core.errors import DatasetError, StoreError, one_line
from bench.core.images import MIN_SIDE, too_small
from bench.core.schema import read_run
from bench.core.store import load_rows, write_text_atomic

__all__ = [
    "MANIFEST_FILE", "MANIFEST_FORMAT", "CurrentRows", "Manifest", "check_same_dataset", "current_rows",
    "load_current_rows", "read_manifest", "select_current", "stale_note", "write_manifest",
]

MANIFEST_FILE = "manifest.json"
"""The current manifest of a results folder: ``<results>/<dataset>/manifest.json``."""
MANIFEST_FORMAT = 1
"""Version of the manifest file; a newer one is refused."""


@dataclass(frozen=True)
class Manifest:
    """What a dataset held when a run screened it."""

    name: str
    images: Mapping[str, str]
    """Relative file name → SHA-256 of its decoded RGB pixels, for every usable file."""
    unusable: Mapping[str, str] = field(default_factory=dict)
    """Relative file name → why it could not be used (not measured)."""
    folder: str | None = None
    """Absolute folder of a folder dataset; ``None`` for a named dataset (e.g. Kodak, verified by name)."""
    source: str = ""
    """Human-readable origin (:attr:`bench.core.datasets.Dataset.source`)."""

    def to_json(self) -> dict[str, Any]:
        """The manifest as stored (also the ``dataset`` entry of a run's metadata, with ``images`` counted)."""
        return {"name": self.name, "source": self.source, "folder": self.folder,
                "manifest": dict(sorted(self.images.items())), "unusable": dict(sorted(self.unusable.items()))}

    def pairs(self) -> frozenset[tuple[str, str]]:
        """``(file name, pixel sha256)`` of every usable file."""
        return frozenset(self.images.items())


def _from_json(data: Any, path: Path) -> Manifest:
    def mapping(value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise TypeError("not a mapping of names to text")
        return dict(value)

    try:
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        version = data.get("format_version")
        if isinstance(version, int) and version > MANIFEST_FORMAT:
            raise StoreError(f"{path}: manifest of format {version}, this harness reads up to {MANIFEST_FORMAT}; "
                             "upgrade the harness")
        folder = data.get("folder")
        return Manifest(name=str(data["name"]), images=mapping(data["manifest"]),
                        unusable=mapping(data.get("unusable", {})),
                        folder=folder if isinstance(folder, str) else None, source=str(data.get("source", "")))
    except (KeyError, TypeError) as exc:
        reason = f"no {exc} key" if isinstance(exc, KeyError) else one_line(exc)
        raise StoreError(f"{path}: not a dataset manifest ({reason}); delete it, the next run writes it "
                         "again") from None


def read_manifest(folder: str | Path) -> Manifest | None:
    """The current manifest of ``folder`` (``<results>/<dataset>``), or ``None`` where none was recorded."""
    path = Path(folder) / MANIFEST_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: cannot read the dataset manifest ({one_line(exc)}); delete it, the next run "
                         "writes it again") from None
    return _from_json(data, path)


def write_manifest(folder: str | Path, manifest: Manifest) -> Path:
    """Make ``manifest`` the current one of ``folder`` (atomic replace); returns the file."""
    path = Path(folder) / MANIFEST_FILE
    write_text_atomic(path, json.dumps({"format_version": MANIFEST_FORMAT, **manifest.to_json()}, indent=1) + "\n")
    return path


def check_same_dataset(recorded: Manifest | None, new: Manifest, results_dir: str | Path) -> None:
    """Refuse ``new`` when its name belongs to another dataset in ``results_dir``.

    Another dataset: the recorded folder is not ``new``'s **and** the images differ. The same folder
    with images added, removed or replaced is the same dataset (its old rows become stale); other
    folders with the same images (a moved or copied folder, Kodak from another copy) are too.
    """
    if recorded is None or recorded.folder == new.folder or recorded.pairs() == new.pairs():
        return
    where = recorded.folder or recorded.source or "a named dataset"
    raise DatasetError(
        f"{Path(results_dir) / new.name} holds dataset {new.name!r} from {where}, with other images than "
        f"{new.folder or new.source}; give this one another name (--name NAME) or another --results folder "
        "(results of different datasets are never merged)"
    )


def current_rows(rows: pd.DataFrame, manifest: Manifest | None) -> tuple[pd.DataFrame, int]:
    """The rows of images in ``manifest`` (name and pixel hash), and how many others (stale) were left out.

    Every row is current when there is no manifest (results from before manifests were recorded).
    """
    if manifest is None or rows.empty:
        return rows, 0
    keep = [(image, sha) in manifest.images.items()
            for image, sha in zip(rows["image"].astype(str), rows["image_sha256"].astype(str))]
    stale = len(keep) - sum(keep)
    if not stale:
        return rows, 0
    return rows[keep].reset_index(drop=True), stale


def stale_note(stale: int) -> str:
    """The one line readers print about stale rows ("" when there are none)."""
    if not stale:
        return ""
    return (f"{stale} stale row{'s' if stale != 1 else ''} of images no longer in the dataset, kept in rows.csv, "
            "not averaged")


@dataclass(frozen=True)
class CurrentRows:
    """The rows of a results folder that the current manifest accounts for, of one identity per codec."""

    rows: pd.DataFrame
    stale: int
    manifest: Manifest | None
    other: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Rows of the current images under other settings than their codec's identity (kept, not averaged)."""
    other_notes: tuple[str, ...] = ()
    """One line per codec with :attr:`other` rows (:func:`bench.core.identity.other_lines`)."""
    tiny: int = 0
    """Rows of images below :data:`bench.core.images.MIN_SIDE` a side, stored before screening refused them
    (kept, not averaged)."""

    @property
    def note(self) -> str:
        """:func:`stale_note` of these rows."""
        return stale_note(self.stale)

    @property
    def notes(self) -> list[str]:
        """Every line readers print about rows left out: stale images, then other settings per codec."""
        tiny = (f"{self.tiny} row{'s' if self.tiny != 1 else ''} of images below {MIN_SIDE} pixels a side (stored "
                "before such images were refused), kept in rows.csv, not averaged")
        return [*([self.note] if self.stale else []), *([tiny] if self.tiny else []), *self.other_notes]


def _runs(folder: Path, run_ids: set[str]) -> dict[str, Any]:
    """``run_id → metadata`` of the run files of ``run_ids`` that exist in ``folder/runs``."""
    found: dict[str, Any] = {}
    for run_id in sorted(run_ids):
        path = folder / "runs" / f"{run_id}.json"
        if run_id and path.is_file():
            found[run_id] = read_run(path)
    return found


def select_current(rows: pd.DataFrame, manifest: Manifest | None, folder: str | Path,
                   chosen: Mapping[str, str] | None = None) -> CurrentRows:
    """The rows of the images in ``manifest`` (:func:`current_rows`), of one identity per codec (the current
    one, or the one ``chosen`` names: :func:`bench.core.identity.current_rows`); ``folder`` holds the run files
    that say what differs."""
    rows, stale = current_rows(rows, manifest)
    tiny = 0
    if {"width", "height"} <= set(rows.columns) and not rows.empty:
        small = too_small(pd.to_numeric(rows["width"], errors="coerce"), pd.to_numeric(rows["height"], errors="coerce"))
        tiny, rows = int(small.sum()), rows[~small]
    kept, other = identity.current_rows(rows, chosen)
    notes: list[str] = []
    if not other.empty:
        ids = set(rows["run_id"].fillna("").astype(str)) if "run_id" in rows else set()
        notes = identity.other_lines(rows, other, _runs(Path(folder), ids), chosen)
    return CurrentRows(kept, stale, manifest, other, tuple(notes), tiny)


def load_current_rows(folder: str | Path, chosen: Mapping[str, str] | None = None) -> CurrentRows:
    """Current rows of ``<results>/<dataset>`` (:func:`select_current` of ``rows.csv`` and ``manifest.json``)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    return select_current(load_rows(folder / "rows.csv"), manifest, folder, chosen)
