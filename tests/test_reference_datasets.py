"""References carry their dataset: the shipped curves are tagged (Kodak, 24 images); a reference that declares
none is taken with a warning; results over another number of images are refused for BD against a reference
unless --allow-subset, and the RD legends then give each curve's image count."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis import plots
from bench.analysis.curves import PUBLISHED, published_curve
from bench.analysis.refcurves import ReferenceSpecError, reference_curves
from bench.analysis.reference import ReferenceFileError, read_reference, read_reference_csv
from bench.analysis.report import write_report
from bench.cli import main

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "bench" / "data" / "reference"
FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak"
#: Kodak's image count, from the harness's own manifest of the dataset (one line per image after the header).
KODAK_IMAGES = len((REPO / "bench" / "data" / "kodak.tsv").read_text().splitlines()) - 1


def test_every_shipped_curve_is_tagged_kodak_24_images_and_its_numbers_are_still_compressais() -> None:
    assert KODAK_IMAGES == 24
    for key, (relative, _, _) in PUBLISHED.items():
        curve = published_curve(key)
        assert (curve.dataset, curve.dataset_images) == ("kodak", KODAK_IMAGES), key
        read = read_reference(SHIPPED / relative)  # by path, as --reference bench/data/reference/kodak/vtm.json
        assert (read.dataset, read.images) == ("kodak", KODAK_IMAGES), key
        assert "869a9f5" in (read.dataset_source or "") or "SOURCE.md" in (read.dataset_source or ""), key
    # the tag sits beside the files: each JSON is still the byte-for-byte copy whose SHA-256 SOURCE.md lists
    listed = dict(reversed(line.split()) for line in re.findall(r"^[0-9a-f]{64}  \S+$",
                                                                 (SHIPPED / "SOURCE.md").read_text(), re.M))
    assert len(listed) == len(list(SHIPPED.glob("*/*.json"))) == 16
    for relative, digest in listed.items():
        assert hashlib.sha256((SHIPPED / relative).read_bytes()).hexdigest() == digest, relative


def test_a_shipped_file_given_by_path_is_refused_for_results_of_another_dataset() -> None:
    with pytest.raises(ReferenceSpecError) as refused:
        reference_curves([str(SHIPPED / "kodak" / "vtm.json")], "bsds500")
    message = str(refused.value)
    assert "\n" not in message and "'kodak'" in message and "'bsds500'" in message


def test_a_reference_without_a_dataset_gets_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    curve = {"bpp": [0.1, 0.2, 0.4, 0.8], "psnr-rgb": [28, 30, 32, 34]}
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"name": "Bare", "results": curve}))
    tagged = tmp_path / "tagged.json"
    tagged.write_text(json.dumps({"name": "Tagged", "dataset": "kodak", "images": 24, "results": curve}))
    with caplog.at_level(logging.WARNING):
        reference_curves([str(bare), str(tagged)], "kodak")
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and str(bare) in warned[0] and "declares no dataset" in warned[0]


def test_a_folder_tag_applies_to_files_that_declare_nothing_and_is_checked(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("codec,point,bpp,psnr,ms_ssim\nX,p1,0.2,30,\nX,p2,0.4,33,\n")
    (tmp_path / "b.csv").write_text("codec,point,bpp,psnr,ms_ssim,dataset,images\nY,p1,0.2,30,,clic,41\n")
    (tmp_path / "dataset.toml").write_text('dataset = "kodak"\nimages = 24\nsource = "my lab"\n')
    a, = read_reference_csv(tmp_path / "a.csv")
    assert (a.dataset, a.images, a.dataset_source) == ("kodak", 24, "my lab")
    b, = read_reference_csv(tmp_path / "b.csv")  # its own declaration wins over the folder's
    assert (b.dataset, b.images) == ("clic", 41)
    (tmp_path / "dataset.toml").write_text('images = 0\n')
    with pytest.raises(ReferenceFileError, match="dataset.toml"):
        read_reference_csv(tmp_path / "a.csv")


def six_kodak_images(tmp_path: Path) -> Path:
    """A results folder named kodak holding 6 of its 24 images: the fixture's 3 images and 3 more renamed copies."""
    folder = tmp_path / "results" / "kodak"
    shutil.copytree(FIXTURE, folder)
    rows = pd.read_csv(folder / "rows.csv", dtype=str, keep_default_na=False)
    more = rows.assign(image=rows["image"].str.replace("kodim0", "kodim1"), key=rows["key"].str[:-2] + "ff")
    pd.concat([rows, more]).to_csv(folder / "rows.csv", index=False)
    assert pd.read_csv(folder / "rows.csv")["image"].nunique() == 6
    return folder.parent


def test_a_six_image_subset_named_kodak_is_refused_against_the_24_image_references(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = str(six_kodak_images(tmp_path))
    for extra in (["--reference", "published:vtm"], ["--anchor", "published:jpeg"],
                  ["--reference", str(SHIPPED / "kodak" / "hm.json")]):
        capsys.readouterr()
        assert main(["bd-rate", "--results", results, "--reports", str(tmp_path / "bd"), "--bootstrap", "10",
                     *extra]) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "6 of its 24 images" in err and "--allow-subset" in err, err
    assert not (tmp_path / "bd" / "bd-rate.md").exists()
    assert main(["bd-rate", "--results", results, "--reports", str(tmp_path / "bd"), "--bootstrap", "10",
                 "--reference", "published:vtm", "--allow-subset"]) == 0
    assert "published:vtm" in (tmp_path / "bd" / "bd-rate.md").read_text()


def test_with_allow_subset_the_legends_give_each_curves_image_count(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    results = six_kodak_images(tmp_path)
    legends: dict[str, list[str]] = {}
    save = plots.save_figure

    def keep_legend(figure, stem, *args, **kwargs):
        found = [*figure.legends, *(a.get_legend() for a in figure.axes if a.get_legend() is not None)]
        legends[Path(stem).name] = [t.get_text() for legend in found for t in legend.get_texts()]
        return save(figure, stem, *args, **kwargs)

    monkeypatch.setattr(plots, "save_figure", keep_legend)
    with pytest.raises(ReferenceSpecError, match="6 of its 24 images"):
        write_report(results, "kodak", tmp_path / "refused", n_boot=10, references=reference_curves(
            ["published:vtm"], "kodak"), formats=("png",))
    write_report(results, "kodak", tmp_path / "reports", n_boot=10, formats=("png",), allow_subset=True,
                 references=reference_curves(["published:vtm"], "kodak"))
    shown = legends["rd-psnr"]
    assert "jpeg (6 images)" in shown and "bmshj2018-factorized (6 images)" in shown
    assert "jpeg (published, 24 images)" in shown and "vtm (published, 24 images)" in shown
    # a legend text the user gives is kept as given
    write_report(results, "kodak", tmp_path / "labelled", n_boot=10, formats=("png",), allow_subset=True,
                 labels={"jpeg": "JPEG (libjpeg-turbo)"})
    assert "JPEG (libjpeg-turbo)" in legends["rd-psnr"] and "jpeg (published, 24 images)" in legends["rd-psnr"]
