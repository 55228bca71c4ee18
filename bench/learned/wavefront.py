"""Wavefront coding of ŷ for CompressAI's joint autoregressive models (mbt2018, cheng2020).

CompressAI's ``_compress_ar``/``_decompress_ar`` code ŷ one latent position at a time, in raster
order: per position, a 5×5 convolution on a crop of the padded ŷ (the masked context model), the
entropy-parameter network on that one position, then one rANS call. With a k×k mask of type A
(k = 2r + 1: rows above the centre and the taps left of it), position (h, w) depends only on
(h, w−1 … w−r) and on rows h−1 … h−r up to column w+r. All positions with the same
``t = (r + 1)·h + w`` are therefore independent of each other and depend only on smaller t: they
form a *wavefront*, and the coder visits wavefronts in increasing t (within one: increasing h).
At r = 2 a 32×48 latent (a Kodak image) has 3·31 + 47 + 1 = 141 wavefronts instead of 1 536 positions.

Per wavefront, encoder and decoder run the same batched computation (:class:`_Context`): gather the
crops of its positions from the padded ŷ, the masked context convolution on all of them at once, the
entropy-parameter network, then the Gaussian conditional exactly as the reference: index from the
scales as ``build_indexes``, symbols = round(y − means), ŷ = symbols + means. Encoder and decoder
build their batches from the same :func:`wavefronts` list, so their scales and means are
bit-identical whatever the numerics.

Two numerics (:data:`NUMERICS`):

* ``exact``: every position's scales and means are, bit for bit, those of the reference's
  per-position calls on the CPU, so ŷ and the reconstruction equal the reference's and the payload
  differs by a few bytes (only the symbol order differs). The crops, side by side, go through the
  same full k×k convolution (oneDNN's direct kernel: each output's sum does not depend on how many
  crops share the call); the entropy-parameter network runs once per position on a fresh
  1×4M×1×1 tensor, exactly the reference's call (its 1×1 convolutions are GEMVs whose sums change
  with the batch and even with the input's memory alignment). What is saved is the per-position
  overhead: 141 context calls instead of 1 536, one rANS call per wavefront with only the CDF rows
  it uses, one index search instead of 64 comparisons.
* ``fast``: the context model on the 12 unmasked taps only, and the entropy-parameter network, as
  one matrix product per layer and wavefront. Same maths, sums in another order: ŷ differs from the
  reference's in the last bits of the means (and, rarely, a symbol where y − mean falls within those
  bits of ½); encoder and decoder still agree exactly.

On CUDA both run batched (cuDNN, one call per wavefront): the decoder matches the encoder on the
same device, not the reference bit for bit.

Stream: one rANS string, symbols in wavefront order, each position's M channels in channel order
(docs/bitstream.md, coder ``wavefront``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.errors import CodecError

__all__ = ["NUMERICS", "Plan", "WavefrontError", "check_model", "compress", "compress_latent", "decompress",
           "decompress_latent", "executed_macs", "plan", "wavefronts"]

Position = tuple[int, int]

NUMERICS: tuple[str, ...] = ("exact", "fast")
"""How the batched steps compute: bit for bit as the reference (``exact``), or matrix products (``fast``)."""


class WavefrontError(CodecError):
    """A model the wavefront coder cannot code (its context model is not a masked k×k type-A convolution)."""


# --------------------------------------------------------------------------- the schedule


def wavefronts(height: int, width: int, kernel_size: int = 5) -> list[list[Position]]:
    """The positions of a ``height``×``width`` latent grouped into wavefronts, in coding order.

    Wavefront t holds the positions (h, w) with (r + 1)·h + w = t, r = kernel_size // 2, by
    increasing h. Every position of a type-A context window has a smaller t. Values of t that no
    position has (latents narrower than r + 1) are skipped.
    """
    if height < 1 or width < 1:
        raise WavefrontError(f"latent size must be positive, got {height}×{width}")
    slope = kernel_size // 2 + 1
    fronts: list[list[Position]] = []
    for t in range(slope * (height - 1) + width):
        first = max(0, -(-(t - width + 1) // slope))
        last = min(height - 1, t // slope)
        if first <= last:
            fronts.append([(h, t - slope * h) for h in range(first, last + 1)])
    return fronts


@dataclass(frozen=True)
class Plan:
    """Index tensors of a wavefront order for one latent size: what the batched steps gather and scatter.

    Flat indices: ``positions`` into the h×w latent plane, ``centres`` and ``patches`` into the padded
    (h + 2r)×(w + 2r) plane; wavefront k is ``[bounds[k], bounds[k + 1])`` of each.
    """

    height: int
    width: int
    kernel_size: int
    bounds: tuple[int, ...]
    positions: torch.Tensor  # (P,) h·width + w
    centres: torch.Tensor  # (P,) (h + r)·(width + 2r) + w + r
    patches: torch.Tensor  # (P, k, k) the k×k crop whose top-left corner is (h, w) in padded coordinates

    @property
    def count(self) -> int:
        """Number of wavefronts (batched steps)."""
        return len(self.bounds) - 1

    def to(self, device: torch.device) -> Plan:
        return Plan(self.height, self.width, self.kernel_size, self.bounds, self.positions.to(device),
                    self.centres.to(device), self.patches.to(device))


def plan(height: int, width: int, kernel_size: int = 5, fronts: Sequence[Sequence[Position]] | None = None,
         device: torch.device | str = "cpu") -> Plan:
    """The :class:`Plan` of ``fronts`` (default :func:`wavefronts`) on ``device``; the default is cached."""
    if fronts is None:
        return _default_plan(int(height), int(width), int(kernel_size)).to(torch.device(device))
    return _build(int(height), int(width), int(kernel_size), fronts).to(torch.device(device))


@lru_cache(maxsize=16)
def _default_plan(height: int, width: int, kernel_size: int) -> Plan:
    return _build(height, width, kernel_size, wavefronts(height, width, kernel_size))


def _build(height: int, width: int, kernel_size: int, fronts: Sequence[Sequence[Position]]) -> Plan:
    flat = [pos for front in fronts for pos in front]
    if sorted(flat) != [(h, w) for h in range(height) for w in range(width)]:
        raise WavefrontError(f"the wavefronts must visit each of the {height}×{width} positions once")
    r = kernel_size // 2
    padded_width = width + 2 * r
    hs = torch.tensor([h for h, _ in flat], dtype=torch.long)
    ws = torch.tensor([w for _, w in flat], dtype=torch.long)
    offsets = torch.arange(kernel_size).reshape(-1, 1) * padded_width + torch.arange(kernel_size)
    bounds = [0]
    for front in fronts:
        bounds.append(bounds[-1] + len(front))
    return Plan(height, width, kernel_size, tuple(bounds), hs * width + ws, (hs + r) * padded_width + ws + r,
                (hs * padded_width + ws).reshape(-1, 1, 1) + offsets)


# --------------------------------------------------------------------------- the model


def check_model(model: Any) -> int:
    """The context kernel size of ``model`` if the wavefront coder can code it; WavefrontError otherwise.

    It needs CompressAI's joint autoregressive structure (``g_a``, ``h_a``, ``h_s``, ``g_s``, an entropy
    bottleneck, a Gaussian conditional), a context model that is a k×k convolution (odd k, stride 1,
    padding k // 2, no dilation, one group) with a type-A mask, and an entropy-parameter network made
    of 1×1 convolutions and element-wise layers.
    """
    name = type(model).__name__
    parts = ("g_a", "h_a", "h_s", "g_s", "entropy_bottleneck", "gaussian_conditional", "context_prediction",
             "entropy_parameters")
    missing = [p for p in parts if not hasattr(model, p)]
    if missing:
        raise WavefrontError(f"{name} has no {', '.join(missing)}: the wavefront coder needs a joint "
                             "autoregressive model (mbt2018, cheng2020); use the reference codec")
    cp = model.context_prediction
    mask = getattr(cp, "mask", None)
    k = cp.weight.shape[-1] if cp.weight.dim() == 4 else 0
    if (mask is None or cp.weight.shape[-2] != k or k % 2 == 0 or tuple(cp.stride) != (1, 1)
            or tuple(cp.padding) != (k // 2, k // 2) or tuple(cp.dilation) != (1, 1) or cp.groups != 1):
        raise WavefrontError(f"{name}'s context model is not a masked k×k convolution with stride 1 and "
                             "padding k // 2; use the reference codec")
    expected = torch.ones(k, k)
    expected[k // 2, k // 2:] = 0
    expected[k // 2 + 1:] = 0
    if not torch.equal(mask.detach().cpu().float(), expected.expand_as(mask)):
        raise WavefrontError(f"{name}'s context mask is not of type A (rows above and taps left of the "
                             "centre); its dependencies do not allow wavefronts; use the reference codec")
    for layer in model.entropy_parameters.children():
        if isinstance(layer, torch.nn.Conv2d) and not _is_pointwise(layer):
            raise WavefrontError(f"{name}'s entropy-parameter network has a {tuple(layer.kernel_size)} "
                                 "convolution; the wavefront coder needs 1×1 convolutions")
    return k


def _is_pointwise(layer: torch.nn.Conv2d) -> bool:
    return (tuple(layer.kernel_size) == (1, 1) and tuple(layer.stride) == (1, 1)
            and tuple(layer.padding) == (0, 0) and tuple(layer.dilation) == (1, 1) and layer.groups == 1)


def _entropy_parameters(model: Any, p: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
    """``model.entropy_parameters(cat(p, ctx))`` for n positions (n×2M each), each computed as the reference does.

    On the CPU, one call per position on a freshly allocated 1×4M×1×1 input, exactly the reference's
    call: PyTorch runs a 1×1 convolution of one sample as one GEMV, whose sums depend on the batch (a
    batched call takes another kernel) and even on the input's memory alignment (a row of a batch is
    not aligned as a fresh tensor is). On CUDA, one batched call.
    """
    if p.device.type != "cpu":
        return model.entropy_parameters(torch.cat((p, ctx), dim=1)[:, :, None, None]).flatten(1)
    net = model.entropy_parameters
    return torch.cat([net(torch.cat((p[i:i + 1], ctx[i:i + 1]), dim=1)[:, :, None, None]).flatten(1)
                      for i in range(p.size(0))])


class _Context:
    """The batched step shared by encoder and decoder: ŷ's padded plane, the hyperprior's parameters.

    Both planes are kept position-major (a row per position, M or 2M channels wide), so that gathering
    a wavefront's crops and scattering its values are row selections. ``numerics``: ``exact`` computes
    every position's scales and means bit for bit as the reference's per-position calls do (on the
    CPU); ``fast`` runs the context model on the unmasked taps and the entropy-parameter network as
    matrix products (the hyperprior's share of the first layer for all positions in one product).
    """

    def __init__(self, model: Any, height: int, width: int, params: torch.Tensor, order: Plan,
                 numerics: str = "exact") -> None:
        if numerics not in NUMERICS:
            raise WavefrontError(f"unknown numerics {numerics!r}; use one of {', '.join(NUMERICS)}")
        cp = model.context_prediction
        k = order.kernel_size
        self.model = model
        self.channels = int(model.M)
        self.k = k
        self.shape = (height + 2 * (k // 2), width + 2 * (k // 2))
        self.plane = torch.zeros(self.shape[0] * self.shape[1], self.channels, device=params.device)
        self.params = params[0].reshape(params.size(1), -1).t().contiguous()
        self.weight = cp.weight * cp.mask  # as _compress_ar (the decoder's zeros make the mask moot there)
        self.bias = cp.bias
        self.plan = order
        sizes = [b - a for a, b in zip(order.bounds, order.bounds[1:])]
        self.positions = order.positions.split(sizes)
        self.centres = order.centres.split(sizes)
        self.exact = numerics == "exact"
        if self.exact:  # each wavefront's crops side by side: rows (dy, crop, dx) of the k × n·k strip
            self.gather = [front.transpose(0, 1).reshape(-1) for front in order.patches.split(sizes)]
        else:
            taps = cp.mask[0, 0].reshape(-1).nonzero().reshape(-1).to(params.device)
            tapped = order.patches.reshape(len(order.positions), -1)[:, taps]
            self.gather = [front.reshape(-1) for front in tapped.split(sizes)]
            # the weights as one (taps·M, 2M) matrix whose rows follow the gathered (tap, channel) layout
            w = self.weight.reshape(self.weight.size(0), self.channels, -1)[:, :, taps]
            self.matrix = w.permute(2, 1, 0).reshape(-1, w.size(0)).contiguous()
            layers = list(model.entropy_parameters.children())
            first = layers[0]
            if not isinstance(first, torch.nn.Conv2d) or first.in_channels != self.params.size(1) * 2:
                raise WavefrontError("the entropy-parameter network must start with a 1×1 convolution of "
                                     "(hyperprior parameters, context)")
            w1 = first.weight.reshape(first.out_channels, -1)
            split = self.params.size(1)
            self.hyper = torch.addmm(first.bias, self.params, w1[:, :split].t())  # every position at once
            self.first = w1[:, split:].t()
            self.layers = [(layer.weight.reshape(layer.out_channels, -1).t(), layer.bias)
                           if isinstance(layer, torch.nn.Conv2d) else layer for layer in layers[1:]]

    def parameters(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scales, means) of wavefront ``index``, each n×M (position, channel)."""
        positions = self.positions[index]
        n = len(positions)
        gathered = self.plane.index_select(0, self.gather[index])
        if self.exact:
            # the crops side by side, k rows × n·k columns: a stride-k convolution gives one output per
            # crop, each the sum the reference's convolution of that crop alone gives (oneDNN's direct
            # kernel), vectorised over the n outputs (a batch of n 1×1 outputs runs one at a time, ~5× slower)
            strip = gathered.t().reshape(1, self.channels, self.k, n * self.k).contiguous()
            ctx = F.conv2d(strip, self.weight, bias=self.bias, stride=self.k)[0, :, 0, :].t()
            x = _entropy_parameters(self.model, self.params.index_select(0, positions), ctx)
        else:
            ctx = torch.addmm(self.bias, gathered.reshape(n, -1), self.matrix)
            x = torch.addmm(self.hyper.index_select(0, positions), ctx, self.first)
            for layer in self.layers:
                x = torch.addmm(layer[1], x, layer[0]) if isinstance(layer, tuple) else layer(x)
        scales, means = x.chunk(2, 1)
        return scales, means

    def write(self, index: int, values: torch.Tensor) -> None:
        """Store the n×M ŷ values of wavefront ``index``."""
        self.plane.index_copy_(0, self.centres[index], values)

    def padded(self) -> torch.Tensor:
        """ŷ with its zero border, 1×M×(h + 2r)×(w + 2r) (contiguous, as the model's layers expect)."""
        return self.plane.t().reshape(1, self.channels, *self.shape).contiguous()


def _tables(model: Any) -> tuple[list[list[int]], list[int], list[int]]:
    """The Gaussian conditional's CDF rows (each cut to its length), lengths and offsets, as rANS takes them."""
    gc = model.gaussian_conditional
    lengths = gc.cdf_length.tolist()
    return [row[:n] for row, n in zip(gc.quantized_cdf.tolist(), lengths)], lengths, gc.offset.tolist()


def _indexes(gc: Any, scales: torch.Tensor) -> torch.Tensor:
    """``gc.build_indexes(scales)`` in one search instead of one comparison per table entry.

    build_indexes counts the table entries (but the last) that are ≥ the bounded scale and subtracts
    the count from the last index: that is the number of entries below it, ``bucketize``'s answer
    on the sorted table.
    """
    bounded = gc.lower_bound_scale(scales)
    return torch.bucketize(bounded, gc.scale_table[:-1].to(bounded), right=False).int()


def compress_latent(model: Any, y: torch.Tensor, params: torch.Tensor, *, numerics: str = "exact",
                    fronts: Sequence[Sequence[Position]] | None = None,
                    raster: bool = False) -> tuple[bytes, torch.Tensor]:
    """ŷ's rANS string and the padded ŷ (1×M×(h+2r)×(w+2r)) for the latent ``y`` and the hyperprior's ``params``.

    ``fronts``: the order ŷ is computed in (default :func:`wavefronts`; tests pass another). ``raster``:
    the symbols go to the coder in raster order (each position's M channels in channel order) instead of
    that order: the order of CompressAI's ``_compress_ar``, which buffers every position's symbols and
    indexes and codes them in one call. With ``exact`` numerics on the CPU every symbol and index is
    the reference's, so the string is the reference's, byte for byte (the study's rows derived from
    wavefronts rest on this; :mod:`bench.learned.derive`).
    """
    from compressai.ans import RansEncoder

    k = check_model(model)
    if y.size(0) != 1:
        raise WavefrontError(f"the wavefront coder codes one image at a time, got a batch of {y.size(0)}")
    height, width = int(y.size(2)), int(y.size(3))
    context = _Context(model, height, width, params, plan(height, width, k, fronts, y.device), numerics)
    gc = model.gaussian_conditional
    values = y[0].reshape(y.size(1), -1).t().contiguous()  # a row per position
    all_scales, all_symbols = [], []
    for index in range(context.plan.count):
        scales, means = context.parameters(index)
        symbols = gc.quantize(values.index_select(0, context.positions[index]), "symbols", means)
        context.write(index, symbols + means)
        all_scales.append(scales)
        all_symbols.append(symbols)
    indexes = _indexes(gc, torch.cat(all_scales))  # element-wise: as per wavefront
    symbols = torch.cat(all_symbols)
    if raster:  # rows back to position order h·width + w
        order = torch.argsort(context.plan.positions)
        symbols, indexes = symbols.index_select(0, order), indexes.index_select(0, order)
    cdf, cdf_lengths, offsets = _tables(model)
    string = RansEncoder().encode_with_indexes(symbols.reshape(-1).tolist(),
                                               indexes.reshape(-1).tolist(), cdf, cdf_lengths, offsets)
    return string, context.padded()


def decompress_latent(model: Any, string: bytes, params: torch.Tensor, height: int, width: int, *,
                      numerics: str = "exact", fronts: Sequence[Sequence[Position]] | None = None) -> torch.Tensor:
    """The padded ŷ decoded from ``string`` (the inverse of :func:`compress_latent`)."""
    from compressai.ans import RansDecoder

    k = check_model(model)
    context = _Context(model, height, width, params, plan(height, width, k, fronts, params.device), numerics)
    gc = model.gaussian_conditional
    cdf, cdf_lengths, offsets = _tables(model)
    decoder = RansDecoder()
    decoder.set_stream(string)
    for index in range(context.plan.count):
        scales, means = context.parameters(index)
        # only the CDF rows this wavefront uses cross into the coder: the conversion of all of them on
        # every call would cost more than the decoding
        used, local = torch.unique(_indexes(gc, scales), return_inverse=True)
        used = used.tolist()
        symbols = decoder.decode_stream(local.reshape(-1).tolist(), [cdf[i] for i in used],
                                        [cdf_lengths[i] for i in used], [offsets[i] for i in used])
        decoded = torch.from_numpy(np.asarray(symbols, dtype=np.float32)).to(means.device).reshape(means.shape)
        context.write(index, gc.dequantize(decoded, means))
    return context.padded()


def compress(model: Any, x: torch.Tensor, *, numerics: str = "exact",
             fronts: Sequence[Sequence[Position]] | None = None, raster: bool = False) -> dict[str, Any]:
    """``model.compress(x)`` with ŷ computed by wavefronts (coded in raster order when ``raster``:
    :func:`compress_latent`); also returns the padded ŷ (``"y_hat_padded"``)."""
    check_model(model)
    y = model.g_a(x)
    z = model.h_a(y)
    z_strings = model.entropy_bottleneck.compress(z)
    z_hat = model.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
    params = model.h_s(z_hat)
    _check_sizes(y, params)
    y_string, y_padded = compress_latent(model, y, params, numerics=numerics, fronts=fronts, raster=raster)
    return {"strings": [[y_string], z_strings], "shape": z.size()[-2:], "y_hat_padded": y_padded}


def decompress(model: Any, strings: Sequence[Sequence[bytes]], shape: Sequence[int], *, numerics: str = "exact",
               fronts: Sequence[Sequence[Position]] | None = None) -> dict[str, Any]:
    """``model.decompress(strings, shape)`` for strings made by :func:`compress`."""
    k = check_model(model)
    if len(strings) != 2 or len(strings[0]) != 1:
        raise WavefrontError("a wavefront bitstream holds one ŷ string and the ẑ strings of one image")
    z_hat = model.entropy_bottleneck.decompress(strings[1], shape)
    params = model.h_s(z_hat)
    r = k // 2
    y_padded = decompress_latent(model, strings[0][0], params, int(params.size(2)), int(params.size(3)),
                                 numerics=numerics, fronts=fronts)
    y_hat = y_padded[:, :, r:y_padded.size(2) - r, r:y_padded.size(3) - r]
    return {"x_hat": model.g_s(y_hat).clamp_(0, 1)}


def _check_sizes(y: torch.Tensor, params: torch.Tensor) -> None:
    if y.shape[2:] != params.shape[2:]:
        raise WavefrontError(f"the hyperprior's parameters are {tuple(params.shape[2:])}, ŷ is "
                             f"{tuple(y.shape[2:])}: not a joint autoregressive model's layout")


# --------------------------------------------------------------------------- counting


def executed_macs(model: Any, height: int, width: int, numerics: str = "exact") -> dict[str, int]:
    """MACs the wavefront coder executes for a ``height``×``width`` latent, per part.

    ``context_prediction``: gathered crops × weights — every position's crop times the 2M filters:
    all k² taps (masked ones included: the full kernel keeps the reference's sums) with ``exact``,
    the unmasked taps only with ``fast``; ``entropy_parameters``: its 1×1 convolutions once per position.
    """
    k = check_model(model)
    if numerics not in NUMERICS:
        raise WavefrontError(f"unknown numerics {numerics!r}; use one of {', '.join(NUMERICS)}")
    positions = int(height) * int(width)
    cp = model.context_prediction
    taps = k * k if numerics == "exact" else int(cp.mask[0, 0].count_nonzero())
    entropy = sum(layer.in_channels * layer.out_channels for layer in model.entropy_parameters.children()
                  if isinstance(layer, torch.nn.Conv2d))
    return {"context_prediction": positions * cp.out_channels * cp.in_channels * taps,
            "entropy_parameters": positions * entropy}
