"""The result format in one place: the columns of a row and the keys of a run's metadata.

A dataset's results are ``<results>/<dataset>/rows.csv`` (one row per image × codec × operating
point, columns :data:`ROW_COLUMNS`) and ``runs/<run_id>.json`` (one :class:`RunMeta` per
invocation). Both carry a format version; files from before the versions existed are version 1
and are upgraded when read (:func:`upgrade_run`, and the store's :data:`LEGACY_VALUES`), so every
reader sees the current format. ``python -m bench migrate`` rewrites them in it for good.
(``manifest.json``, the dataset's current manifest, is :mod:`bench.core.manifest`'s.)

Most columns are *generic*: the harness fills them for every codec. The *codec-filled* ones
(:data:`CODEC_FILLED`) and any new *extension* column a plug-in adds are filled by a codec's
coder (``row_fields()``, ``verify()``) and must be declared in its ``Codec.columns``; extension
columns are :class:`Column` objects, appended to the file's header after the schema's own.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

from bench.core.errors import BenchError, StoreError

__all__ = [
    "CODEC_FILLED", "COLUMNS", "Column", "GENERIC", "LEGACY_VALUES", "NUMERIC", "ROWS_FORMAT", "ROW_COLUMNS",
    "HostMeta", "RUNS_FORMAT", "RunMeta", "SchemaError", "check_run", "declared_columns", "parse_run", "read_run",
    "read_runs", "run_json", "upgrade_run",
]

#: Version of the rows format; files without a ``format_version`` column are version 1.
ROWS_FORMAT = 2
#: Version of the run metadata format; files without a ``format_version`` key are version 1.
RUNS_FORMAT = 2

Kind = Literal["str", "int", "float"]
KINDS: tuple[str, ...] = ("str", "int", "float")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class SchemaError(BenchError):
    """A column declaration the result format cannot hold."""


@dataclass(frozen=True)
class Column:
    """One column of ``rows.csv``.

    ``legacy`` is what the column holds in rows written before it existed (empty unless known).
    """

    name: str
    kind: Kind = "str"
    description: str = ""
    legacy: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SchemaError(f"column name {self.name!r} is not lower_snake_case; rename it (e.g. 'my_metric')")
        if self.kind not in KINDS:
            raise SchemaError(f"column {self.name!r} has kind {self.kind!r}; use one of {', '.join(KINDS)}")


ROW_COLUMNS: tuple[Column, ...] = (
    Column("key", "str", "cache key: hash of the codec hash, point, coder identity, image pixels and file name "
           "(rows written before the file name was part of it keep their key: bench.core.reuse.legacy_row_key)"),
    Column("run_id", "str", "the run that wrote the row (runs/<run_id>.json)"),
    Column("dataset", "str", "dataset name"),
    Column("image", "str", "image file name, relative to the dataset's folder"),
    Column("image_sha256", "str", "SHA-256 of the decoded RGB pixels"),
    Column("width", "int", "image width in pixels"),
    Column("height", "int", "image height in pixels"),
    Column("conversion", "str", "what was converted to get 8-bit RGB (grey replicated, palette looked up, opaque "
           "alpha dropped…; bench.core.images), empty for none; empty in rows written before it was recorded"),
    Column("codec", "str", "codec name (registry)"),
    Column("point", "str", "operating-point label (q75, lambda0.0130, …)"),
    Column("codec_hash", "str", "hash of the codec's name, identity and the metrics version"),
    Column("bytes", "int", "length of the complete bitstream"),
    Column("payload_bytes", "int", "coded image data without container headers (codec-filled)"),
    Column("bpp", "float", "8·bytes / (width·height)"),
    Column("psnr", "float", "PSNR of the 8-bit reconstruction, dB"),
    Column("ms_ssim", "float", "MS-SSIM of the 8-bit reconstruction"),
    Column("ms_ssim_db", "float", "-10·log10(1 - ms_ssim)"),
    Column("psnr_y", "float", "PSNR of Y′ (full-range BT.709 Y′CbCr of both images, bench.core.metrics.psnr_ycbcr), "
           "dB; empty in rows written before it was recorded"),
    Column("psnr_u", "float", "PSNR of Cb (as psnr_y), dB"),
    Column("psnr_v", "float", "PSNR of Cr (as psnr_y), dB"),
    Column("psnr_yuv", "float", "(6·psnr_y + psnr_u + psnr_v) / 8, dB"),
    Column("metrics", "str", "plug-in metrics that scored the row, name:version, comma-separated (their columns "
           "follow the schema's; bench.core.metric_registry); empty: none"),
    Column("encode_s", "float", "median encode time, seconds"),
    Column("decode_s", "float", "median decode time, seconds"),
    Column("encode_spread_s", "float", "spread (max - min) of the encode times, seconds"),
    Column("decode_spread_s", "float", "spread (max - min) of the decode times, seconds"),
    Column("timing_repeats", "int", "timed values per median (bench.core.timing.TimingPolicy)"),
    Column("encode_loops", "int", "consecutive encode calls per timed value (a short call is looped)", legacy="1"),
    Column("decode_loops", "int", "consecutive decode calls per timed value", legacy="1"),
    Column("timing_sampled", "int", "1: the row is in the run's repeatability sample (more values, "
           "bench.core.sampling); 0: not; empty: timed before the sample existed"),
    Column("threads", "int", "torch threads of the timing process"),
    Column("allocator", "str", "heap policy of the timing process (bench.core.allocator)", legacy="system"),
    Column("host", "str", "short hash of the timing host's fingerprint (bench.core.environment.fingerprint; "
           "readable in runs/<run_id>.json under environment.hosts); empty: unknown (rows before hosts)"),
    Column("device", "str", "device the model ran on (codec-filled)"),
    Column("padding", "str", "padding of the input to the model's multiple (codec-filled)"),
    Column("weights_sha256", "str", "SHA-256 of the weights file (codec-filled)"),
    Column("bpp_estimated", "float", "the model's own rate estimate, bits per pixel (codec-filled)"),
    Column("derived", "str", "empty: the codec's own coder made the row; otherwise how its RD values were derived "
           "(wavefront-exact: the reference's bitstream by exact wavefronts, checked byte for byte against the "
           "codec's own on this run's sample; bench.learned.derive) — such a row has no times"),
    Column("status", "str", "ok, or failed (see note)"),
    Column("note", "str", "why a row failed, or what else was noticed"),
    Column("format_version", "int", "rows format the row was written in (ROWS_FORMAT)", legacy="1"),
)

#: Column names in file order.
COLUMNS: tuple[str, ...] = tuple(column.name for column in ROW_COLUMNS)
#: Columns parsed as numbers when rows are read into a DataFrame.
NUMERIC: tuple[str, ...] = tuple(column.name for column in ROW_COLUMNS if column.kind != "str")
#: What a column holds in rows written before it existed (other new columns read as empty): every row
#: timed before the ``allocator`` column ran under glibc's default heap policy, and every row of a file
#: without ``format_version`` is of format 1.
LEGACY_VALUES: dict[str, str] = {column.name: column.legacy for column in ROW_COLUMNS if column.legacy}
#: Columns only a codec's coder fills; a codec declares those it fills in ``Codec.columns``.
CODEC_FILLED: tuple[str, ...] = ("payload_bytes", "device", "padding", "weights_sha256", "bpp_estimated")
#: Columns the harness fills for every codec.
GENERIC: tuple[str, ...] = tuple(name for name in COLUMNS if name not in CODEC_FILLED)
_BY_NAME = {column.name: column for column in ROW_COLUMNS}


def _declared(item: str | Column) -> Column:
    """One item of ``Codec.columns`` as a :class:`Column`; the message of a wrong one says what to write."""
    if isinstance(item, Column):
        if item.name in CODEC_FILLED:
            raise SchemaError(f"declares Column({item.name!r}), a column the schema already has; "
                              f"declare it by name: {item.name!r}")
        if item.name in _BY_NAME:
            raise SchemaError(f"declares Column({item.name!r}), a generic column the harness fills; "
                              "give the new column another name")
        return item
    if not isinstance(item, str):
        raise SchemaError(f"declares {item!r}; Codec.columns holds column names or Column objects")
    if item in CODEC_FILLED:
        return _BY_NAME[item]
    if item in _BY_NAME:
        raise SchemaError(f"declares {item!r}, a generic column the harness fills; remove it from Codec.columns")
    raise SchemaError(f"declares {item!r}, which is not a codec-filled column ({', '.join(CODEC_FILLED)}); "
                      f"declare a new column as Column({item!r}, kind, description)")


def declared_columns(declared: Iterable[str | Column]) -> tuple[Column, ...]:
    """A codec's ``columns`` declaration as :class:`Column` objects, in declaration order.

    Names must be codec-filled schema columns; a new column must be a :class:`Column` whose name the
    schema does not use. Raises :class:`SchemaError` (its message starts with "declares …").
    """
    out: dict[str, Column] = {}
    for item in declared:
        column = _declared(item)
        if out.get(column.name, column) != column:
            raise SchemaError(f"declares column {column.name!r} twice, differently; keep one")
        out[column.name] = column
    return tuple(out.values())


# --- run metadata -------------------------------------------------------------------------------


class DatasetMeta(TypedDict, total=False):
    name: str
    source: str  #: where the images came from (download, local copy, folder)
    images: int  #: files in the dataset, usable or not
    folder: str | None  #: absolute folder of a folder dataset; None for a named one (absent before manifests)
    manifest: dict[str, str]  #: usable file (relative name) → pixel sha256, as this run saw it (absent before)
    unusable: dict[str, str]  #: file → why it was not measured (absent before manifests)
    subset: list[str]  #: the only images this run measured (``run --images``); absent: every usable one


class CodecMeta(TypedDict, total=False):
    hash: str  #: the rows' ``codec_hash``
    identity: dict[str, Any]  #: what determines the bitstreams (hashed)
    points: list[str]
    description: str
    point_details: dict[str, dict[str, Any]]  #: per point: coder identity, provenance and row fields
    options: dict[str, Any]  #: the resolved options the codec was built with (``verify`` rebuilds it from them)


class SettingsMeta(TypedDict, total=False):
    jobs: int  #: processes of the RD pass
    timing_repeats: int
    threads: int  #: torch threads of the timing process
    allocator: str  #: heap policy (bench.core.allocator); version-1 files without it: "system"
    metrics_version: int


class RowCounts(TypedDict, total=False):
    measured: int  #: RD values computed (new, failed before, or recomputed)
    timed: int  #: timings taken for rows whose RD values were kept
    reused: int  #: rows kept as they were
    recomputed: int  #: of ``measured``: rows of a codec not bit-exact across hosts, from another host


class HostMeta(TypedDict, total=False):
    """A readable host fingerprint (:func:`bench.core.environment.fingerprint`); the rows hold its hash."""

    cpu: str
    cpu_count: int
    gpu: str | None
    device: str  #: the device the codec ran on
    threads: int  #: torch threads of the timing process
    allocator: str  #: heap policy of the timing process


class EnvironmentMeta(TypedDict, total=False):
    """What :func:`bench.core.environment.collect` records."""

    date: str
    git_commit: str
    python: str
    platform: str
    cpu: str
    cpu_count: int
    gpu: str | None
    torch_threads: int | None
    versions: dict[str, str | None]
    hosts: dict[str, HostMeta]  #: the ``host`` of this run's rows → its fingerprint (absent before hosts)


class RunMeta(TypedDict):
    """``runs/<run_id>.json``: one invocation of ``python -m bench run``.

    After :func:`read_run` every key is present; a value a version-1 file did not record is ``None``
    (scalars) or empty (``command``, ``dataset``, ``codecs``, ``settings``, ``rows``, ``environment``).
    """

    format_version: int
    run_id: str
    status: str | None  #: running, complete, interrupted (Ctrl-C, SIGTERM) or failed (stopped by an error)
    started: str | None  #: UTC, ISO 8601
    command: list[str]  #: sys.argv
    dataset: DatasetMeta
    codecs: dict[str, CodecMeta]
    settings: SettingsMeta
    averages: str | None  #: how the summary averages (bench.analysis.summary.CONVENTION)
    rows: RowCounts
    environment: EnvironmentMeta


_RUN_DEFAULTS: dict[str, Any] = {
    "status": None, "started": None, "command": [], "dataset": {}, "codecs": {}, "settings": {},
    "averages": None, "rows": {}, "environment": {},
}


#: The JSON type of each key of :class:`RunMeta` (after :func:`upgrade_run`), checked by :func:`read_run`.
_RUN_TYPES: dict[str, tuple[type, ...]] = {
    "run_id": (str,), "status": (str, type(None)), "started": (str, type(None)), "command": (list,),
    "dataset": (dict,), "codecs": (dict,), "settings": (dict,), "averages": (str, type(None)), "rows": (dict,),
    "environment": (dict,),
}
#: The JSON type of each key of a :class:`CodecMeta` that a reader relies on, where present.
_CODEC_TYPES: dict[str, tuple[type, ...]] = {
    "identity": (dict,), "options": (dict,), "point_details": (dict,), "points": (list,), "hash": (str,),
}
_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", type(None): "null", bool: "true/false",
               int: "a number", float: "a number"}


def _json_type(value: Any) -> str:
    return _JSON_NAMES.get(type(value), type(value).__name__)


def check_run(meta: Mapping[str, Any], path: str | Path) -> None:
    """Raise :class:`StoreError` (one line naming ``path``, the key and what it holds) unless each key of the
    upgraded ``meta`` has its JSON type: objects where the format has objects (``codecs``: codec name →
    object), arrays, strings or null elsewhere."""
    def refuse(key: str, value: Any, wanted: tuple[type, ...]) -> StoreError:
        expected = " or ".join(dict.fromkeys(_JSON_NAMES[kind] for kind in wanted))
        expected += " of codec name → its metadata" if key == "codecs" else ""
        return StoreError(f"{path}: run metadata key {key!r} is {_json_type(value)}, expected {expected}; restore "
                          "the file or move it out of the runs folder")

    for key, wanted in _RUN_TYPES.items():
        if key in meta and not isinstance(meta[key], wanted):
            raise refuse(key, meta[key], wanted)
    for name, info in meta.get("codecs", {}).items():
        if not isinstance(info, dict):
            raise refuse(f"codecs.{name}", info, (dict,))
        for key, wanted in _CODEC_TYPES.items():
            if key in info and not isinstance(info[key], wanted):
                raise refuse(f"codecs.{name}.{key}", info[key], wanted)


def upgrade_run(meta: Mapping[str, Any], run_id: str) -> tuple[RunMeta, list[str]]:
    """``meta`` in the current format, and what the upgrade changed (empty for a complete current file).

    Keys a file lacks are added as not recorded (``None`` or empty); ``run_id`` is used where the file
    does not name its run (its file name's stem).
    """
    out = copy.deepcopy(dict(meta))
    changes: list[str] = []
    if out.get("format_version", 1) == 1:
        changes.append(f"format_version: 1 → {RUNS_FORMAT}")
        settings = out.get("settings")
        if isinstance(settings, dict) and "allocator" not in settings:
            settings["allocator"] = LEGACY_VALUES["allocator"]
            changes.append("settings.allocator: 'system' (runs before the setting used glibc's default heap)")
        elif settings is None:
            out["settings"] = {"allocator": LEGACY_VALUES["allocator"]}
            changes.append("settings: not recorded; allocator 'system' (glibc's default heap, as its rows)")
        codecs = out.get("codecs")
        for name, info in (codecs.items() if isinstance(codecs, dict) else ()):  # another type: check_run's
            if isinstance(info, dict) and "point_details" not in info:
                info["point_details"] = {}
                changes.append(f"codecs.{name}.point_details: not recorded")
    if "run_id" not in out:
        out["run_id"] = run_id
        changes.append(f"run_id: {run_id!r} (from the file name)")
    for key, default in _RUN_DEFAULTS.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
            changes.append(f"{key}: not recorded")
    out = {"format_version": RUNS_FORMAT, **{k: v for k, v in out.items() if k != "format_version"}}
    return out, changes  # type: ignore[return-value]


def run_json(meta: Mapping[str, Any]) -> str:
    """The text of a run metadata file."""
    return json.dumps(meta, indent=2) + "\n"


def parse_run(path: str | Path) -> dict[str, Any]:
    """A run file's JSON object as stored (not upgraded), checked to be of a version this harness reads."""
    path = Path(path)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: cannot read run metadata ({' '.join(str(exc).split())}); "
                         "restore the file or move it out of the runs folder") from None
    if not isinstance(meta, dict):
        raise StoreError(f"{path}: run metadata is not a JSON object; restore the file or move it out of the "
                         "runs folder")
    version = meta.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise StoreError(f"{path}: format_version {version!r} is not a version number; restore the file or "
                         "move it out of the runs folder")
    if version > RUNS_FORMAT:
        raise StoreError(f"{path}: run metadata of format {version}, this harness reads up to {RUNS_FORMAT}; "
                         "upgrade the harness")
    return meta


def read_run(path: str | Path) -> RunMeta:
    """One ``runs/<run_id>.json`` in the current format (older versions are upgraded in memory).

    Raises :class:`StoreError`, naming the file and the fix, when it cannot be read or is malformed (not
    JSON, not an object, an unknown version, or a key of the wrong JSON type: :func:`check_run`). A key the
    file lacks reads as not recorded (:func:`upgrade_run`).
    """
    path = Path(path)
    meta = upgrade_run(parse_run(path), path.stem)[0]
    check_run(meta, path)
    return meta


def read_runs(folder: str | Path) -> dict[str, RunMeta]:
    """``run_id → metadata`` of every ``<folder>/runs/*.json`` (``folder`` is ``<results>/<dataset>``).

    One bad file stops the read (:class:`StoreError` naming it), as in :func:`read_run`.
    """
    runs: dict[str, RunMeta] = {}
    for path in sorted((Path(folder) / "runs").glob("*.json")):
        meta = read_run(path)
        runs[str(meta["run_id"])] = meta
    return runs
