"""Merging results folders written by separate runs (``run --shard i/n`` array jobs) into one.

Each source is a results folder (``--results`` of one job); every ``<source>/<dataset>/`` with a
``rows.csv`` is merged into ``<target>/<dataset>/``: rows appended under the target's lock (by key,
so merging twice changes nothing; a later source's row of the same key wins, as in a rerun), run
metadata copied, and the dataset's manifest checked to be the same in every folder
(:func:`bench.core.manifest.check_same_dataset`) before anything is written. So are the codecs'
identities (:mod:`bench.core.identity`): each folder's current codec hash and weights per point of every
codec, and the hosts its rows were timed on, must agree across the folders (shards of one command);
a mix is refused in one line naming the codec and what differs. A run file that is a symbolic link (or
lies in a linked ``runs`` folder) is refused before anything is written: merge copies only the sources'
own files, and writes only inside the target (never through a link).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.core import identity
from bench.core.errors import StoreError
from bench.core.manifest import Manifest, check_same_dataset, read_manifest, write_manifest
from bench.core.schema import COLUMNS, Column, RunMeta, read_runs
from bench.core.store import ResultStore, check_writable, refuse_links, write_bytes_atomic

__all__ = ["MergeReport", "merge_results"]


@dataclass
class MergeReport:
    """What a merge did, per dataset: rows taken from the sources, rows already in the target."""

    added: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    folders: list[Path] = field(default_factory=list)  #: ``<target>/<dataset>`` folders written


def _datasets(source: Path) -> list[str]:
    if not source.is_dir():
        raise StoreError(f"{source} is not a results folder; give the --results folders of the runs to merge")
    names = sorted(child.name for child in source.iterdir() if (child / "rows.csv").is_file())
    if not names:
        raise StoreError(f"{source} holds no <dataset>/rows.csv; give the --results folders of the runs to merge")
    return names


def merge_results(sources: Sequence[str | Path], target: str | Path, *, wait: float | None = None,
                  mixed_hosts: bool = False) -> MergeReport:
    """Merge the rows, run metadata and manifests of ``sources`` into the results folder ``target``.

    Refuses (:class:`StoreError`, before anything is written) sources that saw other images, or whose codecs
    ran with other settings or weights, or were timed on other hosts (unless ``mixed_hosts``).
    """
    target = Path(target)
    sources = [Path(source) for source in sources]
    if any(source.resolve() == target.resolve() for source in sources):
        raise StoreError(f"{target} is both a source and the target; merge into another --results folder")
    by_dataset: dict[str, list[Path]] = {}
    for source in sources:
        for name in _datasets(source):
            by_dataset.setdefault(name, []).append(source / name)
    run_files = {folder: _run_files(folder) for folders in by_dataset.values() for folder in folders}
    report = MergeReport()
    for folders in by_dataset.values():
        _check_same_settings(folders, mixed_hosts)
    for name, folders in by_dataset.items():
        manifest = _common_manifest(folders)
        check_writable(target / name / "rows.csv", within=target)
        for folder in folders:
            for run_file in run_files[folder]:
                refuse_links(target / name / "runs" / run_file.name, within=target)
        out = ResultStore(target / name / "rows.csv")
        with out.locked(timeout=wait, purpose="merge"):
            if manifest is not None:
                check_same_dataset(read_manifest(out.path.parent), manifest, target)
            added = unchanged = 0
            for folder in folders:
                store = ResultStore(folder / "rows.csv")
                out.declare(Column(column) for column in store.columns if column not in COLUMNS)
                for row in store.rows():
                    if out.get(row["key"]) == {column: row.get(column, "") for column in out.columns}:
                        unchanged += 1
                        continue
                    out.append({column: value for column, value in row.items() if column != "format_version"})
                    added += 1
                for run_file in run_files[folder]:
                    write_bytes_atomic(out.path.parent / "runs" / run_file.name, _read_own(run_file))
            if manifest is not None:
                write_manifest(out.path.parent, manifest)
            out.compact()
        report.added[name], report.unchanged[name] = added, unchanged
        report.folders.append(out.path.parent)
    return report


def _run_files(folder: Path) -> list[Path]:
    """The run files of a source's ``<dataset>`` folder; a symbolic link among them (or as ``runs``) is refused."""
    runs = folder / "runs"
    refuse_links(runs)
    files = sorted(runs.glob("*.json"))
    for path in files:
        if path.is_symlink():
            raise StoreError(f"{path} is a symbolic link; merge copies only a results folder's own files: replace "
                             "it by the file it points to (or remove it) and merge again")
    return files


