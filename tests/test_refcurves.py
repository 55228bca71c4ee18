"""Reference curves from files (CompressAI JSON, tidy CSV, shipped names) as overlay and anchor; the user's
choice of BD points; LaTeX tables; per-codec points of `run`. Numbers against the `bjontegaard` package,
hand computations and the CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.bdformat import table_csv, table_markdown
from bench.analysis.bdlatex import latex_escape, table_latex
from bench.analysis.bdrate import bd_rate_result
from bench.analysis.bdtable import bd_table
from bench.analysis.curves import PUBLISHED
from bench.analysis.plots import delta_quality, rd_figure, relabel, write_rd_plots
from bench.analysis.refcurves import ReferenceSpecError, reference_curves
from bench.analysis.reference import ReferenceFileError
from bench.core.errors import BenchError, CodecError
from bench.core.store import load_rows

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak" / "rows.csv"
SHIPPED = Path(__file__).parents[1] / "bench" / "data" / "reference" / "kodak"
REPO = Path(__file__).resolve().parents[1]
COMPRESSAI_KODAK = Path(os.environ.get("BENCH_SHARED_DIR", REPO.parent / "shared")) / "reference" / "compressai-kodak"
needs_shared = pytest.mark.skipif(not COMPRESSAI_KODAK.is_dir(), reason=f"no {COMPRESSAI_KODAK}")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_rows(FIXTURE)


def means(rows: pd.DataFrame, codec: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """The codec's mean curve computed here (pandas groupby), sorted by rate; MS-SSIM in dB of the mean."""
    m = rows[(rows["codec"] == codec) & (rows["status"] == "ok")].groupby("point")[["bpp", "psnr", "ms_ssim"]]
    m = m.mean().sort_values("bpp")
    quality = m["psnr"] if column == "psnr" else -10 * np.log10(1 - m["ms_ssim"])
    return m["bpp"].to_numpy(), quality.to_numpy()


def bjontegaard(a_rate, a_q, t_rate, t_q, method: str) -> float:
    bd = pytest.importorskip("bjontegaard")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(bd.bd_rate(np.asarray(a_rate), np.asarray(a_q), np.asarray(t_rate), np.asarray(t_q),
                                method=method, require_matching_points=False))


def json_curve(path: Path, column: str) -> tuple[np.ndarray, np.ndarray]:
    results = json.loads(path.read_text())["results"]
    quality = results["psnr-rgb"] if column == "psnr" else -10 * np.log10(1 - np.asarray(results["ms-ssim-rgb"]))
    return np.asarray(results["bpp"]), np.asarray(quality)


# --- the CompressAI JSON as anchor and as overlay, against bjontegaard -----------------------------------


@needs_shared
@pytest.mark.parametrize("metric", ["psnr", "ms_ssim_db"])
def test_compressai_json_as_anchor_equals_bjontegaard(rows: pd.DataFrame, metric: str) -> None:
    path = COMPRESSAI_KODAK / "jpeg.json"
    references = reference_curves([str(path)], "kodak")
    assert [c.name for c in references] == ["ref:JPEG"]
    table = bd_table(rows, anchor="ref:JPEG", references=references, methods=("cubic", "pchip"), n_boot=20)
    anchor = json_curve(path, metric)
    for codec in ("jpeg", "bmshj2018-factorized"):
        test = means(rows, codec, metric)
        pchip = table.entry(codec, metric, "pchip").rate
        cubic_all = table.entry(codec, metric, "cubic").rate_all
        assert pchip.ok and cubic_all is not None and cubic_all.ok
        assert pchip.value == pytest.approx(bjontegaard(*anchor, *test, "pchip"), abs=1e-6)
        assert cubic_all.value == pytest.approx(bjontegaard(*anchor, *test, "cubic"), abs=1e-6)
        assert table.entry(codec, metric, "cubic").ci is None  # a mean curve: no interval


