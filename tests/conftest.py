"""Shared fixtures: synthetic images, and the real data CI points at through environment variables."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and noise: compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 60 * np.sin(xx / 17.0 + seed) * np.cos(yy / 23.0)
    image = np.stack([base, np.roll(base, 7, axis=1), 255 - base], axis=-1)
    image[height // 3 : height // 2, width // 4 : width // 2] = (220, 40, 90)
    image += rng.normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three RGB PNGs of different sizes (one odd, one portrait) in a folder named 'synthetic'."""
    folder = tmp_path / "synthetic"
    folder.mkdir()
    for i, (h, w) in enumerate([(192, 256), (257, 193), (200, 200)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def kodak_dir() -> Path:
    value = os.environ.get("BENCH_KODAK_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("BENCH_KODAK_DIR not set (CI points it at ../shared/data/kodak)")
    return Path(value)


@pytest.fixture
def shared_dir() -> Path:
    value = os.environ.get("BENCH_SHARED_DIR") or str(REPO.parent / "shared")
    if not Path(value).is_dir():
        pytest.skip("shared data not available (set BENCH_SHARED_DIR)")
    return Path(value)
