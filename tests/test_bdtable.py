"""BD tables on the fixture: numbers equal direct bench.analysis.bdrate calls; reasons instead of numbers on bad input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.bdrate import bd_quality_result, bd_rate_bootstrap, bd_rate_result, ms_ssim_db, ms_ssim_db_of_mean
from bench.analysis.bdformat import CSV_COLUMNS, table_csv, table_markdown
from bench.analysis.bdreport import bd_tables, write_bd_tables
from bench.analysis.bdstudy import NOT_RUN, STUDY, study_comparison, study_csv
from bench.analysis.bdtable import BdTableError, bd_table
from bench.analysis.curves import measured_curves
from bench.core.identity import IdentityError
from bench.core.store import load_rows

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak" / "rows.csv"
REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).parents[1] / "bench" / "data" / "reference" / "kodak"
TEST = "bmshj2018-factorized"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_rows(FIXTURE)


def means(rows: pd.DataFrame, codec: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean curve computed here (pandas groupby), not through bench.analysis.summary."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    m = part.groupby("point")[["bpp", "psnr", "ms_ssim"]].mean()
    quality = m["psnr"] if metric == "psnr" else -10 * np.log10(1 - m["ms_ssim"])
    return m["bpp"].to_numpy(), quality.to_numpy()


def per_image(rows: pd.DataFrame, codec: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    part = rows[rows["codec"] == codec].sort_values(["image", "point"])
    bpp = part.pivot(index="image", columns="point", values="bpp")
    quality = part.pivot(index="image", columns="point", values=column)
    return bpp.to_numpy(), quality.to_numpy()


@pytest.mark.parametrize("method", ["cubic", "pchip"])
@pytest.mark.parametrize("metric", ["psnr", "ms_ssim_db"])
def test_numbers_equal_direct_bdrate_calls(rows: pd.DataFrame, method: str, metric: str) -> None:
    table = bd_table(rows, methods=(method,), n_boot=300)
    entry = table.entry(TEST, metric, method)
    args = (*means(rows, "jpeg", metric), *means(rows, TEST, metric))
    rate = bd_rate_result(*args, method=method)
    quality = bd_quality_result(*args, method=method)
    assert rate.ok and quality.ok
    assert entry.rate.value == pytest.approx(rate.value, rel=1e-12, abs=1e-12)
    assert entry.quality.value == pytest.approx(quality.value, rel=1e-12, abs=1e-12)
    assert entry.rate.overlap == pytest.approx(rate.overlap)
    # the interval: the same paired bootstrap on per-image arrays built here
    column = "psnr" if metric == "psnr" else "ms_ssim"
    direct = bd_rate_bootstrap(
        *per_image(rows, "jpeg", column), *per_image(rows, TEST, column), method=method, n_boot=300, seed=0,
        quality_mean=ms_ssim_db_of_mean if metric == "ms_ssim_db" else np.mean,
    )
    assert entry.ci is not None and entry.ci_images == 3
    assert (entry.ci.low, entry.ci.high) == pytest.approx((direct.low, direct.high), rel=1e-12)
    assert entry.ci.low <= entry.rate.value <= entry.ci.high


def test_csv_is_exact_and_structured(rows: pd.DataFrame) -> None:
    table = bd_table(rows, methods=("cubic", "pchip"), n_boot=200)
    records = list(csv.DictReader(io.StringIO(table_csv(table))))
    assert tuple(records[0]) == CSV_COLUMNS
    assert [(r["method"], r["metric"], r["codec"]) for r in records] == [
        (m, q, TEST) for m in ("cubic", "pchip") for q in ("psnr", "ms_ssim_db")]
    for r in records:
        entry = table.entry(r["codec"], r["metric"], r["method"])
        assert float(r["bd_rate"]) == entry.rate.value  # repr round-trips exactly
        assert float(r["bd_quality"]) == entry.quality.value
        assert float(r["ci_low"]) == entry.ci.low and r["ci_images"] == "3" and r["ci_reason"] == ""
        assert r["anchor"] == "jpeg" and r["n_anchor"] == "5" and r["n_test"] == "4"
        assert r["points"] == "lambda0.0067 lambda0.0130 lambda0.0250 lambda0.0483"
        assert r["bd_rate_reason"] == ""


def test_markdown_states_method_points_and_overlap(rows: pd.DataFrame) -> None:
    table = bd_table(rows, methods=("cubic", "pchip"), n_boot=200)
    text = table_markdown(table)
    assert "### Method: cubic" in text and "### Method: pchip" in text
    assert "- anchor jpeg: 5 points (q10, q20, q40, q60, q80)" in text
    assert f"- {TEST}: 4 points (lambda0.0067, lambda0.0130, lambda0.0250, lambda0.0483)" in text
    body = [ln for ln in text.splitlines() if ln.startswith(f"| {TEST} |")]
    assert len(body) == 4  # 2 methods × 2 metrics
    entry = table.entry(TEST, "psnr", "cubic")
    lo, hi = entry.rate.overlap
    assert f"{lo:.2f}–{hi:.2f}" in body[0]
    assert f"{entry.rate.value:+.2f}".replace("-", "−") in body[0]


def test_three_point_codec_gets_a_reason(rows: pd.DataFrame) -> None:
    three = rows[~((rows["codec"] == TEST) & (rows["point"] == "lambda0.0483"))]
    table = bd_table(three, n_boot=100)
    entry = table.entry(TEST, "psnr", "cubic")
    assert entry.rate.value is None and "3 points; at least 4" in entry.rate.reason
    assert entry.quality.value is None and entry.ci is None
    line = next(ln for ln in table_markdown(table).splitlines() if ln.startswith(f"| {TEST} |"))
    assert "n/a: test curve has 3 points; at least 4 are needed" in line
    record = next(csv.DictReader(io.StringIO(table_csv(table))))
    assert record["bd_rate"] == "" and "3 points" in record["bd_rate_reason"]


def test_missing_anchor_is_a_one_line_error(rows: pd.DataFrame) -> None:
    with pytest.raises(BdTableError) as info:
        bd_table(rows, anchor="webp")
    message = str(info.value)
    assert "\n" not in message
    assert "'webp'" in message and f"known codecs: {TEST}, jpeg" in message and "published:jpeg" in message
    with pytest.raises(BdTableError, match="known codecs"):
        bd_table(rows[rows["codec"] == TEST])


def test_failed_point_non_monotonic_and_no_overlap_are_reasons(rows: pd.DataFrame) -> None:
    failed = rows.copy()
    failed.loc[(failed["codec"] == TEST) & (failed["point"] == "lambda0.0130"), "status"] = "failed"
    entry = bd_table(failed, n_boot=50).entry(TEST, "psnr", "cubic")
    assert entry.rate.value is None and "lambda0.0130" in entry.rate.reason and "no value" in entry.rate.reason

    bumpy = rows.copy()
    bumpy.loc[(bumpy["codec"] == TEST) & (bumpy["point"] == "lambda0.0250"), "psnr"] -= 5.0
    entry = bd_table(bumpy, n_boot=50).entry(TEST, "psnr", "cubic")
    assert entry.rate.value is None and "not monotonic" in entry.rate.reason
    assert bd_table(bumpy, n_boot=50).entry(TEST, "ms_ssim_db", "cubic").rate.ok  # the other metric is fine

    far = rows.copy()
    far.loc[far["codec"] == TEST, "psnr"] += 20.0
    entry = bd_table(far, n_boot=50).entry(TEST, "psnr", "cubic")
    assert entry.rate.value is None and "no overlap" in entry.rate.reason


def test_published_anchor_has_no_interval(rows: pd.DataFrame) -> None:
    table = bd_table(rows, anchor="published:jpeg", n_boot=50)
    assert {e.codec for e in table.entries} == {TEST, "jpeg"}
    data = json.loads((REFERENCE / "jpeg.json").read_text())["results"]
    entry = table.entry("jpeg", "ms_ssim_db", "cubic")
    direct = bd_rate_result(data["bpp"], ms_ssim_db(data["ms-ssim-rgb"]), *means(rows, "jpeg", "ms_ssim_db"))
    assert entry.rate.value == pytest.approx(direct.value, rel=1e-12)
    assert entry.ci is None and "published" in entry.ci_reason


def test_rows_of_an_older_codec_version_are_left_out(rows: pd.DataFrame) -> None:
    old = rows[rows["codec"] == "jpeg"].copy()
    old["key"] = old["key"] + "x"
    old["codec_hash"] = "0000000000000000"
    old["run_id"] = "19990101T000000Z-old"  # an earlier run: the current identity stays the fixture's
    old["psnr"] -= 3.0
    mixed = bd_table(pd.concat([old, rows], ignore_index=True), n_boot=50).entry(TEST, "psnr", "cubic")
    alone = bd_table(rows, n_boot=50).entry(TEST, "psnr", "cubic")
    assert mixed.rate.value == alone.rate.value


def test_an_image_measured_twice_within_one_identity_is_refused(rows: pd.DataFrame) -> None:
    twice = rows[rows["codec"] == "jpeg"].iloc[:1].copy()
    twice["key"] = twice["key"] + "x"
    with pytest.raises(IdentityError, match="store fault"):
        bd_table(pd.concat([rows, twice], ignore_index=True))


def test_study_comparison(rows: pd.DataFrame) -> None:
    study = study_comparison(measured_curves(rows))
    assert len(study) == 6
    by_key = {(r.codec, r.metric): r for r in study}
    measured = by_key[(TEST, "psnr")].measured
    assert measured.value == pytest.approx(bd_rate_result(*means(rows, "jpeg", "psnr"), *means(rows, TEST, "psnr")).value)
    assert by_key[("mbt2018", "psnr")].measured is None
    assert by_key[("mbt2018", "psnr")].measured_reason == NOT_RUN
    jpeg = json.loads((REFERENCE / "jpeg.json").read_text())["results"]
    for codec, (model, psnr_value, ms_value) in STUDY.items():
        data = json.loads((REFERENCE / f"compressai-{codec}_mse_cpu.json").read_text())["results"]
        published = bd_rate_result(jpeg["bpp"], jpeg["psnr-rgb"], data["bpp"][2:6], data["psnr-rgb"][2:6])
        row = by_key[(codec, "psnr")]
        assert row.model == model and row.study == psnr_value and by_key[(codec, "ms_ssim_db")].study == ms_value
        assert row.published.value == pytest.approx(published.value, rel=1e-12)
    assert STUDY["mbt2018"] == ("Context+Hyperprior", -56.78, -55.00)
    text = study_csv(study)
    assert "not run (no weights)" in text and "-31.78" in text
    # without a JPEG run, the harness column says why
    without = study_comparison(measured_curves(rows[rows["codec"] == TEST]))
    assert "anchor jpeg not in the results" == without[0].measured_reason


def test_write_bd_tables(rows: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_bd_tables(*bd_tables(rows, n_boot=100), tmp_path)
    assert [p.name for p in paths] == ["bd-rate.md", "bd-rate.csv", "bd-rate-study.csv", "bd-rate-images.csv"]
    text = paths[0].read_text()
    assert text.startswith("# BD-rate\n") and "## Comparison with the study" in text
    assert "| Hyperprior | bmshj2018-hyperprior | not run (no weights) | −46.98 |" in text
    with pytest.raises(BdTableError, match="unknown BD method"):
        bd_table(rows, methods=("linear",))


def test_study_rows_carry_their_caveats(rows: pd.DataFrame, tmp_path: Path) -> None:
    """Each study row says what the harness's number rests on: the weights (here the fixture's CPU-trained
    checkpoints, not the zoo's files, whose names carry the first hex digits of their SHA-256) and the JPEG
    build the run recorded, beside the published curves' zoo weights and Pillow 7.1.2."""
    from bench.analysis.report import load_runs

    folder = FIXTURE.parent
    runs = load_runs(folder, sorted(set(rows["run_id"].astype(str))))
    jpeg = next(m["codecs"]["jpeg"]["description"] for m in runs.values() if m and "jpeg" in m["codecs"])
    write_bd_tables(*bd_tables(rows, n_boot=20, runs=runs), tmp_path)
    study = {(r["codec"], r["metric"]): r for r in csv.DictReader(io.StringIO((tmp_path / "bd-rate-study.csv").read_text()))}
    assert study[TEST, "psnr"]["caveat"] == (f"harness: not the zoo's weights (user checkpoints); jpeg: {jpeg} · "
                                             "published: zoo weights; jpeg: Pillow 7.1.2 (CompressAI's jpeg.json)")
    assert study["mbt2018", "psnr"]["caveat"].startswith("harness: no weights in these rows; jpeg: ")
    assert f"| {study[TEST, 'psnr']['caveat']} |" in (tmp_path / "bd-rate.md").read_text()