def _read_own(path: Path) -> bytes:
    """The bytes of the regular file ``path``, opened without following a link (one swapped in meanwhile)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read it as a regular file ({exc.strerror or exc}); restore it or "
                         "merge without it") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StoreError(f"{path} is not a regular file; merge copies only run files: remove it and merge again")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)


def _common_manifest(folders: Sequence[Path]) -> Manifest | None:
    """The manifest every folder of one dataset records (None when none records one); differing ones refused."""
    manifests = [(folder, read_manifest(folder)) for folder in folders]
    recorded = [(folder, manifest) for folder, manifest in manifests if manifest is not None]
    if not recorded:
        return None
    first_folder, first = recorded[0]
    for folder, manifest in recorded[1:]:
        if manifest.pairs() != first.pairs():
            raise StoreError(f"{folder} and {first_folder} measured different images of dataset {first.name} "
                             "(their manifests differ); merge only the shards of one run")
    return first


def _timing_hosts(rows: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Codec → the hosts its timed rows were timed on (unknown hosts left out)."""
    if "host" not in rows or rows.empty:
        return {}
    timed = rows[(rows["status"] == "ok") & rows["encode_s"].notna() & rows["host"].fillna("").astype(str).ne("")]
    return {str(codec): frozenset(group["host"].astype(str)) for codec, group in timed.groupby("codec")}


def _check_same_settings(folders: Sequence[Path], mixed_hosts: bool) -> None:
    """Refuse folders of one dataset whose codecs' current identities (codec hash, weights per point) differ,
    or, unless ``mixed_hosts``, whose codecs were timed on other hosts."""
    seen: dict[str, tuple[Path, identity.Identity, frozenset[str]]] = {}
    runs: dict[str, RunMeta] = {}
    for folder in folders:
        runs.update(read_runs(folder))
    for folder in folders:
        rows = ResultStore(folder / "rows.csv").frame()
        kept, _ = identity.current_rows(rows)
        hosts = _timing_hosts(kept)
        for (_, codec), mine in identity.current_identities(rows).items():
            if codec not in seen:
                seen[codec] = (folder, mine, hosts.get(codec, frozenset()))
                continue
            first_folder, first, first_hosts = seen[codec]
            differs = ""
            if mine.codec_hash != first.codec_hash:
                differs = identity.differences(codec, first.codec_hash, mine.codec_hash, runs)
            else:
                points = [p for p in first.weights if p in mine.weights and first.weights[p] and mine.weights[p]
                          and first.weights[p] != mine.weights[p]]
                if points:
                    differs = ", ".join(f"weights of {p} {first.weights[p][:8]} → {mine.weights[p][:8]}"
                                        for p in points)
            if differs:
                raise StoreError(f"{codec}: {first_folder} and {folder} hold rows of other settings ({differs}); "
                                 "merge only the shards of one command, run with the same options and weights")
            mine_hosts = hosts.get(codec, frozenset())
            if not mixed_hosts and first_hosts and mine_hosts and first_hosts != mine_hosts:
                raise StoreError(f"{codec}: {first_folder} was timed on host {', '.join(sorted(first_hosts))}, "
                                 f"{folder} on host {', '.join(sorted(mine_hosts))}; times of other machines are "
                                 "not one measurement: merge shards timed on one machine, or pass --mixed-hosts "
                                 "(each codec's times then come from one host; `run` there times the others again)")
