"""A curve is a codec with its identity: rows of other settings are kept, counted, never averaged.

Every rows.csv here is written by a real run (JPEG, WebP, and a small random-weight factorized-prior model
on CPU); where a second setting cannot be produced here (another Pillow), a copy of the real rows with
another codec hash and its run file with another Pillow version stands in for it. Means are checked
against a hand computation from the CSV.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import PIL
import pytest
from PIL import Image

from bench.analysis.export import export_compressai
from bench.analysis.summary import summarize
from bench.core.errors import StoreError
from bench.core.identity import IdentityError, current_rows
from bench.core.manifest import load_current_rows
from bench.core.merge import merge_results
from bench.core.store import load_rows
from clitools import bench
from conftest import image_files, natural_image, read_csv_rows, write_csv_rows

ARCH = "bmshj2018-factorized"
LABEL = "lambda0.0130"
JPEG_RUN = ["run", "--codecs", "jpeg,webp", "--points", "q10,q50", "--repeats", "1", "--jobs", "1",
            "--no-progress"]
OLD_RUN = "20000101T000000Z-000000"
OLD_HASH = "0123456789abcdef"


def save_model(path: Path, seed: int) -> Path:
    """A random-initialised N=16/M=24 factorized prior saved like a trained one."""
    import torch

    from bench.learned import zoo

    torch.manual_seed(seed)
    model = zoo.model_class(ARCH)(N=16, M=24).eval()
    with torch.no_grad():
        model.g_a[-1].weight.mul_(30)
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


def learned_run(folder: Path, results: Path, checkpoint: Path, padding: str, *extra: str) -> str:
    done = bench("run", "--data", folder, "--results", results, "--codecs", ARCH,
                 "--checkpoint", f"{ARCH}:{LABEL}={checkpoint}", "--device", "cpu", "--repeats", "1",
                 "--codec-args", f"{ARCH}:padding={padding}", "--weights-cache", results / "cache",
                 "--no-progress", *extra).check()
    return done.stdout


def summary_lines(stdout: str, codec: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.startswith(codec + " ")]


# --- JPEG: a newer Pillow ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pillows(tmp_path_factory) -> Path:
    """A real JPEG+WebP run on two images, then the same rows as if measured before under Pillow 12.0.0."""
    root = tmp_path_factory.mktemp("pillows")
    folder = image_files(root / "photos", [(96, 128), (128, 96)], prefix="p")
    bench(*JPEG_RUN, "--data", folder, "--results", root / "results").check()
    data = root / "results" / "photos"
    header, rows = read_csv_rows(data / "rows.csv")
    (run_file,) = (data / "runs").glob("*.json")
    meta = json.loads(run_file.read_text())
    meta["run_id"] = OLD_RUN
    meta["codecs"]["jpeg"]["hash"] = OLD_HASH
    meta["codecs"]["jpeg"]["identity"]["pillow"] = "12.0.0"
    (data / "runs" / f"{OLD_RUN}.json").write_text(json.dumps(meta))
    old = [{**row, "key": row["key"] + "old", "run_id": OLD_RUN, "codec_hash": OLD_HASH,
            "bpp": repr(1.25 * float(row["bpp"])), "psnr": repr(float(row["psnr"]) - 2.0)}
           for row in rows if row["codec"] == "jpeg"]
    write_csv_rows(data / "rows.csv", header, old + rows)  # the older rows first in the file, as they would be
    return root


def test_summary_averages_the_latest_identity_only(pillows: Path) -> None:
    data = pillows / "results" / "photos"
    rows = pd.read_csv(data / "rows.csv")
    new = rows[(rows["codec"] == "jpeg") & (rows["run_id"] != OLD_RUN)]
    done = bench("summary", "--results", pillows / "results", "--dataset", "photos").check()
    lines = {fields[1]: fields for fields in summary_lines(done.stdout, "jpeg")}
    assert set(lines) == {"q10", "q50"}
    for point, fields in lines.items():
        mine = new[new["point"] == point]
        assert fields[2] == "2" and fields[5] == "2"  # n of bpp and of PSNR: two images, not four
        assert float(fields[4]) == pytest.approx(mine["bpp"].mean(), abs=5e-5)
        assert float(fields[6]) == pytest.approx(mine["psnr"].mean(), abs=5e-4)
    assert (f"jpeg: 4 rows of other settings kept, not averaged (differs: pillow 12.0.0 → {PIL.__version__})"
            in done.stdout.splitlines())
    assert "webp:" not in done.stdout  # webp has one identity
    table = summarize(load_rows(data / "rows.csv")).set_index(["codec", "point"])
    assert table.loc[("jpeg", "q50"), "bpp"] == pytest.approx(new[new["point"] == "q50"]["bpp"].mean(), rel=1e-12)
    assert table.loc[("jpeg", "q50"), "images"] == 2


def test_another_identity_is_chosen_by_its_hash(pillows: Path) -> None:
    data = pillows / "results" / "photos"
    rows = pd.read_csv(data / "rows.csv")
    old = rows[rows["run_id"] == OLD_RUN]
    done = bench("summary", "--results", pillows / "results", "--dataset", "photos",
                 "--identity", f"jpeg={OLD_HASH[:6]}").check()
    q10 = {fields[1]: fields for fields in summary_lines(done.stdout, "jpeg")}["q10"]
    assert q10[2] == "2" and float(q10[4]) == pytest.approx(old[old["point"] == "q10"]["bpp"].mean(), abs=5e-5)
    assert "jpeg: 4 rows of other settings kept, not averaged (differs: pillow" in done.stdout
    listed = bench("summary", "--results", pillows / "results", "--dataset", "photos",
                   "--identities").check()
    jpeg = [line.split() for line in listed.stdout.splitlines() if line.startswith("jpeg ")]
    new_hash = str(rows[(rows["codec"] == "jpeg") & (rows["run_id"] != OLD_RUN)]["codec_hash"].iloc[0])
    assert [fields[:7] for fields in jpeg] == [["jpeg", new_hash, "—", "yes", "4", "2", "1"],
                                              ["jpeg", OLD_HASH, "—", "no", "4", "2", "1"]]
    assert jpeg[1][7] == OLD_RUN and " ".join(jpeg[1][8:]) == f"pillow 12.0.0 → {PIL.__version__}"
    wrong = bench("summary", "--results", pillows / "results", "--dataset", "photos",
                  "--identity", "jpeg=ffff")
    assert wrong.returncode != 0 and "no identities of jpeg start with 'ffff'" in wrong.stderr


def test_bd_rate_report_and_export_use_the_current_identity(pillows: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(pillows / "results", results)
    data = results / "photos"
    rows = load_rows(data / "rows.csv")
    with pytest.raises(IdentityError, match=r"mix settings of jpeg: 4 rows .*codec hash 0123456789abcdef"):
        export_compressai(rows, tmp_path / "mixed")  # rows that mix identities are refused
    assert not (tmp_path / "mixed").exists()
    done = bench("export", "--results", results, "--dataset", "photos").check()
    assert "other settings" in done.stderr or "other settings" in done.stdout
    exported = json.loads((data / "compressai" / "jpeg.json").read_text())
    new = rows[(rows["codec"] == "jpeg") & (rows["run_id"] != OLD_RUN)]
    expected = new.groupby("point")["bpp"].mean()
    assert exported["results"]["bpp"] == pytest.approx(sorted(expected), rel=1e-12)
    assert exported["meta"]["images"] == [2, 2]
    report = bench("report", "--results", results, "--dataset", "photos", "--reports",
                   tmp_path / "reports", "--anchor", "webp", "--bootstrap", "20")
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "reports" / "REPORT.md").read_text()
    assert "- Not in this report: jpeg: 4 rows of other settings kept, not averaged (differs: pillow" in text
    assert "rows.csv away" not in report.stderr + report.stdout


# --- learned: padding, a checkpoint retrained at the same path, merge -------------------------------


@pytest.fixture(scope="module")
def one_image(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one") / "one"
    folder.mkdir()
    Image.fromarray(natural_image(48, 80, seed=5)).save(folder / "im.png")
    return folder


def test_padding_then_a_retrained_checkpoint(one_image: Path, tmp_path: Path) -> None:
    checkpoint = save_model(tmp_path / "model.pth", seed=0)
    results = tmp_path / "results"
    learned_run(one_image, results, checkpoint, "model")
    out = learned_run(one_image, results, checkpoint, "eval_model")
    rows = pd.read_csv(results / "one" / "rows.csv")
    assert len(rows) == 2 and rows["codec_hash"].nunique() == 2
    latest = rows.iloc[-1]  # file order: the runs may share their first second
    (fields,) = summary_lines(out, ARCH)
    assert fields[2] == "1" and float(fields[4]) == pytest.approx(latest["bpp"], abs=5e-5)  # not the mean of both
    assert f"{ARCH}: 1 row of other settings kept, not averaged (differs: padding model → eval_model)" in out
    summary = pd.read_csv(results / "one" / "summary.csv")
    assert summary["images"].tolist() == [1] and summary["bpp"].iloc[0] == pytest.approx(latest["bpp"], rel=1e-5)

    save_model(checkpoint, seed=1)  # retrained, saved at the same path
    out = learned_run(one_image, results, checkpoint, "eval_model")
    rows = pd.read_csv(results / "one" / "rows.csv")
    assert len(rows) == 3 and rows["weights_sha256"].nunique() == 2
    newest = rows.iloc[-1]
    (fields,) = summary_lines(out, ARCH)
    assert fields[2] == "1" and float(fields[4]) == pytest.approx(newest["bpp"], abs=5e-5)
    older = rows.iloc[1]
    assert (f"{ARCH}: 2 rows of other settings kept, not averaged (differs: padding model → eval_model; weights of "
            f"{LABEL} {older['weights_sha256'][:8]} → {newest['weights_sha256'][:8]})") in out
    current = load_current_rows(results / "one")
    assert len(current.rows) == 1 and len(current.other) == 2


def test_merge_refuses_shards_of_other_settings(tmp_path: Path) -> None:
    folder = image_files(tmp_path / "two", [(48, 80), (64, 64)], prefix="s")
    checkpoint = save_model(tmp_path / "model.pth", seed=0)
    learned_run(folder, tmp_path / "a", checkpoint, "model", "--shard", "1/2")
    learned_run(folder, tmp_path / "b", checkpoint, "eval_model", "--shard", "2/2")
    done = bench("merge", tmp_path / "a", tmp_path / "b", "--results", tmp_path / "merged")
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    assert message.count("\n") == 0 and f"{ARCH}:" in message and "padding model → eval_model" in message
    assert not (tmp_path / "merged").exists()


def test_merge_refuses_shards_timed_on_other_hosts(tmp_path: Path) -> None:
    folder = image_files(tmp_path / "photos", [(64, 80)] * 3, prefix="p")
    for i, name in ((1, "a"), (2, "b")):
        bench(*JPEG_RUN, "--data", folder, "--results", tmp_path / name, "--shard", f"{i}/2").check()
    path = tmp_path / "b" / "photos" / "rows.csv"
    header, rows = read_csv_rows(path)
    write_csv_rows(path, header, [{**row, "host": "0000feedbeef"} for row in rows])  # as if timed elsewhere
    with pytest.raises(StoreError, match=r"^jpeg: .* on host 0000feedbeef; times of other machines"):
        merge_results([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    report = merge_results([tmp_path / "a", tmp_path / "b"], tmp_path / "merged", mixed_hosts=True)
    assert report.added["photos"] == 3 * 2 * 2


# --- NaN and inf ------------------------------------------------------------------------------------


def test_inf_and_nan_metrics_are_neither_counted_nor_averaged(tmp_path: Path) -> None:
    folder = image_files(tmp_path / "mixed", [(96, 128), (128, 96)], prefix="c")
    grey = natural_image(96, 96, seed=3).mean(axis=2).astype(np.uint8)
    Image.fromarray(grey, mode="L").save(folder / "grey.png")
    bench(*JPEG_RUN, "--data", folder, "--results", tmp_path / "results").check()
    path = tmp_path / "results" / "mixed" / "rows.csv"
    header, rows = read_csv_rows(path)
    greys = [row for row in rows if row["image"] == "grey.png" and row["codec"] == "jpeg"]
    assert greys and all(math.isinf(float(row["psnr_u"])) for row in greys)  # a grey image's chroma is exact
    hole = next(row for row in rows if row["image"] == "c0.png" and row["codec"] == "jpeg" and row["point"] == "q50")
    hole["psnr"] = ""  # a metric that could not be computed
    write_csv_rows(path, header, rows)

    table = summarize(load_rows(path)).set_index(["codec", "point"])
    frame = pd.read_csv(path)
    for point in ("q10", "q50"):
        line = table.loc[("jpeg", point)]
        mine = frame[(frame["codec"] == "jpeg") & (frame["point"] == point)]
        colour = mine[mine["image"] != "grey.png"]
        assert line.images == 3 and line.bpp == pytest.approx(mine["bpp"].mean(), rel=1e-12)
        assert (line.psnr_u_images, line.psnr_v_images, line.psnr_yuv_images) == (2, 2, 2)
        assert line.psnr_u == pytest.approx(colour["psnr_u"].mean(), rel=1e-12)
        assert line.psnr_yuv == pytest.approx(colour["psnr_yuv"].mean(), rel=1e-12)
        assert line.ycbcr_images == 3 and line.psnr_y == pytest.approx(mine["psnr_y"].mean(), rel=1e-12)
        with_psnr = mine[mine["psnr"].notna()]
        assert line.psnr_images == len(with_psnr) == (2 if point == "q50" else 3)
        assert line.psnr == pytest.approx(with_psnr["psnr"].mean(), rel=1e-12)
    done = bench("summary", "--results", tmp_path / "results", "--dataset", "mixed").check()
    q50 = {fields[1]: fields for fields in summary_lines(done.stdout, "jpeg")}["q50"]
    assert (q50[2], q50[5]) == ("3", "2")  # n of bpp, n of PSNR
    assert current_rows(load_rows(path))[1].empty  # one identity: nothing left out
