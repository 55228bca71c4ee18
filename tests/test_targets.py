"""``run --targets`` (bench.core.targets): per image, each parametric codec's setting nearest each target bit rate,
as a search of every setting finds it; rows of ``<codec>-targets`` record the setting and the target beside the
achieved rate, a rerun reuses them, learned codecs keep their points, bad lists are named."""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from bench.core import registry
from bench.core.codec import Codec
from bench.core.errors import CodecError
from bench.core.targets import TargetedCodec
from clitools import bench
from conftest import natural_image

TARGETS = "0.3,0.6,1.2"
SIZES = [(168, 216), (216, 168)]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, (h, w) in enumerate(SIZES):
        Image.fromarray(natural_image(h, w, seed=10 + i)).save(folder / f"p{i}.png")
    return folder


def run(photos, results, *extra):
    done = bench("run", "--data", photos, "--codecs", "jpeg,webp", "--points", "q50", "--targets", TARGETS,
                 "--results", results, "--repeats", "1", "--jobs", "1", "--no-progress", *extra)
    assert done.returncode == 0, done.stderr
    return done, pd.read_csv(results / photos.name / "rows.csv", keep_default_na=False)


def test_each_target_gets_the_setting_a_full_search_finds(photos, tmp_path):
    done, rows = run(photos, tmp_path / "results")
    targeted = rows[rows["codec"].str.endswith("-targets")]
    assert sorted(set(targeted["codec"])) == ["jpeg-targets", "webp-targets"] and len(targeted) == 2 * 2 * 3
    for name in ("jpeg", "webp"):
        codec = registry.create(name)
        for i, (h, w) in enumerate(SIZES):
            image = natural_image(h, w, seed=10 + i)
            every = {point: len(codec.coder(point).encode(image)) for point in codec.search_points()}
            for target in (0.3, 0.6, 1.2):
                nearest = min(every, key=lambda p: (abs(8 * every[p] / (h * w) - target), codec.search_points().index(p)))
                row = targeted[(targeted["codec"] == f"{name}-targets") & (targeted["image"] == f"p{i}.png")
                               & (targeted["point"] == f"bpp{target:g}")].iloc[0]
                assert row["setting"] == nearest and int(row["bytes"]) == every[nearest]
                assert float(row["target_bpp"]) == target and float(row["bpp"]) == pytest.approx(8 * every[nearest] / (h * w), rel=1e-15)
                assert abs(float(row["bpp"]) - target) < 0.2 * target
    assert (rows[~rows["codec"].str.endswith("-targets")]["setting"] == "").all()
    again, _ = run(photos, tmp_path / "results")
    assert "0 measured now" in again.stdout and "16 reused" in again.stdout


def test_stored_bitstreams_of_targeted_rows_verify(photos, tmp_path):
    run(photos, tmp_path / "results", "--bitstreams", tmp_path / "bits")
    done = bench("verify", "--results", tmp_path / "results", "--data", photos, "--bitstreams", tmp_path / "bits")
    assert done.returncode == 0, done.stderr + done.stdout


def test_learned_codecs_keep_their_points_and_bad_targets_are_named(photos, tmp_path):
    bad = bench("run", "--data", photos, "--codecs", "jpeg", "--targets", "0.3,zero", "--results", tmp_path)
    assert bad.returncode != 0 and "'zero' is not a bit rate" in bad.stderr, bad.stderr
    class Fixed(Codec):  # a codec with only its own points, as a learned codec
        name = "fixed"

        def default_points(self):
            return ["lambda0.0130"]

        def coder(self, point):
            raise AssertionError("not called")

        def identity(self):
            return {}

    with pytest.raises(CodecError, match="fixed has no settings to search"):
        TargetedCodec(Fixed(), (0.25,))
