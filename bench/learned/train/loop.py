"""The training loop: one stage at a time, checkpointed, resumable step for step.

A stage lives in ``<out>/<arch>_N<N>-M<M>/<stage>/``: ``checkpoint.pt`` (written atomically every
``checkpoint_every`` steps and at the end of every epoch) and ``log.csv`` (one row per epoch).
Exports of finished fine-tuning stages go to ``<out>/exports/``, curves to ``<reports>/``.

A checkpoint holds the model, both optimizers, the scheduler, the epoch, the batch reached within
the epoch, the epoch's running sums, the RNG states and the configuration; it loads with
``torch.load(weights_only=True)``. Resuming continues exactly: the batches are a function of
(seed, epoch, index) (see :mod:`bench.learned.train.data`), and the quantization noise of each step is drawn
after seeding torch with (seed, epoch, step), so N steps in one go and N/2 + resume + N/2 give the
same weights on the CPU (deterministic algorithms are switched on while training).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import logging
import math
import os
import re
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from bench.learned import zoo
from bench.learned.padding import MODEL, pad_tensor
from bench.learned.train.checkpoints import (
    CHECKPOINT_FORMAT, CHECKPOINT_NAME, check_resumable, init_weights, load_checkpoint, save_checkpoint,
)
from bench.learned.train.curves import append_log_row, curve_name, write_curves
from bench.learned.train.data import EpochBatches, ImageSet, TrainCrops, ValCrops, full_image, open_data
from bench.learned.train.errors import TrainError
from bench.learned.train.export import export_model
from bench.learned.train.recipe import Stage, TrainConfig, run_name, schedule

__all__ = [
    "CHECKPOINT_FORMAT", "StageResult", "build_model", "config_of", "exports_dir", "load_checkpoint",
    "rate_distortion", "real_bpp", "run_schedule", "split_parameters", "stage_dir", "train_stage",
]

log = logging.getLogger(__name__)

LOG_NAME = "log.csv"
PAD_MULTIPLE = 64
_STEP_STREAM = 4  # randomness stream of the per-step torch seed (see bench.learned.train.data)


@dataclass(frozen=True)
class StageResult:
    """What a call to :func:`train_stage` did."""

    stage: str
    status: str
    """``complete`` (trained to the end now), ``done`` (already complete, nothing to do) or ``stopped``."""
    checkpoint: Path
    export: Path | None
    epoch: int
    """Epochs completed."""
    step: int
    """Batches done within the next epoch."""
    steps: int
    """Optimizer steps of the stage so far."""
    last: dict[str, Any]
    """The last logged epoch row (empty if none yet)."""


# --------------------------------------------------------------------------- pieces


def stage_dir(config: TrainConfig, stage: str) -> Path:
    """Folder of one stage of ``config``'s run."""
    return Path(config.out) / run_name(config) / stage


def exports_dir(config: TrainConfig) -> Path:
    """Folder of the exported models (what ``make bench CHECKPOINTS=…`` reads)."""
    return Path(config.out) / "exports"


def build_model(config: TrainConfig) -> torch.nn.Module:
    """A freshly initialised model of ``config``'s architecture and channels."""
    return zoo.model_class(config.arch)(N=config.N, M=config.M)


def split_parameters(model: torch.nn.Module) -> tuple[list[torch.nn.Parameter], list[torch.nn.Parameter]]:
    """(main, auxiliary) parameters: CompressAI's convention puts ``*.quantiles`` in the auxiliary set."""
    main = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith(".quantiles")]
    return main, aux


def rate_distortion(out: dict[str, Any], x: torch.Tensor, lam: float) -> dict[str, torch.Tensor]:
    """``loss = λ·255²·MSE + bpp``, bits from the likelihoods over the batch's pixel count."""
    n, _, h, w = x.shape
    bits = sum(torch.log(v.float()).sum() for v in out["likelihoods"].values()) / -math.log(2)
    bpp = bits / (n * h * w)
    mse = F.mse_loss(out["x_hat"].float(), x)
    return {"loss": lam * 255.0**2 * mse + bpp, "mse": mse, "bpp": bpp}


