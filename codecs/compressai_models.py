"""CompressAI image models (bmshj2018, mbt2018, cheng2020) behind the harness's codec contract.

One codec class serves every architecture of :data:`bench.learned.zoo.ARCHITECTURES`, and every *named
model*: ``--checkpoint NAME@ARCH:LABEL=PATH`` defines the codec NAME, built as ARCH from its own
checkpoints only (two ablations of one architecture are two codecs, two curves); the plug-in's
``variants`` hook (:func:`_named_models`) tells the registry which names the options define.

Everything but finding the weights — padding, coding, bitstream container, warm-up, latent check, rate
estimate — is the public base class :class:`bench.learned.adapter.CompressionModelCodec`, which a
plug-in's own network uses too (``docs/plugins.md``). This family adds the weights' options (zoo,
mirror, checkpoints, cache) and loads a point's weights with checksums and origin
(:func:`bench.learned.checkpoint.load_model`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bench.core.codec import Codec, Coder
from bench.core.options import Option, resolve
from bench.core.registry import VARIANT_NAME, register
from bench.learned import adapter, zoo
from bench.learned.adapter import CompressionModelCodec

if TYPE_CHECKING:
    from bench.learned.checkpoint import LoadedModel

#: The options of every CompressAI zoo codec: the adapter's (device, padding, update), then where the
#: weights come from (``--device cpu`` or ``--codec-args mbt2018:device=cpu``).
OPTIONS = (
    *adapter.OPTIONS,
    Option("weights_mirror", str, None, "folder or base URL holding CompressAI zoo files (env BENCH_WEIGHTS_MIRROR)",
           flag="--weights-mirror", metavar="DIR|URL"),
    Option("checkpoint", list, [], "use this weights file for one operating point, e.g. "
           "bmshj2018-factorized:lambda0.0130=f.pth; NAME@ makes it the model NAME, a codec of its own "
           "(ablationA@bmshj2018-factorized:lambda0.0130=a.pth) (repeatable)", flag="--checkpoint",
           metavar="[NAME@]ARCH:LABEL=PATH"),
    Option("checkpoint_dir", str, None, "every model file in DIR: <arch>_…lambda<λ>….pth (channels read from the "
           "tensors), or an export with its sidecar, e.g. from `make train`", flag="--checkpoint-dir",
           metavar="DIR"),
    Option("weights_cache", str, None, "weights cache (default: torch hub's checkpoints)", flag="--weights-cache",
           metavar="DIR"),
)

DERIVABLE = ("mbt2018",)
"""Architectures whose reference rows may be derived from exact wavefronts (checked by every run, see
:meth:`CompressAICodec.derivation`); mbt2018 is the one checked against the reference here
(results/wavefront-check)."""

_SUMMARIES = {
    "bmshj2018-factorized": "Ballé et al. 2018, factorized prior (CompressAI)",
    "bmshj2018-factorized-relu": "Ballé et al. 2018, factorized prior, ReLU instead of GDN (CompressAI)",
    "bmshj2018-hyperprior": "Ballé et al. 2018, scale hyperprior (CompressAI)",
    "mbt2018-mean": "Minnen et al. 2018, mean-scale hyperprior (CompressAI)",
    "mbt2018": "Minnen et al. 2018, joint autoregressive + hyperprior (CompressAI)",
    "cheng2020-anchor": "Cheng et al. 2020, anchor (CompressAI)",
    "cheng2020-attn": "Cheng et al. 2020, with attention (CompressAI)",
}


class CompressAICodec(CompressionModelCodec):
    """A CompressAI architecture, or a named model of one; operating points are training-λ labels
    (``lambda0.0130`` …)."""

    def __init__(self, arch: str, options: Mapping[str, Any]) -> None:
        """``options``: values of :data:`OPTIONS` (missing ones take their defaults), or a ready
        ``WeightsSource`` under ``weights`` instead of the weights options; a named model's name under
        ``name`` (:data:`bench.core.registry.VARIANT_NAME`)."""
        from bench.learned.weights import options_of_source, source_from_options

        self.arch = zoo.check_arch(arch)
        name = options.get(VARIANT_NAME) or self.arch
        values = resolve(OPTIONS, {k: v for k, v in options.items() if k not in ("weights", VARIANT_NAME)},
                         codec=name)
        source = options.get("weights")
        if source is not None:
            values.update(options_of_source(source))  # recorded as plain options, so a rebuild finds the same
        super().__init__(name, values)
        self.model = self.name  # whose checkpoints it runs (kept when a subclass renames the codec)
        self.source = source if source is not None else source_from_options(values)

    def default_points(self) -> list[str]:
        from bench.learned.weights import points_for

        return list(points_for(self.arch, self.source, None, name=self.model))

    def load_point(self, point: str) -> LoadedModel:
        """The weights of ``point`` (zoo, mirror or checkpoint, hashed); WeightsUnavailable when none can be had."""
        from bench.learned.checkpoint import load_model

        return load_model(self.arch, point, self.source, update=self.update, name=self.model)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "arch": self.arch}

    def derivation(self, point: str) -> Coder | None:
        """The reference bitstream by exact wavefronts (:mod:`bench.learned.derive`) for a joint
        autoregressive model on the CPU; None for the others."""
        if self.arch not in DERIVABLE or self.device.type != "cpu":
            return None
        from bench.learned.derive import DerivedCoder

        return DerivedCoder(self, self.load_point(point))

    def describe(self) -> str:
        model = self.name if self.name == self.arch else f"{self.name} ({self.arch})"
        return f"{model}: {_SUMMARIES.get(self.arch, 'CompressAI model')}, padding {self.padding}, {self.device}"


def _factory(arch: str) -> Callable[[Mapping[str, Any]], Codec]:
    def make(options: Mapping[str, Any]) -> Codec:
        return CompressAICodec(arch, options)

    make.__name__ = f"make_{arch.replace('-', '_')}"
    return make


def _named_models(options: Mapping[str, Any]) -> dict[str, str]:
    """The registry's ``variants`` hook: ``{NAME: ARCH}`` of the ``--checkpoint NAME@ARCH:…`` specs."""
    from bench.learned.weights import named_models

    return named_models(options.get("checkpoint") or ())


for _arch in zoo.ARCHITECTURES:
    register(_arch, _SUMMARIES.get(_arch, "CompressAI model"), options=OPTIONS, extras=("weights",),
             variants=_named_models)(_factory(_arch))
