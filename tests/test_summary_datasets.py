"""``summary`` names the datasets a results folder holds: the others after the table, all of them (and the
nearest name) when the one asked for is not there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.store import datasets_in

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "results" / "kodak"


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "results"
    shutil.copytree(FIXTURE, folder / "kodak")
    shutil.copytree(FIXTURE, folder / "holiday-photos")
    (folder / "not-a-dataset").mkdir()  # no rows.csv
    (folder / "notes.txt").write_text("a file, not a folder")
    return folder


def test_datasets_in_lists_the_folders_with_rows(results, tmp_path):
    assert datasets_in(results) == ["holiday-photos", "kodak"]
    assert datasets_in(tmp_path / "missing") == []


def test_summary_names_the_other_datasets(results, capsys):
    assert main(["summary", "--results", str(results), "--dataset", "kodak"]) == 0
    out = capsys.readouterr().out
    assert "jpeg" in out
    assert out.rstrip().splitlines()[-1] == f"other datasets in {results}/: holiday-photos (--dataset NAME)"


def test_summary_of_a_missing_dataset_lists_those_present(results, capsys):
    assert main(["summary", "--results", str(results), "--dataset", "holiday-photo"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: no results for the dataset 'holiday-photo' in {results}/ (did you mean 'holiday-photos'?); "
                   "datasets there: holiday-photos, kodak (give --dataset NAME)\n")


def test_summary_of_an_empty_folder_says_so(tmp_path, capsys):
    assert main(["summary", "--results", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: no results in {tmp_path}/ (no <dataset>/rows.csv)")
