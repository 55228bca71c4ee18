"""Datasets: named, verified lists of images.

A dataset is either

* a folder: every image file (suffix in :data:`bench.core.images.IMAGE_SUFFIXES`, any case)
  directly inside it, not in subfolders, hidden files skipped, sorted by file name; or
* a known name: ``"kodak"``, the 24 Kodak PNGs ``kodim01.png`` … ``kodim24.png``. They are
  checked against the manifest shipped in ``bench/data/kodak.tsv``: a file passes when its
  bytes have the manifest's SHA-256, or else when its decoded pixels do (so a losslessly
  re-saved copy passes; pixels are what count).

Where the Kodak files come from, first match wins:

1. ``local_dir`` / ``--kodak-dir``, else the environment variable ``BENCH_KODAK_DIR``:
   that folder is only read, never written; all 24 files must be there and verify.
2. Otherwise the cache folder ``<cache>/kodak/``, with ``<cache>`` = ``cache_dir``, else
   ``BENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/lic-bench``, else ``~/.cache/lic-bench``.
   Files already there that verify are kept; the others are downloaded from ``base_url``,
   else ``BENCH_KODAK_URL``, else :data:`KODAK_URL`, then verified (a file that fails is
   deleted).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from bench.core.download import download, sha256_file
from bench.core.errors import DatasetError, ImageError, one_line
from bench.core.images import IMAGE_SUFFIXES, load_rgb, pixel_sha256

__all__ = [
    "DATASET_NAMES", "KODAK_URL", "Dataset", "ImageItem",
    "check_name", "folder_dataset", "kodak", "open_dataset",
]

log = logging.getLogger(__name__)

KODAK_URL = "http://r0k.us/graphics/kodak/kodak/"
"""Canonical location of the Kodak PNGs (file name appended)."""

DATASET_NAMES: tuple[str, ...] = ("kodak",)
"""Names :func:`open_dataset` knows besides folder paths."""

_KODAK_MANIFEST = "data/kodak.tsv"
_LOCAL_HINT = "use --kodak-dir DIR or set BENCH_KODAK_DIR=DIR to point at a local copy"
_DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ImageItem:
    """One image of a dataset."""

    name: str
    """File name, e.g. ``"kodim01.png"``; unique within its dataset."""
    path: Path
    expected_pixel_sha256: str | None = None
    """:func:`bench.core.images.pixel_sha256` the decoded pixels must have, when known."""


@dataclass(frozen=True)
class Dataset:
    """A named list of images and where they came from."""

    name: str
    items: tuple[ImageItem, ...]
    source: str
    """Human-readable origin, e.g. the folder or the download URL and cache folder."""
    folder: Path | None = None
    """The absolute folder of a folder dataset (item names are relative to it); ``None`` for a named
    dataset, whose identity is its bundled manifest."""


@dataclass(frozen=True)
class _ManifestRow:
    name: str
    width: int
    height: int
    size: int
    file_sha256: str
    pixel_sha256: str


def folder_dataset(directory: str | Path, *, name: str | None = None) -> Dataset:
    """All image files directly in ``directory``, sorted by name.

    ``name`` defaults to the folder's own name. Raises :class:`DatasetError` when the folder
    does not exist or holds no image file, or ``name`` cannot be a folder name.
    """
    if name is not None:
        check_name(name)
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder; pass an existing folder of images")
    try:
        files = sorted(
            (p for p in folder.iterdir()
             if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()),
            key=lambda p: p.name,
        )
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list it ({one_line(exc)}); check permissions") from None
    if not files:
        raise DatasetError(
            f"{folder}: no image files directly in this folder (subfolders are not searched); "
            f"expected suffixes: {' '.join(IMAGE_SUFFIXES)}"
        )
    items = tuple(ImageItem(name=p.name, path=p) for p in files)
    label = name if name is not None else Path(os.path.abspath(folder)).name
    return Dataset(name=label, items=items, source=f"folder {folder}", folder=folder.resolve())


def check_name(name: str) -> str:
    """``name`` when it can name a dataset's results folder (one plain folder name); else :class:`DatasetError`."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise DatasetError(f"dataset name {name!r} cannot name a results folder; pass a plain name such as "
                           "'photos-2024' (--name NAME)")
    return name


def kodak(
    *,
    local_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = False,
) -> Dataset:
    """The 24 Kodak images, verified against the bundled manifest.

    See the module docstring for where the files are looked for. ``progress`` shows a tqdm
    bar over the files. Raises :class:`DatasetError` when a file is missing, differs from
    the manifest, or cannot be downloaded; the message names the files and the fix.
    """
    rows = _kodak_manifest()
    if local_dir is None:
        local_dir = os.environ.get("BENCH_KODAK_DIR") or None
    if local_dir is not None:
        folder = Path(local_dir).expanduser()
        items = _verify_local(rows, folder, progress=progress)
        return Dataset(
            name="kodak", items=items,
            source=f"local copy {folder} (verified against bench/{_KODAK_MANIFEST})",
        )

    url = base_url or os.environ.get("BENCH_KODAK_URL") or KODAK_URL
    url = url if url.endswith("/") else url + "/"
    folder = _cache_root(cache_dir) / "kodak"
    items = _fetch_verified(rows, folder, url, progress=progress)
    return Dataset(
        name="kodak", items=items,
        source=f"{url} (cached in {folder}, verified against bench/{_KODAK_MANIFEST})",
    )


