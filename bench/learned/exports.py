"""Model files in a folder: how they are named, their sidecars, and the ``--checkpoint`` specs that name them.

An export (written by :func:`bench.learned.train.export.export_model`) is a CompressAI state dict named
``<arch>_N<N>-M<M>_lambda<λ>.pth`` with a sidecar ``.json`` beside it recording the architecture, the
channel counts, λ and the operating-point label. A folder given to ``--checkpoint-dir`` may hold any
model of a CompressAI architecture (:data:`bench.learned.zoo.ARCHITECTURES`), not only exports: each
``*.pth`` (or ``*.pth.tar``) is described by its sidecar if it has one, else by its name,
:data:`NAME_RULE`. A file that neither describes is an error that names it, never skipped. Reads names
and JSON only: no torch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.learned import zoo
from bench.learned.train.errors import TrainError

__all__ = ["NAME_RULE", "SIDECAR_FORMAT", "checkpoint_specs", "read_export_info"]

SIDECAR_FORMAT = "lic-bench-train-export/1"
NAME_RULE = ("<arch>_…lambda<λ>….pth: the architecture before the first '_', λ as one '_'/'-'-separated part "
             "(lambda<λ> or msssim-lambda<λ>), e.g. cheng2020-anchor_lambda0.0130.pth")
"""How a model file without a sidecar is named (``--checkpoint-dir``)."""
_SUFFIXES = (".pth", ".pth.tar")
_LABEL = re.compile(r"(?:^|[_-])(?P<label>(?P<kind>msssim-)?lambda(?P<lam>\d+(?:\.\d+)?))(?=$|[_-])")
_CHANNELS = re.compile(r"(?:^|_)N(?P<N>\d+)-M(?P<M>\d+)(?=$|_)")


def _stem(name: str) -> str | None:
    """``name`` without its model-file suffix; None if it has none of :data:`_SUFFIXES`."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _canonical(label: str, kind: str, lam: str) -> str:
    """The zoo's spelling of a λ label (``lambda0.013`` → ``lambda0.0130``) when it is the same number."""
    decimals = 2 if kind else 4
    value = float(lam)
    canonical = f"{value:.{decimals}f}"
    return f"{kind}lambda{canonical}" if float(canonical) == value else label


def _info_from_name(path: Path) -> dict[str, Any]:
    """Architecture, label (and N, M when the name has them) from a model file's name (:data:`NAME_RULE`)."""
    stem = _stem(path.name)
    arch, sep, rest = (stem or "").partition("_")
    if stem is None or not sep or arch not in zoo.ARCHITECTURES:
        raise TrainError(f"{path}: no sidecar {path.with_suffix('.json').name}, and its name does not start with a "
                         f"CompressAI architecture ({', '.join(zoo.ARCHITECTURES)}) and '_'; name it {NAME_RULE}, "
                         "or move it out of the folder")
    labels = list(_LABEL.finditer(rest))
    if len(labels) != 1:
        what = "no" if not labels else f"{len(labels)}"
        raise TrainError(f"{path}: {what} lambda<λ> part in its name; name it {NAME_RULE}")
    found = labels[0]
    info: dict[str, Any] = {"arch": arch, "label": _canonical(found["label"], found["kind"] or "", found["lam"])}
    channels = _CHANNELS.search(rest)
    if channels:
        info.update(N=int(channels["N"]), M=int(channels["M"]))
    return info


def read_export_info(path: str | Path) -> dict[str, Any]:
    """Architecture and label (N, M where known) of the model file ``path``: from its sidecar, else from its
    name (:data:`NAME_RULE`). TrainError names the file when neither says what it is."""
    path = Path(path)
    stem = _stem(path.name)
    sidecar = path.with_name(f"{stem}.json") if stem else path.with_suffix(".json")
    if sidecar.is_file():
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrainError(f"{sidecar}: unreadable sidecar ({exc}); delete it or export again") from None
        if not isinstance(info, dict) or not {"arch", "label"} <= set(info):
            raise TrainError(f"{sidecar}: not an export sidecar (no arch/label); delete it or export again")
        if info["arch"] not in zoo.ARCHITECTURES:
            raise TrainError(f"{sidecar}: architecture {info['arch']!r} is not a CompressAI architecture the "
                             f"benchmark knows ({', '.join(zoo.ARCHITECTURES)})")
        return info
    return _info_from_name(path)


def checkpoint_specs(directory: str | Path) -> list[str]:
    """``ARCH:LABEL=PATH`` for every model file in ``directory`` (the harness's ``--checkpoint`` syntax).

    Every ``*.pth`` and ``*.pth.tar`` (hidden files aside) is read with :func:`read_export_info`: any
    CompressAI architecture, channel counts not needed in the name. Sorted by architecture, then
    label. Raises TrainError when the folder is missing, holds no model, holds a file that neither
    its sidecar nor its name describes, or two models for the same architecture and label.
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise TrainError(f"{directory}: no such folder of exported models; run `python -m bench.learned.train run` first")
    specs: dict[tuple[str, str], Path] = {}
    files = sorted({p for suffix in _SUFFIXES for p in directory.glob(f"*{suffix}")})
    for path in files:
        if path.name.startswith(".") or not path.is_file():
            continue
        info = read_export_info(path)
        arch, label = str(info["arch"]), str(info["label"])
        if (arch, label) in specs:
            raise TrainError(f"{directory}: two exports for {arch}:{label} ({specs[arch, label].name} and "
                             f"{path.name}); keep one")
        specs[arch, label] = path.resolve()
    if not specs:
        raise TrainError(f"{directory}: no exported models (*.pth with a sidecar) nor model files named {NAME_RULE}")
    return [f"{arch}:{label}={path}" for (arch, label), path in sorted(specs.items())]
