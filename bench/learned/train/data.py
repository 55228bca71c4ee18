"""Training and validation images: Vimeo-90k septuplets or any folder, sampled reproducibly.

* Vimeo-90k (a root holding ``sequences/<dir>/<sub>/im1.png … im7.png`` and ``sep_trainlist.txt`` /
  ``sep_testlist.txt``): one *group* per listed folder. The seven frames are nearly identical, so an
  epoch draws one random frame per folder.
* Any other folder: every image file under it (recursively, hidden files skipped, sorted by relative
  path), one group per image.

Every random choice of a training sample (frame, crop position, flip) comes from a numpy Generator
seeded with ``(seed, stream, epoch, index)`` through :class:`numpy.random.SeedSequence` (a hash of
those numbers), and the order of an epoch from one seeded with ``(seed, stream, epoch)``. A sample
is therefore the same whichever process loads it and whenever it is loaded: DataLoader workers and
resuming in the middle of an epoch do not change the batches.

Images smaller than the crop are skipped (the default; logged with a count and examples) or padded
with their mirror image (``small_images="pad"``). Before training, the training and validation
images are checked against the Kodak test set (pixel hashes of ``bench/data/kodak.tsv``): any match
raises :class:`~bench.learned.train.errors.TrainError` unless ``allow_test_set``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench.core.errors import ImageError
from bench.core.images import IMAGE_SUFFIXES, load_rgb, pixel_sha256
from bench.learned.train.errors import TrainError
from bench.learned.train.recipe import TrainConfig

__all__ = [
    "EpochBatches", "ImageGroup", "ImageSet", "SampleChoice", "TrainCrops", "ValCrops", "check_not_test_set",
    "epoch_order", "folder_groups", "full_image", "is_vimeo", "open_data", "sample_rng", "vimeo_groups",
]

log = logging.getLogger(__name__)

VIMEO_TRAIN_LIST = "sep_trainlist.txt"
VIMEO_TEST_LIST = "sep_testlist.txt"
VIMEO_FRAMES = tuple(f"im{i}.png" for i in range(1, 8))

# Streams of randomness, so that the same (epoch, index) never reuses numbers across purposes.
STREAM_SAMPLE, STREAM_ORDER, STREAM_VAL, STREAM_HOLDOUT = 0, 1, 2, 3
_EXAMPLES = 3


@dataclass(frozen=True)
class ImageGroup:
    """Images of which one is drawn per epoch: a Vimeo folder's 7 frames, or a single image."""

    name: str
    paths: tuple[Path, ...]
    size: tuple[int, int] | None = None
    """(width, height) of the first image, once scanned."""


@dataclass(frozen=True)
class ImageSet:
    """The groups of one split and where they came from."""

    name: str
    groups: tuple[ImageGroup, ...]
    source: str
    padded: int = 0
    """How many groups are smaller than the crop and get padded."""

    def __len__(self) -> int:
        return len(self.groups)


# --------------------------------------------------------------------------- randomness


def sample_rng(seed: int, stream: int, epoch: int, index: int) -> np.random.Generator:
    """The Generator of one sample: a function of (seed, stream, epoch, index) only."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, epoch, index]))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits groups ``0 … n-1``."""
    return np.random.default_rng(np.random.SeedSequence([seed, STREAM_ORDER, epoch])).permutation(n)


# --------------------------------------------------------------------------- finding images


def is_vimeo(root: Path) -> bool:
    """Whether ``root`` has the layout of Vimeo-90k's septuplet dataset."""
    return (root / "sequences").is_dir() and (root / VIMEO_TRAIN_LIST).is_file()


def vimeo_groups(root: str | Path, list_name: str) -> list[ImageGroup]:
    """The folders listed in ``root/list_name`` (``<dir>/<sub>`` per line), seven frames each."""
    root = Path(root)
    listing = root / list_name
    try:
        lines = listing.read_text(encoding="utf-8").split()
    except OSError as exc:
        raise TrainError(f"{listing}: cannot read the Vimeo list ({exc.strerror}); check the dataset root") from None
    groups = [ImageGroup(line, tuple(root / "sequences" / line / f for f in VIMEO_FRAMES)) for line in lines]
    if not groups:
        raise TrainError(f"{listing} lists no sequence folder; expected lines such as 00001/0001")
    return groups