@needs_shared
def test_compressai_json_as_overlay_is_compared_and_drawn(rows: pd.DataFrame, tmp_path: Path) -> None:
    path = COMPRESSAI_KODAK / "compressai-bmshj2018-hyperprior_mse_cpu.json"
    references = reference_curves([str(path)], "kodak")
    name = references[0].name
    table = bd_table(rows, anchor="jpeg", references=references, methods=("pchip",), n_boot=20,
                     rate_range=(0.2, 2.0))
    # the rate range keeps, by hand: the points with a mean rate in [0.2, 2] bpp of both curves
    a_rate, a_q = means(rows, "jpeg", "psnr")
    t_rate, t_q = json_curve(path, "psnr")
    a_keep, t_keep = (a_rate >= 0.2) & (a_rate <= 2), (t_rate >= 0.2) & (t_rate <= 2)
    assert table.curves[name].points == tuple(f"p{i + 1}" for i in np.flatnonzero(t_keep))
    entry = table.entry(name, "psnr", "pchip")
    assert entry.rate.value == pytest.approx(
        bjontegaard(a_rate[a_keep], a_q[a_keep], t_rate[t_keep], t_q[t_keep], "pchip"), abs=1e-6)
    assert entry.rate.value < -20  # the hyperprior saves well over a fifth of JPEG's rate
    assert "every curve limited to its points with a mean rate in 0.2–2 bpp" in table_markdown(table)

    written = write_rd_plots(rows, tmp_path, references=[], overlays=references)
    assert {p.name for p in written} >= {"rd-psnr.svg", "rd-ms-ssim.svg"}
    figure = rd_figure(relabel([*table.curves.values()], {"bmshj2018-hyperprior": "Hyper"}), "psnr")
    drawn = [ln for ln in figure.axes[0].get_lines() if ln.get_label() == "Hyper"]
    assert len(drawn) == 1 and drawn[0].get_linestyle() == "--"
    np.testing.assert_array_equal(drawn[0].get_xdata(), t_rate[t_keep])


def test_anchor_points_pick_the_anchor_points(rows: pd.DataFrame) -> None:
    table = bd_table(rows, anchor="jpeg", methods=("pchip",), n_boot=20, anchor_points=["q10", "q20", "q40", "q60"])
    assert table.anchor.points == ("q10", "q20", "q40", "q60")
    a_rate, a_q = means(rows, "jpeg", "psnr")
    t_rate, t_q = means(rows, "bmshj2018-factorized", "psnr")
    direct = bd_rate_result(a_rate[:4], a_q[:4], t_rate, t_q, method="pchip")
    assert table.entry("bmshj2018-factorized", "psnr", "pchip").rate.value == pytest.approx(direct.value, rel=1e-12)
    with pytest.raises(BenchError, match="no operating points"):
        bd_table(rows, anchor="jpeg", n_boot=20, anchor_points=["q99"])
    with pytest.raises(BenchError, match="low < high"):
        bd_table(rows, anchor="jpeg", n_boot=20, rate_range=(2.0, 1.0))


# --- files: CSV, globs, datasets, shipped names -----------------------------------------------------------


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["codec,point,bpp,psnr,ms_ssim,dataset", *lines]) + "\n")
    return path


def test_tidy_csv_gives_one_curve_per_codec_as_anchor(rows: pd.DataFrame, tmp_path: Path) -> None:
    a_rate, a_q = means(rows, "jpeg", "psnr")
    lines = [f"old,r{i},{r * 1.1!r},{q!r},,kodak" for i, (r, q) in enumerate(zip(a_rate, a_q))]
    lines += ["other,a,0.5,30,0.95,", "other,b,1.0,33,0.97,"]
    write_csv(tmp_path / "curves.csv", lines)
    old, other = reference_curves([str(tmp_path / "*.csv")], "kodak")
    assert (old.name, old.points, old.dataset) == ("ref:old", tuple(f"r{i}" for i in range(5)), "kodak")
    assert np.isnan(old.ms_ssim).all() and other.psnr == (30.0, 33.0) and other.dataset is None
    table = bd_table(rows, anchor="ref:old", references=[old], methods=("pchip",), n_boot=20)
    entry = table.entry("jpeg", "psnr", "pchip")
    # the same qualities at 1.1× the rate: BD-rate −1/11 exactly (up to the interpolation of equal shapes)
    assert entry.rate.value == pytest.approx(100 * (1 / 1.1 - 1), abs=1e-9)
    assert "has no value" in table.entry("jpeg", "ms_ssim_db", "pchip").rate.reason
    with pytest.raises(ReferenceSpecError, match="no such file"):
        reference_curves([str(tmp_path / "nothing*.json")], "kodak")
    (tmp_path / "bad.csv").write_text("codec,bpp\nx,1\n")
    with pytest.raises(ReferenceFileError, match="missing column"):
        reference_curves([str(tmp_path / "bad.csv")], "kodak")


