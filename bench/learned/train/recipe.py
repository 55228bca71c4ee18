"""The training recipe: one configuration dataclass, its defaults, and the stage schedule.

Defaults reproduce the study's recipe, which the study states for its Context + Hyperprior (``mbt2018``,
the default architecture; others with ``arch``), with CompressAI's ``examples/train.py`` conventions
where the study is silent:

* data: Vimeo-90k septuplets, one random frame per folder per epoch, random 256×256 crops;
  validation on Vimeo's test list (never Kodak unless ``allow_test_set``);
* model: N=192, M=320 for every λ (the larger zoo configuration of the three study architectures);
* loss λ·255²·MSE + bpp; auxiliary loss on the entropy bottleneck's quantiles with its own Adam (lr 1e-3);
* AdamW lr 2e-4, betas (0.8, 0.99), weight decay 0.01 (PyTorch's default), gradient norm clipped
  at 1.0 (``examples/train.py``'s default), ExponentialLR γ = 0.999 per epoch, batch 64, seed 0;
  of these the study states AdamW, lr 2e-4, decay 0.999 per epoch and batch 64; betas, weight decay,
  clipping, the auxiliary optimizer and a frame drawn anew per folder *each epoch* are ours (the study
  says "one random frame per folder", not when it is drawn);
* schedule: pre-train at λ = 0.0483 for 100 epochs, then fine-tune a copy of it at each of
  0.0483, 0.0250, 0.0130, 0.0067 for :data:`FINETUNE_EPOCHS` epochs. A fine-tuning stage starts from the
  pre-trained weights with fresh optimizers and scheduler (learning rate back at ``finetune_lr``, else
  ``lr``); the auxiliary optimizer is Adam without weight decay; an epoch drops its last incomplete batch.

Fine-tune length (the study does not give it): :data:`FINETUNE_EPOCHS` = 10 epochs per λ, i.e. 10 % of
the pre-training, about 10,000 steps at batch 64 on Vimeo's 64,612 training folders. Reasons: a λ
change mostly moves the rate (the latents' scale and the entropy model), which adapts much faster than
the transforms keep improving; beyond that, fine-tuning is continued pre-training at a lower-rate
point, which all four models get equally. 10 % leaves ample room for the rate to settle while the four
fine-tunes together add 40 % to the pre-training's cost. Every λ, 0.0483 included (for it, simply
continued training), gets the same length, so the four exported models have seen the same number of
steps and differ only by λ. It is a choice, not a measurement: set ``finetune_epochs`` to change it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import study
from bench.learned.train.errors import TrainError

__all__ = [
    "ARCHITECTURES", "FINETUNE_EPOCHS", "RESUME_CHECKED", "STUDY_LAMBDAS", "Stage", "TrainConfig",
    "export_name", "lambda_label", "load_config", "run_name", "schedule",
]

ARCHITECTURES: tuple[str, ...] = (
    "bmshj2018-factorized", "bmshj2018-factorized-relu", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018",
)
"""Architectures the trainer builds (CompressAI classes with constructor channels N and M)."""

STUDY_LAMBDAS: tuple[float, ...] = tuple(sorted(study.LAMBDAS, reverse=True))  # fine-tuned highest first
FINETUNE_EPOCHS = 10
CROP_MULTIPLE = 64  # the hyperprior models downsample by 64
SMALL_IMAGE_POLICIES = ("skip", "pad")
DEVICES = ("auto", "cpu", "cuda")

# Settings that decide what a stage computes: an interrupted stage resumes only with the same values
# (besides the stage's own λ and learning rate). Others (epochs, workers, device, …) may change.
RESUME_CHECKED: tuple[str, ...] = (
    "train", "val", "val_fraction", "crop", "hflip", "small_images", "arch", "N", "M", "batch_size",
    "betas", "weight_decay", "aux_lr", "lr_gamma", "clip_max_norm", "pretrain_lambda", "steps_per_epoch",
    "seed", "amp",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; JSON-able (see :meth:`to_dict`)."""

    # data
    train: str | None = None
    """Vimeo-90k septuplet root (holding ``sequences/`` and ``sep_trainlist.txt``) or a folder of images."""
    val: str | None = None
    """Validation folder; None: Vimeo's ``sep_testlist.txt``, or ``val_fraction`` of a plain folder."""
    val_fraction: float = 0.05
    crop: int = 256
    hflip: bool = False
    small_images: str = "skip"
    """Images smaller than the crop: ``skip`` them (logged) or ``pad`` them (symmetric padding)."""
    max_val_images: int | None = None
    allow_test_set: bool = False
    # model
    arch: str = study.TRAINED_ARCHITECTURE
    """Default: the Context + Hyperprior (``mbt2018``), the model the study states this recipe for."""
    N: int = 192
    M: int = 320
    # optimisation
    batch_size: int = 64
    val_batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.01
    aux_lr: float = 1e-3
    lr_gamma: float = 0.999
    clip_max_norm: float = 1.0
    """Gradient-norm clipping of the main parameters (0 turns it off)."""
    finetune_lr: float | None = None
    """Learning rate of the fine-tuning stages; None: ``lr``."""
    # schedule
    pretrain_lambda: float = study.PRETRAIN_LAMBDA
    pretrain_epochs: int = 100
    finetune_lambdas: tuple[float, ...] = STUDY_LAMBDAS
    finetune_epochs: int = FINETUNE_EPOCHS
    steps_per_epoch: int | None = None
    """Cap on the steps of an epoch (None: one full pass, last incomplete batch dropped)."""
    seed: int = 0
    # machinery
    num_workers: int | None = None
    """DataLoader worker processes; None: 2 on the CPU, min(8, CPU count) with CUDA."""
    device: str = "auto"
    amp: bool = False
    """bfloat16 autocast of the forward pass on CUDA (ignored on the CPU)."""
    threads: int | None = None
    """torch intra-op threads while training (None: leave torch's setting)."""
    checkpoint_every: int = 200
    """Steps between mid-epoch checkpoints (0: only at the end of each epoch)."""
    real_bpp_every: int = 10
    """Epochs between real-bitstream bpp measurements (also after the last epoch; 0: only then)."""
    real_bpp_images: int = 4
    explode_factor: float = 100.0
    """Stop when a step's loss exceeds this multiple of the median of the recent losses."""
    progress: bool = True
    out: str = "runs/train"
    reports: str = "reports"
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes recorded with the run (not used by the trainer)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "finetune_lambdas", tuple(float(v) for v in self.finetune_lambdas))
        if self.arch not in ARCHITECTURES:
            raise TrainError(f"unknown architecture {self.arch!r}; known: {', '.join(ARCHITECTURES)}")
        for name in ("N", "M", "batch_size", "val_batch_size", "crop", "real_bpp_images"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise TrainError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.crop % CROP_MULTIPLE:
            raise TrainError(f"crop must be a multiple of {CROP_MULTIPLE} (the models downsample by "
                             f"{CROP_MULTIPLE}), got {self.crop}")
        for name in ("pretrain_epochs", "finetune_epochs", "checkpoint_every", "real_bpp_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise TrainError(f"{name} must be a non-negative integer, got {getattr(self, name)!r}")
        for name in ("steps_per_epoch", "max_val_images", "num_workers", "threads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < (0 if name == "num_workers" else 1)):
                raise TrainError(f"{name} must be a positive integer or null, got {value!r}")
        lambdas = (self.pretrain_lambda, *self.finetune_lambdas)
        if not all(math.isfinite(v) and v > 0 for v in lambdas):
            raise TrainError(f"λ values must be positive, got {', '.join(map(str, lambdas))}")
        for name in ("lr", "aux_lr", "lr_gamma"):
            if not getattr(self, name) > 0:
                raise TrainError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.small_images not in SMALL_IMAGE_POLICIES:
            raise TrainError(f"small_images must be one of {', '.join(SMALL_IMAGE_POLICIES)}, "
                             f"got {self.small_images!r}")
        if self.device not in DEVICES:
            raise TrainError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not 0 < self.val_fraction < 1:
            raise TrainError(f"val_fraction must be between 0 and 1, got {self.val_fraction!r}")
        if not self.explode_factor > 1:
            raise TrainError(f"explode_factor must be above 1, got {self.explode_factor!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "config") -> TrainConfig:
        """Build from a dict; unknown keys raise TrainError naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise TrainError(f"{source}: {exc}") from None

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (validated)."""
        return TrainConfig.from_dict({**dataclasses.asdict(self), **changes}, source="overrides")


def load_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    """The defaults, updated from the JSON file ``path`` (if given), then from ``overrides``."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TrainError(f"{path}: no such config file") from None
        except json.JSONDecodeError as exc:
            raise TrainError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(values, dict):
            raise TrainError(f"{path}: expected a JSON object of settings")
        values = {k: v for k, v in values.items() if not k.startswith("_")}  # "_comment" keys
    values.update(overrides)
    return TrainConfig.from_dict(values, source=str(path) if path else "settings")


@dataclass(frozen=True)
class Stage:
    """One training stage: a λ, a number of epochs, and where its weights start from."""

    name: str
    lam: float
    epochs: int
    lr: float
    init_from: str | None = None
    """Name of the stage whose final weights this one starts from (None: random initialisation)."""
    export: bool = True
    """Whether the final weights are exported for the benchmark."""

    @property
    def label(self) -> str:
        return lambda_label(self.lam)


def lambda_label(lam: float) -> str:
    """The operating-point label of ``lam``, as the harness names it: ``lambda0.0130``."""
    return f"lambda{lam:.4f}"


def run_name(config: TrainConfig) -> str:
    """Folder name of a configuration's stages: ``bmshj2018-factorized_N192-M320``."""
    return f"{config.arch}_N{config.N}-M{config.M}"


def export_name(arch: str, n: int, m: int, lam: float) -> str:
    """File name of an exported model: ``bmshj2018-factorized_N192-M320_lambda0.0130.pth``."""
    return f"{arch}_N{n}-M{m}_{lambda_label(lam)}.pth"


def schedule(config: TrainConfig) -> list[Stage]:
    """The stages of the recipe: ``pretrain``, then ``finetune-lambdaX`` for each fine-tuning λ."""
    stages = [Stage("pretrain", config.pretrain_lambda, config.pretrain_epochs, config.lr,
                    init_from=None, export=False)]
    lr = config.finetune_lr if config.finetune_lr is not None else config.lr
    for lam in dict.fromkeys(config.finetune_lambdas):
        stages.append(Stage(f"finetune-{lambda_label(lam)}", lam, config.finetune_epochs, lr,
                            init_from="pretrain", export=True))
    return stages
