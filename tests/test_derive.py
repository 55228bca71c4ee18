"""Rows of mbt2018 derived from exact wavefronts (bench.learned.derive, Evaluation._derive).

The reference is CompressAI's own loop on the same random-initialised weights: a run with
``derive=False`` measures every row with it. A derived row must equal that run's row in every RD
column, its bitstream must be the reference's byte for byte, and a derivation that differs anywhere
on the run's sample must stop, leaving every row to the reference.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import natural_image
from PIL import Image

from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.core.sampling import repeatability_sample
from bench.pipeline import CodecRun, Settings, evaluate

torch = pytest.importorskip("torch")
from test_wavefront import LABEL, save_model  # noqa: E402  (torch first)

RD_COLUMNS = ["image", "point", "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db",
              "psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "bpp_estimated", "weights_sha256", "padding", "device", "status"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("derive")
    folder = root / "imgs"
    folder.mkdir()
    for i, (h, w) in enumerate([(64, 96), (64, 96), (64, 96), (96, 64)]):  # 3 landscape, 1 portrait
        Image.fromarray(natural_image(h, w, seed=10 + i)).save(folder / f"im{i}.png")
    return {"folder": folder, "weights": save_model(root, "mbt2018", scale=30.0, N=16, M=24), "root": root}


def mbt2018(weights: Path):
    from bench.learned.weights import Checkpoint, WeightsSource

    source = WeightsSource(checkpoints=(Checkpoint("mbt2018", LABEL, weights),), offline=True)
    return registry.create("mbt2018", {"device": "cpu", "weights": source, "padding": "model"})


def run(setup: dict, name: str, **settings):
    return evaluate(folder_dataset(setup["folder"]), [CodecRun(mbt2018(setup["weights"]), (LABEL,))],
                    setup["root"] / name, Settings(threads=1, progress=False, **settings))


def test_derived_rows_equal_the_references_in_every_column(setup):
    derived, reference = run(setup, "on"), run(setup, "off", derive=False)
    dataset = folder_dataset(setup["folder"])
    from bench.core.screening import prepare_images

    sample = {image.name for image in repeatability_sample(prepare_images(dataset).images)}
    assert len(sample) == 2  # one landscape (round(3/8) = 0, at least one) and the portrait
    rows = derived.rows.set_index("image").sort_index()
    assert derived.derived == 2 and reference.derived == 0
    assert set(rows.index[rows["derived"] == "wavefront-exact"]) == {f"im{i}.png" for i in range(4)} - sample
    assert rows.loc[sorted(sample), "encode_s"].notna().all()  # the sample is timed: the codec's times
    assert rows.loc[rows["derived"] != "", "encode_s"].isna().all()  # derived rows are not
    a = derived.rows.sort_values("image")[RD_COLUMNS].reset_index(drop=True)
    b = reference.rows.sort_values("image")[RD_COLUMNS].reset_index(drop=True)
    assert a.equals(b), (a.compare(b))
    assert (a["status"] == "ok").all() and (a["bytes"] > 0).all()


def test_a_subset_without_sample_images_times_its_first_row_by_the_reference_and_derives_the_rest(setup):
    # --images that leave out the whole repeatability sample: the codec still gets times (its first row of
    # the subset, coded by CompressAI's loop and timed, which also checks the derivation), the rest derived
    from bench.core.screening import prepare_images

    sample = {image.name for image in repeatability_sample(prepare_images(folder_dataset(setup["folder"])).images)}
    subset = tuple(sorted({f"im{i}.png" for i in range(4)} - sample))
    assert len(subset) == 2
    report = run(setup, "subset", images=subset)
    reference = run(setup, "subset-off", images=subset, derive=False)
    assert report.measured == 2 and report.derived == 1
    assert "checked on 1 point(s) of 1 image(s)" in report.derivation[0]
    rows = report.rows.set_index("image").sort_index()
    assert list(rows.index) == list(subset)
    assert rows.loc[subset[0], "derived"] == "" and rows.loc[subset[0], "encode_s"] > 0  # timed
    assert rows.loc[subset[1], "derived"] == "wavefront-exact" and np.isnan(rows.loc[subset[1], "encode_s"])
    a = report.rows.sort_values("image")[RD_COLUMNS].reset_index(drop=True)
    b = reference.rows.sort_values("image")[RD_COLUMNS].reset_index(drop=True)
    assert a.equals(b), a.compare(b)


def test_a_run_resumed_after_its_sample_rows_were_stored_checks_on_a_row_of_its_own(setup):
    from bench.core.screening import prepare_images

    sample = sorted(image.name for image in repeatability_sample(prepare_images(folder_dataset(setup["folder"])).images))
    first = run(setup, "resumed", images=tuple(sample))
    assert first.measured == 2 and first.derived == 0  # nothing left to derive
    second = run(setup, "resumed")
    assert second.measured == 2 and second.derived == 1 and second.reused == 2
    rows = second.rows.set_index("image")
    assert rows["encode_s"].notna().sum() == 3  # the sample's two and the checking row


def test_the_derived_bitstream_is_the_references_byte_for_byte(setup):
    codec = mbt2018(setup["weights"])
    reference, derived = codec.coder(LABEL), codec.derivation(LABEL)
    for seed, size in enumerate([(64, 96), (96, 64), (80, 112)]):
        image = natural_image(*size, seed=seed)
        data = reference.encode(image)
        assert derived.encode(image) == data
        assert np.array_equal(derived.decode(data), reference.decode(data))


def test_a_derivation_that_differs_on_the_sample_stops_and_the_reference_measures_every_row(setup, monkeypatch):
    from bench.learned import wavefront

    original = wavefront.compress_latent

    def perturbed(model, y, params, **kwargs):  # one latent value off by one: another bitstream
        y = y.clone()
        y[0, 0, 0, 0] += 1.0
        return original(model, y, params, **kwargs)

    monkeypatch.setattr(wavefront, "compress_latent", perturbed)
    report = run(setup, "perturbed")
    assert report.derived == 0 and report.measured == 4
    assert (report.rows["derived"] == "").all() and report.rows["encode_s"].notna().all()
    assert len(report.derivation) == 1 and "not derived" in report.derivation[0]


def test_a_stored_derived_row_is_reused_without_timing_and_measured_again_with_derive_off(setup):
    first = run(setup, "again")
    assert first.derived == 2
    second = run(setup, "again")
    assert second.measured == 0 and second.timed == 0 and second.reused == 4
    third = run(setup, "again", derive=False)
    assert third.measured == 2 and third.derived == 0  # the two derived rows, by the reference now
    assert (third.rows["derived"] == "").all() and third.rows["encode_s"].notna().all()


def test_two_processes_derive_the_rows_of_one_while_nothing_is_timed(setup, tmp_path):
    # derived rows are untimed work: with two jobs the scoring processes make them (forked knowing the codec,
    # one torch thread each), the same rows in every column as the run's own process makes with one job
    from bench.core.trace import read_spans

    trace = tmp_path / "spans.txt"
    one, two = run(setup, "one-job"), run(setup, "two-jobs", jobs=2, trace=trace)
    assert one.derived == two.derived == 2
    assert "in 2 processes" in two.derivation[0] and "here" in one.derivation[0]
    columns = [*RD_COLUMNS, "derived"]
    a = one.rows.sort_values("image")[columns].reset_index(drop=True)
    b = two.rows.sort_values("image")[columns].reset_index(drop=True)
    assert a.equals(b), a.compare(b)
    spans = read_spans(trace)
    timed = [(began, ended) for _, kind, began, ended in spans if kind == "timed"]
    untimed = [(pid, began, ended) for pid, kind, began, ended in spans if kind == "untimed"]
    # the sample's 2 rows timed here, alone; the 2 derived rows made in the other processes, after them
    assert len(timed) == 2 and {pid for pid, kind, *_ in spans if kind == "timed"} == {os.getpid()}
    assert len(untimed) == 2 and os.getpid() not in {pid for pid, *_ in untimed}
    assert all(max(a, c) >= min(b, d) for a, b in timed for _, c, d in untimed), "a derived row beside a timed call"