def _psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf


def _step_seed(seed: int, epoch: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, _STEP_STREAM, epoch, step]).generate_state(1)[0])


def _device(config: TrainConfig) -> torch.device:
    if config.device == "cuda" and not torch.cuda.is_available():
        raise TrainError("device cuda asked for, but torch sees no CUDA device; use --device cpu or auto")
    return torch.device("cuda" if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
                        else "cpu")


def _workers(config: TrainConfig, device: torch.device) -> int:
    if config.num_workers is not None:
        return config.num_workers
    return 2 if device.type == "cpu" else min(8, os.cpu_count() or 1)


@contextlib.contextmanager
def _torch_settings(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """Deterministic algorithms (and the thread count) while training; restored afterwards."""
    was = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def _validate(model: torch.nn.Module, loader: torch.utils.data.DataLoader, lam: float,
              device: torch.device) -> dict[str, float]:
    """Mean loss, MSE, estimated bpp and PSNR of the validation crops (reconstructions clamped to [0, 1])."""
    model.eval()
    sums = {"loss": 0.0, "mse": 0.0, "bpp": 0.0, "psnr": 0.0}
    count = 0
    for x in _unwrapped(loader):
        x = x.to(device)
        out = model(x)
        n, _, h, w = x.shape
        mse = ((out["x_hat"].float().clamp(0, 1) - x) ** 2).mean(dim=(1, 2, 3))
        bits = sum(torch.log(v.float()).flatten(1).sum(1) for v in out["likelihoods"].values()) / -math.log(2)
        bpp = bits / (h * w)
        sums["mse"] += float(mse.sum())
        sums["bpp"] += float(bpp.sum())
        sums["loss"] += float((lam * 255.0**2 * mse + bpp).sum())
        sums["psnr"] += sum(_psnr(float(v)) for v in mse)
        count += n
    model.train()
    return {k: v / count for k, v in sums.items()}


@torch.no_grad()
def real_bpp(model: torch.nn.Module, images: Sequence[torch.Tensor]) -> tuple[float, float]:
    """(real, estimated) bpp of ``images`` (1×3×H×W), pooled: ``compress()`` payload bytes after
    ``update(force=True)`` on a CPU copy, and the likelihood estimate on the same padded input,
    both over the original pixel count."""
    net = copy.deepcopy(model).to("cpu").eval()
    net.update(force=True)
    real = estimated = pixels = 0.0
    for image in images:
        x = pad_tensor(image, PAD_MULTIPLE, MODEL)
        out = net(x)
        estimated += float(sum(torch.log(v).sum() for v in out["likelihoods"].values())) / -math.log(2)
        coded = net.compress(x)
        real += 8.0 * sum(len(s) for strings in coded["strings"] for s in strings)
        pixels += image.shape[-2] * image.shape[-1]
    return real / pixels, estimated / pixels


# --------------------------------------------------------------------------- the stage


def _stage_by_name(config: TrainConfig, name: str) -> Stage:
    """A stage of ``config``'s schedule, or ``finetune-lambda<λ>`` for any λ (from the pre-training)."""
    stages = {s.name: s for s in schedule(config)}
    if name in stages:
        return stages[name]
    match = re.fullmatch(r"finetune-lambda(\d+(?:\.\d+)?)", name)
    if match and float(match[1]) > 0:
        return dataclasses.replace(schedule(config.replace(finetune_lambdas=[float(match[1])]))[1])
    raise TrainError(f"unknown stage {name!r}; this configuration has: {', '.join(stages)} "
                     "(or finetune-lambda<λ> for another λ)")


def train_stage(
    config: TrainConfig,
    stage: Stage | str,
    *,
    init_from: str | Path | None = None,
    resume_from: str | Path | None = None,
    restart: bool = False,
    stop_after: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    data: tuple[ImageSet, ImageSet] | None = None,
) -> StageResult:
    """Train one stage to its last epoch, resuming from its own checkpoint when there is one.

    ``init_from``: weights to start from (a training checkpoint or an export) instead of the
    stage's ``init_from`` stage; ``resume_from``: continue from this checkpoint instead of the
    stage's own; ``restart``: ignore (and replace) the stage's checkpoint and log; ``stop_after``:
    stop (with a checkpoint) once the stage has made this many steps; ``should_stop``: polled after
    every step, stops the same way when it returns True; ``data``: the (train, val) sets, if already
    opened. Raises TrainError on bad input and on a NaN or exploding loss (the last checkpoint is kept).
    """
    if isinstance(stage, str):
        stage = _stage_by_name(config, stage)
    folder = stage_dir(config, stage.name)
    own = folder / CHECKPOINT_NAME
    device = _device(config)
    with _torch_settings(config, device):
        torch.manual_seed(config.seed)  # the initial weights
        run = _StageRun(config, stage, device, build_model(config), own)
        if resume_from is not None:
            resume: Path | None = Path(resume_from)
        else:
            resume = own if own.is_file() and not restart else None
        ckpt = load_checkpoint(resume) if resume is not None else None
        if ckpt is not None:
            check_resumable(ckpt, config, stage, resume)
            if ckpt.get("complete") and ckpt["epoch"] >= stage.epochs:
                return _finished(config, stage, ckpt, resume, run.model)
        train_set, val_set = data if data is not None else open_data(config)
        if ckpt is not None:
            run.restore(ckpt)
            log.info("%s: resuming from %s at epoch %d, batch %d", stage.name, resume, run.epoch + 1, run.step)
        else:
            if restart:
                own.unlink(missing_ok=True)
                run.log_path.unlink(missing_ok=True)
            source = Path(init_from) if init_from is not None else (
                stage_dir(config, stage.init_from) / CHECKPOINT_NAME if stage.init_from else None)
            if source is not None:
                init_weights(run.model, config, source, need_complete=init_from is None)
                log.info("%s: starting from the weights of %s", stage.name, source)
        return run.train(train_set, val_set, stop_after=stop_after, should_stop=should_stop)


class _StageRun:
    """The model, optimizers, scheduler and position of one stage; trains and checkpoints it."""

    def __init__(self, config: TrainConfig, stage: Stage, device: torch.device, model: torch.nn.Module,
                 checkpoint: Path) -> None:
        self.config, self.stage, self.device = config, stage, device
        self.model = model.to(device)
        self.checkpoint, self.log_path = checkpoint, checkpoint.parent / LOG_NAME
        self.main_params, aux_params = split_parameters(model)
        self.optimizer = torch.optim.AdamW(self.main_params, lr=stage.lr, betas=config.betas,
                                           weight_decay=config.weight_decay)
        self.aux_optimizer = torch.optim.Adam(aux_params, lr=config.aux_lr)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=config.lr_gamma)
        self.epoch = self.step = self.steps = 0  # epochs done, batches done in this epoch, steps of the stage
        self.sums = _new_sums()
        self.recent: deque[float] = deque(maxlen=50)
        self.last: dict[str, Any] = {}

    def restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.aux_optimizer.load_state_dict(ckpt["aux_optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.epoch, self.step, self.steps, self.sums = ckpt["epoch"], ckpt["step"], ckpt["steps"], list(ckpt["sums"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.device.type == "cuda" and ckpt["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])

    def save(self, *, complete: bool = False) -> None:
        rng = {"torch": torch.get_rng_state(),
               "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []}
        config, stage = self.config, self.stage
        save_checkpoint(self.checkpoint, {
            "format": CHECKPOINT_FORMAT, "arch": config.arch, "N": config.N, "M": config.M,
            "stage": stage.name, "lambda": stage.lam, "lr": stage.lr, "config": config.to_dict(),
            "epoch": self.epoch, "step": self.step, "steps": self.steps, "sums": list(self.sums),
            "complete": complete, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "rng": rng, "time": _now(),
        })

    def result(self, status: str, export: Path | None = None) -> StageResult:
        return StageResult(self.stage.name, status, self.checkpoint, export, self.epoch, self.step, self.steps,
                           self.last)

    def train(self, train_set: ImageSet, val_set: ImageSet, *, stop_after: int | None,
              should_stop: Callable[[], bool] | None) -> StageResult:
        config, stage, device = self.config, self.stage, self.device
        train_data = TrainCrops(train_set, config.crop, config.seed, hflip=config.hflip)
        val_data = ValCrops(val_set, config.crop, config.seed)
        sampler = EpochBatches(len(train_data), config.batch_size, config.seed, config.steps_per_epoch)
        workers = _workers(config, device)
        generator = torch.Generator()  # keeps the DataLoader off the global RNG
        generator.manual_seed(config.seed)
        loader = torch.utils.data.DataLoader(
            train_data, batch_sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda",
            generator=generator, persistent_workers=workers > 0)
        val_loader = torch.utils.data.DataLoader(
            val_data, batch_size=config.val_batch_size, shuffle=False, num_workers=workers, generator=generator)
        self.model.train()
        while self.epoch < stage.epochs:
            sampler.epoch, sampler.start = self.epoch, self.step
            started = time.perf_counter()
            if self._batches(loader, sampler.batches, stop_after, should_stop):
                log.info("%s: stopped at epoch %d, batch %d (checkpoint %s)", stage.name, self.epoch + 1,
                         self.step, self.checkpoint)
                return self.result("stopped")
            self._end_epoch(val_loader, val_data, started)
        _plot(config, stage, self.log_path)
        export = _export(config, stage, self.model, self.last) if stage.export else None
        return self.result("complete", export)

    def _batches(self, loader: torch.utils.data.DataLoader, total: int, stop_after: int | None,
                 should_stop: Callable[[], bool] | None) -> bool:
        """Train the rest of the current epoch; True when stopped early (a checkpoint is written)."""
        config = self.config
        bar = tqdm(total=total, initial=self.step, desc=f"{self.stage.name} {self.epoch + 1}/{self.stage.epochs}",
                   disable=not config.progress, leave=False, dynamic_ncols=True)
        try:
            for x in _unwrapped(loader):
                loss, mse, bpp, aux = self._step(x.to(self.device, non_blocking=True))
                self.step += 1
                self.steps += 1
                s = self.sums = [self.sums[0] + loss, self.sums[1] + mse, self.sums[2] + bpp, self.sums[3] + aux,
                                 self.sums[4] + 1]
                bar.update(1)
                bar.set_postfix(loss=f"{s[0] / s[4]:.4g}", bpp=f"{s[2] / s[4]:.3f}", psnr=f"{_psnr(s[1] / s[4]):.2f}",
                                refresh=False)
                if (stop_after is not None and self.steps >= stop_after) or (should_stop is not None and should_stop()):
                    self.save()
                    return True
                if config.checkpoint_every and self.steps % config.checkpoint_every == 0:
                    self.save()
        finally:
            bar.close()
        return False

    def _step(self, x: torch.Tensor) -> tuple[float, float, float, float]:
        """One optimizer step of the main and auxiliary losses; (loss, mse, bpp, aux)."""
        config, stage = self.config, self.stage
        torch.manual_seed(_step_seed(config.seed, self.epoch, self.step))  # the quantization noise
        self.optimizer.zero_grad(set_to_none=True)
        self.aux_optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=config.amp and self.device.type == "cuda"):
            out = self.model(x)
        terms = rate_distortion(out, x, stage.lam)
        loss = terms["loss"].detach().item()
        _check_loss(loss, self.recent, config, stage, self.epoch, self.step, self.checkpoint)
        terms["loss"].backward()
        if config.clip_max_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.main_params, config.clip_max_norm)
        self.optimizer.step()
        aux_loss = self.model.aux_loss()
        aux_loss.backward()
        self.aux_optimizer.step()
        aux = aux_loss.detach().item()
        if not math.isfinite(aux):
            raise TrainError(_diverged("the auxiliary loss is not finite", stage, self.epoch, self.step,
                                       self.checkpoint))
        self.recent.append(loss)
        return loss, terms["mse"].detach().item(), terms["bpp"].detach().item(), aux

    def _end_epoch(self, val_loader: torch.utils.data.DataLoader, val_data: ValCrops, started: float) -> None:
        """Validate, maybe measure real bitstreams, log the epoch, step the scheduler, checkpoint."""
        config, stage, s = self.config, self.stage, self.sums
        if s[4] == 0:
            raise TrainError(f"{stage.name}: epoch {self.epoch + 1} had no batch; check the data and batch_size")
        row: dict[str, Any] = {
            "stage": stage.name, "lambda": stage.lam, "epoch": self.epoch + 1, "steps": self.steps,
            "lr": self.optimizer.param_groups[0]["lr"], "train_loss": s[0] / s[4], "train_mse": s[1] / s[4],
            "train_bpp": s[2] / s[4], "train_psnr": _psnr(s[1] / s[4]), "train_aux": s[3] / s[4],
        }
        row.update({f"val_{k}": v for k, v in _validate(self.model, val_loader, stage.lam, self.device).items()})
        if self.epoch + 1 == stage.epochs or (config.real_bpp_every and (self.epoch + 1) % config.real_bpp_every == 0):
            count = min(config.real_bpp_images, len(val_data))
            real, estimated = real_bpp(self.model, [full_image(val_data, i) for i in range(count)])
            row.update(real_bpp=real, real_bpp_estimated=estimated, real_images=count)
        row.update(epoch_s=round(time.perf_counter() - started, 3), time=_now())
        self.scheduler.step()
        self.epoch, self.step, self.sums = self.epoch + 1, 0, _new_sums()
        append_log_row(self.log_path, row)  # before the checkpoint: a repeated epoch replaces its row
        self.save(complete=self.epoch == stage.epochs)
        self.last = row
        log.info("%s epoch %d/%d: %s", stage.name, self.epoch, stage.epochs, _summary(row))


