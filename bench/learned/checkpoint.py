"""Loading a checkpoint file into a CompressAI model (the weights come from :mod:`bench.learned.weights`).

:func:`load_model` reads the file with ``torch.load(weights_only=True)``, accepts the usual
checkpoint layouts, infers the channel counts from the tensors, builds the model, loads it
strictly and runs ``update(force=True)``. Each problem raises a one-line :class:`WeightsError`
that names the file. torch and compressai are imported only when needed.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.learned import zoo
from bench.core.errors import one_line
from bench.learned.weights import WeightsError, WeightsSource, resolve_with_origin, sha256_of

if TYPE_CHECKING:
    import torch

__all__ = ["LoadedModel", "checkpoint_config", "load_model"]

log = logging.getLogger(__name__)

WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "network", "model_state_dict")
"""Keys under which training scripts nest the state dict."""

# Buffers whose size depends on the trained CDFs; CompressionModel.load_state_dict resizes
# them (they are empty in a fresh model) and update(force=True) recomputes them.
_DYNAMIC_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")

# Tensor that gives each constructor argument: (state-dict key, dimension).
_CHANNEL_KEYS: dict[str, dict[str, tuple[str, int]]] = {
    "bmshj2018-factorized": {"N": ("g_a.0.weight", 0), "M": ("g_a.6.weight", 0)},
    "bmshj2018-factorized-relu": {"N": ("g_a.0.weight", 0), "M": ("g_a.6.weight", 0)},
    "bmshj2018-hyperprior": {"N": ("g_a.0.weight", 0), "M": ("g_a.6.weight", 0)},
    "mbt2018-mean": {"N": ("g_a.0.weight", 0), "M": ("g_a.6.weight", 0)},
    "mbt2018": {"N": ("g_a.0.weight", 0), "M": ("g_a.6.weight", 0)},
    "cheng2020-anchor": {"N": ("g_a.0.conv1.weight", 0)},
    "cheng2020-attn": {"N": ("g_a.0.conv1.weight", 0)},
}
# Smallest sensible configurations, for key sets and guesses.
_TINY_CONFIG = {"N": 4, "M": 6}

_OLD_EB_KEY = re.compile(r"^(?P<module>(?:.+\.)?entropy_bottleneck)\._(?P<kind>bias|matrix|factor)(?P<i>\d+)$")
_PLURAL = {"bias": "biases", "matrix": "matrices", "factor": "factors"}
_GLOBAL_IN_ERROR = re.compile(r"GLOBAL ([\w.]+)")
_EXAMPLES = 3


@dataclass(frozen=True)
class LoadedModel:
    """A CompressAI model ready to code, with where its weights came from."""

    model: torch.nn.Module  # eval() mode, on CPU, parameters loaded
    arch: str
    point: str  # operating-point label
    sha256: str  # of the weights file
    origin: str  # "zoo:<url>" (also a verified cache hit) | "mirror:<dir or url>" | "checkpoint:<path>"
    config: dict[str, int]  # constructor arguments, e.g. {"N": 128, "M": 192}
    updated: bool  # whether update(force=True) ran after loading


def load_model(arch: str, point: str, source: WeightsSource, *, update: bool = True,
               name: str | None = None) -> LoadedModel:
    """Resolve, read and build the CompressAI model for (``arch``, ``point``) of model ``name``
    (default: ``arch``), on CPU, in eval mode."""
    path, origin = resolve_with_origin(arch, point, source, name=name)
    digest = sha256_of(path)
    state = _read_state_dict(path)
    model, config = _build(arch, state, path, update_buffers=update)
    model.eval()
    if update:
        model.update(force=True)
    return LoadedModel(model, arch, point, digest, origin, config, update)


def checkpoint_config(arch: str, path: str | Path) -> dict[str, int]:
    """The constructor channel counts of ``arch`` that the checkpoint ``path`` holds, read from its tensors
    (e.g. ``{"N": 128, "M": 192}``) and checked by loading it; WeightsError when it does not fit ``arch``."""
    path = Path(path)
    zoo.check_arch(arch)
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} for {arch} does not exist")
    return _build(arch, _read_state_dict(path), path, update_buffers=True)[1]


# --------------------------------------------------------------------------- loading


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, keys normalised to current CompressAI names."""
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            found = _GLOBAL_IN_ERROR.search(text)
            culprit = f" ({found.group(1)})" if found else ""
            raise WeightsError(
                f"{path} holds pickled Python objects beyond tensors{culprit}, which torch.load("
                f"weights_only=True) refuses; re-save only the state dict: torch.save(model.state_dict(), PATH)"
            ) from None
        raise _unreadable(path, exc) from None
    except Exception as exc:  # noqa: BLE001 — zip errors, EOFError, KeyError …: an unreadable file
        raise _unreadable(path, exc) from None

    if isinstance(obj, Mapping) and not _all_tensors(obj):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(
            f"{path} holds no state dict (found {type(obj).__name__}); expected a dict of tensors, "
            f"bare or under {', '.join(repr(k) for k in WRAPPER_KEYS)}"
        )
    if not _all_tensors(obj):
        odd = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        raise WeightsError(
            f"{path} is not a state dict: entries {_few(odd)} are not tensors; expected a dict of tensors, "
            f"bare or under {', '.join(repr(k) for k in WRAPPER_KEYS)}"
        )
    return _normalise_keys(obj, path)


def _unreadable(path: Path, exc: BaseException) -> WeightsError:
    reason = one_line(str(exc).split(". ")[0])
    detail = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return WeightsError(f"{path} is not a readable PyTorch checkpoint (corrupt or truncated): {detail}")