def test_a_reference_for_another_dataset_is_refused_in_one_line(rows: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "clic.json"
    path.write_text(json.dumps({"name": "X", "dataset": "clic", "results": {"bpp": [0.1, 0.2, 0.4, 0.8],
                                                                            "psnr-rgb": [28, 30, 32, 34]}}))
    with pytest.raises(ReferenceSpecError) as refused:
        reference_curves([str(path)], "kodak")
    message = str(refused.value)
    assert "\n" not in message and "'clic'" in message and "'kodak'" in message
    elsewhere = rows.assign(dataset="clic")  # a shipped curve is Kodak's
    with pytest.raises(ReferenceSpecError, match="'kodak'"):
        bd_table(elsewhere, anchor="published:jpeg", n_boot=20)
    assert reference_curves([str(path)], "clic")[0].name == "ref:X"


def test_shipped_published_curves_are_reachable_by_name() -> None:
    for key in ("vtm", "hm", "bpg", "av1", "webp", "jpeg2000", "mbt2018-mean", "cheng2020-anchor",
                "cheng2020-attn"):
        curve = reference_curves([f"published:{key}"], "kodak")[0]
        data = json.loads((SHIPPED / Path(PUBLISHED[key][0]).name).read_text())["results"]
        assert curve.bpp == tuple(data["bpp"]) and curve.psnr == tuple(data["psnr-rgb"]), key
        assert curve.dataset == "kodak" and curve.published
    if COMPRESSAI_KODAK.is_dir():  # copied byte for byte
        assert (SHIPPED / "vtm.json").read_bytes() == (COMPRESSAI_KODAK / "vtm.json").read_bytes()


# --- LaTeX --------------------------------------------------------------------------------------------


def test_latex_has_balanced_shape_escapes_names_and_holds_the_csv_numbers(rows: pd.DataFrame,
                                                                           tmp_path: Path) -> None:
    a_rate, a_q = means(rows, "jpeg", "psnr")
    _, a_ms = means(rows, "jpeg", "ms_ssim")
    ms_ssim = 1 - 10 ** (-a_ms / 10)
    odd = "x_y&z%#$~^{}\\"
    lines = [f'"{odd}",p{i},{r * 0.8!r},{q!r},{m!r},' for i, (r, q, m) in enumerate(zip(a_rate, a_q, ms_ssim))]
    references = reference_curves([str(write_csv(tmp_path / "odd.csv", lines))], "kodak")
    table = bd_table(rows, anchor="jpeg", references=references, methods=("cubic", "pchip"), n_boot=50)
    tex = table_latex(table)
    # shape: environments nest and close, braces balance once escaped braces are removed
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack.pop() == env
    assert not stack
    bare = tex.replace(r"\{", "").replace(r"\}", "")
    assert bare.count("{") == bare.count("}")
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == tex.count(r"\midrule") == 1  # one table
    escaped = r"x\_y\&z\%\#\$\textasciitilde{}\textasciicircum{}\{\}\textbackslash{}"
    assert latex_escape(odd) == escaped and escaped in tex
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0].splitlines()
    for line in body:  # no unescaped special character outside commands and math
        cells = re.split(r"(?<!\\)&", line.removesuffix(r"\\").strip())
        assert len(cells) == 5, line  # codec, then BD-rate and CI of PSNR and of MS-SSIM
    # numbers: each row's BD-rate and interval (first method, cubic), rounded, equal the CSV's exact values
    records = list(csv.DictReader(io.StringIO(table_csv(table))))
    by_label = {"bmshj2018-factorized": "bmshj2018-factorized", escaped: f"ref:{odd}"}
    assert [line.split(" & ")[0] for line in body] == list(by_label)
    for line in body:
        cells = line.removesuffix(r" \\").split(" & ")
        for i, metric in enumerate(("psnr", "ms_ssim_db")):
            record = next(r for r in records if (r["codec"], r["method"], r["metric"]) ==
                          (by_label[cells[0]], "cubic", metric))
            assert cells[1 + 2 * i] == f"${float(record['bd_rate']):+.2f}$", (cells, record["bd_rate"])
            if record["ci_low"]:
                assert cells[2 + 2 * i] == f"[${float(record['ci_low']):+.1f}$, ${float(record['ci_high']):+.1f}$]"
            else:
                assert cells[2 + 2 * i] == "---"  # a reference curve: a mean curve, no interval
    odd_rate = table.entry(f"ref:{odd}", "psnr", "pchip").rate.value
    assert odd_rate == pytest.approx(100 * (0.8 - 1), abs=1e-9)  # the same curve at 0.8× the rate


# --- figures --------------------------------------------------------------------------------------------