def _unwrapped(loader: torch.utils.data.DataLoader) -> Iterator[torch.Tensor]:
    """Iterate ``loader``; a TrainError raised in a worker process comes back with its own one-line message."""
    try:
        yield from loader
    except TrainError as exc:
        text = str(exc)
        if "Original Traceback" in text:  # DataLoader's wrapping of a worker's exception
            last = text.strip().splitlines()[-1]
            raise TrainError(last.split("TrainError: ", 1)[-1]) from None
        raise


def _new_sums() -> list:
    return [0.0, 0.0, 0.0, 0.0, 0]  # loss, mse, bpp, aux, batches of the current epoch


def _check_loss(loss: float, recent: deque[float], config: TrainConfig, stage: Stage, epoch: int, step: int,
                ckpt_path: Path) -> None:
    if not math.isfinite(loss):
        raise TrainError(_diverged(f"loss is {loss}", stage, epoch, step, ckpt_path))
    if recent:
        median = statistics.median(recent)
        if loss > config.explode_factor * median:
            raise TrainError(_diverged(f"loss exploded to {loss:.4g} (median of the last {len(recent)} steps "
                                       f"{median:.4g})", stage, epoch, step, ckpt_path))


def _diverged(what: str, stage: Stage, epoch: int, step: int, ckpt_path: Path) -> str:
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        kept = f"the last good checkpoint {ckpt_path} (epoch {ckpt['epoch'] + 1}, batch {ckpt['step']}) is kept"
    else:
        kept = "no checkpoint had been written yet"
    return (f"{stage.name}: {what} at epoch {epoch + 1}, batch {step + 1}; stopped, {kept}; lower the learning "
            "rate (--lr) or clip gradients (--clip-max-norm) and rerun")


