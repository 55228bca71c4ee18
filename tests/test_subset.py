"""``run --images N|GLOB``: which images a count or a glob picks, and that a subset run keeps the dataset whole.

The expected picks are computed by hand from the rule in :mod:`bench.core.subset` (shares proportional to
the orientation groups, at least one each; the middle name of each of k equal slices of a sorted group).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.core import registry
from bench.core.datasets import open_dataset
from bench.core.errors import DatasetError
from bench.core.manifest import read_manifest
from bench.core.screening import prepare_images
from bench.core.subset import select_images, stratified
from bench.pipeline import CodecRun, Settings, evaluate
from clitools import bench
from conftest import image_files

# Kodak's shapes: 18 landscape (768 wide), 6 portrait
LANDSCAPE = {f"l{i:02d}.png": (512, 768) for i in range(18)}
PORTRAIT = {f"p{i}.png": (768, 512) for i in range(6)}
KODAK_LIKE = {**LANDSCAPE, **PORTRAIT}


def _by_orientation(names: tuple[str, ...]) -> tuple[int, int]:
    return sum(name.startswith("l") for name in names), sum(name.startswith("p") for name in names)


def test_four_of_kodaks_shapes_are_three_landscape_and_one_portrait_spread_over_the_names():
    # landscape: 3 slices of 6 names, middles at 3, 9, 15; portrait: 1 slice of 6, middle at 3
    assert stratified(KODAK_LIKE, 4) == ("l03.png", "l09.png", "l15.png", "p3.png")


@pytest.mark.parametrize(("n", "expected"), [
    (1, (1, 0)),  # fewer than the groups: the largest group's
    (2, (1, 1)),  # quotas 1.5 and 0.5: at least one portrait
    (3, (2, 1)),  # 2.25 and 0.75
    (8, (6, 2)),  # 6 and 2 exactly
    (23, (17, 6)),  # 17.25 and 5.75: the larger remainder is the portraits'
    (24, (18, 6)),
])
def test_the_shares_are_proportional_with_at_least_one_of_each_orientation(n, expected):
    picked = stratified(KODAK_LIKE, n)
    assert len(set(picked)) == n
    assert _by_orientation(picked) == expected


def test_square_images_are_a_group_of_their_own():
    sizes = {"a.png": (10, 20), "b.png": (10, 20), "c.png": (20, 10), "d.png": (16, 16)}
    assert stratified(sizes, 3) == ("b.png", "c.png", "d.png")  # one of each; b is the middle of a, b


def test_a_glob_picks_the_matching_file_names_sorted():
    assert select_images("p[0-2]*", KODAK_LIKE, dataset="kodak") == ("p0.png", "p1.png", "p2.png")
    assert select_images(" 4 ", KODAK_LIKE, dataset="kodak") == stratified(KODAK_LIKE, 4)


@pytest.mark.parametrize("spec", ["0", "-2", "25", "x*"])
def test_a_count_out_of_range_or_a_glob_matching_nothing_is_refused(spec):
    with pytest.raises(DatasetError, match=r"^--images .*24") as caught:
        select_images(spec, KODAK_LIKE, dataset="kodak")
    assert "l00.png" in str(caught.value)  # what the names look like


def test_a_subset_run_keeps_the_dataset_whole_and_a_full_run_reuses_its_rows(kodak_dir, tmp_path):
    dataset = open_dataset("kodak", kodak_dir=kodak_dir)
    screening = prepare_images(dataset)
    sizes = {image.name: image.pixels.shape[:2] for image in screening.images}
    subset = select_images("2", sizes, dataset="kodak")
    assert subset == ("kodim13.png", "kodim17.png")  # landscape 9 of 18 (index 9), portrait 3 of 6 (index 3)
    runs = [CodecRun(registry.create("jpeg"), ("q50",))]
    settings = Settings(jobs=1, repeats=1, progress=False)

    first = evaluate(dataset, runs, tmp_path, Settings(jobs=1, repeats=1, progress=False, images=subset),
                     screening=screening)
    assert (first.measured, first.reused) == (2, 0)
    assert sorted(first.rows["image"]) == list(subset)
    assert len(read_manifest(tmp_path / "kodak").images) == 24  # the identity is every image's
    meta = json.loads((tmp_path / "kodak" / "runs" / f"{first.run_id}.json").read_text())
    assert meta["dataset"]["subset"] == list(subset)
    assert meta["dataset"]["images"] == 24
    assert first.summary["images"].tolist() == [2]

    second = evaluate(dataset, runs, tmp_path, settings, screening=screening)
    assert (second.measured, second.reused, second.stale) == (22, 2, 0)
    assert len(second.rows) == 24
    meta = json.loads((tmp_path / "kodak" / "runs" / f"{second.run_id}.json").read_text())
    assert "subset" not in meta["dataset"]

    third = evaluate(dataset, runs, tmp_path, Settings(jobs=1, repeats=1, progress=False, images=("kodim01.png",)),
                     screening=screening)
    assert (third.measured, third.reused, len(third.rows)) == (0, 1, 24)  # the other rows stay
    assert third.summary["images"].tolist() == [24]


def test_the_cli_names_the_flag_on_a_bad_value_and_reports_the_subset(tmp_path):
    folder = image_files(tmp_path / "photos", [(64, 96), (96, 64), (64, 96)])
    common = ("run", "--data", folder, "--codecs", "jpeg", "--points", "q50", "--repeats", "1",
              "--jobs", "1", "--results", tmp_path / "r", "--no-progress")
    refused = bench(*common, "--images", "x*")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: --images 'x*': no image of photos (3 images) matches; names look like img0.png")
    assert not (tmp_path / "r" / "photos" / "rows.csv").exists()

    done = bench(*common, "--images", "2")
    assert done.returncode == 0, done.stderr
    assert len(done.report.rows) == 2 and "subset: 2 of 3 images" in done.stdout
    run = next((tmp_path / "r" / "photos" / "runs").glob("*.json"))
    assert json.loads(run.read_text())["dataset"]["subset"] == ["img1.png", "img2.png"]  # the portrait; the middle of the 2 landscapes


def test_kodak_like_folder_glob_through_the_cli(tmp_path):
    folder = image_files(tmp_path / "photos", [(64, 96), (64, 96)], prefix="kodim0")
    image_files(folder, [(64, 96)], prefix="other")
    done = bench("run", "--data", folder, "--codecs", "jpeg", "--points", "q50", "--repeats",
                 "1", "--jobs", "1", "--results", tmp_path / "r", "--no-progress", "--images", "kodim0*.png")
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "r" / "photos" / "rows.csv").read_text()
    assert "kodim00.png" in rows and "kodim01.png" in rows and "other0.png" not in rows
    assert Path(tmp_path / "r" / "photos" / "manifest.json").exists()
