"""The codec plug-in contract.

A codec is a family of operating points (``q75``, ``lambda0.0130`` …). For one
operating point it gives a :class:`Coder` whose ``encode`` returns the complete
bitstream and whose ``decode`` needs nothing but those bytes. The harness
computes bpp = 8·len(bytes)/(H·W) the same way for every codec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from bench.core.schema import Column


class Coder(ABC):
    """One operating point of a codec: image → bytes → image."""

    point: str

    @abstractmethod
    def encode(self, image: np.ndarray) -> bytes:
        """Encode an H×W×3 uint8 RGB image into a complete bitstream."""

    @abstractmethod
    def decode(self, data: bytes) -> np.ndarray:
        """Decode a bitstream made by :meth:`encode` into H×W×3 uint8 RGB."""

    def identity(self) -> dict[str, Any]:
        """Settings of this operating point that change the bitstream (e.g. weights hash)."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Where this point's ingredients came from (e.g. weights origin): recorded, not hashed."""
        return {}

    def row_fields(self) -> dict[str, Any]:
        """Extra row columns this coder fills (``device``, ``padding`` …), declared in ``Codec.columns``."""
        return {}

    def select(self, image: np.ndarray) -> None:
        """Untimed, before a row's calls on ``image`` (and its warm-up): per-image set-up, e.g. a rate-targeted
        point choosing its setting (:mod:`bench.core.targets`). Default: nothing."""

    def warm_up(self, image: np.ndarray) -> None:
        """Untimed, before the first timed call at each operating point on an image of this shape.

        It must run every kernel the timed calls will run, at the shapes they will run it, so that
        one-time costs (kernel selection, memory the allocator keeps) fall here. Default: a round trip.
        """
        self.decode(self.encode(image))

    def verify(self, image: np.ndarray, data: bytes, recon: np.ndarray) -> dict[str, Any]:
        """Checks run outside the timed region after a round trip.

        May return ``status`` ("failed" with a ``note`` saying why) and extra row
        columns such as ``bpp_estimated`` (declared in ``Codec.columns``).
        """
        return {}


class Codec(ABC):
    """A named family of operating points, registered in :mod:`bench.core.registry`."""

    name: str
    #: The bitstreams and reconstructions are bit-exact on any host given the library versions in
    #: :meth:`identity` (e.g. Pillow's codecs): RD values stored on another host are reused (timings are
    #: taken again). Otherwise (the default: learned codecs) rows from another host are recomputed.
    deterministic_across_hosts: bool = False
    #: The resolved values of the options this codec was built with (plain JSON values); filled by
    #: :func:`bench.core.registry.create`, recorded in the run metadata, used by ``verify`` to rebuild it.
    options: Mapping[str, Any] = MappingProxyType({})
    #: Row columns this codec's coders fill beyond the generic ones (:mod:`bench.core.schema`): names of
    #: codec-filled schema columns (``"payload_bytes"``, ``"device"`` …) or :class:`Column` objects for
    #: new columns, which are appended to ``rows.csv``. Filling an undeclared column stops the run.
    columns: tuple[str | Column, ...] = ()

    @abstractmethod
    def default_points(self) -> list[str]:
        """Operating-point labels benchmarked when the user names none, in rate order."""

    @abstractmethod
    def coder(self, point: str) -> Coder:
        """The coder for one operating-point label; raise CodecError for an unknown label."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Library versions and settings that determine the bitstreams; recorded and hashed."""

    def synchronize(self) -> Callable[[], None] | None:
        """Called before starting and before stopping the clock (e.g. CUDA synchronize)."""
        return None

    def search_points(self) -> list[str] | None:
        """Every setting worth trying in a rate search (``run --targets``), lowest rate first, for a codec whose
        rate moves with one parameter (JPEG's ``q1`` … ``q100``); None (the default): only its own points."""
        return None

    def derivation(self, point: str) -> Coder | None:
        """A second coder of ``point`` whose bitstream and reconstruction are this codec's own, made a
        cheaper way (e.g. the reference loop of an autoregressive model by exact wavefronts), or None.
        Rows come from it only after the run has checked it against :meth:`coder` on a sample."""
        return None

    def describe(self) -> str:
        """One line for ``python -m bench codecs``."""
        return self.name
