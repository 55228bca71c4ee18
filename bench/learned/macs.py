"""Parameters and multiply-accumulates (MACs) of CompressAI models, per part and per coding side.

What is counted, and how:

* **MACs** are fvcore's ``FlopCountAnalysis`` totals: fvcore's "flop" is one multiply-accumulate. A
  convolution costs ``H_out·W_out·C_out·C_in·k²`` (per group); a transposed convolution
  ``H_in·W_in·C_in·C_out·k²`` — the same number as ``H_out·W_out·C_out·C_in·k²/s²`` on its output grid.
  Bias additions, activations (ReLU, LeakyReLU), ``abs``, quantisation and clamping are **not** counted.
* **GDN / IGDN** is ``x·rsqrt(β + conv1×1(x², γ))`` (``sqrt`` for the inverse). fvcore counts its 1×1
  convolution (``C²·H·W`` MACs per layer; reported inside the part's MACs and also on its own); it does
  not count the element-wise operations. We count them as :data:`GDN_ELEMENTWISE_OPS` = 3 operations per
  element of the layer's input (one square, one ``sqrt``/``rsqrt``, one multiply), reported separately,
  never added to the MACs. The reparametrisation of β and γ (per forward call, not per pixel) is ignored.
* **Parts** are the networks that real coding runs: analysis ``g_a``, hyper-analysis ``h_a``,
  hyper-synthesis ``h_s``, ``context_prediction`` (masked 5×5 convolution) and ``entropy_parameters``
  (1×1 convolutions), synthesis ``g_s``. The encoder runs ``g_a + h_a + h_s + context_prediction +
  entropy_parameters`` (it needs the scales and means to code ŷ), the decoder ``h_s + context_prediction +
  entropy_parameters + g_s`` — each present part once; ``forward()``'s likelihood computations are not
  counted. Entropy coding (rANS) itself is not a network and has no MACs here.
* **Context model.** CompressAI runs the masked convolution with its full 5×5 kernel: densely in
  ``forward()``, and, in ``compress``/``decompress``, as one 5×5 convolution per latent position on a 5×5
  crop (``_compress_ar``/``_decompress_ar``), with the context's entropy-parameter network on that one
  position. Each position costs exactly what the dense layer costs per output position (the crops of the
  zero-padded ŷ are the dense layer's receptive fields), so the loop's **executed** MACs equal the dense
  layer's count, which we report. The **effective** count keeps only the unmasked taps (12 of 25 for
  mask type A): what an implementation that skips the zeros would do.
* **Parameters** are the model's ``nn.Parameter`` elements (the entropy bottleneck's included); buffers
  (the context model's mask, CDF tables, GDN pedestals) are not. This is the convention of the published
  sizes: factorized 3.00 M / 7.03 M, hyperprior 5.08 M / 11.82 M, mbt2018 14.13 M / 25.50 M.

Any other module (a plug-in's network, :func:`count_module`) is counted the same way when it has ``g_a`` and
``g_s``; without them, on its whole ``forward()`` per child module, with no coding side. Every child
module's parameters are reported, the parts' and the others' (the entropy bottleneck) alike.

torch, compressai and fvcore are imported only when counting.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench import study
from bench.learned import zoo
from bench.learned.models import model_kind
from bench.learned.padding import padded_size
from bench.core.errors import BenchError

if TYPE_CHECKING:
    import torch

    from bench.learned.weights import WeightsSource

__all__ = [
    "DECODER_PARTS", "ENCODER_PARTS", "GDN_ELEMENTWISE_OPS", "KODAK_SIZE", "PARTS", "STUDY_ARCHS",
    "ComplexityError", "ModelCount", "PartCount", "configurations", "count_forward", "count_model", "count_module",
    "count_parts", "param_count", "point_config",
]

log = logging.getLogger(__name__)

STUDY_ARCHS: tuple[str, ...] = study.ARCHITECTURES
"""The learned models of the study's complexity table."""
KODAK_SIZE: tuple[int, int] = (512, 768)
"""Height and width of a landscape Kodak image."""
PARTS: tuple[str, ...] = ("g_a", "h_a", "h_s", "context_prediction", "entropy_parameters", "g_s")
ENCODER_PARTS: tuple[str, ...] = ("g_a", "h_a", "h_s", "context_prediction", "entropy_parameters")
DECODER_PARTS: tuple[str, ...] = ("h_s", "context_prediction", "entropy_parameters", "g_s")
SIDES: tuple[str, ...] = ("encoder", "decoder", "forward")
GDN_ELEMENTWISE_OPS = 3
"""Element-wise operations per input element of a GDN/IGDN layer: square, (r)sqrt, multiply."""
ENTROPY_MODULES: tuple[str, ...] = ("entropy_bottleneck",)
"""Modules with parameters that are not a coding-time network (the factorized density of z or y)."""


