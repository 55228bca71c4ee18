"""The joint autoregressive CompressAI models with ŷ coded by wavefronts: ``mbt2018-wavefront``,
``cheng2020-anchor-wavefront``, ``cheng2020-attn-wavefront``.

Same weights (zoo, mirror, ``--checkpoint mbt2018:LABEL=PATH``: the architecture's own), same options,
padding, container, latent check and ``verify`` as the CompressAI plug-in
(``codecs/compressai_models.py``, whose codec class these subclass, and the coder of
:mod:`bench.learned.adapter`); only the coding of ŷ differs:
:mod:`bench.learned.wavefront` codes all positions of one wavefront in one batched step instead of
one position at a time. The bitstream names its coder (``wavefront``, or ``wavefront-fast`` with
``numerics=fast``), so this codec and the reference refuse each other's streams.

``numerics`` (``--codec-args mbt2018-wavefront:numerics=fast``): ``exact`` (default) computes every
position's scales and means bit for bit as CompressAI's per-position loop does on the CPU, so ŷ and
the reconstruction equal the reference's; ``fast`` runs the same maths as matrix products on the
unmasked taps (faster, encoder and decoder still identical, the reference's sums only approximately).

This file is loaded after ``compressai_models.py`` (plug-ins load in name order) and takes its
classes from that plug-in's module; it fails to load, in one line, if that plug-in did not load.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import CodecError
from bench.core.options import Option
from bench.core.registry import register
from bench.learned import bitstream
from bench.learned.adapter import CompressionModelCoder

if TYPE_CHECKING:
    from bench.learned.checkpoint import LoadedModel

_BASE_MODULE = "bench_plugins.compressai_models"
base = sys.modules.get(_BASE_MODULE)
if base is None:
    raise CodecError("the wavefront codecs subclass the CompressAI plug-in (codecs/compressai_models.py), "
                     "which did not load; fix it first")

ARCHITECTURES: dict[str, str] = {
    "mbt2018-wavefront": "mbt2018",
    "cheng2020-anchor-wavefront": "cheng2020-anchor",
    "cheng2020-attn-wavefront": "cheng2020-attn",
}
"""Codec name → the CompressAI architecture (and weights) it codes with wavefronts."""
NUMERICS: tuple[str, ...] = ("exact", "fast")
"""``bench.learned.wavefront.NUMERICS`` (not imported here: that module imports torch)."""
CODER_OF: dict[str, str] = {"exact": "wavefront", "fast": "wavefront-fast"}
"""The bitstream coder (:data:`bench.learned.bitstream.CODERS`) of each numerics."""

OPTIONS = (
    *base.OPTIONS,
    Option("numerics", str, "exact", "exact: scales and means bit for bit as CompressAI's per-position loop "
           "(same ŷ, same pixels); fast: matrix products on the unmasked taps (faster, approximately the "
           "reference's sums)", choices=NUMERICS),
)


class WavefrontCoder(CompressionModelCoder):
    """One operating point of a wavefront codec."""

    def __init__(self, codec: WavefrontCodec, loaded: LoadedModel) -> None:
        from bench.learned import wavefront

        super().__init__(codec, loaded)
        self.kernel_size = wavefront.check_model(self.model)
        self.numerics = codec.numerics
        self.context_coder = CODER_OF[codec.numerics]
        self._wavefront = wavefront

    def compress_model(self, x: Any) -> dict[str, Any]:
        out = self._wavefront.compress(self.model, x, numerics=self.numerics)
        if self.capture.phase == "encode":  # what the latent check compares with the decoder's ŷ
            self.capture.data["encode"]["y_hat_padded"] = (out["y_hat_padded"], self.kernel_size // 2)
        return out

    def decompress_model(self, strings: list[list[bytes]], shape: list[int]) -> dict[str, Any]:
        return self._wavefront.decompress(self.model, strings, shape, numerics=self.numerics)

    def warm_up(self, image: np.ndarray) -> None:
        """A full round trip of this image: every network, and the batched step at every wavefront size
        the timed calls meet (a crop would leave the larger wavefronts cold); cheap without the loop."""
        self._check_image(image)
        self.decode(self.encode(image))


class WavefrontCodec(base.CompressAICodec):
    """A joint autoregressive architecture coded by wavefronts; its weights are the architecture's."""

    coder_class = WavefrontCoder

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        if name not in ARCHITECTURES:
            raise CodecError(f"unknown wavefront codec {name!r}; use one of {', '.join(ARCHITECTURES)}")
        numerics = options.get("numerics", NUMERICS[0])
        super().__init__(ARCHITECTURES[name], {k: v for k, v in options.items() if k != "numerics"})
        self.name = name
        self.numerics = numerics
        self.options = {**self.options, "numerics": numerics}

    def default_points(self) -> list[str]:
        from bench.learned.weights import points_for

        return list(points_for(self.arch, self.source, None))

    def load_point(self, point: str) -> LoadedModel:
        """The architecture's weights of ``point``; WeightsUnavailable when none can be had."""
        from bench.learned.checkpoint import load_model

        return load_model(self.arch, point, self.source, update=self.update)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "bitstream": bitstream.TAG_CODER, "context_coder": CODER_OF[self.numerics],
                "numerics": self.numerics}

    def derivation(self, point: str) -> None:
        """None: these rows are the wavefront coder's own (the reference's come from ``mbt2018``)."""
        return None

    def describe(self) -> str:
        return f"{self.name}: {self.arch} with ŷ coded by wavefronts ({self.numerics} numerics), " \
               f"padding {self.padding}, {self.device}"


def _factory(name: str) -> Callable[[Mapping[str, Any]], WavefrontCodec]:
    def make(options: Mapping[str, Any]) -> WavefrontCodec:
        return WavefrontCodec(name, options)

    make.__name__ = f"make_{name.replace('-', '_')}"
    return make


for _name, _arch in ARCHITECTURES.items():
    register(_name, f"{_arch} with ŷ coded by wavefronts (same weights, batched context model)", options=OPTIONS,
             extras=("weights",))(_factory(_name))
