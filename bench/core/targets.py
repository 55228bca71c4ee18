"""Rate-targeted points, as JPEG AI's common test conditions code: per image, a parametric codec's setting
nearest each target bit rate.

``run --targets 0.06,0.12,0.25,0.5,0.75`` adds, for each codec of the run with
:meth:`~bench.core.codec.Codec.search_points`, the codec ``<name>-targets`` (:data:`SUFFIX`): the same codec,
whose points are the targets (``bpp0.25``). Before a row's calls, untimed, its coder picks the setting nearest
the target on that image (:func:`bench.core.ratesearch.nearest_points`, every encode of an image shared by its
targets); the row records that setting (``setting``) and its target (``target_bpp``) beside the achieved
``bpp``. Its means over images are the codec's curve at the targets, each image at its own setting: a curve of
its own, never mixed with the codec's fixed settings. Learned codecs keep their λ points (no search points).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.errors import CodecError
from bench.core.options import Option
from bench.core.ratesearch import WINDOW, Hit, nearest_points, parse_targets
from bench.core.schema import Column

__all__ = ["JPEG_AI_TARGETS", "SUFFIX", "TargetedCodec", "target_label", "targets_option"]

SUFFIX = "-targets"
#: JPEG AI's common test conditions' target bit rates (bpp).
JPEG_AI_TARGETS = "0.06,0.12,0.25,0.5,0.75"
COLUMNS = (Column("setting", "str", "rate-targeted rows (<codec>-targets): the codec's setting chosen on this image, "
                  "nearest the target (bench.core.targets)"),
           Column("target_bpp", "float", "rate-targeted rows: the target bit rate the setting was chosen for"))


def targets_option() -> Option:
    """The option a targeted codec adds to its base's: the target bit rates, comma-separated."""
    return Option("targets", str, JPEG_AI_TARGETS, "target bit rates in bpp, comma-separated (run --targets)")


def target_label(target: float) -> str:
    """The point label of a target: ``bpp0.25``."""
    return f"bpp{target:g}"


class TargetCoder(Coder):
    """One target of a :class:`TargetedCodec`: the base codec's coder of the setting chosen on the image."""

    def __init__(self, codec: TargetedCodec, target: float) -> None:
        self.codec, self.target, self.point = codec, target, target_label(target)
        self._hit: Hit | None = None
        self._coder: Coder | None = None

    def select(self, image: np.ndarray) -> None:
        self._hit = self.codec.hits(image)[self.target]
        self._coder = self.codec.base_coder(self._hit.point)

    def _chosen(self) -> Coder:
        if self._coder is None:
            raise CodecError(f"{self.codec.name} {self.point}: no setting chosen yet (Coder.select(image) first)")
        return self._coder

    def encode(self, image: np.ndarray) -> bytes:
        return self._chosen().encode(image)

    def decode(self, data: bytes) -> np.ndarray:
        """Decoding needs nothing but the bytes (``verify`` decodes without choosing): any setting's decoder."""
        coder = self._coder or self.codec.base_coder(self.codec.base.search_points()[0])
        return coder.decode(data)

    def warm_up(self, image: np.ndarray) -> None:
        self._chosen().warm_up(image)

    def identity(self) -> dict[str, Any]:
        return {"target_bpp": self.target}

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        checks = dict(self._chosen().verify(image, data, recon))
        return {**checks, "setting": self._hit.point, "target_bpp": self.target}


class TargetedCodec(Codec):
    """``base`` at the settings nearest ``targets`` on each image (see the module)."""

    def __init__(self, base: Codec, targets: Sequence[float]) -> None:
        if base.search_points() is None:
            raise CodecError(f"{base.name} has no settings to search (a learned codec keeps its λ points); "
                             "--targets applies to parametric codecs only")
        self.base, self.targets = base, tuple(targets)
        self.name = base.name + SUFFIX
        self.deterministic_across_hosts = base.deterministic_across_hosts
        self.columns = (*base.columns, *COLUMNS)
        self._coders: dict[str, Coder] = {}
        self._hits: dict[str, dict[float, Hit]] = {}

    def default_points(self) -> list[str]:
        return [target_label(target) for target in self.targets]

    def coder(self, point: str) -> TargetCoder:
        for target in self.targets:
            if target_label(target) == point:
                return TargetCoder(self, target)
        raise CodecError(f"{self.name} has no point {point!r}; its points are its targets: "
                         f"{', '.join(self.default_points())}")

    def base_coder(self, point: str) -> Coder:
        """The base codec's coder of ``point``, built once."""
        if point not in self._coders:
            self._coders[point] = self.base.coder(point)
        return self._coders[point]

    def hits(self, image: np.ndarray) -> Mapping[float, Hit]:
        """Per target, the setting nearest it on ``image`` (searched once per image, untimed)."""
        key = hashlib.sha256(np.ascontiguousarray(image).tobytes() + repr(image.shape).encode()).hexdigest()
        if key not in self._hits:
            pixels = image.shape[0] * image.shape[1]
            self._hits[key] = nearest_points(lambda point: len(self.base_coder(point).encode(image)),
                                             self.base.search_points(), self.targets, pixels)
        return self._hits[key]

    def identity(self) -> dict[str, Any]:
        return {**self.base.identity(), "targets": list(self.targets),
                "search": f"nearest |bpp - target| over search_points (bisection, ±{WINDOW} steps)"}

    def synchronize(self):
        return self.base.synchronize()

    def describe(self) -> str:
        return f"{self.base.describe()}; per image, the setting nearest each target ({', '.join(self.default_points())})"


def targeted_factory(base_factory: Any) -> Any:
    """The registry factory of ``<base>-targets`` from its base's factory: the targets option is taken out."""
    def factory(options: Mapping[str, Any]) -> Codec:
        rest = {key: value for key, value in options.items() if key != "targets"}
        return TargetedCodec(base_factory(rest), parse_targets(str(options.get("targets") or JPEG_AI_TARGETS)))

    return factory