def folder_groups(root: str | Path) -> list[ImageGroup]:
    """One group per image file under ``root`` (recursively), sorted by relative path."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise TrainError(f"{root}: no such folder; pass a folder of images or a Vimeo-90k root")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(folder) / name)
    if not found:
        raise TrainError(f"{root}: no image files (searched recursively for {' '.join(IMAGE_SUFFIXES)})")
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    return [ImageGroup(p.relative_to(root).as_posix(), (p,)) for p in found]


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise TrainError(f"{path}: missing (listed in the dataset); restore it or fix the list") from None
    except OSError as exc:
        raise TrainError(f"{path}: not a readable image ({exc}); remove it or re-export it") from None


def _scan(groups: Sequence[ImageGroup], crop: int, policy: str, what: str) -> tuple[list[ImageGroup], int]:
    """Read each group's first header; skip or count the groups smaller than the crop."""
    kept, small = [], []
    for group in groups:
        size = _image_size(group.paths[0])
        group = ImageGroup(group.name, group.paths, size)
        if min(size) < crop:
            small.append(group)
            if policy == "pad":
                kept.append(group)
        else:
            kept.append(group)
    if small:
        examples = ", ".join(f"{g.name} ({g.size[0]}×{g.size[1]})" for g in small[:_EXAMPLES])
        action = "padded (mirrored) to the crop" if policy == "pad" else "skipped"
        log.warning("%s: %d of %d images are smaller than the %d×%d crop and are %s, e.g. %s",
                    what, len(small), len(groups), crop, crop, action, examples)
    if not kept:
        raise TrainError(
            f"{what}: all {len(groups)} images are smaller than the {crop}×{crop} crop; "
            f"use a smaller crop or small_images='pad' (--small-images pad)"
        )
    return kept, len(small) if policy == "pad" else 0


# --------------------------------------------------------------------------- the test set


def _kodak_pixels() -> dict[str, str]:
    """Kodak's manifest: pixel sha256 → file name."""
    text = (resources.files("bench") / "data" / "kodak.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[1:] if line.strip()]
    return {row[4].lower(): row[0] for row in rows}


def _kodak_sizes() -> set[tuple[int, int]]:
    text = (resources.files("bench") / "data" / "kodak.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[1:] if line.strip()]
    return {tuple(int(v) for v in row[1].split("x")) for row in rows}  # type: ignore[misc]


def check_not_test_set(groups: Sequence[ImageGroup], what: str) -> None:
    """Raise TrainError when an image of ``groups`` has the pixels of a Kodak image.

    Only images with a Kodak size (768×512 or 512×768) are decoded; Vimeo folders are checked by
    their first frame (a folder's frames share their size).
    """
    sizes = _kodak_sizes()
    hashes = _kodak_pixels()
    found = []
    for group in groups:
        for path in group.paths[:1]:
            size = group.size or _image_size(path)
            if tuple(size) not in sizes:
                continue
            try:
                digest = pixel_sha256(load_rgb(path).pixels)
            except ImageError:
                continue
            if digest in hashes:
                found.append(f"{group.name} = {hashes[digest]}")
    if found:
        raise TrainError(
            f"{what} holds {len(found)} image(s) of the Kodak test set ({', '.join(found[:_EXAMPLES])}"
            f"{', …' if len(found) > _EXAMPLES else ''}); training or validating on the test set biases the "
            "benchmark: remove them, or pass --allow-test-set if you really mean it"
        )


# --------------------------------------------------------------------------- splits


def open_data(config: TrainConfig) -> tuple[ImageSet, ImageSet]:
    """The training and validation sets of ``config``, scanned and checked (see the module docstring)."""
    if not config.train:
        raise TrainError("no training data given; set train to a Vimeo-90k root or a folder of images (--train DIR)")
    root = Path(config.train).expanduser()
    if not root.is_dir():
        raise TrainError(f"{root}: no such folder; pass a folder of images or a Vimeo-90k root (--train DIR)")
    crop, policy = config.crop, config.small_images
    if is_vimeo(root):
        train = vimeo_groups(root, VIMEO_TRAIN_LIST)
        train_source = f"Vimeo-90k {root} ({VIMEO_TRAIN_LIST}, one random frame per folder)"
        if config.val is None:
            if not (root / VIMEO_TEST_LIST).is_file():
                raise TrainError(f"{root}: no {VIMEO_TEST_LIST} for validation; add it or give --val DIR")
            val = vimeo_groups(root, VIMEO_TEST_LIST)
            val_source = f"Vimeo-90k {root} ({VIMEO_TEST_LIST})"
        else:
            val, val_source = folder_groups(config.val), f"folder {config.val}"
    else:
        train, train_source = folder_groups(root), f"folder {root}"
        if config.val is None:
            if len(train) < 2:
                raise TrainError(f"{root}: a single image cannot be split into training and validation; "
                                 "give --val DIR")
            order = np.random.default_rng(np.random.SeedSequence([config.seed, STREAM_HOLDOUT])).permutation(len(train))
            n_val = min(len(train) - 1, max(1, round(config.val_fraction * len(train))))
            held = set(order[:n_val].tolist())
            val = [g for i, g in enumerate(train) if i in held]
            train = [g for i, g in enumerate(train) if i not in held]
            val_source = f"{n_val} images held out of {root} (val_fraction={config.val_fraction})"
            log.info("validation: %s", val_source)
        else:
            val, val_source = folder_groups(config.val), f"folder {config.val}"

    train, train_padded = _scan(train, crop, policy, f"training set {root}")
    val, val_padded = _scan(val, crop, policy, f"validation set ({val_source})")
    if config.max_val_images is not None and len(val) > config.max_val_images:
        picks = np.unique(np.linspace(0, len(val) - 1, config.max_val_images).round().astype(int))
        val = [val[i] for i in picks]
    if not config.allow_test_set:
        check_not_test_set(train, f"training set {root}")
        check_not_test_set(val, f"validation set ({val_source})")
    if len(train) < config.batch_size:
        raise TrainError(f"training set {root} has {len(train)} usable samples, fewer than batch_size="
                         f"{config.batch_size}; lower the batch size or add images")
    return (ImageSet("train", tuple(train), train_source, train_padded),
            ImageSet("val", tuple(val), val_source, val_padded))


# --------------------------------------------------------------------------- samples


def _to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))).float().div_(255.0)


