"""REPORT.md from stored results: deterministic, complete, with artifacts included; export; shipped data."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.analysis.curves import PUBLISHED, CurveError, published_curve
from bench.analysis.export import export_results
from bench.analysis.reference import read_reference
from bench.analysis.provenance import weights_origin
from bench.analysis.report import ReportError, write_report
from bench.core.store import StoreError, load_rows
from conftest import read_csv_rows, write_csv_rows

FIXTURE = Path(__file__).parent / "fixtures" / "results"
REFERENCE = Path(__file__).parents[1] / "bench" / "data" / "reference"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("reports")
    (out / "complexity.md").write_text("# Complexity\n\n| codec | MACs |\n|---|---|\n```\n# not a heading\n```\n")
    (out / "visual-kodim01.json").write_text(json.dumps({
        "image": "kodim01.png", "target_bpp": 0.25, "zoom": 2,
        "region": {"left": 1, "top": 2, "width": 256, "height": 256},
        "choices": [{"codec": "jpeg", "point": "q7", "bytes": 1, "bpp": 0.2544, "psnr": 25.51, "candidates": 100}],
    }))
    Image.new("RGB", (8, 8)).save(out / "visual-kodim01.png")
    return out, write_report(FIXTURE, "kodak", out, n_boot=200)


def test_report_twice_gives_identical_bytes(report: tuple[Path, list[Path]]) -> None:
    out, first = report
    before = {p.name: p.read_bytes() for p in first}
    second = write_report(FIXTURE, "kodak", out, n_boot=200)  # same folder
    assert [p.name for p in second] == [p.name for p in first]
    assert {p.name: p.read_bytes() for p in second} == before


def test_report_files_and_sections(report: tuple[Path, list[Path]]) -> None:
    out, paths = report
    assert [p.name for p in paths][-1] == "REPORT.md"
    assert {p.name for p in paths} >= {"rd-psnr.png", "rd-psnr.svg", "rd-ms-ssim.png", "rd-ms-ssim.svg",
                                       "jpeg-vs-published.png", "bd-rate.md", "bd-rate.csv", "bd-rate-study.csv"}
    text = (out / "REPORT.md").read_text()
    for heading in ("## Test conditions", "## Rate–distortion", "## BD-rate", "## Complexity",
                    "## Visual comparison", "### Comparison with the study"):
        assert heading in text
    # test conditions come from the run metadata and the rows
    assert "0123456789abcdef0123456789abcdef01234567" in text and "Example CPU" in text
    assert "1db0e823d6f5f0a7ab029cea34846a36d16bf7d2ecce4f95544ac55390bc40d5" in text
    assert "shared/weights (CPU-trained on BSDS500)" in text
    assert "not the CompressAI zoo's `bmshj2018-factorized-prior-3-5c6f152b.pth.tar`: a user checkpoint" in text
    assert "Note: bmshj2018-factorized ran with weights that are not CompressAI's zoo files" in text
    assert "| bmshj2018-factorized | 4 | cpu | 1 | system | 1 |" in text  # rows before the allocator column
    # every linked picture exists
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", text):
        assert (out / link).is_file(), link
    # complexity included with headings pushed down, code untouched
    assert "### Complexity\n" in text and "\n# not a heading\n" in text
    assert "| jpeg | q7 | 0.2544 | +1.8 % | 25.51 | 100 |" in text
    assert "### Colour" not in text  # the fixture's rows predate the Y′CbCr columns: no empty table
    assert "### Times per host" not in text  # one timing host
    # no clock time besides the metadata's own
    dates = set(re.findall(r"20\d\d-\d\d-\d\d", text))
    assert dates <= {"2025-01-01"}
    # the means table's times carry their dispersion over images, computed here by hand from the rows
    rows = load_rows(FIXTURE / "kodak" / "rows.csv")
    part = rows[(rows["codec"] == "jpeg") & (rows["point"] == "q40") & (rows["status"] == "ok")]
    encode, decode = part["encode_s"].to_numpy(float), part["decode_s"].to_numpy(float)
    def sd(values):
        return (((values - values.mean()) ** 2).sum() / (len(values) - 1)) ** 0.5
    cells = next(line for line in text.splitlines() if line.startswith("| jpeg | q40 |")).split(" | ")
    assert cells[-2:] == [f"{1e3 * encode.mean():.2f} ± {1e3 * sd(encode):.2f}",
                          f"{1e3 * decode.mean():.2f} ± {1e3 * sd(decode):.2f} |"]


def test_report_without_artifacts_says_so(tmp_path: Path) -> None:
    write_report(FIXTURE, "kodak", tmp_path, n_boot=50, formats=("png",))
    text = (tmp_path / "REPORT.md").read_text()
    assert "Not measured yet: `complexity.md`" in text and "None yet: run `python -m bench visual`" in text


def test_times_per_host_when_rows_were_timed_on_several(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    path = results / "kodak" / "rows.csv"
    header, rows = read_csv_rows(path)
    header += [] if "host" in header else ["host"]  # the fixture's rows predate hosts
    write_csv_rows(path, header, [{**r, "host": "aaaaaaaaaaaa" if i % 2 else "bbbbbbbbbbbb"}
                                  for i, r in enumerate(rows)])
    write_report(results, "kodak", tmp_path / "reports", n_boot=20, formats=("png",))
    text = (tmp_path / "reports" / "REPORT.md").read_text()
    assert "### Times per host" in text
    assert "host `aaaaaaaaaaaa` (fingerprint not in the run metadata):" in text
    assert "host `bbbbbbbbbbbb` (fingerprint not in the run metadata):" in text
    # one line per host × codec × point with timed rows
    section = text.split("### Times per host")[1].split("\n### ")[0]
    lines = re.findall(r"^\| [^|]+ \| [^|]+ \| \d+ \| [\d.]+", section, re.M)
    timed = {(i % 2, r["codec"], r["point"]) for i, r in enumerate(rows) if r["status"] == "ok" and r["encode_s"]}
    assert len(lines) == len(timed) > 0


def test_report_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no results"):
        write_report(tmp_path / "nothing", "kodak", tmp_path / "r")
    broken = tmp_path / "reports"
    broken.mkdir()
    (broken / "visual-x.png").write_bytes(b"")
    (broken / "visual-x.json").write_text("{}")
    with pytest.raises(ReportError, match="visual-x.json"):
        write_report(FIXTURE, "kodak", broken, n_boot=20)
    assert sorted(p.name for p in broken.iterdir()) == ["visual-x.json", "visual-x.png"]  # nothing written


def test_export_round_trips_the_means(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    paths = export_results(results, "kodak")
    assert sorted(p.relative_to(results).as_posix() for p in paths) == [
        "kodak/compressai/bmshj2018-factorized.json", "kodak/compressai/jpeg.json"]
    rows = load_rows(FIXTURE / "kodak" / "rows.csv")
    jpeg = rows[rows["codec"] == "jpeg"].groupby("point")[["bpp", "psnr", "ms_ssim", "encode_s"]].mean()
    jpeg = jpeg.sort_values("bpp")
    curve = read_reference(results / "kodak" / "compressai" / "jpeg.json")
    np.testing.assert_allclose(curve.bpp, jpeg["bpp"], rtol=1e-12)
    np.testing.assert_allclose(curve.psnr, jpeg["psnr"], rtol=1e-12)
    np.testing.assert_allclose(curve.ms_ssim, jpeg["ms_ssim"], rtol=1e-12)
    np.testing.assert_allclose(curve.extra["encoding_time"], jpeg["encode_s"], rtol=1e-12)
    assert "decoding_time" in curve.extra
    assert "kodak" in curve.description and "CompressAI's convention" in curve.description
    assert curve.meta["points"] == ["q10", "q20", "q40", "q60", "q80"]
    with pytest.raises(CurveError, match="known|codecs in the results"):
        export_results(results, "kodak", ["webp"])


def test_shipped_reference_data_matches_source_md() -> None:
    source = (REFERENCE / "SOURCE.md").read_text()
    assert "InterDigitalInc/CompressAI" in source and "869a9f5" in source and "results/image/kodak/" in source
    listed = {name: sha for sha, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", source, re.MULTILINE)}
    shipped = sorted(p.relative_to(REFERENCE).as_posix() for p in REFERENCE.rglob("*.json"))
    assert sorted(listed) == shipped
    for name, sha in listed.items():
        assert hashlib.sha256((REFERENCE / name).read_bytes()).hexdigest() == sha
    for key in PUBLISHED:
        curve = published_curve(key)
        assert len(curve.points) == len(curve.bpp) and curve.label.endswith("(published)")


def test_shipped_reference_data_equals_the_shared_copy(shared_dir: Path) -> None:
    folders = {"kodak": "compressai-kodak", "kodak-8bit": "compressai-kodak-8bit"}
    for path in REFERENCE.rglob("*.json"):
        original = shared_dir / "reference" / folders[path.parent.name] / path.name
        assert path.read_bytes() == original.read_bytes()


def test_weights_origin_recognises_zoo_files() -> None:
    assert weights_origin("mbt2018", "lambda0.0067", "22901978" + "0" * 56) == (
        "CompressAI zoo, `mbt2018-3-22901978.pth.tar`")
    assert weights_origin("mbt2018", "lambda0.0067", "f" * 64).endswith("a user checkpoint")
    assert weights_origin("my-codec", "lambda0.0067", "f" * 64).startswith("user checkpoint")


def test_times_only_models_are_listed_labelled_and_never_in_the_curves(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    (results / "full-study").mkdir()
    (results / "full-study" / "random-weights-times.csv").write_text(
        "codec,point,weights,timed_images,encode_s,encode_ci_s,decode_s,decode_ci_s,host\n"
        "mbt2018,lambda0.0483,random,3,7.66192,0.36817,11.6092,1.02782,a66de8d0a2ca\n"
        "bmshj2018-hyperprior,lambda0.0067,random,24,0.551182,0.00744508,0.745652,0.00799703,a66de8d0a2ca\n")
    out = tmp_path / "reports"
    write_report(results, "kodak", out, n_boot=50)
    text = (out / "REPORT.md").read_text()
    section = text[text.index("### Times of the other architectures (random weights: times only)"):]
    section = section[:section.index("\n### ")]
    # milliseconds, ± the CI half-width: 0.551182 s → 551.18, 0.00744508 s → 7.45
    assert "| bmshj2018-hyperprior | lambda0.0067 | 24 | 551.18 ± 7.45 | 745.65 ± 8.00 | a66de8d0a2ca |" in section
    assert "| mbt2018 | lambda0.0483 | 3 | 7661.92 ± 368.17 | 11609.20 ± 1027.82 | a66de8d0a2ca |" in section
    assert section.index("bmshj2018-hyperprior") < section.index("| mbt2018 |")
    assert "mbt2018" not in text[:text.index("### Times of the other architectures")].split("## Rate–distortion")[1]
    assert "no curve or table" in section
    (results / "full-study" / "random-weights-times.csv").write_text("codec,point\nmbt2018\n")
    with pytest.raises(ReportError, match="random-weights-times.csv: not a times-only table"):
        write_report(results, "kodak", out, n_boot=50)