@pytest.mark.skipif(not (REPO / "results" / "kodak" / "rows.csv").exists(), reason="no committed results")
def test_fit_range_on_the_committed_factorized_curve():
    """The review's figures on the committed Kodak run: the factorized prior's BD-rate (PSNR) vs JPEG moves
    from −2.39 % (one cubic over all 20 JPEG points) to −3.59 % (each curve on its relevant points)."""
    from bench.core.store import ResultStore

    rows = ResultStore(REPO / "results" / "kodak" / "rows.csv").frame()
    table = bd_table(rows[rows["codec"].isin(["jpeg", "bmshj2018-factorized"])], anchor="jpeg", n_boot=50)
    entry = table.entry("bmshj2018-factorized", "psnr", "cubic")
    assert entry.rate.value == pytest.approx(-3.59, abs=0.006)
    assert entry.rate_all.value == pytest.approx(-2.39, abs=0.006)
    anchor_rms, test_rms = entry.fit_rms
    assert test_rms < 1e-9 < anchor_rms < 0.01  # a cubic through the 4 factorized points is exact; not JPEG's


def test_psnr_of_mean_mse_sensitivity_by_hand(rows: pd.DataFrame) -> None:
    """The averaging sensitivity: per point, MSE = 255²·10^(−PSNR/10) per image, averaged, back to dB."""
    table = bd_table(rows, anchor="jpeg", methods=("cubic",), n_boot=20)
    checked = 0
    for entry in table.entries:
        if entry.metric != "psnr" or entry.rate_mse_mean is None or not entry.rate_mse_mean.ok:
            continue
        curves = []
        for codec, points in (("jpeg", table.anchor.points), (entry.codec, entry.points)):
            ok = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
            by_point = [ok[ok["point"] == p] for p in points]
            rate = [float(np.mean(part["bpp"])) for part in by_point]
            quality = [10 * np.log10(255**2 / np.mean(255**2 * 10 ** (-part["psnr"] / 10))) for part in by_point]
            curves += [rate, quality]
        assert entry.rate_mse_mean.value == pytest.approx(bd_rate_result(*curves).value, abs=1e-9)
        assert entry.rate_mse_mean.value != pytest.approx(entry.rate.value, abs=1e-3)  # a different convention
        checked += 1
    assert checked >= 1


