"""Metric plug-ins (docs/metrics.md): the page's example runs as written from a folder on ``BENCH_METRIC_PATH``;
its values equal a hand computation on the stored reconstructions; metrics asked for later fill stored rows
without measuring them again (bytes, PSNR and times kept), with one process or two; a new version scores again;
an image a metric cannot score keeps empty cells and a note; broken or clashing plug-ins get clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clitools import bench
from conftest import natural_image

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "metrics.md"
EXAMPLE = re.search(r"```python\n(# file: abs_error.py\n.*?)^```$", DOC.read_text(encoding="utf-8"), re.S | re.M).group(1)


@pytest.fixture
def setup(tmp_path):
    """(plug-in folder holding the page's example, a folder of two small images, results folder)."""
    plugins = tmp_path / "my-metrics"
    plugins.mkdir()
    (plugins / "abs_error.py").write_text(EXAMPLE, encoding="utf-8")
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(168, 176), (176, 168)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(photos / f"p{i}.png")
    return plugins, photos, tmp_path / "results"


def run(photos: Path, results: Path, plugins: Path, *extra: str, jobs: int = 1):
    done = bench("run", "--data", photos, "--codecs", "jpeg", "--points", "jpeg=q30,q80", "--results", results,
                 "--repeats", "1", "--jobs", str(jobs), "--no-progress", *extra,
                 env={"BENCH_METRIC_PATH": str(plugins)})
    assert done.returncode == 0, done.stderr
    return done, pd.read_csv(results / "photos" / "rows.csv", keep_default_na=False)


def by_hand(original: Path, reconstruction: Path) -> tuple[float, float]:
    """Mean and largest absolute error of two PNGs, summed in Python integers."""
    a = np.asarray(Image.open(original).convert("RGB")).astype(int).ravel().tolist()
    b = np.asarray(Image.open(reconstruction).convert("RGB")).astype(int).ravel().tolist()
    errors = [abs(x - y) for x, y in zip(a, b, strict=True)]
    return sum(errors) / len(errors), float(max(errors))


def test_the_page_example_scores_rows_as_a_hand_computation(setup, tmp_path):
    plugins, photos, results = setup
    listed = bench("metrics", env={"BENCH_METRIC_PATH": str(plugins)})
    assert listed.returncode == 0 and "abs-error" in listed.stdout and "lower is better" in listed.stdout
    _, rows = run(photos, results, plugins, "--metrics", "abs-error", "--reco-dir", tmp_path / "reco")
    assert len(rows) == 4 and set(rows["metrics"]) == {"abs-error:1"}
    for row in rows.itertuples():
        mae, worst = by_hand(photos / row.image, tmp_path / "reco" / "jpeg" / row.point / f"{row.image}.png")
        assert float(row.mae) == pytest.approx(mae, rel=1e-12) and float(row.max_abs_error) == worst
        assert 0 < mae < 20
    meta = next((results / "photos" / "runs").glob("*.json")).read_text()
    assert '"abs-error"' in meta and "abs_error.py" in meta


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_metric_asked_later_fills_stored_rows_without_measuring_them(setup, tmp_path, jobs):
    plugins, photos, results = setup
    _, before = run(photos, results, plugins)
    assert "mae" not in before.columns and set(before["metrics"]) == {""}
    done, after = run(photos, results, plugins, "--metrics", "abs-error", jobs=jobs)
    assert "0 measured now" in done.stdout and "4 given the scores they lacked" in done.stdout
    fresh_results = tmp_path / "fresh"
    _, fresh = run(photos, fresh_results, plugins, "--metrics", "abs-error")
    for column in ("key", "bytes", "psnr", "ms_ssim", "encode_s", "decode_s", "run_id"):
        assert after[column].tolist() == before[column].tolist(), column
    assert after["mae"].tolist() == fresh["mae"].tolist() and set(after["metrics"]) == {"abs-error:1"}
    again, _ = run(photos, results, plugins, "--metrics", "abs-error")
    assert "4 reused" in again.stdout or "given the scores" not in again.stdout


def test_a_new_version_scores_stored_rows_again(setup):
    plugins, photos, results = setup
    run(photos, results, plugins, "--metrics", "abs-error")
    path = plugins / "abs_error.py"
    path.write_text(path.read_text().replace("version = 1", "version = 2")
                    .replace('float(error.max())', 'float(error.max()) + 1000'))
    done, rows = run(photos, results, plugins, "--metrics", "abs-error")
    assert "4 given the scores they lacked" in done.stdout
    assert set(rows["metrics"]) == {"abs-error:2"} and (rows["max_abs_error"].astype(float) > 1000).all()


def test_an_image_a_metric_cannot_score_keeps_empty_cells_and_a_note(setup):
    plugins, photos, results = setup
    path = plugins / "abs_error.py"
    path.write_text(path.read_text().replace("min_side = 8", "min_side = 172"))  # p0 is 168 high, p1 168 wide
    _, rows = run(photos, results, plugins, "--metrics", "abs-error")
    assert (rows["status"] == "ok").all() and (rows["mae"] == "").all()
    assert rows["note"].str.contains("abs-error missing: abs-error needs both image sides of at least 172").all()


def test_unknown_clashing_and_broken_metrics_are_named(setup):
    plugins, photos, results = setup
    unknown = bench("run", "--data", photos, "--codecs", "jpeg", "--results", results, "--metrics", "abs-eror",
                    env={"BENCH_METRIC_PATH": str(plugins)})
    assert unknown.returncode != 0 and "unknown metric 'abs-eror' (did you mean 'abs-error'?)" in unknown.stderr
    (plugins / "copy.py").write_text(EXAMPLE)
    clash = bench("metrics", env={"BENCH_METRIC_PATH": str(plugins)})
    assert clash.returncode != 0 and "metric 'abs-error' registered twice" in clash.stderr
    (plugins / "copy.py").write_text("import no_such_module\n")
    broken = bench("metrics", env={"BENCH_METRIC_PATH": str(plugins)})
    assert broken.returncode == 0 and "copy.py failed to load" in broken.stderr and "abs-error" in broken.stdout
    (plugins / "copy.py").unlink()
    path = plugins / "abs_error.py"
    path.write_text(path.read_text().replace('"max_abs_error": float', '"worst": float'))
    wrong = bench("run", "--data", photos, "--codecs", "jpeg", "--points", "jpeg=q30", "--results", results,
                  "--repeats", "1", "--no-progress", "--metrics", "abs-error", env={"BENCH_METRIC_PATH": str(plugins)})
    assert wrong.returncode != 0 and "metric 'abs-error' returned worst, not among its declared columns" in wrong.stderr
    missing = bench("metrics", env={"BENCH_METRIC_PATH": str(plugins / "nowhere")})
    assert missing.returncode != 0 and "fix BENCH_METRIC_PATH" in missing.stderr
