"""Reference curves named on the command line: files, globs and shipped published curves, as :class:`Curve`.

``--reference`` takes, each time it is given:

* ``published:<key>`` — a curve shipped in ``bench/data/reference`` (:data:`bench.analysis.curves.PUBLISHED`:
  VTM, HM, BPG, AV1, WebP, JPEG 2000, JPEG and CompressAI's zoo models on Kodak);
* a file, or a glob matching files: CompressAI results JSON (``*.json``) or a tidy CSV (``*.csv``), see
  :mod:`bench.analysis.reference`.

Each becomes a curve named ``ref:<name in the file>`` (``published:<key>`` for shipped ones) that BD tables
take as a test curve or as the anchor and RD figures draw dashed. A curve that declares another dataset
than the results' is refused: its BD values would compare different images; one that declares none is taken
with a warning. A curve whose means are over another number of images than the results' (a 6-image subset of
Kodak against the published 24-image means) is refused for BD too (:func:`check_images`) unless the caller
allows it (``--allow-subset``); the figures then say each curve's image count (:func:`image_labels`).
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.analysis.curves import PUBLISHED_PREFIX, Curve, published_curve, reference_to_curve
from bench.analysis.reference import TAG_FILE, read_reference, read_reference_csv
from bench.core.errors import BenchError

__all__ = ["ReferenceSpecError", "check_dataset", "check_images", "image_labels", "is_reference_file",
           "reference_curves"]

log = logging.getLogger(__name__)


class ReferenceSpecError(BenchError):
    """A ``--reference`` that matches nothing, clashes with another, or belongs to another dataset."""


def is_reference_file(spec: str) -> bool:
    """Whether ``spec`` names a reference file (as ``--anchor`` may): an existing ``.json`` or ``.csv`` file."""
    path = Path(spec).expanduser()
    return path.suffix.lower() in (".json", ".csv") and path.is_file()


def check_dataset(curve: Curve, dataset: str) -> None:
    """Refuse ``curve`` when it declares a dataset other than ``dataset`` (curves that say nothing pass)."""
    if curve.dataset is not None and curve.dataset != dataset:
        raise ReferenceSpecError(
            f"reference {curve.name} ({curve.source}) is for dataset {curve.dataset!r}, the results are "
            f"{dataset!r}; BD values need curves on the same images: use a reference measured on {dataset}")


def _compared(references: Sequence[Curve], anchor: str | None) -> list[Curve]:
    """The mean curves a BD table compares with: the references and a published anchor."""
    curves = list(references)
    if anchor is not None and anchor.startswith(PUBLISHED_PREFIX) and all(c.name != anchor for c in curves):
        curves.append(published_curve(anchor))
    return curves


def check_images(references: Sequence[Curve], images: int, *, anchor: str | None = None,
                 allow_subset: bool = False) -> None:
    """Refuse BD values between results over ``images`` images and a reference (or published ``anchor``) whose
    means are over another number (a subset of its images, or another set), unless ``allow_subset``."""
    if allow_subset:
        return
    for curve in _compared(references, anchor):
        n = curve.dataset_images
        if n is None or n == images:
            continue
        held = f"{images} of its {n} images" if images < n else f"{images} images, it {n}"
        raise ReferenceSpecError(
            f"reference {curve.name} is a mean over {n} images of {curve.dataset}; the results hold {held}: BD "
            f"values would compare different images; measure all {n}, or pass --allow-subset to compare anyway")


def image_labels(measured: Iterable[Curve], overlays: Iterable[Curve], images: int) -> dict[str, str]:
    """Legend labels saying each curve's image count (``jpeg (6 images)``, ``vtm (published, 24 images)``), when
    an overlay's means are over another number of images than the results' ``images``; else none."""
    overlays = list(overlays)
    if all(c.dataset_images in (None, images) for c in overlays):
        return {}
    labels = {c.name: f"{c.label} ({images} images)" for c in measured}
    for c in overlays:
        if c.dataset_images is not None:
            inner = c.label[:-1] + ", " if c.label.endswith(")") else c.label + " ("
            labels[c.name] = f"{inner}{c.dataset_images} images)"
    return labels


def reference_curves(specs: Sequence[str], dataset: str) -> list[Curve]:
    """The curves of each ``published:<key>``, file or glob in ``specs``, in order (a glob's files sorted),
    each checked against ``dataset``; raises :class:`ReferenceSpecError` (or the file's own error)."""
    curves: list[Curve] = []
    for spec in specs:
        if spec.startswith(PUBLISHED_PREFIX):
            found = [published_curve(spec)]
        else:
            paths = [Path(p) for p in sorted(glob.glob(str(Path(spec).expanduser())))]
            paths = [p for p in paths if p.is_file()]
            if not paths:
                raise ReferenceSpecError(f"--reference {spec}: no such file (nor a file matching it); give a "
                                     "CompressAI results JSON, a tidy CSV, a glob of them, or published:<key>")
            found = [curve for path in paths for curve in _read(path)]
        for curve in found:
            check_dataset(curve, dataset)
            if curve.dataset is None:
                log.warning("reference %s (%s) declares no dataset: its BD values assume it was measured on the "
                            "images of %s; add \"dataset\" (and \"images\") to the file, or a %s beside it",
                            curve.name, curve.source, dataset, TAG_FILE)
            if any(c.name == curve.name for c in curves):
                raise ReferenceSpecError(f"two references are named {curve.name!r} ({curve.source}); give each "
                                     "curve its own name (the JSON's \"name\", the CSV's codec column)")
            curves.append(curve)
    return curves


def _read(path: Path) -> list[Curve]:
    if path.suffix.lower() == ".csv":
        return [reference_to_curve(r) for r in read_reference_csv(path)]
    if path.suffix.lower() == ".json":
        return [reference_to_curve(read_reference(path))]
    raise ReferenceSpecError(f"{path}: a reference is a CompressAI results JSON (.json) or a tidy CSV (.csv)")
