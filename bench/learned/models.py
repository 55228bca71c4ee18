"""What kind of CompressAI image model a module is: the one place that asks.

The coder, the latent check, the MAC count, the instrumented timing and the memory measurement all
branch on the same few facts — is there a hyperprior, does it predict means as well as scales, does it
code ŷ position by position — and on the model's downsampling factor. :func:`model_kind` answers them
from the module's structure (its parts and its CompressAI class):

* FactorizedPrior (bmshj2018-factorized): none of them, one string group;
* ScaleHyperprior (bmshj2018-hyperprior): hyperprior, scales only, ``h_a(|y|)``;
* MeanScaleHyperprior (mbt2018-mean): hyperprior, means and scales;
* JointAutoregressiveHierarchicalPriors (mbt2018, cheng2020): hyperprior, means and scales, autoregressive.

compressai is imported only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_MULTIPLE", "ModelKind", "model_kind"]

DEFAULT_MULTIPLE = 64
"""The downsampling factor of a model that does not state one (the hyperprior models')."""


@dataclass(frozen=True)
class ModelKind:
    """The coding structure of one CompressAI image model."""

    hyperprior: bool
    """ẑ = h_a(y) is coded first (entropy bottleneck) and h_s(ẑ) parametrises a Gaussian for ŷ."""
    mean_scale: bool
    """The Gaussian for ŷ has means as well as scales: the parameters are (scales, means) channel halves."""
    autoregressive: bool
    """ŷ is coded position by position with a masked context model (``_compress_ar``/``_decompress_ar``)."""
    multiple: int
    """The downsampling factor: inputs are padded to a multiple of it."""

    @property
    def groups(self) -> int:
        """String groups of ``compress()``: ŷ alone, or ŷ and ẑ."""
        return 2 if self.hyperprior else 1

    @property
    def abs_hyper_input(self) -> bool:
        """``h_a`` analyses ``|y|`` (the scale-only hyperprior), not ``y``."""
        return self.hyperprior and not self.mean_scale


def model_kind(model: Any) -> ModelKind:
    """The :class:`ModelKind` of ``model``, a CompressAI image model (``g_a``/``g_s``)."""
    from compressai.models import MeanScaleHyperprior

    hyperprior = hasattr(model, "h_a")
    return ModelKind(
        hyperprior=hyperprior,
        mean_scale=hyperprior and isinstance(model, MeanScaleHyperprior),
        autoregressive=hasattr(model, "_compress_ar"),
        multiple=int(getattr(model, "downsampling_factor", DEFAULT_MULTIPLE)),
    )