@pytest.mark.skipif(not (REPO / "results" / "kodak" / "rows.csv").exists(), reason="no committed results")
def test_bd_rate_on_payload_is_the_cubic_bd_rate_of_the_payload_means():
    """The payload sensitivity on the committed Kodak run (WebP vs JPEG): the cubic BD-rate of the mean curves
    with each point's rate the mean of 8·payload_bytes/(W·H), computed here from the rows; a codec whose
    rows lack payload_bytes gets a reason, not a number."""
    from bench.core.store import ResultStore

    rows = ResultStore(REPO / "results" / "kodak" / "rows.csv").frame()
    rows = rows[rows["codec"].isin(["jpeg", "webp"])]
    entry = bd_table(rows, anchor="jpeg", n_boot=20).entry("webp", "psnr", "cubic")
    curves = []
    for codec in ("jpeg", "webp"):
        part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
        table = part.assign(rate=8.0 * part["payload_bytes"] / (part["width"] * part["height"]))
        means = table.groupby("point")[["rate", "psnr"]].mean().sort_values("rate")
        curves += [means["rate"].to_numpy(), means["psnr"].to_numpy()]
    assert entry.rate_payload.value == pytest.approx(bd_rate_result(*curves, method="cubic").value, abs=1e-9)
    assert entry.rate_payload.value != pytest.approx(entry.rate.value, abs=0.1)  # the headers do count
    without = rows.assign(payload_bytes=rows["payload_bytes"].where(rows["codec"] == "jpeg"))
    entry = bd_table(without, anchor="jpeg", n_boot=20).entry("webp", "psnr", "cubic")
    assert entry.rate_payload.value is None and entry.rate_payload.reason == "webp has rows without payload_bytes"
