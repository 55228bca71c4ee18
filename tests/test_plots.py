"""RD figures: plotted data equal the fixture's means, files decode at the expected size, reruns are byte-identical."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.analysis.curves import PUBLISHED, measured_curves, published_curve
from bench.analysis.plots import DPI, PAIR_SIZE, RD_SIZE, PlotError, jpeg_vs_published_figure, rd_figure, write_rd_plots
from bench.core.store import load_rows

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak" / "rows.csv"
REFERENCE = Path(__file__).parents[1] / "bench" / "data" / "reference"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_rows(FIXTURE)


def fixture_means(rows: pd.DataFrame, codec: str) -> pd.DataFrame:
    """Means computed here, independently of bench.analysis.summary: per point, sorted by bpp."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    means = part.groupby("point")[["bpp", "psnr", "ms_ssim"]].mean().sort_values("bpp")
    means["ms_ssim_db"] = -10 * np.log10(1 - means["ms_ssim"])
    return means


def line(figure, label: str, axes_index: int = 0):
    lines = [ln for ln in figure.axes[axes_index].get_lines() if ln.get_label() == label]
    assert len(lines) == 1, [ln.get_label() for ln in figure.axes[axes_index].get_lines()]
    return lines[0]


@pytest.mark.parametrize("metric", ["psnr", "ms_ssim_db"])
def test_plotted_data_are_the_fixture_means(rows: pd.DataFrame, metric: str) -> None:
    curves = list(measured_curves(rows).values())
    figure = rd_figure(curves, metric)
    for codec in ("jpeg", "bmshj2018-factorized"):
        expected = fixture_means(rows, codec)
        drawn = line(figure, codec)
        np.testing.assert_allclose(drawn.get_xdata(), expected["bpp"], rtol=1e-12)
        np.testing.assert_allclose(drawn.get_ydata(), expected[metric], rtol=1e-12)
        assert drawn.get_marker() not in (None, "None", "")
        assert drawn.get_linestyle() == "-"
    axes = figure.axes[0]
    assert axes.get_xlabel() == "bit rate [bpp]"
    assert axes.get_ylabel() == {"psnr": "PSNR (RGB) [dB]", "ms_ssim_db": "MS-SSIM (RGB) [dB]"}[metric]
    assert axes.get_legend() is not None
    assert any(gl.get_visible() for gl in axes.get_xgridlines())


def test_published_overlay_is_dashed_and_holds_the_json_numbers(rows: pd.DataFrame) -> None:
    curves = [*measured_curves(rows).values(), published_curve("jpeg"), published_curve("mbt2018")]
    figure = rd_figure(curves, "psnr")
    for key in ("jpeg", "mbt2018"):
        data = json.loads((REFERENCE / PUBLISHED[key][0]).read_text())["results"]
        drawn = line(figure, f"{key} (published)")
        assert drawn.get_linestyle() == "--"
        np.testing.assert_array_equal(drawn.get_xdata(), data["bpp"])
        np.testing.assert_array_equal(drawn.get_ydata(), data["psnr-rgb"])
    # a published curve shares its codec's colour
    assert line(figure, "jpeg").get_color() == line(figure, "jpeg (published)").get_color()


def test_max_bpp_limits_the_axis_not_the_data(rows: pd.DataFrame) -> None:
    figure = rd_figure(list(measured_curves(rows).values()), "psnr", max_bpp=1.0)
    assert figure.axes[0].get_xlim() == (0.0, 1.0)
    assert len(line(figure, "jpeg").get_xdata()) == 5


def test_jpeg_vs_published_figure_has_both_metrics(rows: pd.DataFrame) -> None:
    figure = jpeg_vs_published_figure(measured_curves(rows)["jpeg"], published_curve("jpeg"))
    assert [ax.get_ylabel() for ax in figure.axes] == ["PSNR (RGB) [dB]", "MS-SSIM (RGB) [dB]"]
    expected = fixture_means(rows, "jpeg")
    np.testing.assert_allclose(line(figure, "jpeg (this harness)", 1).get_ydata(), expected["ms_ssim_db"])


def test_written_files_decode_at_the_expected_size_and_reruns_are_identical(rows: pd.DataFrame,
                                                                              tmp_path: Path) -> None:
    first = write_rd_plots(rows, tmp_path / "a")
    second = write_rd_plots(rows, tmp_path / "b")
    names = sorted(p.name for p in first)
    assert names == sorted(f"{stem}.{ext}" for stem in ("rd-psnr", "rd-ms-ssim", "jpeg-vs-published")
                           for ext in ("png", "svg"))
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    sizes = {"rd-psnr": RD_SIZE, "rd-ms-ssim": RD_SIZE, "jpeg-vs-published": PAIR_SIZE}
    for path in first:
        stem = path.stem
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.load()
                assert image.size == (round(sizes[stem][0] * DPI), round(sizes[stem][1] * DPI))
                assert "Software" not in image.info
        else:
            root = ET.fromstring(path.read_bytes())
            assert root.tag.endswith("svg")
            assert b"<dc:date>" not in path.read_bytes()


def test_no_references_when_asked(rows: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_rd_plots(rows, tmp_path, references=[], formats=("png",))
    assert {p.name for p in paths} == {"rd-psnr.png", "rd-ms-ssim.png", "jpeg-vs-published.png"}


def test_bad_input_is_refused() -> None:
    with pytest.raises(PlotError, match="no curves"):
        rd_figure([], "psnr")
    with pytest.raises(PlotError, match="no curve has the quality axis"):
        rd_figure([published_curve("jpeg")], "ssim")


def test_importing_the_modules_loads_no_matplotlib() -> None:
    code = ("import sys, bench.analysis.plots, bench.analysis.report, bench.analysis.bdtable, bench.analysis.bdreport, bench.analysis.visual, bench.analysis.export; "
            "print(sorted(m for m in sys.modules if m.startswith('matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"


def test_a_codec_keeps_its_colour_and_marker_whatever_else_is_plotted(rows: pd.DataFrame) -> None:
    from matplotlib.colors import to_hex

    from bench.analysis.complexity_plot import decode_time_vs_bd_rate_figure
    from bench.analysis.styles import STYLES, codec_style

    curves = measured_curves(rows)
    alone = rd_figure([curves["jpeg"]], "psnr")
    crowded = rd_figure([published_curve("mbt2018"), *curves.values(), published_curve("jpeg")], "psnr")
    for figure in (alone, crowded):
        drawn = line(figure, "jpeg")
        assert (to_hex(drawn.get_color()), drawn.get_marker()) == ("#000000", "o")  # STYLES["jpeg"], written out
    assert to_hex(line(crowded, "jpeg (published)").get_color()) == "#000000"
    complexity = decode_time_vs_bd_rate_figure({"jpeg": 0.01, "mbt2018": 0.2}, {"jpeg": 0.0, "mbt2018": -30.0})
    faces = [to_hex(c.get_facecolors()[0]) for c in complexity.axes[0].collections]
    assert faces == [STYLES["jpeg"].colour, STYLES["mbt2018"].colour]
    # unknown names: a stable style from the name alone; the family rule maps published/reference names
    assert codec_style("my-codec") == codec_style("ref:my-codec") == codec_style("published:my-codec-8bit")
    assert codec_style("ref:VTM") == STYLES["vtm"] and codec_style("ref:BPG 8b 444 x265 ycbcr") == STYLES["bpg"]