class ComplexityError(BenchError):
    """A complexity measurement that cannot be made; the message says how to fix the call."""


@dataclass(frozen=True)
class PartCount:
    """One network part of one model configuration at one input size."""

    part: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    """fvcore's count (one "flop" = one MAC): everything the part executes, GDN 1×1 convolutions included."""
    gdn_macs: int
    """The share of :attr:`macs` in GDN/IGDN 1×1 convolutions."""
    gdn_elements: int
    """Input elements of the part's GDN/IGDN layers (× :data:`GDN_ELEMENTWISE_OPS` = element-wise ops)."""
    effective_macs: int
    """:attr:`macs` without the masked taps of a masked convolution (equal to ``macs`` elsewhere)."""
    not_counted: tuple[str, ...] = ()
    """Operators fvcore saw but does not count (``aten::rsqrt``, ``aten::leaky_relu_`` …)."""
    sides: tuple[str, ...] = ()
    """Where the part runs: ``encoder`` and/or ``decoder``, or ``forward`` when only ``forward()`` was counted."""

    @property
    def gdn_elementwise_ops(self) -> int:
        return GDN_ELEMENTWISE_OPS * self.gdn_elements


@dataclass(frozen=True)
class ModelCount:
    """Counts of every part of one architecture and channel configuration at one image size."""

    arch: str
    config: Mapping[str, int]
    height: int
    width: int
    parts: Mapping[str, PartCount]
    params_total: int
    """All ``nn.Parameter`` elements of the model (the published convention)."""
    params_entropy: int
    """Parameters of the entropy bottleneck (in ``params_total``, in no part)."""
    buffers_total: int = 0
    """Buffer elements of a freshly built model (not in ``params_total``; the context mask is one)."""
    notes: tuple[str, ...] = field(default=())
    children: Mapping[str, int] = field(default_factory=dict)
    """Parameters of every direct child module (``named_children``), the parts' and the others' alike."""
    label: str = ""
    """The configuration's name where ``config`` is empty (a plug-in's model: its class)."""

    @property
    def pixels(self) -> int:
        return self.height * self.width

    def side(self, side: str) -> tuple[str, ...]:
        """The parts the encoder (``side="encoder"``), the decoder (``"decoder"``) or, for a model counted
        on its ``forward()`` alone, ``"forward"`` runs, in order."""
        if side not in SIDES:
            raise ComplexityError(f"unknown side {side!r}; use one of {', '.join(SIDES)}")
        order = {p: i for i, p in enumerate(ENCODER_PARTS if side == "encoder" else DECODER_PARTS)}
        present = [p for p, count in self.parts.items() if side in count.sides]
        return tuple(sorted(present, key=lambda p: order.get(p, len(order))))

    def total(self, side: str, what: str = "macs") -> int:
        """Sum of a :class:`PartCount` attribute (``macs``, ``effective_macs``, ``params`` …) over a side."""
        return sum(int(getattr(self.parts[p], what)) for p in self.side(side))

    @property
    def config_label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items()) or self.label


def point_config(arch: str, point: str, source: WeightsSource | None = None) -> dict[str, int]:
    """The channel configuration ``arch`` runs at ``point``: that of the user's checkpoint in ``source``
    (read from its tensors) if there is one, else the zoo's for the label."""
    if source is not None:
        from bench.learned.checkpoint import checkpoint_config
        from bench.learned.weights import user_checkpoint

        mine = user_checkpoint(arch, point, source)
        if mine is not None:
            return checkpoint_config(arch, mine.path)
    return zoo.channels(zoo.zoo_point(arch, point))


