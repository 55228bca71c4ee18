"""Exported models: the files the benchmark reads, and the ``--checkpoint`` specs that name them.

An export is a plain CompressAI state dict saved after ``update(force=True)``
(``torch.save(model.state_dict())``, loadable with ``torch.load(weights_only=True)``) named
``<arch>_N<N>-M<M>_lambda<λ>.pth``, with a sidecar ``.json`` beside it recording the architecture,
the channel counts, λ, the operating-point label, the file's sha256 and the training run.
:func:`export_model` writes both atomically and verifies the file with the harness's own loader
(:func:`bench.learned.checkpoint.load_model`). Reading a folder of model files back as ``--checkpoint``
specs (:func:`checkpoint_specs`, :data:`NAME_RULE`, sidecars) is :mod:`bench.learned.exports`, which the
weights module uses too; its names are re-exported here.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.store import write_bytes_atomic, write_text_atomic
from bench.learned.train.errors import TrainError
from bench.learned.exports import NAME_RULE, SIDECAR_FORMAT, checkpoint_specs, read_export_info
from bench.learned.train.recipe import export_name, lambda_label

if TYPE_CHECKING:
    import torch

__all__ = ["NAME_RULE", "SIDECAR_FORMAT", "checkpoint_specs", "export_model", "read_export_info"]

log = logging.getLogger(__name__)


def export_model(model: torch.nn.Module, directory: str | Path, *, arch: str, n: int, m: int, lam: float,
                 info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a copy, updated on the CPU) as an export in ``directory``; return the .pth path.

    ``info`` (training settings, metrics) goes into the sidecar JSON. Raises TrainError when the
    written file does not load back identically through :func:`bench.learned.checkpoint.load_model`.
    """
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / export_name(arch, n, m, lam)
    net = copy.deepcopy(model).to("cpu").eval()
    net.update(force=True)
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    label = lambda_label(lam)
    sidecar = {
        "format": SIDECAR_FORMAT,
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "arch": arch,
        "N": n,
        "M": m,
        "lambda": lam,
        "label": label,
        "metric": "mse",
        "updated": True,
        **(info or {}),
    }
    _verify(path, state, arch, label, (n, m))
    write_text_atomic(path.with_suffix(".json"), json.dumps(sidecar, indent=2, sort_keys=False) + "\n")
    log.info("exported %s", path)
    return path


def _verify(path: Path, state: dict[str, torch.Tensor], arch: str, label: str, channels: tuple[int, int]) -> None:
    """Load ``path`` as the benchmark does and compare every tensor with ``state``."""
    import torch

    from bench.core.errors import BenchError
    from bench.learned.checkpoint import load_model
    from bench.learned.weights import Checkpoint, WeightsSource

    raw = torch.load(path, map_location="cpu", weights_only=True)
    if set(raw) != set(state) or not all(torch.equal(raw[k], state[k]) for k in state):
        raise TrainError(f"{path}: the written export does not read back equal; disk problem? write it again")
    try:
        loaded = load_model(arch, label, WeightsSource(checkpoints=(Checkpoint(arch, label, path),)))
    except BenchError as exc:
        raise TrainError(f"{path}: the benchmark cannot load the export: {exc}") from None
    if (loaded.config.get("N"), loaded.config.get("M")) != channels:
        raise TrainError(f"{path}: the benchmark infers channels {loaded.config}, not N={channels[0]}, "
                         f"M={channels[1]}")
    mine = loaded.model.state_dict()
    different = [k for k in state if k not in mine or not torch.equal(mine[k], state[k])]
    if different:
        raise TrainError(f"{path}: the benchmark's model differs from the trained one in {', '.join(different[:3])}")