def _finished(config: TrainConfig, stage: Stage, ckpt: dict[str, Any], path: Path,
              model: torch.nn.Module) -> StageResult:
    """A stage already trained to its last epoch: export it if its export is missing."""
    export = None
    log_path = path.parent / LOG_NAME
    last: dict[str, Any] = {}
    if log_path.is_file():
        from bench.learned.train.curves import read_log

        frame = read_log(log_path)
        last = frame.iloc[-1].to_dict() if not frame.empty else {}
    if stage.export:
        from bench.learned.train.recipe import export_name

        export = exports_dir(config) / export_name(config.arch, config.N, config.M, stage.lam)
        if not export.is_file():
            model.load_state_dict(ckpt["model"])
            export = _export(config, stage, model, last)
    log.info("%s: already complete (%d epochs)", stage.name, ckpt["epoch"])
    return StageResult(stage.name, "done", path, export, ckpt["epoch"], ckpt["step"], ckpt["steps"], last)


def _export(config: TrainConfig, stage: Stage, model: torch.nn.Module, last: dict[str, Any]) -> Path:
    from bench.core import environment

    metrics = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in last.items()}
    info = {
        "stage": stage.name, "epochs": stage.epochs, "init_from": stage.init_from,
        "final_epoch": metrics, "config": config.to_dict(), "environment": environment.collect(),
    }
    return export_model(model, exports_dir(config), arch=config.arch, n=config.N, m=config.M, lam=stage.lam,
                        info=info)


