"""Complexity of any registered codec that is not one of CompressAI's architectures by name.

A plug-in's :class:`~bench.learned.adapter.CompressionModelCodec`, a named model (``--checkpoint
NAME@ARCH:…``) or any other codec (JPEG, a plug-in without torch) is built as ``run`` builds it
(:func:`prepare_codecs`: every point's coder, weights loaded, before any measurement). What is measured
depends on what its coders expose:

* a torch module (``coder.model``) laid out as CompressAI's (``g_a``/``g_s``; the coder's
  ``latent_check`` on): parameters per child, MACs per part and side (:func:`bench.learned.macs.count_module`),
  every network and entropy-coding step timed apart, peak memory of the codec's whole calls;
* another torch module: parameters per child, MACs of ``forward()`` per child (sides unknown), the whole
  ``compress()``/``decompress()`` (or ``encode``/``decode``) calls timed, peak memory;
* no torch module: the whole ``encode``/``decode`` calls timed and their peak memory; why the rest is
  absent is recorded (:attr:`CodecModels.reason`) and said in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.core.errors import CodecError
from bench.learned import zoo
from bench.learned.complexity.files import ComplexityError

if TYPE_CHECKING:
    from bench.core.codec import Codec
    from bench.learned.complexity.timing import TimedModel
    from bench.learned.macs import ModelCount

__all__ = ["CodecModels", "count_codecs", "prepare_codecs", "split_names", "timed_codecs"]

NO_MODULE = ("no torch module: the whole encode/decode calls are timed and their memory measured; parameters, "
             "MACs and step timings need one (a CompressionModelCodec plug-in, docs/plugins.md)")
NOT_LAYERED = ("no g_a/g_s: MACs of forward() per child, coding sides unknown; only the whole calls are timed")
NOT_CHECKED = ("layout not CompressAI's (its coder's latent_check is off): parts counted as g_a/g_s/…, only the "
               "whole calls are timed")


@dataclass
class CodecModels:
    """A registered codec to measure: its points, their coders, and the structure its models share."""

    name: str
    codec: Codec
    points: tuple[str, ...]
    options: dict[str, Any]
    """The resolved option values it was built with (the memory child builds it again from them)."""
    coders: dict[str, Any]
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Configuration label → the points whose models have that structure (empty without a module)."""
    reason: str = ""
    """Why some measurement is absent ('' when every part is counted and timed)."""

    def module(self, point: str) -> Any:
        """The torch module of ``point``'s coder, or None."""
        return _module(self.coders[point])

    def label(self, point: str) -> str:
        return next(label for label, points in self.groups.items() if point in points)


def split_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(CompressAI architectures, other registered codecs)`` of ``--archs``; ``NAME@ARCH`` is the named
    model NAME. Call after the options defined their variants; an unknown name is one error with a hint."""
    from bench.core import registry

    archs, others = [], []
    for given in names:
        name, _, arch = given.partition("@")
        if name in zoo.ARCHITECTURES:
            archs.append(name)
            continue
        try:
            entry = registry.entry(name)
        except CodecError as exc:
            raise ComplexityError(f"--archs: {exc}. A model of your own is a plug-in on BENCH_CODEC_PATH "
                                  "(docs/plugins.md); a checkpoint of a CompressAI architecture is a named model, "
                                  "--checkpoint NAME@ARCH:LABEL=PATH") from None
        if arch and entry.base != arch:
            raise ComplexityError(f"--archs {given}: {name} is {'a variant of ' + entry.base if entry.base else 'a codec'}"
                                  f", not a named model of {arch}; define it with --checkpoint {name}@{arch}:LABEL=PATH")
        others.append(name)
    return archs, others


def _module(coder: Any) -> Any:
    import torch

    model = getattr(coder, "model", None)
    return model if isinstance(model, torch.nn.Module) else None


def _structure(model: Any) -> tuple[Any, ...]:
    return (type(model).__qualname__, *((name, tuple(p.shape)) for name, p in model.named_parameters()))


def prepare_codecs(names: Sequence[str], options: Mapping[str, Mapping[str, Any]],
                   points: Sequence[str] | None = None) -> list[CodecModels]:
    """Build each codec with its ``options`` and the coder of each of ``points`` (default: the codec's own),
    weights loaded; a codec or point that cannot be had is one error naming it."""
    from bench.core import registry

    out = []
    for name in names:
        try:
            codec = registry.create(name, options[name])
            chosen = tuple(points or codec.default_points())
            coders = {point: codec.coder(point) for point in chosen}
        except CodecError as exc:
            raise ComplexityError(f"--archs {name}: {exc}") from None
        if not chosen:
            raise ComplexityError(f"--archs {name}: it has no operating points here; give --points")
        entry = CodecModels(name, codec, chosen, dict(options[name]), coders)
        modules = {point: _module(coder) for point, coder in coders.items()}
        if any(m is None for m in modules.values()):
            entry.reason = NO_MODULE
        else:
            structures: dict[tuple[Any, ...], list[str]] = {}
            for point, model in modules.items():
                structures.setdefault(_structure(model), []).append(point)
            for i, labels in enumerate(structures.values()):
                loaded = getattr(coders[labels[0]], "loaded", None)
                config = ", ".join(f"{k}={v}" for k, v in (loaded.config if loaded is not None else {}).items())
                label = config or type(modules[labels[0]]).__name__
                entry.groups[label if label not in entry.groups else f"{label} #{i + 1}"] = labels
            first = next(iter(modules.values()))
            if not (hasattr(first, "g_a") and hasattr(first, "g_s")):
                entry.reason = NOT_LAYERED
            elif not getattr(next(iter(coders.values())), "latent_check", False):
                entry.reason = NOT_CHECKED
        out.append(entry)
    return out


def count_codecs(codecs: Sequence[CodecModels], size: tuple[int, int]
                 ) -> tuple[list[ModelCount], dict[tuple[str, str], list[str]]]:
    """Counts of each structure of each codec with a module at ``size`` (H, W), and the points of each."""
    from bench.learned.macs import count_module

    counts, used = [], {}
    for entry in codecs:
        for label, points in entry.groups.items():
            loaded = getattr(entry.coders[points[0]], "loaded", None)
            count = count_module(entry.name, entry.module(points[0]), height=size[0], width=size[1],
                                 config=loaded.config if loaded is not None else None, label=label)
            counts.append(count)
            used[(entry.name, count.config_label)] = points
    return counts, used


def timed_codecs(codecs: Sequence[CodecModels]) -> tuple[list[TimedModel], list[tuple[Codec, tuple[str, ...]]]]:
    """``(models timed through compress()/decompress(), codecs timed by whole encode/decode calls)``."""
    from bench.learned.complexity.timing import TimedModel
    from bench.learned.memory import weights_label

    models, calls = [], []
    for entry in codecs:
        modules = {point: entry.module(point) for point in entry.points}
        if entry.reason == NO_MODULE or not all(hasattr(m, "compress") and hasattr(m, "decompress")
                                                for m in modules.values()):
            calls.append((entry.codec, entry.points))
            continue
        for point, model in modules.items():
            loaded = getattr(entry.coders[point], "loaded", None)
            models.append(TimedModel(entry.name, (point,), weights_label(loaded) if loaded is not None else "-",
                                     model, dict(loaded.config) if loaded is not None else {},
                                     parts=not entry.reason, label=entry.label(point)))
    return models, calls