def test_figure_options_log_rate_spread_delta_and_labels(rows: pd.DataFrame, tmp_path: Path) -> None:
    from bench.analysis.curves import measured_curves

    curves = measured_curves(rows)
    figure = rd_figure(list(curves.values()), "psnr", log_rate=True, spread="scatter", rows=rows,
                       delta_anchor=curves["jpeg"], max_bpp=2.0)
    upper, lower = figure.axes
    assert upper.get_xscale() == "log" and upper.get_xlim()[1] == 2.0
    dots = sum(len(c.get_offsets()) for c in upper.collections)
    assert dots == int((rows["status"] == "ok").sum())  # one dot per image × point
    # Δ-PSNR by hand: the factorized prior minus JPEG interpolated linearly in log rate
    a_rate, a_q = means(rows, "jpeg", "psnr")
    t_rate, t_q = means(rows, "bmshj2018-factorized", "psnr")
    inside = (t_rate >= a_rate.min()) & (t_rate <= a_rate.max())
    expected = t_q[inside] - np.interp(np.log(t_rate[inside]), np.log(a_rate), a_q)
    rate, delta = delta_quality(curves["jpeg"], curves["bmshj2018-factorized"], "psnr")
    np.testing.assert_allclose(delta, expected, rtol=1e-12)
    np.testing.assert_allclose(lower.get_lines()[0].get_ydata(), expected, rtol=1e-12)
    band = rd_figure([curves["jpeg"]], "psnr", spread="band", rows=rows)
    sd = rows[rows["codec"] == "jpeg"].groupby("point")["psnr"].std(ddof=1).reindex(curves["jpeg"].points)
    edge = band.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    assert edge.max() == pytest.approx((np.asarray(curves["jpeg"].psnr) + sd.to_numpy()).max(), rel=1e-12)
    assert edge.min() == pytest.approx((np.asarray(curves["jpeg"].psnr) - sd.to_numpy()).min(), rel=1e-12)
    labelled = rd_figure(relabel(list(curves.values()), {"jpeg": "JPEG (libjpeg-turbo)"}), "psnr")
    assert [t.get_text() for t in labelled.axes[0].get_legend().get_texts()] == [
        "bmshj2018-factorized", "JPEG (libjpeg-turbo)"]
    with pytest.raises(BenchError, match="no such curve"):
        write_rd_plots(rows, tmp_path, labels={"nope": "x"})


# --- run --points per codec -----------------------------------------------------------------------------


def test_points_per_codec_and_a_clear_error_naming_the_codec() -> None:
    from bench.cli import _create_codecs, _points_by_codec

    names = ["jpeg", "webp"]
    assert _points_by_codec(["jpeg=q25,q50", "webp=q40"], names) == {"jpeg": ["q25", "q50"], "webp": ["q40"]}
    assert _points_by_codec(["q30,q60"], ["jpeg"]) == {"jpeg": ["q30", "q60"]}
    assert _points_by_codec(["q30", "webp=q40"], names) == {"jpeg": ["q30"], "webp": ["q40"]}
    with pytest.raises(BenchError, match="'avif' is not among --codecs"):
        _points_by_codec(["avif=q1"], names)
    created = _create_codecs(["jpeg"], {"jpeg": {}}, {"jpeg": ["q25", "q50"]})
    assert [points for _, points in created] == [["q25", "q50"]]
    with pytest.raises(CodecError, match=r"'lambda0\.0130' is not an operating point of jpeg"):
        _create_codecs(["jpeg"], {"jpeg": {}}, {"jpeg": ["q25", "lambda0.0130"]})


# --- the command line -------------------------------------------------------------------------------------


@needs_shared
def test_cli_bd_rate_and_report_take_a_reference_file_as_anchor(tmp_path: Path, capsys) -> None:
    from bench.cli import main

    results = str(FIXTURE.parents[1])
    anchor = str(COMPRESSAI_KODAK / "jpeg.json")
    code = main(["bd-rate", "--results", results, "--reports", str(tmp_path / "bd"), "--anchor", anchor,
                 "--reference", "published:vtm", "--method", "pchip", "--bootstrap", "20", "--latex",
                 "--codecs", "jpeg,published:vtm", "--allow-subset"])  # the fixture has 3 of Kodak's 24 images
    assert code == 0, capsys.readouterr().err
    records = list(csv.DictReader((tmp_path / "bd" / "bd-rate.csv").open()))
    assert {r["anchor"] for r in records} == {"ref:JPEG"}
    assert {r["codec"] for r in records} == {"jpeg", "published:vtm"}
    assert (tmp_path / "bd" / "bd-rate.tex").read_text().count(r"\begin{tabular}") == 1
    code = main(["report", "--results", results, "--reports", str(tmp_path / "rep"), "--anchor", "jpeg",
                 "--reference", anchor, "--method", "cubic", "--bootstrap", "20", "--log-rate", "--spread", "band",
                 "--delta-panel", "--label", "JPEG=CompressAI JPEG"])
    assert code == 0, capsys.readouterr().err
    report = (tmp_path / "rep" / "REPORT.md").read_text()
    assert "reference curves: JPEG (" in report and "ref:JPEG" in report
    capsys.readouterr()
    wrong = tmp_path / "clic.json"
    wrong.write_text(json.dumps({"name": "X", "meta": {"dataset": "clic"}, "results": {"bpp": [0.1, 0.2]}}))
    assert main(["bd-rate", "--results", results, "--reports", str(tmp_path / "x"), "--reference", str(wrong)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "'clic'" in err
