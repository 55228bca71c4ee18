"""A subset of a dataset's images for a quick look (``run --images N|GLOB``).

A count ``N`` takes a deterministic sample stratified by orientation: the images are grouped into
landscape (wider than high), portrait (higher than wide) and square ones; each group present gets a
share of ``N`` proportional to its size (largest remainders), but at least one image while ``N`` allows
(Kodak, 18 landscape and 6 portrait: ``--images 4`` takes 3 + 1, ``--images 2`` takes 1 + 1). Within a
group of ``s`` images sorted by file name, ``k`` images are the middle ones of ``k`` equal slices
(indices ``floor((2i + 1)·s / 2k)``), so they spread over the names. Anything else is a glob matched
against the relative file names (:func:`fnmatch.fnmatchcase`, e.g. ``'kodim0*.png'``).

The subset decides only which rows a run measures; the dataset's identity (its manifest) stays that of
every file, so the rows of the other images are kept and a later full run reuses the subset's.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping

from bench.core.errors import DatasetError

__all__ = ["ORIENTATIONS", "orientation", "select_images", "stratified"]

ORIENTATIONS = ("landscape", "portrait", "square")


def orientation(size: tuple[int, int]) -> str:
    """``landscape``, ``portrait`` or ``square`` of a ``(height, width)``."""
    height, width = size
    return "landscape" if width > height else "portrait" if height > width else "square"


def _shares(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """``n`` split over groups of ``sizes`` in proportion, each present group at least one while ``n`` allows."""
    total = sum(sizes.values())
    quota = {group: n * size / total for group, size in sizes.items()}
    order = sorted(sizes, key=lambda g: (-sizes[g], ORIENTATIONS.index(g)))  # larger groups first
    share = {g: min(sizes[g], math.floor(quota[g])) for g in order}
    floor = 1 if n >= len(sizes) else 0
    for g in order:
        share[g] = max(share[g], floor)
    while sum(share.values()) > n:  # the minimum of one overshot: take from the most over its quota
        g = max((g for g in order if share[g] > floor), key=lambda g: share[g] - quota[g])
        share[g] -= 1
    while sum(share.values()) < n:  # largest remainders first, among groups with images left
        g = max((g for g in order if share[g] < sizes[g]), key=lambda g: quota[g] - share[g])
        share[g] += 1
    return share


def _spread(names: list[str], k: int) -> list[str]:
    """``k`` of the sorted ``names``: the middle one of each of ``k`` equal slices."""
    s = len(names)
    return [names[(2 * i + 1) * s // (2 * k)] for i in range(k)]


def stratified(sizes: Mapping[str, tuple[int, int]], n: int) -> tuple[str, ...]:
    """``n`` of the images ``sizes`` (name → (height, width)), stratified by orientation (module docstring);
    sorted by name. ``1 <= n <= len(sizes)``."""
    groups: dict[str, list[str]] = {}
    for name in sorted(sizes):
        groups.setdefault(orientation(sizes[name]), []).append(name)
    shares = _shares({g: len(names) for g, names in groups.items()}, n)
    return tuple(sorted(name for g, names in groups.items() for name in _spread(names, shares[g])))


def select_images(spec: str, sizes: Mapping[str, tuple[int, int]], *, dataset: str) -> tuple[str, ...]:
    """The images of ``run --images spec``: a count (:func:`stratified`) or a glob of file names; sorted.

    ``sizes``: every usable image's relative name → (height, width). Raises :class:`DatasetError` for a
    count out of range or a glob that matches nothing, naming what the dataset holds.
    """
    text = spec.strip()
    have = f"{dataset} ({len(sizes)} images)"
    example = min(sizes) if sizes else "none"
    try:
        count = int(text)
    except ValueError:
        matched = tuple(sorted(name for name in sizes if fnmatch.fnmatchcase(name, text)))
        if not matched:
            raise DatasetError(f"--images {spec!r}: no image of {have} matches; names look like {example}") from None
        return matched
    if not 1 <= count <= len(sizes):
        raise DatasetError(f"--images {spec}: {dataset} has {len(sizes)} usable images; give a count from 1 to "
                           f"{len(sizes)}, or a glob of file names (they look like {example})")
    return stratified(sizes, count)
