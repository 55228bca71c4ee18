"""Exported models: the files the benchmark reads, and the ``--checkpoint`` specs that name them.

An export is a plain CompressAI state dict saved after ``update(force=True)``
(``torch.save(model.state_dict())``, loadable with ``torch.load(weights_only=True)``) named
``<arch>_N<N>-M<M>_lambda<λ>.pth``, with a sidecar ``.json`` beside it recording the architecture,
the channel counts, λ, the operating-point label, the file's sha256 and the training run.
:func:`export_model` writes both atomically and verifies the file with the harness's own loader
(:func:`bench.learned.weights.load_model`). :func:`checkpoint_specs` does not import torch.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.store import write_bytes_atomic, write_text_atomic
from bench.learned.train.errors import TrainError
from bench.learned.train.recipe import ARCHITECTURES, export_name, lambda_label

if TYPE_CHECKING:
    import torch

__all__ = ["SIDECAR_FORMAT", "checkpoint_specs", "export_model", "read_export_info"]

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "lic-bench-train-export/1"
_NAME = re.compile(r"^(?P<arch>[A-Za-z0-9.-]+)_N(?P<N>\d+)-M(?P<M>\d+)_(?P<label>lambda\d+\.\d{4})\.pth$")


def export_model(model: torch.nn.Module, directory: str | Path, *, arch: str, n: int, m: int, lam: float,
                 info: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a copy, updated on the CPU) as an export in ``directory``; return the .pth path.

    ``info`` (training settings, metrics) goes into the sidecar JSON. Raises TrainError when the
    written file does not load back identically through :func:`bench.learned.weights.load_model`.
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
    from bench.learned.weights import Checkpoint, WeightsSource, load_model

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


def read_export_info(path: str | Path) -> dict[str, Any]:
    """Architecture, label, N, M of the export ``path``: from its sidecar, else from its file name."""
    path = Path(path)
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainError(f"{sidecar}: unreadable sidecar ({exc}); delete it or export again") from None
        if not isinstance(info, dict) or not {"arch", "label"} <= set(info):
            raise TrainError(f"{sidecar}: not an export sidecar (no arch/label); delete it or export again")
        return info
    match = _NAME.match(path.name)
    if match is None:
        raise TrainError(f"{path}: neither a sidecar {sidecar.name} nor a name like "
                         "<arch>_N192-M320_lambda0.0130.pth says what it is")
    return {"arch": match["arch"], "label": match["label"], "N": int(match["N"]), "M": int(match["M"])}


def checkpoint_specs(directory: str | Path) -> list[str]:
    """``ARCH:LABEL=PATH`` for every export in ``directory`` (the harness's ``--checkpoint`` syntax).

    Sorted by architecture, then label. Raises TrainError when the folder is missing, holds no
    export, or holds two exports for the same architecture and label.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise TrainError(f"{directory}: no such folder of exported models; run `python -m bench.learned.train run` first")
    specs: dict[tuple[str, str], Path] = {}
    for path in sorted(directory.glob("*.pth")):
        if path.name.startswith("."):
            continue
        try:
            info = read_export_info(path)
        except TrainError as exc:
            log.warning("skipped %s", exc)
            continue
        arch, label = str(info["arch"]), str(info["label"])
        if arch not in ARCHITECTURES:
            log.warning("skipped %s: architecture %r is not one the benchmark trains", path, arch)
            continue
        if (arch, label) in specs:
            raise TrainError(f"{directory}: two exports for {arch}:{label} ({specs[arch, label].name} and "
                             f"{path.name}); keep one")
        specs[arch, label] = path.resolve()
    if not specs:
        raise TrainError(f"{directory}: no exported models (*.pth with a sidecar or a name like "
                         "<arch>_N192-M320_lambda0.0130.pth)")
    return [f"{arch}:{label}={path}" for (arch, label), path in sorted(specs.items())]
