"""Every file of a dataset, loaded and checked before any work starts.

A file that cannot be used (unreadable, refused by the image policy of :mod:`bench.core.images`, smaller
than :data:`bench.core.images.MIN_SIDE` on a side, or not the pixels a named dataset's manifest expects) is listed with its reason; the others are measured, or
the run refuses up front (``--strict``, or no usable file at all). The usable files' names and pixel
hashes are the dataset's identity (:class:`bench.core.manifest.Manifest`).

Files in a lossy format (JPEG, lossy WebP, AVIF, HEIC: :func:`lossy_format`, by content, not by name) are
usable but noted, and a dataset with any of them gets one warning (:meth:`Screening.lossy_warning`): their
pixels already carry a codec's loss, which changes what a JPEG anchor does at high quality.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.datasets import Dataset
from bench.core.errors import DatasetError, ImageError
from bench.core.images import check_size, load_rgb, pixel_sha256
from bench.core.manifest import Manifest

__all__ = ["PreparedImage", "Screening", "Unusable", "lossy_format", "prepare_images"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedImage:
    name: str
    path: Path
    pixels: np.ndarray
    sha256: str
    conversion: str = ""
    """What was converted to get 8-bit RGB (:attr:`bench.core.images.LoadedImage.note`), "" for none."""
    lossy: str = ""
    """The file's lossy format (:func:`lossy_format`), "" for a lossless file."""


@dataclass(frozen=True)
class Unusable:
    """A file of the dataset that cannot be measured, and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True)
class Screening:
    """Every file of a dataset, loaded and checked: the usable images and the unusable files."""

    dataset: Dataset
    images: tuple[PreparedImage, ...]
    unusable: tuple[Unusable, ...] = ()

    def manifest(self) -> Manifest:
        """The dataset's identity: its usable files' names and pixel hashes, the unusable ones, its folder."""
        return Manifest(
            name=self.dataset.name, images={image.name: image.sha256 for image in self.images},
            unusable={item.name: item.reason for item in self.unusable},
            folder=str(self.dataset.folder) if self.dataset.folder is not None else None,
            source=self.dataset.source,
        )

    def lossy_warning(self) -> str | None:
        """One line on the usable images stored in a lossy format and what that does to a JPEG anchor; None
        when there are none."""
        formats: dict[str, int] = {}
        for image in self.images:
            if image.lossy:
                formats[image.lossy] = formats.get(image.lossy, 0) + 1
        if not formats:
            return None
        counts = ", ".join(f"{name}: {n}" for name, n in sorted(formats.items()))
        return (f"{sum(formats.values())} of the {len(self.images)} images of dataset {self.dataset.name} are lossy "
                f"files ({counts}): their pixels already carry a codec's loss, so re-encoding them with JPEG at high "
                "quality can score worse at a higher rate (q100 below q95) and the anchor's curve is not monotonic "
                "there; compare at the rates that matter (bd-rate --rate-range LOW:HIGH) or use lossless originals "
                "(PNG)")

    def refusal(self, *, strict: bool) -> DatasetError | None:
        """The error that stops a run: no usable image, or (``strict``) any unusable file; else None."""
        if not self.unusable or (self.images and not strict):
            return None
        listed = " ".join(f"[{item}]" for item in self.unusable)
        total = len(self.images) + len(self.unusable)
        if not self.images:
            return DatasetError(f"none of the {total} files of dataset {self.dataset.name} is usable: {listed}; "
                                "fix or replace them")
        return DatasetError(f"{len(self.unusable)} of {total} files of dataset {self.dataset.name} are unusable "
                            f"(--strict): {listed}; fix or remove them, or drop --strict to measure the "
                            f"{len(self.images)} usable one(s)")


def prepare_images(dataset: Dataset) -> Screening:
    """Load and check every file of ``dataset`` before any work starts; a bad file does not stop the others.

    Each file that cannot be used (unreadable, refused by :func:`bench.core.images.load_rgb` or
    :func:`~bench.core.images.check_size`, or not the pixels a named dataset's manifest expects) is listed with its reason in ``unusable``.
    """
    prepared, unusable = [], []
    for item in dataset.items:
        path = Path(item.path)
        try:
            loaded = load_rgb(path)
            check_size(loaded.pixels, path)
        except ImageError as exc:
            message = str(exc)
            unusable.append(Unusable(item.name, message.removeprefix(f"{path}: ")))
            continue
        if loaded.note:  # recorded in each row's ``conversion``
            log.debug("%s: %s", item.name, loaded.note)
        digest = pixel_sha256(loaded.pixels)
        if item.expected_pixel_sha256 and digest != item.expected_pixel_sha256:
            unusable.append(Unusable(item.name, f"pixels differ from the {dataset.name} manifest; replace the file"))
            continue
        prepared.append(PreparedImage(item.name, path, loaded.pixels, digest, loaded.note or "",
                                      lossy_format(path) or ""))
    screening = Screening(dataset, tuple(prepared), tuple(unusable))
    warning = screening.lossy_warning()
    if warning:
        log.warning("%s", warning)
    return screening


_ISO_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC",
               b"heis": "HEIC", b"hevc": "HEIC", b"hevx": "HEIC"}


def lossy_format(path: str | Path) -> str | None:
    """The lossy format of an image file, told by its content: ``JPEG``, ``lossy WebP`` (a ``VP8`` bitstream;
    ``VP8L`` is lossless), ``AVIF`` or ``HEIC`` (by the ISO-BMFF major brand); None for any other file."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            if head.startswith(b"\xff\xd8\xff"):
                return "JPEG"
            if head[4:8] == b"ftyp":
                return _ISO_BRANDS.get(head[8:12])
            if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
                return "lossy WebP" if _webp_is_lossy(f) else None
    except OSError:
        return None
    return None


def _webp_is_lossy(f: Any) -> bool:
    """Whether a WebP file (read from offset 12) holds a lossy ``VP8 `` bitstream, in any of its chunks."""
    f.seek(12)
    while len(header := f.read(8)) == 8:
        fourcc, size = header[:4], int.from_bytes(header[4:], "little")
        if fourcc == b"VP8 ":
            return True
        if fourcc == b"ANMF":  # an animation frame: 16 bytes of frame header, then its own chunks
            f.seek(16, 1)
            continue
        f.seek(size + (size & 1), 1)
    return False