def configurations(arch: str, points: Sequence[str], source: WeightsSource | None = None
                   ) -> dict[tuple[tuple[str, int], ...], list[str]]:
    """The channel configurations of ``arch`` used by ``points``: config items → labels, in order.

    A point with a user checkpoint in ``source`` has the configuration loaded from it, not the zoo's of
    its label (a factorized λ0.0483 checkpoint of N=128, M=192 is counted as that, not as N=192, M=320).
    """
    out: dict[tuple[tuple[str, int], ...], list[str]] = {}
    for point in points:
        config = tuple(point_config(arch, point, source).items())
        out.setdefault(config, []).append(point)
    return out


def param_count(model: torch.nn.Module) -> int:
    """``nn.Parameter`` elements of ``model`` (buffers excluded): the published convention."""
    return sum(p.numel() for p in model.parameters())


def count_model(arch: str, config: Mapping[str, int], *, height: int = KODAK_SIZE[0],
                width: int = KODAK_SIZE[1]) -> ModelCount:
    """Parameters and MACs of ``arch`` built with ``config`` (e.g. ``{"N": 128, "M": 192}``) for an
    H×W image (padded to the model's multiple, as coding does); cached per arguments."""
    return _count_model(zoo.check_arch(arch), tuple((k, int(v)) for k, v in config.items()), int(height),
                        int(width))


@functools.cache
def _count_model(arch: str, config: tuple[tuple[str, int], ...], height: int, width: int) -> ModelCount:
    import torch

    torch.manual_seed(0)
    model = zoo.model_class(arch)(**dict(config)).eval()
    return count_module(arch, model, height=height, width=width, config=dict(config))


def count_module(name: str, model: torch.nn.Module, *, height: int = KODAK_SIZE[0], width: int = KODAK_SIZE[1],
                 config: Mapping[str, int] | None = None, label: str = "") -> ModelCount:
    """Parameters per child and MACs per part of any image-compression ``model`` for an H×W image (padded
    to its ``downsampling_factor``, as coding does).

    A model laid out as CompressAI's (``g_a`` and ``g_s``) is counted per coding part and side
    (:func:`count_parts`); any other is counted on its whole ``forward()`` (:func:`count_forward`), per
    child, with no side. ``config`` and ``label`` name the configuration in the tables.
    """
    if height < 1 or width < 1:
        raise ComplexityError(f"image size must be positive, got {height}×{width}")
    shape = (1, 3, *padded_size(height, width, model_kind(model).multiple))
    layered = hasattr(model, "g_a") and hasattr(model, "g_s")
    parts = count_parts(model, shape) if layered else count_forward(model, shape)
    children = {child: sum(p.numel() for p in module.parameters()) for child, module in model.named_children()}
    entropy = sum(children.get(child, 0) for child in ENTROPY_MODULES)
    total = param_count(model)
    notes = []
    if sum(children.values()) != total:
        notes.append(f"{total - sum(children.values())} parameters belong to no child module")
    if not layered:
        notes.append("no g_a/g_s: MACs of forward() per child, the coding sides unknown")
    if shape[2:] != (height, width):
        notes.append(f"counted on the padded {shape[2]}×{shape[3]} input the model codes")
    return ModelCount(name, dict(config or {}), height, width, parts, total, entropy,
                      sum(b.numel() for b in model.buffers()), tuple(notes), children, label)


