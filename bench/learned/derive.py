"""The reference bitstream of a joint autoregressive model, made by exact wavefronts.

CompressAI's ``mbt2018`` codes ŷ one latent position at a time (``_compress_ar``): per position its
scales and means from the masked context model and the entropy-parameter network, then the symbols
and CDF indexes buffered, and all of them coded in one rANS call at the end. The exact wavefront
coder (:mod:`bench.learned.wavefront`) computes every position's scales and means bit for bit as
those per-position calls do, by wavefronts; coding its symbols and indexes in raster order then gives
the reference's ŷ string byte for byte, and ``g_s`` of its ŷ the reference decoder's pixels.

:class:`DerivedCoder` is that coder: its bitstream is the reference's (same header, same coder byte),
made in a fraction of the reference loop's time. Its decoder returns ``g_s(ŷ)`` of its own last
encode only — it cannot decode a bitstream it did not just write — so it serves the RD values of a
run, never a timing and never a decoder a user would call. The evaluator uses it only after this run
has coded a sample with the reference's own coder and found every sample's bitstream and row equal
(:meth:`bench.core.evaluator.Evaluation._derive`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.core.errors import CodecError
from bench.learned import bitstream
from bench.learned.adapter import CompressionModelCodec, CompressionModelCoder

if TYPE_CHECKING:
    from bench.learned.checkpoint import LoadedModel

__all__ = ["DERIVED", "DerivedCoder"]

DERIVED = "wavefront-exact"
"""The ``derived`` column of a row made by :class:`DerivedCoder`."""


class DerivedCoder(CompressionModelCoder):
    """The reference coder's bitstream and reconstruction, ŷ computed by exact wavefronts (CPU only)."""

    context_coder = bitstream.REFERENCE
    derived = DERIVED  #: what the evaluator writes into a derived row's ``derived`` column
    #: Off: its "decoder" returns the encoder's own ŷ through g_s (the codec's rows of the sample check the
    #: real decoder's latents, and every derived value against them).
    latent_check = False

    def __init__(self, codec: CompressionModelCodec, loaded: LoadedModel) -> None:
        from bench.learned import wavefront

        super().__init__(codec, loaded)
        if self.device.type != "cpu":
            raise CodecError(f"{codec.name}: rows are derived from exact wavefronts on the CPU only "
                             "(on CUDA the batched steps are not the reference's sums)")
        self.kernel_size = wavefront.check_model(self.model)
        self._wavefront = wavefront
        self._last: tuple[Any, Any] | None = None  # (strings, padded ŷ) of the last encode

    def compress_model(self, x: Any) -> dict[str, Any]:
        out = self._wavefront.compress(self.model, x, numerics="exact", raster=True)
        self._last = (out["strings"], out["y_hat_padded"])
        if self.capture.phase == "encode":  # what the latent check compares with the decoder's ŷ
            self.capture.data["encode"]["y_hat_padded"] = (out["y_hat_padded"], self.kernel_size // 2)
        return out

    def decompress_model(self, strings: list[list[bytes]], shape: list[int]) -> dict[str, Any]:
        if self._last is None or [list(group) for group in strings] != [list(g) for g in self._last[0]]:
            raise CodecError(f"{self.codec.name}'s derived coder decodes only the bitstream it has just made; "
                             "decode other bitstreams with the codec itself")
        r = self.kernel_size // 2
        padded = self._last[1]
        y_hat = padded[:, :, r:padded.size(2) - r, r:padded.size(3) - r]
        return {"x_hat": self.model.g_s(y_hat).clamp_(0, 1)}

    def warm_up(self, image: np.ndarray) -> None:
        """Nothing: the derived rows are never timed."""
