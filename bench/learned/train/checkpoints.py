"""Training checkpoints: their format, atomic writes, and the checks before resuming or starting from one.

A checkpoint (``CHECKPOINT_NAME`` in a stage's folder) holds the model, optimisers, scheduler, random
state and position (epoch, step) of a stage, tagged with ``CHECKPOINT_FORMAT``; it is loaded with
``weights_only=True``. A stage may also start from a plain state dict (an export).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from bench.core.store import write_bytes_atomic
from bench.learned.train.errors import TrainError
from bench.learned.train.recipe import RESUME_CHECKED, Stage, TrainConfig

__all__ = [
    "CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "check_resumable", "check_same_model", "init_weights",
    "load_checkpoint", "save_checkpoint",
]

CHECKPOINT_FORMAT = "lic-bench-train-checkpoint/1"
CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a training checkpoint atomically (a killed write leaves the previous one)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by this module (``weights_only`` load); TrainError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 — unpickling, zip and EOF errors: an unreadable file
        reason = " ".join(str(exc).split())[:200]
        raise TrainError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {reason})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise TrainError(f"{path}: not a bench.learned.train checkpoint (a plain state dict or an export? "
                         "pass it as --init-from to start a stage from its weights)")
    return ckpt


def check_same_model(ckpt: dict[str, Any], config: TrainConfig, path: Path) -> None:
    mine = (config.arch, config.N, config.M)
    theirs = (ckpt.get("arch"), ckpt.get("N"), ckpt.get("M"))
    if theirs != mine:
        raise TrainError(
            f"{path} is a checkpoint of {theirs[0]} (N={theirs[1]}, M={theirs[2]}), not of {mine[0]} "
            f"(N={mine[1]}, M={mine[2]}); use a checkpoint of the same architecture or change --arch/--N/--M"
        )


def check_resumable(ckpt: dict[str, Any], config: TrainConfig, stage: Stage, path: Path) -> None:
    """Refuse to resume a stage whose checkpoint was made with settings that change what it computes."""
    check_same_model(ckpt, config, path)
    saved, now = ckpt.get("config", {}), config.to_dict()
    changed = [f"{k}: {saved.get(k)!r} → {now[k]!r}" for k in RESUME_CHECKED if saved.get(k) != now[k]]
    if ckpt.get("lambda") != stage.lam:
        changed.append(f"lambda: {ckpt.get('lambda')!r} → {stage.lam!r}")
    if ckpt.get("lr") != stage.lr:
        changed.append(f"lr: {ckpt.get('lr')!r} → {stage.lr!r}")
    if changed:
        raise TrainError(f"{path} was made with other settings ({'; '.join(changed)}); resume with the same "
                         "settings, or start the stage over with --restart")


def init_weights(model: torch.nn.Module, config: TrainConfig, path: Path, *, need_complete: bool) -> None:
    """Load the model weights of a training checkpoint or of a plain state dict (an export)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainError(f"{path}: no such checkpoint to start from; train that stage first (e.g. "
                         "`python -m bench.learned.train stage pretrain`) or give --init-from PATH") from None
    except Exception as exc:  # noqa: BLE001
        raise TrainError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT:
        check_same_model(obj, config, path)
        if need_complete and not obj.get("complete"):
            raise TrainError(f"{path}: stage {obj.get('stage')} is not finished ({obj.get('epoch')} epochs done); "
                             "run it to the end first, or give --init-from PATH")
        state = obj["model"]
    else:
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
        sidecar = path.with_suffix(".json")
        if sidecar.is_file():
            info = json.loads(sidecar.read_text(encoding="utf-8"))
            check_same_model({"arch": info.get("arch"), "N": info.get("N"), "M": info.get("M")}, config, path)
    if not isinstance(state, dict):
        raise TrainError(f"{path}: holds no state dict")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
        raise TrainError(f"{path} does not fit {config.arch} (N={config.N}, M={config.M}): {first}") from None
