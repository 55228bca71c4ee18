"""Visual comparison: closest operating point by brute force, pixel-exact panels, expected picture size."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image

from bench.core import registry
from bench.core.environment import git_commit
from bench.analysis.visual import (
    CAPTION,
    GAP,
    TITLE,
    Region,
    VisualError,
    closest_point,
    default_region,
    panel_layout,
    visual_comparison,
)


def pillow_bpp(image: np.ndarray, quality: int) -> float:
    """Bit rate of Pillow JPEG 4:2:0 at one quality, computed here without the codec plug-in."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality, subsampling=2)
    return 8.0 * buffer.tell() / (image.shape[0] * image.shape[1])


def brute_force(image: np.ndarray, target: float) -> tuple[int, float]:
    rates = [(q, pillow_bpp(image, q)) for q in range(1, 101)]
    return min(rates, key=lambda item: abs(item[1] - target))  # min keeps the first of equals


def panel(picture: np.ndarray, index: int, region: Region, zoom: int, columns: int) -> np.ndarray:
    row, col = divmod(index, columns)
    pw, ph = region.width * zoom, region.height * zoom
    left = GAP + col * (pw + GAP)
    top = TITLE + GAP + row * (CAPTION + ph + GAP) + CAPTION
    return picture[top : top + ph, left : left + pw]


def test_jpeg_visual_on_kodim19(kodak_dir: Path, tmp_path: Path) -> None:
    path = kodak_dir / "kodim19.png"
    image = np.asarray(Image.open(path).convert("RGB"))
    paths, choices = visual_comparison(path, [registry.create("jpeg")], tmp_path, target_bpp=0.25)
    quality, bpp = brute_force(image, 0.25)
    (choice,) = choices
    assert choice.point == f"q{quality}" and choice.bpp == pytest.approx(bpp, rel=1e-12)
    assert choice.candidates == 100
    diff = choice.recon.astype(float) - image
    assert choice.psnr == pytest.approx(10 * np.log10(255**2 / np.mean(diff**2)), rel=1e-9)

    png, record = paths
    assert png.name == "visual-kodim19.png" and record.name == "visual-kodim19.json"
    region = Region(40, 400, 256, 256)  # the documented default crop of kodim19
    picture = np.asarray(Image.open(png).convert("RGB"))
    width, height, _, _ = panel_layout(2, region, zoom=2, columns=3)
    assert (width, height) == (2 * 512 + 3 * GAP, TITLE + CAPTION + 512 + 2 * GAP)
    assert picture.shape == (height, width, 3)
    crop = image[400:656, 40:296].repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(panel(picture, 0, region, 2, 3), crop)
    decoded = choice.recon[400:656, 40:296].repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(panel(picture, 1, region, 2, 3), decoded)
    saved = json.loads(record.read_text())
    assert saved["choices"][0]["point"] == choice.point and saved["region"]["left"] == 40
    assert saved["command"] == sys.argv and saved["git_commit"] == git_commit()  # REPORT.md's provenance names them


def test_closest_point_on_a_synthetic_image_with_custom_points() -> None:
    image = natural_image(128, 192, seed=4)
    codec = registry.create("jpeg")
    choice = closest_point(codec, image, 1.0, points=["q10", "q50", "q90"])
    rates = {q: pillow_bpp(image, q) for q in (10, 50, 90)}
    best = min(rates, key=lambda q: abs(rates[q] - 1.0))
    assert choice.point == f"q{best}" and choice.candidates == 3
    with pytest.raises(VisualError, match="positive"):
        closest_point(codec, image, 0.0)


def test_default_region_and_layout() -> None:
    image = natural_image(300, 400, seed=1)
    region = default_region("unknown.png", image, size=128)
    assert region.width == region.height == 128
    assert region.left % 16 == 0 and region.top % 16 == 0
    assert region.left + 128 <= 400 and region.top + 128 <= 300
    assert default_region("kodim19.png", np.zeros((768, 512, 3), np.uint8)) == Region(40, 400, 256, 256)
    with pytest.raises(VisualError, match="exceeds"):
        default_region("x.png", image, size=512)
    assert panel_layout(5, Region(0, 0, 100, 50), zoom=1, columns=3)[2:] == (3, 2)


def test_a_crop_outside_the_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.fromarray(natural_image(64, 64)).save(path)
    with pytest.raises(VisualError, match="does not fit"):
        visual_comparison(path, [registry.create("jpeg")], tmp_path, region=Region(32, 32, 64, 64))


def test_rate_search_over_every_setting_of_the_parametric_codecs() -> None:
    """WebP is searched over q0…q100 and JPEG 2000 over the integer ratios around 24/target; the choice is
    the setting whose whole-image rate is nearest the target, found here by Pillow directly."""
    from bench.analysis.visual import candidate_points

    image = natural_image(96, 128, seed=6)
    webp = registry.create("webp")
    assert candidate_points(webp) == tuple(f"q{q}" for q in range(101))
    assert candidate_points(registry.create("heic-444"))[-1] == "q100"
    j2k = candidate_points(registry.create("jpeg2000"), 0.25)
    assert (j2k[0], j2k[-1], len(j2k)) == ("ratio76", "ratio120", 45) and "ratio96" in j2k
    choice = closest_point(webp, image, 0.5)
    rates = {}
    for q in range(101):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "WEBP", quality=q, method=6)
        rates[q] = 8 * len(buffer.getvalue()) / (96 * 128)
    best = min(rates, key=lambda q: abs(rates[q] - 0.5))  # the first of equals, as the search keeps
    assert (choice.point, choice.candidates) == (f"q{best}", 101)
    assert choice.bpp == rates[best]
