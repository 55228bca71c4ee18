"""The rate search (bench.core.ratesearch) against a search of every setting: on a small natural image, for every
parametric codec, each target's nearest setting is the one a full search finds (smallest |bpp − target|, ties to
the lower rate), with a fraction of the encodes."""

from __future__ import annotations

import pytest

from bench.core import registry
from bench.core.errors import BenchError
from bench.core.ratesearch import nearest_points, parse_targets
from conftest import natural_image

TARGETS = (0.25, 0.4, 0.6, 0.75, 1.0, 1.5, 2.0)
PARAMETRIC = ("jpeg", "mozjpeg", "jpegli", "webp", "jpeg2000", "avif", "heic", "jpegxl")


@pytest.fixture(scope="module")
def image():
    return natural_image(160, 208, seed=3)


@pytest.mark.parametrize("name", PARAMETRIC)
def test_the_search_finds_what_a_full_search_finds(name, image):
    codec = registry.create(name)
    points = codec.search_points()
    pixels = image.shape[0] * image.shape[1]
    every = {point: len(codec.coder(point).encode(image)) for point in points}  # the full search
    rates = [8.0 * every[point] / pixels for point in points]
    encoded: list[str] = []

    def encoded_bytes(point: str) -> int:
        encoded.append(point)
        return every[point]

    hits = nearest_points(encoded_bytes, points, TARGETS, pixels)
    for target in TARGETS:
        best = min(range(len(points)), key=lambda i: (abs(rates[i] - target), i))
        assert hits[target].point == points[best], (target, hits[target], points[best], rates[best])
        assert hits[target].bpp == rates[best] and hits[target].bytes == every[points[best]]
    assert len(encoded) == len(set(encoded))  # each setting encoded once
    assert len(encoded) < max(50, len(points) // 4), len(encoded)
    inside = [t for t in TARGETS if min(rates) <= t <= max(rates)]
    assert len(inside) >= 3, (name, min(rates), max(rates))  # the targets test the search, not only its ends


def test_a_dip_within_the_window_is_found_and_a_flat_run_gives_its_first_setting():
    rates = {"a": 1, "b": 3, "c": 2, "d": 5, "e": 5, "f": 5, "g": 9}  # c dips below b; d…f are flat
    hits = nearest_points(lambda p: rates[p], list(rates), [16.0, 40.0, 800.0], pixels=1)  # bpp = 8 × bytes
    assert hits[16.0].point == "c" and hits[40.0].point == "d" and hits[800.0].point == "g"


@pytest.mark.parametrize("text, message", [("0.1,x", "'x' is not a bit rate"), ("0.1,-1", "-1 is not a positive"),
                                           ("0.1,0.1", "0.1 is given twice"), ("nan", "nan is not a positive")])
def test_bad_targets_are_named(text, message):
    with pytest.raises(BenchError, match=message):
        parse_targets(text)
    assert parse_targets("0.06, 0.12,0.25") == (0.06, 0.12, 0.25)