def _plot(config: TrainConfig, stage: Stage, log_path: Path) -> None:
    out = Path(config.reports) / curve_name(run_name(config), stage.name)
    try:
        write_curves(log_path, out, title=f"{run_name(config)} {stage.name} (λ={stage.lam})")
    except Exception as exc:  # noqa: BLE001 — a figure must not cost a trained model
        log.warning("could not draw %s (%s); redraw with `python -m bench.learned.train curves`", out, exc)


def _summary(row: dict[str, Any]) -> str:
    text = (f"train loss {row['train_loss']:.4g} bpp {row['train_bpp']:.4f} PSNR {row['train_psnr']:.2f} dB | "
            f"val loss {row['val_loss']:.4g} bpp {row['val_bpp']:.4f} PSNR {row['val_psnr']:.2f} dB")
    if "real_bpp" in row:
        text += f" | real bpp {row['real_bpp']:.4f} (estimated {row['real_bpp_estimated']:.4f})"
    return text


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_schedule(
    config: TrainConfig,
    *,
    stages: Sequence[str] | None = None,
    restart: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> list[StageResult]:
    """Run the recipe's stages in order (or only ``stages``), each resuming where it stopped.

    Finished stages are skipped; a stopped stage ends the run (its result is the last one).
    """
    plan = schedule(config)
    if stages is not None:
        names = [s.name for s in plan]
        unknown = [s for s in stages if s not in names]
        if unknown:
            raise TrainError(f"unknown stage(s) {', '.join(unknown)}; this configuration has: {', '.join(names)}")
        plan = [s for s in plan if s.name in stages]
    data = None
    results = []
    for stage in plan:
        if data is None and not _complete(config, stage):
            data = open_data(config)
        result = train_stage(config, stage, restart=restart, should_stop=should_stop, data=data)
        results.append(result)
        if result.status == "stopped":
            break
    return results


def _complete(config: TrainConfig, stage: Stage) -> bool:
    path = stage_dir(config, stage.name) / CHECKPOINT_NAME
    if not path.is_file():
        return False
    try:
        ckpt = load_checkpoint(path)
    except TrainError:
        return False
    return bool(ckpt.get("complete")) and ckpt.get("epoch", 0) >= stage.epochs


def config_of(path: str | Path) -> TrainConfig:
    """The configuration recorded in a training checkpoint."""
    ckpt = load_checkpoint(path)
    return TrainConfig.from_dict(ckpt["config"], source=str(path))

