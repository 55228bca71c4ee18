import json
import shutil

import pytest
from PIL import Image

from bench.core.store import ResultStore
from clitools import bench
from conftest import closed_port_url, natural_image


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_codec_names_the_known_ones(tmp_path):
    result = bench("run", "--codecs", "jpg", "--results", str(tmp_path))
    assert_one_line_error(result, "unknown codec 'jpg'", "jpeg")


def test_offline_kodak_is_one_line_saying_how_to_use_a_local_copy(tmp_path):
    env = {"BENCH_KODAK_DIR": "", "BENCH_CACHE_DIR": str(tmp_path / "cache"), "BENCH_KODAK_URL": closed_port_url()}
    result = bench("run", "--codecs", "jpeg", "--results", str(tmp_path), "--no-progress", env=env)
    assert_one_line_error(result, "kodim01.png", "--kodak-dir")
    assert "Traceback" not in result.stderr


def test_bad_file_in_a_folder_is_named(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    Image.fromarray(natural_image(200, 200)).save(folder / "good.png")
    (folder / "broken.png").write_bytes(b"not a png")
    result = bench("run", "--data", str(folder), "--results", str(tmp_path / "r"), "--no-progress", "--strict")
    assert_one_line_error(result, "broken.png", "--strict")
    assert not (tmp_path / "r").exists()  # refused before anything was written
    measured = bench("run", "--data", str(folder), "--results", str(tmp_path / "r"), "--no-progress",
                     "--repeats", "1")  # one timed call a row: the skipped file is the point
    assert measured.returncode == 0, measured.stderr
    assert "broken.png: not a readable PNG" in measured.stderr
    assert set(ResultStore(tmp_path / "r/data/rows.csv").frame().image) == {"good.png"}


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    result = bench("run", "--data", str(tmp_path / "empty"), "--results", str(tmp_path / "r"))
    assert_one_line_error(result, "empty")


def test_run_prints_summary_and_writes_files(image_folder, tmp_path):
    result = bench("run", "--data", str(image_folder), "--points", "q20,q80", "--results", str(tmp_path),
                   "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "q20" in result.stdout and "q80" in result.stdout and "MS-SSIM" in result.stdout
    assert (tmp_path / "synthetic/rows.csv").exists() and (tmp_path / "synthetic/summary.csv").exists()
    again = bench("summary", "--results", str(tmp_path), "--dataset", "synthetic")
    assert again.returncode == 0 and "q80" in again.stdout
    rows = ResultStore(tmp_path / "synthetic/rows.csv").frame()
    assert set(rows.allocator) == {"system"}  # the default heap policy (what users get), recorded per row
    caching = bench("run", "--data", str(image_folder), "--points", "q20,q80", "--results", str(tmp_path),
                    "--no-progress", "--allocator", "caching")  # another heap policy: timed again, RD kept
    assert caching.returncode == 0, caching.stderr
    report = caching.report
    assert (report.measured, report.timed, report.reused, report.timed_now) == (0, 6, 0, 6)
    assert "6 re-timed" in caching.stdout
    assert set(ResultStore(tmp_path / "synthetic/rows.csv").frame().allocator) == {"caching"}


def test_bad_point_label_is_refused(image_folder, tmp_path):
    result = bench("run", "--data", str(image_folder), "--points", "q0", "--results", str(tmp_path))
    assert_one_line_error(result, "q1 … q100")


def test_train_is_a_subcommand_passing_every_argument_through(capsys, tmp_path):
    from bench.cli import main
    from bench.learned.train.__main__ import main as train_main

    args = ["config", "--arch", "bmshj2018-factorized", "--batch-size", "3", "--no-progress"]
    assert train_main(args) == 0
    direct = capsys.readouterr().out
    assert main(["train", *args]) == 0
    through = capsys.readouterr().out
    assert through == direct and json.loads(through)["settings"]["batch_size"] == 3
    assert main(["train", "specs", str(tmp_path / "none")]) == 2  # errors go through the one wrapper
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'none'}: no such folder of exported models")


def test_run_main_turns_errors_into_exit_statuses(capsys):
    from bench.cli import run_main
    from bench.core.errors import DatasetError

    def fail():
        raise DatasetError("no images; give --data DIR")

    def interrupt():
        raise KeyboardInterrupt

    assert run_main(lambda: 0) == 0 and run_main(lambda: 1) == 1
    assert run_main(fail) == 2 and capsys.readouterr().err == "error: no images; give --data DIR\n"
    assert run_main(interrupt, interrupted="stopped; rerun to resume") == 130
    assert capsys.readouterr().err == "\nstopped; rerun to resume\n"
    with pytest.raises(ValueError):  # a bug is not a user error: its traceback stays
        run_main(lambda: int("x"))


def test_results_commands_take_the_only_dataset_there(tmp_path):
    """After `run --data photos`, summary, bd-rate and export read results/photos without --dataset."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(48, 64), (64, 48)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(photos / f"p{i}.png")
    results = tmp_path / "results"
    done = bench("run", "--data", str(photos), "--codecs", "jpeg,webp", "--points", "q20,q40,q60,q80",
                 "--results", str(results), "--no-progress", "--jobs", "1", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    summary = bench("summary", "--results", str(results))
    assert summary.returncode == 0 and "dataset: photos (the only one in" in summary.stderr
    assert {"jpeg", "webp"} <= {line.split()[0] for line in summary.stdout.splitlines() if line.strip()}
    rated = bench("bd-rate", "--results", str(results), "--reports", str(tmp_path / "reports"), "--anchor", "jpeg")
    assert rated.returncode == 0, rated.stderr
    assert "photos" in (tmp_path / "reports" / "bd-rate.csv").read_text().splitlines()[1]
    exported = bench("export", "--results", str(results))
    assert exported.returncode == 0 and (results / "photos" / "compressai").is_dir()

    shutil.copytree(results / "photos", results / "more")
    assert_one_line_error(bench("bd-rate", "--results", str(results)), "holds several datasets and no kodak: more, photos",
                          "--dataset NAME")
