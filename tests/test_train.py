"""bench.learned.train: the recipe's pipeline end to end, exact resume, exports the benchmark loads, bad input.

Tiny models (FactorizedPrior N=16, M=24), 64×64 crops and a few dozen steps keep this fast; the real
bitstream is checked against the estimate with the harness's own loader and against CompressAI's
``eval_model`` in a separate process.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench.core.images import load_rgb
from bench.learned.train import TrainConfig, TrainError, checkpoint_specs, load_config, run_schedule, train_stage
from bench.learned.train.__main__ import main as train_main
from bench.learned.train.curves import append_log_row, read_log, write_all_curves
from bench.learned.train.data import VIMEO_FRAMES, EpochBatches, TrainCrops, ValCrops, open_data
from bench.learned.train.checkpoints import load_checkpoint
from bench.learned.train.loop import _check_loss, stage_dir
from bench.learned.train.recipe import schedule
from bench.learned.checkpoint import load_model
from bench.learned.weights import Checkpoint, WeightsSource, parse_checkpoint_spec
from conftest import REPO, natural_image

TINY = {"arch": "bmshj2018-factorized", "N": 16, "M": 24, "crop": 64, "batch_size": 2, "val_batch_size": 4,
        "num_workers": 0, "threads": 1, "progress": False, "real_bpp_every": 0, "checkpoint_every": 0}


def _write_images(folder: Path, count: int, size: tuple[int, int] = (80, 96), seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(natural_image(*size, seed=seed + i)).save(folder / f"im{i:02d}.png")
    return folder


@pytest.fixture
def data_dirs(tmp_path: Path) -> tuple[Path, Path]:
    return _write_images(tmp_path / "train", 8), _write_images(tmp_path / "val", 2, seed=50)


def tiny(tmp_path: Path, data: tuple[Path, Path], **changes) -> TrainConfig:
    settings = {**TINY, "train": str(data[0]), "val": str(data[1]), "out": str(tmp_path / "runs"),
                "reports": str(tmp_path / "reports"), **changes}
    return TrainConfig(**settings)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# --------------------------------------------------------------------------- end to end


def test_small_config_end_to_end(tmp_path: Path, shared_dir: Path, eval_model_module, capsys) -> None:
    """The small CPU configuration, shrunk: loss falls, real bpp ≈ estimate, the export loads everywhere."""
    bsds = shared_dir / "data" / "bsds500"
    config = load_config(
        REPO / "configs" / "train-small-cpu.json",
        train=str(bsds / "train"), val=str(bsds / "val"), out=str(tmp_path / "runs"),
        reports=str(tmp_path / "reports"), N=16, M=24, crop=64, batch_size=4, lr=1e-3, steps_per_epoch=8,
        pretrain_epochs=3, finetune_epochs=1, finetune_lambdas=[0.013], max_val_images=4, real_bpp_images=2,
        real_bpp_every=0, num_workers=0, progress=False, checkpoint_every=0,
    )
    results = run_schedule(config)
    assert [(r.stage, r.status) for r in results] == [("pretrain", "complete"), ("finetune-lambda0.0130", "complete")]

    pretrain = read_log(stage_dir(config, "pretrain") / "log.csv")
    assert list(pretrain["epoch"]) == [1, 2, 3]
    assert pretrain["train_loss"].iloc[-1] < 0.8 * pretrain["train_loss"].iloc[0]
    assert pretrain["val_loss"].iloc[-1] < pretrain["val_loss"].iloc[0]
    assert (tmp_path / "reports" / "training-bmshj2018-factorized_N16-M24-pretrain.png").is_file()

    export = results[-1].export
    assert export is not None and export.name == "bmshj2018-factorized_N16-M24_lambda0.0130.pth"
    sidecar = json.loads(export.with_suffix(".json").read_text())
    assert (sidecar["arch"], sidecar["N"], sidecar["M"], sidecar["lambda"], sidecar["label"]) == (
        "bmshj2018-factorized", 16, 24, 0.013, "lambda0.0130")

    # a plain state dict (weights_only), loaded by the harness with channels inferred
    state = torch.load(export, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    [spec] = checkpoint_specs(export.parent)
    ckpt = parse_checkpoint_spec(spec)
    assert (ckpt.arch, ckpt.point, ckpt.path) == ("bmshj2018-factorized", "lambda0.0130", export.resolve())
    loaded = load_model(ckpt.arch, ckpt.point, WeightsSource(checkpoints=(Checkpoint(ckpt.arch, ckpt.point, export),)))
    assert loaded.config == {"N": 16, "M": 24}

    # real bitstream vs estimate on two full validation images, computed here independently
    real = estimated = pixels = 0.0
    for path in sorted((bsds / "val").glob("*.jpg"))[:2]:
        x = torch.from_numpy(load_rgb(path).pixels).permute(2, 0, 1).float().div(255)[None]
        h, w = x.shape[-2:]
        xp = F.pad(x, (0, -w % 64, 0, -h % 64), mode="replicate")
        with torch.no_grad():
            likelihoods = loaded.model(xp)["likelihoods"].values()
            estimated += float(sum(-torch.log2(v).sum() for v in likelihoods))
            real += 8 * sum(len(s) for strings in loaded.model.compress(xp)["strings"] for s in strings)
        pixels += h * w
    assert abs(real / estimated - 1) < 0.03, (real / pixels, estimated / pixels)
    final = read_log(stage_dir(config, "finetune-lambda0.0130") / "log.csv").iloc[-1]
    assert abs(final["real_bpp"] / final["real_bpp_estimated"] - 1) < 0.03

    # CompressAI's own evaluation reads the export
    images = tmp_path / "eval-images"
    _write_images(images, 1, size=(192, 192), seed=7)
    capsys.readouterr()
    eval_model_module.main(["checkpoint", str(images), "-a", "bmshj2018-factorized", "-p", str(export)])
    printed = capsys.readouterr().out
    output = json.loads(printed[printed.index("{"):])
    assert all(math.isfinite(v) and v > 0 for v in output["results"]["bpp"])

    # a second run finds everything done and changes nothing
    before = export.read_bytes()
    again = run_schedule(config)
    assert [r.status for r in again] == ["done", "done"] and export.read_bytes() == before


# --------------------------------------------------------------------------- resume


def _states(config: TrainConfig, stage: str = "pretrain") -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(stage_dir(config, stage) / "checkpoint.pt")
    tensors = {f"model.{k}": v for k, v in ckpt["model"].items()}
    for name in ("optimizer", "aux_optimizer"):
        for pid, state in ckpt[name]["state"].items():
            tensors.update({f"{name}.{pid}.{k}": torch.as_tensor(v) for k, v in state.items()})
    return tensors


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]


def test_resume_gives_identical_weights(tmp_path: Path, data_dirs: tuple[Path, Path]) -> None:
    settings = {"pretrain_epochs": 2, "steps_per_epoch": 3, "hflip": True, "lr": 1e-3}
    straight = tiny(tmp_path / "a", data_dirs, **settings)
    assert train_stage(straight, "pretrain").steps == 6

    halves = tiny(tmp_path / "b", data_dirs, **settings)
    stopped = train_stage(halves, "pretrain", stop_after=4)  # in the middle of the second epoch
    assert (stopped.status, stopped.epoch, stopped.step) == ("stopped", 1, 1)
    resumed = train_stage(halves, "pretrain")
    assert (resumed.status, resumed.steps) == ("complete", 6)
    _assert_same(_states(straight), _states(halves))
    log_a = read_log(stage_dir(straight, "pretrain") / "log.csv").drop(columns=["epoch_s", "time"])
    log_b = read_log(stage_dir(halves, "pretrain") / "log.csv").drop(columns=["epoch_s", "time"])
    assert log_a.equals(log_b)

    # worker processes load the same batches
    workers = tiny(tmp_path / "c", data_dirs, **settings, num_workers=2)
    train_stage(workers, "pretrain")
    _assert_same(_states(straight), _states(workers))


# --------------------------------------------------------------------------- Vimeo-90k layout


def test_vimeo_one_frame_per_folder_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "vimeo"
    folders = ["00001/0001", "00001/0002", "00002/0001"]
    for f, name in enumerate([*folders, "00003/0001"]):
        for k, frame in enumerate(VIMEO_FRAMES):
            (root / "sequences" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(natural_image(72, 88, seed=10 * f + k)).save(root / "sequences" / name / frame)
    (root / "sep_trainlist.txt").write_text("\n".join(folders) + "\n")
    (root / "sep_testlist.txt").write_text("00003/0001\n")
    config = TrainConfig(train=str(root), crop=64, batch_size=1)
    train, val = open_data(config)
    assert [g.name for g in train.groups] == folders and [g.name for g in val.groups] == ["00003/0001"]
    assert ValCrops(val, 64, 0).path(0).parent.name == "0001"

    crops = TrainCrops(train, 64, seed=0)
    sampler = EpochBatches(len(crops), 1, seed=0)
    frames_by_epoch = []
    for epoch in range(4):
        sampler.epoch = epoch
        keys = [key for batch in sampler for key in batch]
        assert sorted(i for _, i in keys) == [0, 1, 2]  # each folder once per epoch
        chosen = {i: crops.choice(epoch, i) for _, i in keys}
        for i, c in chosen.items():
            assert c.path.parent.relative_to(root / "sequences").as_posix() == folders[i]
            # the sample is exactly the crop of the chosen frame
            pixels = np.asarray(Image.open(c.path))[c.top:c.top + 64, c.left:c.left + 64]
            assert torch.equal(crops[(epoch, i)], torch.from_numpy(pixels.copy()).permute(2, 0, 1).float() / 255)
        frames_by_epoch.append(tuple(chosen[i].path.name for i in range(3)))
    # deterministic: another dataset object with the same seed chooses the same
    again = TrainCrops(train, 64, seed=0)
    assert all(again.choice(e, i) == crops.choice(e, i) for e in range(4) for i in range(3))
    assert len(set(frames_by_epoch)) > 1  # the frame changes across epochs
    other_seed = TrainCrops(train, 64, seed=1)
    assert any(other_seed.choice(e, i) != crops.choice(e, i) for e in range(4) for i in range(3))


# --------------------------------------------------------------------------- bad input


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainError) as exc:
        open_data(TrainConfig(train=str(tmp_path / "empty"), crop=64, batch_size=1))
    assert "no image files" in _one_line(exc)


def test_damaged_image_is_one_line_even_from_a_worker(tmp_path: Path, data_dirs: tuple[Path, Path]) -> None:
    damaged = data_dirs[0] / "im03.png"
    damaged.write_bytes(damaged.read_bytes()[:400])  # the header still reads, the pixels do not
    with pytest.raises(TrainError) as exc:
        train_stage(tiny(tmp_path, data_dirs, pretrain_epochs=1, num_workers=1), "pretrain")
    assert _one_line(exc).startswith(f"{damaged}: cannot decode it")


def test_small_images_skipped_or_padded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = _write_images(tmp_path / "mixed", 4)
    for i in range(2):
        Image.fromarray(natural_image(40, 100, seed=20 + i)).save(folder / f"small{i}.png")
    val = _write_images(tmp_path / "val", 1)
    with caplog.at_level(logging.WARNING, logger="bench.learned.train.data"):
        train, _ = open_data(TrainConfig(train=str(folder), val=str(val), crop=64, batch_size=1))
    assert len(train) == 4 and "2 of 6 images are smaller than the 64×64 crop and are skipped" in caplog.text
    train, _ = open_data(TrainConfig(train=str(folder), val=str(val), crop=64, batch_size=1, small_images="pad"))
    assert len(train) == 6 and train.padded == 2
    crops = TrainCrops(train, 64, seed=0)
    assert all(crops[(0, i)].shape == (3, 64, 64) for i in range(6))
    with pytest.raises(TrainError) as exc:
        open_data(TrainConfig(train=str(folder), val=str(val), crop=128, batch_size=1))
    assert "smaller than the 128×128 crop" in _one_line(exc) and "pad" in str(exc.value)


def test_unknown_architecture_lists_known(tmp_path: Path) -> None:
    with pytest.raises(TrainError) as exc:
        TrainConfig(arch="bmshj2018")
    assert "bmshj2018-factorized, bmshj2018-factorized-relu, bmshj2018-hyperprior" in _one_line(exc)
    code = train_main(["config", "--arch", "nope"])
    assert code == 2


def test_exploding_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path, data_dirs: tuple[Path, Path]) -> None:
    config = tiny(tmp_path, data_dirs, pretrain_epochs=3, steps_per_epoch=4, checkpoint_every=1, lr=50.0,
                  clip_max_norm=0.0)
    with pytest.raises(TrainError) as exc:
        train_stage(config, "pretrain")
    message = _one_line(exc)
    assert ("exploded" in message or "nan" in message.lower() or "not finite" in message) and "last good" in message
    ckpt = load_checkpoint(stage_dir(config, "pretrain") / "checkpoint.pt")
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert f"epoch {ckpt['epoch'] + 1}, batch {ckpt['step']}" in message
    # a finite loss far above the recent ones stops the same way
    with pytest.raises(TrainError) as exc:
        _check_loss(5e3, deque([3.0, 2.0, 1.0]), config, schedule(config)[0], 0, 3, tmp_path / "none.pt")
    assert "loss exploded to 5000 (median of the last 3 steps 2)" in _one_line(exc)
    assert "no checkpoint had been written yet" in str(exc.value)


def test_resume_from_another_architecture(tmp_path: Path, data_dirs: tuple[Path, Path]) -> None:
    factorized = tiny(tmp_path, data_dirs, pretrain_epochs=1)
    train_stage(factorized, "pretrain", stop_after=1)
    hyper = tiny(tmp_path, data_dirs, pretrain_epochs=1, arch="bmshj2018-hyperprior")
    source = stage_dir(factorized, "pretrain") / "checkpoint.pt"
    with pytest.raises(TrainError) as exc:
        train_stage(hyper, "pretrain", resume_from=source)
    assert "checkpoint of bmshj2018-factorized (N=16, M=24), not of bmshj2018-hyperprior" in _one_line(exc)
    with pytest.raises(TrainError) as exc:
        train_stage(hyper, "finetune-lambda0.0130", init_from=source)
    assert "not of bmshj2018-hyperprior" in _one_line(exc)
    # the same architecture with other settings is refused too, naming them
    with pytest.raises(TrainError) as exc:
        train_stage(factorized.replace(batch_size=4), "pretrain")
    assert "batch_size: 2 → 4" in _one_line(exc)


def test_kodak_refused_unless_allowed(tmp_path: Path, shared_dir: Path) -> None:
    train = _write_images(tmp_path / "train", 2)
    resaved = Image.open(shared_dir / "data" / "kodak" / "kodim05.png")
    resaved.save(train / "holiday.bmp")  # another name and format, same pixels
    with pytest.raises(TrainError) as exc:
        open_data(TrainConfig(train=str(train), crop=64, batch_size=1))
    message = _one_line(exc)
    assert "holiday.bmp = kodim05.png" in message and "--allow-test-set" in message
    train_set, val_set = open_data(TrainConfig(train=str(train), crop=64, batch_size=1, allow_test_set=True))
    assert len(train_set) + len(val_set) == 3


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    code = train_main(["run", "--train", str(tmp_path / "empty"), "--out", str(tmp_path / "runs"),
                       "--crop", "64", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err
    code = train_main(["specs", str(tmp_path / "empty")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no exported models" in err


# --------------------------------------------------------------------------- log and curves


def test_log_survives_a_torn_line_and_curves_regenerate(tmp_path: Path, data_dirs: tuple[Path, Path]) -> None:
    config = tiny(tmp_path, data_dirs, pretrain_epochs=2, steps_per_epoch=1)
    train_stage(config, "pretrain")
    log_path = stage_dir(config, "pretrain") / "log.csv"
    with open(log_path, "a") as fh:
        fh.write("pretrain,0.0483,3,9")  # a row torn by a crash
    assert list(read_log(log_path)["epoch"]) == [1, 2]
    append_log_row(log_path, {"stage": "pretrain", "epoch": 2, "train_loss": 1.0})  # epoch 2 again wins
    frame = read_log(log_path)
    assert list(frame["epoch"]) == [1, 2] and frame["train_loss"].iloc[-1] == 1.0
    shutil.rmtree(tmp_path / "reports", ignore_errors=True)
    [png] = write_all_curves(config.out, tmp_path / "reports")
    assert png.name == "training-bmshj2018-factorized_N16-M24-pretrain.png"
    assert Image.open(png).size == (1300, 400)


def test_the_default_architecture_is_the_one_the_study_trains():
    from bench import study
    from bench.learned.train.recipe import TrainConfig

    config = TrainConfig()
    assert config.arch == study.TRAINED_ARCHITECTURE == "mbt2018"
    assert (config.N, config.M, config.lr, config.lr_gamma, config.batch_size) == (192, 320, 2e-4, 0.999, 64)
