"""The cache of recently used images and MS-SSIM references (bench.core.lru), and a worker that
alternates between images scoring each exactly as a fresh worker does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.core import registry
from bench.core.tasks import PointWorker, Settings
from bench.core.images import pixel_sha256
from bench.core.lru import SizedLru
from bench.core.screening import PreparedImage
from conftest import natural_image


def test_least_recently_used_dropped_beyond_budget():
    built = []
    cache = SizedLru(budget=10, size=len)

    def value(key, size):
        return lambda: built.append(key) or "x" * size

    assert cache.get("a", value("a", 4)) == "xxxx"
    cache.get("b", value("b", 4))
    cache.get("a", value("a", 4))  # kept: a is now the most recent
    cache.get("c", value("c", 4))  # 12 bytes > 10: the least recent, b, goes
    assert built == ["a", "b", "c"] and len(cache) == 2
    cache.get("a", value("a", 4))
    cache.get("b", value("b", 4))
    assert built == ["a", "b", "c", "b"] and cache.built == 4


def test_a_value_over_budget_is_still_kept_alone():
    cache = SizedLru(budget=3, size=len)
    cache.get("a", lambda: "aa")
    assert cache.get("big", lambda: "x" * 10) == "x" * 10 and len(cache) == 1
    assert cache.get("big", lambda: "rebuilt") == "x" * 10


def _image(name: str, seed: int) -> PreparedImage:
    pixels = natural_image(192, 256, seed=seed)
    return PreparedImage(name, Path(name), pixels, pixel_sha256(pixels))


def test_worker_alternating_images_builds_each_reference_once_and_scores_as_fresh():
    images = [_image("a.png", 1), _image("b.png", 2)]
    worker = PointWorker(registry.create("jpeg", {}), Settings())
    order = [(point, image) for point in ("q20", "q60") for image in images]  # a, b, a, b
    rows = [worker.rd_row(point, image) for point, image in order]
    assert worker.references.built == 2
    for (point, image), row in zip(order, rows):
        fresh = PointWorker(registry.create("jpeg", {}), Settings()).rd_row(point, image)
        assert row["ms_ssim"] == fresh["ms_ssim"] and row["psnr"] == fresh["psnr"] and row["bytes"] == fresh["bytes"]
    assert 0.5 < np.mean([row["ms_ssim"] for row in rows]) < 1


def test_reference_size_counts_its_maps():
    """An MS-SSIM reference of a 192×256 image keeps the image (uint8) and, at five scales halving each
    side, the float64 planes (3·h·w) and two valid-filtered maps (11 taps: 3·(h−10)·(w−10) each)."""
    from bench.core.metrics import MsSsimReference

    pixels = natural_image(192, 256, seed=3)
    expected = pixels.nbytes + sum(8 * 3 * (h * w + 2 * (h - 10) * (w - 10))
                                   for h, w in [(192 >> k, 256 >> k) for k in range(5)])
    assert MsSsimReference(pixels).nbytes == expected