def _all_tensors(obj: Mapping) -> bool:
    import torch

    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _normalise_keys(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """Strip DataParallel's ``module.``; apply CompressAI's renames of old zoo keys."""
    from compressai.zoo.pretrained import rename_key

    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = rename_key(key.removeprefix("module."))
        old = _OLD_EB_KEY.match(key)
        if old:
            key = f"{old['module']}.{_PLURAL[old['kind']]}.{old['i']}"
        if key in out:
            raise WeightsError(f"{path}: two entries map to the key {key!r} (with and without 'module.'?)")
        out[key] = value
    return out


def _is_dynamic(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in _DYNAMIC_BUFFERS


@functools.cache
def _template_keys(arch: str) -> frozenset[str]:
    """The state-dict keys of ``arch`` (independent of channel counts)."""
    return frozenset(_instantiate(arch, _tiny_config(arch)).state_dict())


def _tiny_config(arch: str) -> dict[str, int]:
    return {name: _TINY_CONFIG[name] for name in _CHANNEL_KEYS[arch]}


def _instantiate(arch: str, config: Mapping[str, int]) -> torch.nn.Module:
    return zoo.model_class(arch)(**config)


def _infer_config(arch: str, state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """Constructor channel counts read from the tensors; None if the keys are not there."""
    config = {}
    for name, (key, dim) in _CHANNEL_KEYS[arch].items():
        tensor = state.get(key)
        if tensor is None or tensor.dim() <= dim:
            return None
        config[name] = int(tensor.shape[dim])
    return config


def _shape_differences(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    expected = model.state_dict()
    return [
        f"{k}: file {list(v.shape)} vs model {list(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and not _is_dynamic(k) and v.shape != expected[k].shape
    ]


def _build(
    arch: str, state: dict[str, torch.Tensor], path: Path, *, update_buffers: bool
) -> tuple[torch.nn.Module, dict]:
    """Build ``arch`` with channel counts inferred from ``state`` and load ``state`` strictly."""
    template = _template_keys(arch)
    missing = sorted(template - state.keys())
    unexpected = sorted(state.keys() - template)
    if missing and update_buffers and all(_is_dynamic(k) for k in missing):
        missing = []  # entropy-coder tables only: update(force=True) recomputes them
    config = _infer_config(arch, state) if not (missing or unexpected) else None
    if missing or unexpected or config is None:
        raise WeightsError(_mismatch(arch, None, path, state, missing=missing, unexpected=unexpected))

    try:
        model = _instantiate(arch, config)
    except Exception as exc:  # noqa: BLE001 — e.g. a zero channel count read from the file
        raise WeightsError(f"{path}: cannot build {arch} {_fmt(config)}: {one_line(exc)}") from None
    shapes = _shape_differences(model, state)
    if shapes:
        raise WeightsError(_mismatch(arch, config, path, state, shapes=shapes))
    own = model.state_dict()
    full = {**{k: own[k] for k in template - state.keys()}, **state}
    try:
        model.load_state_dict(full, strict=True)
    except Exception as exc:  # noqa: BLE001 — any failure here is a checkpoint that does not fit
        raise WeightsError(f"{path} does not load into {arch} {_fmt(config)}: {one_line(exc)[:300]}") from None
    return model, config


def _mismatch(
    arch: str,
    config: Mapping[str, int] | None,
    path: Path,
    state: Mapping[str, torch.Tensor],
    *,
    missing: Sequence[str] = (),
    unexpected: Sequence[str] = (),
    shapes: Sequence[str] = (),
) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({_few(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({_few(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} shapes differ ({_few(shapes)})")
    if not parts:
        parts.append("its channel counts cannot be read from the tensors")
    target = f"{arch} {_fmt(config)}" if config else arch
    return f"{path} does not fit {target}: {'; '.join(parts)}; {_guess(state, exclude=arch)}"


def _guess(state: Mapping[str, torch.Tensor], *, exclude: str) -> str:
    """Which known architecture the state dict looks like, as a phrase."""
    keys = set(state)
    scores = {}
    for arch in zoo.ARCHITECTURES:
        template = _template_keys(arch)
        scores[arch] = len(keys & template) / len(keys | template)
    best = max(scores.values())
    if best < 0.5:
        return f"it does not look like any CompressAI image model (keys such as {_few(sorted(keys))})"
    candidates = [a for a, s in scores.items() if s == best]
    fits = []
    for arch in candidates:
        config = _infer_config(arch, state)
        if config is None:
            continue
        if best == 1.0:
            try:
                if _shape_differences(_instantiate(arch, config), state):
                    continue
            except Exception as exc:  # noqa: BLE001 — channel counts this class cannot take
                log.debug("%s does not fit %s: %s", arch, config, exc)
                continue
        fits.append((arch, config))
    if best == 1.0 and fits:
        arch, config = fits[0]
        if arch == exclude:
            return "the declared architecture's keys match but its layers do not fit"
        return f"it looks like {arch} {_fmt(config)}"
    nearest = [a for a in candidates if a != exclude]
    if not nearest:
        return "its keys are closest to the declared architecture, but no known architecture fits it"
    return f"it looks most like {nearest[0]} ({best:.0%} of keys shared), but does not fit it exactly"


def _fmt(config: Mapping[str, int] | None) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in (config or {}).items()) + ")"


def _few(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_EXAMPLES])
    return shown + (", …" if len(items) > _EXAMPLES else "")