def open_dataset(
    spec: str,
    *,
    kodak_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    name: str | None = None,
) -> Dataset:
    """A dataset by name (``"kodak"``) or by folder path; names take precedence.

    ``kodak_dir``, ``cache_dir`` and ``progress`` are passed to :func:`kodak`; ``name`` renames a
    folder dataset (default: the folder's own name), and is where its results go.
    """
    if spec == "kodak":
        if name not in (None, "kodak"):
            raise DatasetError(f"--name {name!r} renames a folder dataset (--data DIR); Kodak is always 'kodak'")
        return kodak(local_dir=kodak_dir, cache_dir=cache_dir, progress=progress)
    if Path(spec).expanduser().is_dir():
        return folder_dataset(spec, name=name)
    raise DatasetError(
        f"unknown dataset {spec!r}: known names are {', '.join(DATASET_NAMES)}; "
        "the path of an existing folder of images is also accepted"
    )


# --- manifest -------------------------------------------------------------------------------

@functools.cache
def _kodak_manifest() -> tuple[_ManifestRow, ...]:
    text = (resources.files("bench") / _KODAK_MANIFEST).read_text(encoding="utf-8")
    return _parse_manifest(text, source=f"bench/{_KODAK_MANIFEST}")


def _parse_manifest(text: str, *, source: str) -> tuple[_ManifestRow, ...]:
    """Rows of a TSV with columns: file, WxH, bytes, sha256 of file, sha256 of RGB pixels."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("file\t"):
        raise DatasetError(f"{source}: missing header line; reinstall the package")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            name, dims, size, file_sha, pixel_sha = line.split("\t")
            width, height = (int(v) for v in dims.split("x"))
            rows.append(_ManifestRow(name, width, height, int(size), file_sha.lower(), pixel_sha.lower()))
        except ValueError:
            raise DatasetError(f"{source}: line {number} is malformed; reinstall the package") from None
    return tuple(rows)


# --- verification and download ----------------------------------------------------------------

def _verify(path: Path, row: _ManifestRow) -> str | None:
    """None when ``path`` matches ``row`` (same bytes, or same decoded pixels); else why not."""
    if not path.is_file():
        return "missing"
    if path.stat().st_size == row.size and sha256_file(path) == row.file_sha256:
        return None
    try:
        pixels = load_rgb(path).pixels
    except ImageError:
        return "unreadable"
    if pixels.shape != (row.height, row.width, 3):
        return f"is {pixels.shape[1]}x{pixels.shape[0]}, expected {row.width}x{row.height}"
    if pixel_sha256(pixels) != row.pixel_sha256:
        return "pixels differ"
    return None


def _verify_local(
    rows: Sequence[_ManifestRow], folder: Path, *, progress: bool = False
) -> tuple[ImageItem, ...]:
    """Check a read-only local copy; report every bad file at once."""
    if not folder.is_dir():
        raise DatasetError(f"Kodak folder {folder} does not exist; {_LOCAL_HINT}")
    missing, bad = [], []
    for row in tqdm(rows, desc="verify kodak", unit="file", disable=not progress):
        reason = _verify(folder / row.name, row)
        if reason == "missing":
            missing.append(row.name)
        elif reason is not None:
            bad.append(f"{row.name} ({reason})")
    if missing or bad:
        problems = ([f"missing: {', '.join(missing)}"] if missing else []) + (
            [f"differ from the manifest: {', '.join(bad)}"] if bad else [])
        raise DatasetError(
            f"Kodak copy in {folder} does not verify: {'; '.join(problems)}; restore the original "
            "files there (lossless re-saves are fine), or unset BENCH_KODAK_DIR / drop --kodak-dir "
            "to download them"
        )
    return tuple(ImageItem(r.name, folder / r.name, r.pixel_sha256) for r in rows)


def _fetch_verified(
    rows: Sequence[_ManifestRow],
    folder: Path,
    base_url: str,
    *,
    progress: bool = False,
    timeout: float = _DOWNLOAD_TIMEOUT_S,
) -> tuple[ImageItem, ...]:
    """Keep the files in ``folder`` that verify, download the others from ``base_url``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create cache folder {folder} ({one_line(exc)}); set BENCH_CACHE_DIR to a "
            f"writable folder, or {_LOCAL_HINT}"
        ) from None
    for row in tqdm(rows, desc="kodak", unit="file", disable=not progress):
        path = folder / row.name
        if path.exists():
            reason = _verify(path, row)
            if reason is None:
                continue
            log.warning("%s in the cache: %s; downloading it again", path, reason)
            try:
                path.unlink()
            except OSError as exc:
                raise DatasetError(
                    f"cannot remove {path} from the cache ({one_line(exc)}); delete it by hand"
                ) from None
        url = base_url + row.name
        try:
            download(url, path, timeout=timeout)
        except DatasetError as exc:
            raise DatasetError(f"cannot fetch Kodak file {row.name}: {exc}; {_LOCAL_HINT}") from exc
        reason = _verify(path, row)
        if reason is not None:
            path.unlink(missing_ok=True)
            raise DatasetError(
                f"Kodak file {row.name} downloaded from {url} does not match the manifest "
                f"({reason}) and was deleted; retry later, or {_LOCAL_HINT}"
            )
    return tuple(ImageItem(r.name, folder / r.name, r.pixel_sha256) for r in rows)


def _cache_root(cache_dir: str | Path | None) -> Path:
    """cache_dir, else $BENCH_CACHE_DIR, else $XDG_CACHE_HOME/lic-bench, else ~/.cache/lic-bench."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if env := os.environ.get("BENCH_CACHE_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec says to ignore relative values
        return Path(xdg) / "lic-bench"
    return Path.home() / ".cache" / "lic-bench"