def count_forward(model: torch.nn.Module, input_shape: Sequence[int]) -> dict[str, PartCount]:
    """Per-child MACs of ``model.forward`` for an input of ``input_shape`` (N×3×H×W, already padded): what
    is known of a model that is not laid out as CompressAI's (no ``g_a``/``g_s``). Children that forward
    does not run are left out; the sides of each are unknown (``("forward",)``)."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    device = next(model.parameters(), torch.zeros(0)).device
    x = torch.zeros(tuple(int(s) for s in input_shape), device=device)
    with torch.no_grad():
        analysis = FlopCountAnalysis(model, (x,))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        by_module = analysis.by_module()
        calls = analysis.uncalled_modules()
    counts = {}
    for child, module in model.named_children():
        if child in calls:
            continue
        macs = int(by_module.get(child, 0))
        counts[child] = PartCount(
            part=child, input_shape=tuple(int(s) for s in input_shape), output_shape=(),
            params=sum(p.numel() for p in module.parameters()), macs=macs, gdn_macs=0, gdn_elements=0,
            effective_macs=macs, not_counted=tuple(sorted(analysis.unsupported_ops(child))), sides=("forward",))
    return counts


def _dataflow(model: torch.nn.Module) -> torch.nn.Module:
    """A module running each present part once, densely, on the tensors real coding feeds it."""
    import torch

    kind = model_kind(model)

    class Dataflow(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.model = inner

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            # every output is returned: the tracer drops computations whose results are unused
            m = self.model
            y = m.g_a(x)
            outputs = [y, m.g_s(y)]
            if kind.hyperprior:
                z = m.h_a(y)  # ScaleHyperprior codes h_a(|y|): same MACs, abs is not counted
                params = m.h_s(z)
                outputs += [z, params]
                if kind.autoregressive:
                    ctx = m.context_prediction(y)
                    outputs += [ctx, m.entropy_parameters(torch.cat((params, ctx), dim=1))]
            return tuple(outputs)

    return Dataflow(model)


def count_parts(model: torch.nn.Module, input_shape: Sequence[int]) -> dict[str, PartCount]:
    """Per-part counts of ``model`` for an input of ``input_shape`` (N×3×H×W, already padded)."""
    import torch
    from compressai.layers import GDN
    from fvcore.nn import FlopCountAnalysis

    missing = [p for p in ("g_a", "g_s") if not hasattr(model, p)]
    if missing:
        raise ComplexityError(f"{type(model).__name__} has no {', '.join(missing)}: not a CompressAI image model")
    present = [p for p in PARTS if hasattr(model, p)]
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    gdn_inputs: dict[tuple[str, str], int] = {}  # (part, layer) → input elements; the trace may run twice
    handles = []
    for part in present:
        def keep(module: Any, inputs: Any, output: Any, part: str = part) -> None:
            shapes[part] = (tuple(int(s) for s in inputs[0].shape), tuple(int(s) for s in output.shape))
        handles.append(getattr(model, part).register_forward_hook(keep))
        for name, sub in getattr(model, part).named_modules():
            if isinstance(sub, GDN):
                def gdn(module: Any, inputs: Any, output: Any, key: tuple[str, str] = (part, name)) -> None:
                    gdn_inputs[key] = int(inputs[0].numel())
                handles.append(sub.register_forward_hook(gdn))

    flow = _dataflow(model).eval()
    device = next(model.parameters(), torch.zeros(0)).device
    x = torch.zeros(tuple(int(s) for s in input_shape), device=device)
    try:
        with torch.no_grad():
            analysis = FlopCountAnalysis(flow, (x,))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
            by_module = analysis.by_module()
            unsupported = {p: analysis.unsupported_ops(f"model.{p}") for p in present}
    finally:
        for handle in handles:
            handle.remove()

    counts = {}
    for part in present:
        module = getattr(model, part)
        macs = int(by_module.get(f"model.{part}", 0))
        gdn_macs = sum(int(by_module.get(f"model.{part}.{name}", 0))
                       for name, sub in module.named_modules() if isinstance(sub, GDN))
        effective = macs
        mask = getattr(module, "mask", None)
        if mask is not None:  # a masked convolution: MACs scale with the taps kept
            effective = macs * int(mask.count_nonzero()) // mask.numel()
        counts[part] = PartCount(
            part=part,
            input_shape=shapes[part][0],
            output_shape=shapes[part][1],
            params=sum(p.numel() for p in module.parameters()),
            macs=macs,
            gdn_macs=gdn_macs,
            gdn_elements=sum(n for (p, _), n in gdn_inputs.items() if p == part),
            effective_macs=effective,
            not_counted=tuple(sorted(unsupported.get(part, {}))),
            sides=tuple(side for side, wanted in (("encoder", ENCODER_PARTS), ("decoder", DECODER_PARTS))
                        if part in wanted),
        )
    return counts
