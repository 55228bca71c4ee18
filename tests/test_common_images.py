"""Per-metric averages and BD-rates on the images both codecs have, end to end through the CLI.

Two cases that used to go wrong: a folder with one image under MS-SSIM's 161-pixel minimum (the point's
MS-SSIM mean was NaN, the MS-SSIM plot empty, every MS-SSIM BD-rate n/a), and a test codec missing a row
the anchor has (BD-rate from mean curves over different image sets). Every expected number is computed
here from ``rows.csv`` by hand and, for BD-rates, by the ``bjontegaard`` package.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import clitools
from clitools import Done
from conftest import natural_image

POINTS = ("q10", "q30", "q50", "q70", "q90")
SMALL = "tiny.png"  # 100 × 150: under MS-SSIM's 161-pixel minimum


def bench(*args: str) -> Done:
    return clitools.bench(*args).check()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def value(text: str) -> float:
    return float(text) if text != "" else math.nan


def hand_curve(rows: list[dict[str, str]], codec: str, images: set[str], quality: str) -> tuple[list, list]:
    """Mean bpp and mean quality per point over ``images``: PSNR, or MS-SSIM dB of the mean MS-SSIM."""
    rates, qualities = [], []
    for point in POINTS:
        part = [r for r in rows if r["codec"] == codec and r["point"] == point and r["image"] in images]
        assert len(part) == len(images)
        rates.append(sum(float(r["bpp"]) for r in part) / len(part))
        mean = sum(float(r[quality]) for r in part) / len(part)
        qualities.append(mean if quality == "psnr" else -10 * math.log10(1 - mean))
    return rates, qualities


def reference_bd_rate(anchor: tuple[list, list], test: tuple[list, list]) -> float:
    bd = pytest.importorskip("bjontegaard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(bd.bd_rate(*anchor, *test, method="cubic", require_matching_points=False))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> Path:
    """jpeg and webp at five points on two images and one too small for MS-SSIM, measured by `bench run`."""
    root = tmp_path_factory.mktemp("common")
    folder = root / "mixed"
    folder.mkdir()
    for i, (h, w) in enumerate([(192, 256), (200, 200)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"img{i}.png")
    Image.fromarray(natural_image(100, 150, seed=7)).save(folder / SMALL)
    run = bench("run", "--data", str(folder), "--codecs", "jpeg,webp", "--points", ",".join(POINTS),
                "--results", str(root / "results"), "--repeats", "1", "--no-progress")  # one timed call a row
    (root / "run.txt").write_text(run.stdout)
    return root


def test_small_image_leaves_ms_ssim_means_over_the_others(measured: Path) -> None:
    rows = read_csv(measured / "results" / "mixed" / "rows.csv")
    assert {r["status"] for r in rows} == {"ok"} and len(rows) == 30
    assert all(r["ms_ssim"] == "" for r in rows if r["image"] == SMALL)
    summary = read_csv(measured / "results" / "mixed" / "summary.csv")
    assert len(summary) == 10
    for line in summary:
        part = [r for r in rows if r["codec"] == line["codec"] and r["point"] == line["point"]]
        with_ms_ssim = [float(r["ms_ssim"]) for r in part if r["image"] != SMALL]
        mean = sum(with_ms_ssim) / 2
        assert (line["images"], line["ms_ssim_images"], line["timed_images"]) == ("3", "2", "3")
        assert float(line["ms_ssim"]) == pytest.approx(mean, rel=1e-5)  # summary.csv keeps 6 digits
        assert float(line["ms_ssim_db"]) == pytest.approx(-10 * math.log10(1 - mean), rel=1e-5)
        assert float(line["bpp"]) == pytest.approx(sum(float(r["bpp"]) for r in part) / 3, rel=1e-5)
    # the terminal table: n, fail, bpp, n, PSNR, n, MS-SSIM, dB, n, enc ms, dec ms
    table = [ln.split() for ln in (measured / "run.txt").read_text().splitlines() if ln.startswith(("jpeg ", "webp "))]
    assert len(table) == 10
    for fields in table:
        assert (fields[2], fields[3], fields[5], fields[7], fields[10]) == ("3", "0", "3", "2", "3")
        assert math.isfinite(float(fields[8])) and math.isfinite(float(fields[9]))


def test_small_image_ms_ssim_plot_and_bd_rate(measured: Path) -> None:
    from bench.analysis.curves import measured_curves
    from bench.analysis.plots import rd_figure
    from bench.core.store import load_rows

    curves = measured_curves(load_rows(measured / "results" / "mixed" / "rows.csv"))
    figure = rd_figure(list(curves.values()), "ms_ssim_db")
    lines = figure.axes[0].get_lines()
    assert len(lines) == 2 and all(len(line.get_ydata()) == 5 for line in lines)
    assert all(np.isfinite(line.get_ydata()).all() for line in lines)

    reports = measured / "reports-small"
    bench("bd-rate", "--results", str(measured / "results"), "--dataset", "mixed", "--reports", str(reports),
          "--anchor", "jpeg", "--method", "cubic")
    rows = read_csv(measured / "results" / "mixed" / "rows.csv")
    table = {r["metric"]: r for r in read_csv(reports / "bd-rate.csv")}
    everyone = {"img0.png", "img1.png", SMALL}
    for metric, images, quality in (("psnr", everyone, "psnr"), ("ms_ssim_db", everyone - {SMALL}, "ms_ssim")):
        entry = table[metric]
        assert entry["images"] == str(len(images)) and entry["ci_images"] == str(len(images))
        expected = reference_bd_rate(hand_curve(rows, "jpeg", images, quality),
                                     hand_curve(rows, "webp", images, quality))
        assert float(entry["bd_rate"]) == pytest.approx(expected, abs=1e-6)
        assert float(entry["ci_low"]) <= float(entry["bd_rate"]) <= float(entry["ci_high"])
    markdown = (reports / "bd-rate.md").read_text()
    assert "| codec | points | BD-rate [%] | 95% CI [%] | images |" in markdown
    assert sum(ln.startswith("| webp | 5 |") and " | 2 | " in ln for ln in markdown.splitlines()) == 1


def test_test_codec_missing_a_row_is_compared_on_the_common_images(measured: Path) -> None:
    source = measured / "results" / "mixed"
    copy = measured / "results-missing" / "mixed"
    copy.mkdir(parents=True)
    with open(source / "rows.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        kept = [r for r in reader if not (r["codec"] == "webp" and r["image"] == "img1.png" and r["point"] == "q50")]
        header = reader.fieldnames
    with open(copy / "rows.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    reports = measured / "reports-missing"
    bench("bd-rate", "--results", str(copy.parent), "--dataset", "mixed", "--reports", str(reports),
          "--anchor", "jpeg", "--method", "cubic")
    table = {r["metric"]: r for r in read_csv(reports / "bd-rate.csv")}

    # PSNR: img1 is missing from webp at q50, so both curves average img0 and the small image
    common = {"img0.png", SMALL}
    entry = table["psnr"]
    expected = reference_bd_rate(hand_curve(kept, "jpeg", common, "psnr"), hand_curve(kept, "webp", common, "psnr"))
    assert entry["images"] == "2" and entry["ci_images"] == "2"
    assert float(entry["bd_rate"]) == pytest.approx(expected, abs=1e-6)
    # what the mean curves over each codec's own rows would have given: a different number
    own_images = {"img0.png", "img1.png", SMALL}
    webp_own = ([], [])
    for point in POINTS:
        part = [r for r in kept if r["codec"] == "webp" and r["point"] == point]
        webp_own[0].append(sum(float(r["bpp"]) for r in part) / len(part))
        webp_own[1].append(sum(float(r["psnr"]) for r in part) / len(part))
    mixed = reference_bd_rate(hand_curve(kept, "jpeg", own_images, "psnr"), webp_own)
    assert abs(mixed - expected) > 0.01

    # MS-SSIM: only img0 has MS-SSIM at every point of both: a BD-rate from one image, no interval
    entry = table["ms_ssim_db"]
    expected = reference_bd_rate(hand_curve(kept, "jpeg", {"img0.png"}, "ms_ssim"),
                                 hand_curve(kept, "webp", {"img0.png"}, "ms_ssim"))
    assert entry["images"] == "1" and float(entry["bd_rate"]) == pytest.approx(expected, abs=1e-6)
    assert entry["ci_low"] == "" and "1 images ok at every point of both codecs" in entry["ci_reason"]
