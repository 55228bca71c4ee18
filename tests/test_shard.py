"""`run --shard i/n` and `merge`: three shards merged equal one local run of the same command."""

from __future__ import annotations

import pytest
from PIL import Image

from bench.core.errors import StoreError
from bench.core.evaluator import in_shard
from bench.core.merge import merge_results
from bench.core.store import ResultStore
from clitools import bench, python
from conftest import image_files, natural_image

RUN = ["run", "--codecs", "jpeg,webp", "--points", "q10,q50,q90", "--repeats", "1", "--jobs", "1",
       "--no-progress"]
RD = ["key", "image", "codec", "point", "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim",
      "ms_ssim_db", "status", "note"]
ROWS = 5 * 2 * 3


@pytest.fixture
def folder(tmp_path):
    return image_files(tmp_path / "photos", [(96, 128)] * 5, prefix="p")


def test_shards_split_every_task_once():
    shares = [[index for index in range(31) if in_shard(index, (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(shares, [])) == list(range(31))
    assert [len(share) for share in shares] == [11, 10, 10]
    assert all(in_shard(index, None) for index in range(5))


def test_three_shards_merged_equal_one_run(folder, tmp_path):
    bench(*RUN, "--data", folder, "--results", tmp_path / "whole").check()
    whole = ResultStore(tmp_path / "whole/photos/rows.csv").frame()
    assert len(whole) == ROWS

    shards = [tmp_path / f"shard{i}" for i in (1, 2, 3)]
    for i, results in enumerate(shards, 1):
        bench(*RUN, "--data", folder, "--results", results, "--shard", f"{i}/3").check()
    sizes = [len(ResultStore(results / "photos/rows.csv").rows()) for results in shards]
    assert sizes == [10, 10, 10]

    done = bench("merge", *shards, "--results", tmp_path / "merged").check()
    assert (done.report.added, done.report.unchanged) == ({"photos": 30}, {"photos": 0})
    assert "30 rows merged" in done.stdout
    merged = ResultStore(tmp_path / "merged/photos/rows.csv").frame()
    a = whole.sort_values("key")[RD].reset_index(drop=True)
    b = merged.sort_values("key")[RD].reset_index(drop=True)
    assert a.equals(b), a.compare(b).to_string()
    assert merged["encode_s"].notna().all()
    assert len(list((tmp_path / "merged/photos/runs").glob("*.json"))) == 3
    assert (tmp_path / "merged/photos/summary.csv").is_file()

    again = bench("merge", *shards, "--results", tmp_path / "merged").check()
    assert (again.report.added, again.report.unchanged) == ({"photos": 0}, {"photos": 30})


def test_merge_refuses_shards_of_other_images(folder, tmp_path):
    bench(*RUN, "--data", folder, "--results", tmp_path / "a", "--shard", "1/2").check()
    (folder / "p0.png").unlink()
    Image.fromarray(natural_image(96, 128, seed=9)).save(folder / "p0.png")
    bench(*RUN, "--data", folder, "--results", tmp_path / "b", "--shard", "2/2").check()
    with pytest.raises(StoreError, match="manifests differ"):
        merge_results([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_a_local_run_never_imports_dask(folder, tmp_path):
    code = ("import sys; from bench.cli import main; main(['run', '--data', sys.argv[1], '--results', sys.argv[2], "
            "'--points', 'q50', '--no-progress']); print(sorted(m for m in sys.modules if m == 'bench.core.cluster' or "
            "m.split('.')[0] in ('dask', 'distributed')))")
    done = python("-c", code, folder, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_scheduler_needs_the_dask_executor(folder, tmp_path):
    done = bench(*RUN, "--data", folder, "--results", tmp_path / "r", "--scheduler", "tcp://127.0.0.1:1")
    assert done.returncode == 2 and "--scheduler needs --executor dask" in done.stderr
    done = bench(*RUN, "--data", folder, "--results", tmp_path / "r", "--shard", "4/3")
    assert done.returncode == 2 and "1 ≤ I ≤ N" in done.stderr
