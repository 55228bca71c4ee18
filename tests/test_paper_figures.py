"""Paper figures and the combined table: files a journal takes (PDF fonts embedded, SVG text, 3.5 in), twelve
curves apart in grayscale, no ghost legend entries, no overlapping text, one LaTeX table equal to the CSV."""

from __future__ import annotations

import csv
import io
import itertools
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.bdformat import table_csv
from bench.analysis.bdlatex import table_latex
from bench.analysis.bdtable import bd_table
from bench.analysis.curves import measured_curves
from bench.analysis.figstyle import PAPER, figure_style
from bench.analysis.labels import LabelError, relabel_table
from bench.analysis.plots import rd_figure
from bench.analysis.styles import PALETTE, assign_styles
from bench.core.store import load_rows

RESULTS = Path(__file__).parent / "fixtures" / "results"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_rows(RESULTS / "kodak" / "rows.csv")


def luminance(colour: str) -> float:
    """Relative luminance (sRGB decoded, Rec. 709 weights), computed here from the hex digits."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def shifted(curve, name: str, factor: float):
    """``curve`` under another name at ``factor`` × its rates (a distinct curve of the same shape)."""
    return replace(curve, name=name, label=name, bpp=tuple(b * factor for b in curve.bpp))


def drawn_texts(figure) -> list[tuple[str, object]]:
    """(text, window extent) of each text the figure draws: tick labels only where their tick is in view."""
    from matplotlib.text import Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    in_view = {}
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                inside = low * (1 - 1e-9) - 1e-12 <= tick.get_loc() <= high * (1 + 1e-9) + 1e-12
                in_view.update({id(tick.label1): inside, id(tick.label2): inside})
    return [(t.get_text(), t.get_window_extent(renderer)) for t in figure.findobj(Text)
            if t.get_visible() and t.get_text().strip() and in_view.get(id(t), True)]


def legend_texts(figure) -> list[str]:
    legends = [*figure.legends, *(a.get_legend() for a in figure.axes if a.get_legend() is not None)]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


# --- palette ---------------------------------------------------------------------------------------------


def test_twelve_curves_get_twelve_styles_apart_in_grayscale() -> None:
    names = [f"model-{i}" for i in range(12)]
    styles = assign_styles(names)
    assert len({(s.colour, s.marker) for s in styles.values()}) == 12
    assert len({s.marker for s in styles.values()}) == 12  # the marker alone tells any two apart in grayscale
    # where two colours are near in grayscale, the markers differ; the first two (anchor and first model) are
    # far apart in lightness, not orange beside red
    for a, b in itertools.combinations(PALETTE, 2):
        assert abs(luminance(a.colour) - luminance(b.colour)) >= 0.1 or a.marker != b.marker
    assert abs(luminance(PALETTE[0].colour) - luminance(PALETTE[1].colour)) >= 0.15
    # the collision: two names whose CRC-32 picked the same colour now differ within a figure
    pair = assign_styles(["noisy", "tiny-factorized"])
    assert pair["noisy"] != pair["tiny-factorized"]
    # a published curve shares its codec's style; jpeg keeps its own whatever else is drawn
    crowded = assign_styles(["jpeg", "published:jpeg", *names])
    assert crowded["jpeg"] == crowded["published:jpeg"] == PALETTE[0]


# --- files a journal takes ---------------------------------------------------------------------------------


def test_plot_paper_writes_pdf_with_embedded_fonts_svg_with_text_and_a_column_wide_png(tmp_path: Path,
                                                                                     capsys) -> None:
    from PIL import Image
    from pypdf import PdfReader

    from bench.cli import main

    outputs = [tmp_path / f"rd.{ext}" for ext in ("pdf", "svg", "png")]
    code = main(["plot", "--results", str(RESULTS), "--style", "paper", "--metric", "ms_ssim_db",
                 *(arg for path in outputs for arg in ("-o", str(path)))])
    assert code == 0, capsys.readouterr().err
    page = PdfReader(outputs[0]).pages[0]
    assert float(page.mediabox.width) == pytest.approx(3.5 * 72)
    embedded = []
    for font in page["/Resources"]["/Font"].values():
        font = font.get_object()
        for part in [font, *(d.get_object() for d in font.get("/DescendantFonts", []))]:
            descriptor = part.get("/FontDescriptor")
            if descriptor is not None:
                embedded.append("/FontFile2" in descriptor.get_object())
    assert embedded and all(embedded)  # TrueType (pdf.fonttype 42), every font in the file
    svg = outputs[1].read_text()
    assert re.search(r'<svg[^>]* width="252pt"', svg)
    texts = re.findall(r"<text[^>]*>([^<]*)", svg)
    assert "MS-SSIM (RGB) [dB]" in texts and "jpeg" in texts
    with Image.open(outputs[2]) as image:
        assert image.size[0] == round(3.5 * PAPER.dpi)
    # reruns give the same PDF bytes (no date, no producer)
    again = tmp_path / "again.pdf"
    assert main(["plot", "--results", str(RESULTS), "--style", "paper", "--metric", "ms_ssim_db", "-o",
                 str(again)]) == 0
    assert again.read_bytes() == outputs[0].read_bytes()


def test_style_options_and_bad_values() -> None:
    assert figure_style("screen", width="page").width == 7.16
    assert figure_style("paper", figsize="3.3x2.5", font_size=9).size() == (3.3, 2.5)
    with pytest.raises(Exception, match="WIDTHxHEIGHT"):
        figure_style("paper", figsize="wide")


# --- what a figure shows ---------------------------------------------------------------------------------


def test_a_curve_beyond_the_axis_is_named_under_the_figure_not_in_the_legend(rows: pd.DataFrame) -> None:
    curves = measured_curves(rows)
    far = shifted(curves["jpeg"], "far", 20.0)  # every point above 2 bpp: the fixture's JPEG peaks under 2
    assert min(far.bpp) > 2.0
    figure = rd_figure([*curves.values(), far], "psnr", max_bpp=2.0, look=PAPER)
    means = rows[rows["status"] == "ok"].groupby(["codec", "point"])["bpp"].mean()
    expected = sorted(c for c in curves if (means[c] <= 2.0).any())
    assert sorted(legend_texts(figure)) == expected
    assert [ln.get_label() for ln in figure.axes[0].get_lines()] == list(curves)
    assert figure.legends[0].get_title().get_text() == "not shown: far (every point above 2 bpp)"
    screen = rd_figure([*curves.values(), far], "psnr", max_bpp=2.0)
    assert "far" not in legend_texts(screen) and "far (every point above 2 bpp)" in screen.get_supxlabel()


def test_no_text_overlaps_in_a_crowded_paper_figure_with_delta_panel_and_log_axis(rows: pd.DataFrame) -> None:
    curves = measured_curves(rows)
    crowd = [shifted(curves["bmshj2018-factorized"], f"variant-{i}", 1 + 0.04 * i) for i in range(10)]
    figure = rd_figure([*curves.values(), *crowd, shifted(curves["jpeg"], "far", 20.0)], "ms_ssim_db",
                       max_bpp=2.0, log_rate=True, delta_anchor=curves["jpeg"], look=PAPER)
    assert figure.get_size_inches()[0] == 3.5
    texts = drawn_texts(figure)
    overlapping = [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(texts, 2) if box_a.overlaps(box_b)]
    assert overlapping == []
    upper, lower = figure.axes
    renderer = figure.canvas.get_renderer()
    label = lower.yaxis.label.get_window_extent(renderer)
    assert label.y1 <= upper.get_window_extent(renderer).y0  # the Δ label stays beside its own panel
    # the log axis labels its ticks as plain numbers, 2 and 5 between the decades
    labelled = {float(text.replace("−", "-")): box for text, box in texts if re.fullmatch(r"[0-9.]+", text)
                and box.y1 < lower.get_window_extent(renderer).y0}
    low, high = lower.get_xlim()
    expected = [v for v in (0.1, 0.2, 0.5, 1.0, 2.0) if low <= v <= high]
    assert sorted(labelled) == expected and len(expected) >= 3


def test_spread_bands_have_edges_in_their_curves_colours(rows: pd.DataFrame) -> None:
    from matplotlib.colors import to_hex

    curves = measured_curves(rows)
    figure = rd_figure(list(curves.values()), "psnr", spread="band", rows=rows, look=PAPER)
    lines = {to_hex(ln.get_color()) for ln in figure.axes[0].get_lines()}
    edges = [c.get_edgecolor()[0] for c in figure.axes[0].collections]
    assert len(edges) == 2 and {to_hex(e[:3]) for e in edges} == lines
    assert all(e[3] >= 0.5 for e in edges)  # visible where two bands overlap


# --- one LaTeX table --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table(rows: pd.DataFrame):
    luma = rows.copy()
    luma["psnr_y"] = rows["psnr"] + 0.3 + 0.1 * (rows["image"].str.extract(r"(\d+)")[0].astype(int) % 3)
    return bd_table(luma, anchor="jpeg", methods=("cubic", "pchip"), n_boot=50)


def _latex_rows(tex: str) -> list[list[str]]:
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0]
    return [line.removesuffix(" \\\\").split(" & ") for line in body.splitlines()]


def test_one_combined_table_equal_to_the_csv(table) -> None:
    tex = table_latex(table)
    assert tex.count("\\begin{table*}") == tex.count("\\begin{tabular}") == 1  # page-wide with intervals
    assert tex.count("\\toprule") == tex.count("\\midrule") == tex.count("\\bottomrule") == 1
    header = [line for line in tex.splitlines() if line.startswith(" & \\multicolumn")][0]
    assert re.findall(r"\\multicolumn\{2\}\{c\}\{([^}]*)\}", header) == ["PSNR", "MS-SSIM", "PSNR-Y"]
    records = {(r["codec"], r["metric"]): r for r in csv.DictReader(io.StringIO(table_csv(table)))
               if r["method"] == "cubic"}
    cells = _latex_rows(tex)
    assert [row[0] for row in cells] == ["bmshj2018-factorized"]  # one row per codec, the anchor not among them
    for row in cells:
        assert len(row) == 1 + 2 * 3
        for i, metric in enumerate(("psnr", "ms_ssim_db", "psnr_y")):
            record = records[(row[0], metric)]
            assert row[1 + 2 * i] == f"${float(record['bd_rate']):+.2f}$"
            assert row[2 + 2 * i] == f"[${float(record['ci_low']):+.1f}$, ${float(record['ci_high']):+.1f}$]"
    bare = table_latex(table, ci=False)
    assert [len(row) for row in _latex_rows(bare)] == [4] and "CI" not in bare and "\\begin{table}" in bare


def test_label_renames_the_codec_in_markdown_csv_and_latex(table) -> None:
    from bench.analysis.bdformat import table_markdown

    named = relabel_table(table, {"bmshj2018-factorized": "Ours (factorized)", "jpeg": "JPEG"})
    assert {r["codec"] for r in csv.DictReader(io.StringIO(table_csv(named)))} == {"Ours (factorized)"}
    assert {r["anchor"] for r in csv.DictReader(io.StringIO(table_csv(named)))} == {"JPEG"}
    assert [row[0] for row in _latex_rows(table_latex(named))] == ["Ours (factorized)"]
    markdown = table_markdown(named)
    assert "| Ours (factorized) |" in markdown and "bmshj2018-factorized" not in markdown
    assert table_csv(named).replace("Ours (factorized)", "bmshj2018-factorized").replace(
        ",JPEG,", ",jpeg,") == table_csv(table)  # only the names change
    with pytest.raises(LabelError, match="nope"):
        relabel_table(table, {"nope": "x"})


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex (apt-get install texlive-latex-base)")
def test_the_combined_table_compiles(table, tmp_path: Path) -> None:
    named = relabel_table(table, {"bmshj2018-factorized": "ours_v2 & 50% #1"})
    document = ("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + table_latex(named)
                + "\n\\end{document}\n")
    (tmp_path / "t.tex").write_text(document)
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "t.pdf").stat().st_size > 0


def test_cli_label_reaches_csv_and_latex_and_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    from bench.cli import main

    reports = tmp_path / "bd"
    code = main(["bd-rate", "--results", str(RESULTS), "--reports", str(reports), "--method", "cubic",
                 "--bootstrap", "20", "--latex", "--latex-no-ci", "--label", "bmshj2018-factorized=Ours"])
    assert code == 0, capsys.readouterr().err
    assert {r["codec"] for r in csv.DictReader((reports / "bd-rate.csv").open())} == {"Ours"}
    assert [row[0] for row in _latex_rows((reports / "bd-rate.tex").read_text())] == ["Ours"]
    capsys.readouterr()
    for argv, named in ((["bd-rate", "--label", "nope=x"], "nope"),
                        (["plot", "-o", str(tmp_path / "rd.jpg")], "rd.jpg"),
                        (["plot", "--codecs", "nope", "-o", str(tmp_path / "rd.pdf")], "nope")):
        assert main([*argv, "--results", str(RESULTS), "--reports" if argv[0] == "bd-rate" else "--style",
                     str(reports) if argv[0] == "bd-rate" else "paper"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and named in err[0], err
    assert not (tmp_path / "rd.jpg").exists() and not (tmp_path / "rd.pdf").exists()