def _pad_to(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    ph, pw = max(0, height - pixels.shape[0]), max(0, width - pixels.shape[1])
    if ph or pw:
        pixels = np.pad(pixels, ((0, ph), (0, pw), (0, 0)), mode="symmetric")
    return pixels


def _load(path: Path) -> np.ndarray:
    try:
        return load_rgb(path).pixels
    except ImageError as exc:
        raise TrainError(str(exc)) from None


@dataclass(frozen=True)
class SampleChoice:
    """The random choices of one training sample."""

    path: Path
    top: int
    left: int
    flip: bool


class TrainCrops(torch.utils.data.Dataset):
    """Random crops; item ``(epoch, index)`` is a function of (seed, epoch, index) only."""

    def __init__(self, images: ImageSet, crop: int, seed: int, *, hflip: bool = False) -> None:
        self.groups = images.groups
        self.crop, self.seed, self.hflip = crop, seed, hflip

    def __len__(self) -> int:
        return len(self.groups)

    def choice(self, epoch: int, index: int) -> SampleChoice:
        """The frame, crop position and flip of sample ``index`` in ``epoch``."""
        group = self.groups[index]
        rng = sample_rng(self.seed, STREAM_SAMPLE, epoch, index)
        path = group.paths[int(rng.integers(len(group.paths)))]
        width, height = group.size or _image_size(path)
        top = int(rng.integers(max(height, self.crop) - self.crop + 1))
        left = int(rng.integers(max(width, self.crop) - self.crop + 1))
        flip = bool(rng.integers(2))
        return SampleChoice(path, top, left, flip and self.hflip)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        epoch, index = key
        c = self.choice(epoch, index)
        pixels = _pad_to(_load(c.path), self.crop, self.crop)
        patch = pixels[c.top:c.top + self.crop, c.left:c.left + self.crop]
        if patch.shape[:2] != (self.crop, self.crop):  # a frame of another size than its folder's first
            patch = _pad_to(patch, self.crop, self.crop)[:self.crop, :self.crop]
        if c.flip:
            patch = patch[:, ::-1]
        return _to_tensor(patch)


class ValCrops(torch.utils.data.Dataset):
    """Centre crops of a fixed frame per group (drawn once from the seed)."""

    def __init__(self, images: ImageSet, crop: int, seed: int) -> None:
        self.groups = images.groups
        self.crop, self.seed = crop, seed

    def __len__(self) -> int:
        return len(self.groups)

    def path(self, index: int) -> Path:
        group = self.groups[index]
        if len(group.paths) == 1:
            return group.paths[0]
        rng = sample_rng(self.seed, STREAM_VAL, 0, index)
        return group.paths[int(rng.integers(len(group.paths)))]

    def __getitem__(self, index: int) -> torch.Tensor:
        pixels = _pad_to(_load(self.path(index)), self.crop, self.crop)
        top = (pixels.shape[0] - self.crop) // 2
        left = (pixels.shape[1] - self.crop) // 2
        return _to_tensor(pixels[top:top + self.crop, left:left + self.crop])


def full_image(val: ValCrops, index: int) -> torch.Tensor:
    """Validation image ``index`` uncropped, as a 1×3×H×W tensor in [0, 1]."""
    return _to_tensor(_load(val.path(index)))[None]


class EpochBatches(torch.utils.data.Sampler):
    """Batches of ``(epoch, index)`` keys for one epoch, from batch ``start`` on.

    An epoch is ``min(n // batch_size, steps)`` batches of the epoch's permutation (the last
    incomplete batch is dropped). Set :attr:`epoch` and :attr:`start` before iterating.
    """

    def __init__(self, n: int, batch_size: int, seed: int, steps: int | None = None) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.batches = n // batch_size if steps is None else min(n // batch_size, steps)
        self.epoch = 0
        self.start = 0

    def __len__(self) -> int:
        return self.batches - self.start

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = epoch_order(self.n, self.seed, self.epoch)
        for b in range(self.start, self.batches):
            chunk = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield [(self.epoch, int(i)) for i in chunk]
