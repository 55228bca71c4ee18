"""The instrumented timing: networks and entropy coder of each model timed apart, step by step.

Each step (:func:`coding_steps`) is timed alone on inputs computed beforehand, with one discarded warm-up
call per step and input shape (:class:`bench.core.timing.WarmUps`) and, on CUDA,
``torch.cuda.synchronize`` before starting and stopping the clock (:func:`bench.core.timing.measure`).
JPEG's whole encode and decode calls are timed beside them on the CPU. torch is imported only when timing.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core import environment
from bench.core.timing import Timing, WarmUps, measure
from bench.learned import zoo
from bench.learned.complexity.files import RANDOM_INIT, REFERENCE_CODEC, ComplexityError
from bench.learned.complexity.tables import StepTiming, hardware
from bench.learned.macs import configurations
from bench.learned.models import model_kind
from bench.learned.padding import MODEL, pad_tensor

if TYPE_CHECKING:
    import torch

    from bench.core.codec import Codec
    from bench.learned.weights import WeightsSource

__all__ = ["JPEG_POINTS", "Step", "TimedModel", "WarmTimer", "coding_steps", "prepare_models", "split_timing",
           "synchronizer", "time_steps"]

JPEG_POINTS: tuple[str, ...] = ("q25", "q50", "q75", "q95")
"""JPEG qualities timed beside the learned models in the instrumented measurement."""


@dataclass(frozen=True)
class Step:
    """One timed piece of coding: ``fn()`` does it once on prepared inputs."""

    side: str  # "encode" | "decode"
    name: str
    kind: str  # one of KINDS
    fn: Callable[[], Any]
    shape: tuple[int, ...]  # input shape: a new shape gets its own warm-up


class WarmTimer:
    """:func:`bench.core.timing.measure` with one discarded warm-up call per key (step and input shape)."""

    def __init__(self, *, repeats: int = 3, synchronize: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if repeats < 1:
            raise ComplexityError(f"repeats must be at least 1, got {repeats}")
        self.repeats = repeats
        self.synchronize = synchronize
        self.clock = clock
        self.warm_ups = WarmUps()

    def __call__(self, key: Hashable, fn: Callable[[], Any]) -> Timing:
        # the warm-up is synchronised like a timed call, so none of its queued work reaches the clock
        self.warm_ups.once(key, lambda: measure(fn, synchronize=self.synchronize, clock=self.clock))
        return measure(fn, repeats=self.repeats, synchronize=self.synchronize, clock=self.clock)


def synchronizer(device: str, cuda: Any = None) -> Callable[[], None] | None:
    """What to call before starting and stopping the clock on ``device``: CUDA's synchronize, else None."""
    if not str(device).startswith("cuda"):
        return None
    if cuda is None:
        import torch

        cuda = torch.cuda
    return cuda.synchronize


def time_steps(steps: Iterable[Step], timer: WarmTimer) -> list[tuple[Step, Timing]]:
    """Time each step with ``timer`` (warm-up keyed by step side, name and input shape)."""
    return [(step, timer((step.side, step.name, step.shape), step.fn)) for step in steps]


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def coding_steps(model: torch.nn.Module, x: torch.Tensor, *, parts: bool = True) -> list[Step]:
    """The steps of ``model.compress(x)`` and ``decompress`` as CompressAI runs them, each alone.

    Inputs of each step are computed once beforehand (untimed). Factorized: ``g_a``, entropy coding of
    ŷ; hyperprior: ``g_a``, ``h_a``, coding and decoding ẑ (the encoder needs ẑ), ``h_s``, coding ŷ;
    mbt2018: the same up to ``h_s``, then the autoregressive loop (context model, entropy parameters
    and rANS interleaved per position: one step). Decoding mirrors them and ends with ``g_s``. Each side
    also has its whole call (``compress()``/``decompress()``) as the step ``total``. With ``parts`` False
    (a model not laid out as CompressAI's), only the whole calls.
    """
    import torch
    import torch.nn.functional as F

    m = model
    kind = model_kind(m)
    steps: list[Step] = []
    with torch.no_grad():
        out = m.compress(x)
        strings, shape = out["strings"], list(out["shape"])
    totals = [
        Step("encode", "total", "total", lambda: m.compress(x), _shape(x)),
        Step("decode", "total", "total", lambda: m.decompress(strings, shape), _shape(x)),
    ]
    if not parts:
        return totals
    with torch.no_grad():
        y = m.g_a(x)
        steps.append(Step("encode", "g_a", "network", lambda: m.g_a(x), _shape(x)))
        if not kind.hyperprior:
            eb = m.entropy_bottleneck
            y_hat = eb.decompress(strings[0], shape)
            steps += [
                Step("encode", "entropy: code ŷ", "entropy", lambda: eb.compress(y), _shape(y)),
                Step("decode", "entropy: decode ŷ", "entropy", lambda: eb.decompress(strings[0], shape), _shape(y)),
                Step("decode", "g_s", "network", lambda: m.g_s(y_hat).clamp_(0, 1), _shape(y_hat)),
            ]
        else:
            eb, gc = m.entropy_bottleneck, m.gaussian_conditional
            uses_abs = kind.abs_hyper_input  # ScaleHyperprior: h_a(|y|)
            h_in = torch.abs(y) if uses_abs else y
            z = m.h_a(h_in)
            z_strings = eb.compress(z)
            z_hat = eb.decompress(z_strings, z.size()[-2:])
            params = m.h_s(z_hat)
            steps += [
                Step("encode", "h_a", "network", (lambda: m.h_a(torch.abs(y))) if uses_abs else (lambda: m.h_a(y)),
                     _shape(y)),
                Step("encode", "entropy: code ẑ", "entropy", lambda: eb.compress(z), _shape(z)),
                Step("encode", "entropy: decode ẑ", "entropy", lambda: eb.decompress(z_strings, z.size()[-2:]),
                     _shape(z)),
                Step("encode", "h_s", "network", lambda: m.h_s(z_hat), _shape(z_hat)),
            ]
            if kind.autoregressive:
                pad, kernel = 2, 5
                height, width = z_hat.size(2) * 4, z_hat.size(3) * 4

                def encode_loop() -> bytes:
                    return m._compress_ar(F.pad(y, (pad, pad, pad, pad)), params, height, width, kernel, pad)

                def decode_loop() -> torch.Tensor:
                    y_hat = torch.zeros((1, m.M, height + 2 * pad, width + 2 * pad), device=z_hat.device)
                    m._decompress_ar(strings[0][0], y_hat, params, height, width, kernel, pad)
                    return y_hat

                y_hat = F.pad(decode_loop(), (-pad, -pad, -pad, -pad))
                steps += [
                    Step("encode", "AR loop: context + entropy parameters + code ŷ", "ar_loop", encode_loop, _shape(y)),
                    Step("decode", "entropy: decode ẑ", "entropy", lambda: eb.decompress(strings[1], shape), _shape(z)),
                    Step("decode", "h_s", "network", lambda: m.h_s(z_hat), _shape(z_hat)),
                    Step("decode", "AR loop: context + entropy parameters + decode ŷ", "ar_loop", decode_loop,
                         _shape(y)),
                ]
            else:
                means = None
                if kind.mean_scale:  # (scales, means)
                    scales, means = params.chunk(2, 1)
                else:
                    scales = params

                def code_y() -> list[bytes]:
                    return gc.compress(y, gc.build_indexes(scales), means=means)

                def decode_y() -> torch.Tensor:
                    return gc.decompress(strings[0], gc.build_indexes(scales), z_hat.dtype, means=means)

                y_hat = decode_y()
                steps += [
                    Step("encode", "entropy: code ŷ", "entropy", code_y, _shape(y)),
                    Step("decode", "entropy: decode ẑ", "entropy", lambda: eb.decompress(strings[1], shape), _shape(z)),
                    Step("decode", "h_s", "network", lambda: m.h_s(z_hat), _shape(z_hat)),
                    Step("decode", "entropy: decode ŷ", "entropy", decode_y, _shape(y)),
                ]
            steps.append(Step("decode", "g_s", "network", lambda: m.g_s(y_hat).clamp_(0, 1), _shape(y_hat)))
    return steps + totals


@dataclass
class TimedModel:
    """A model to time at one or more operating points (random models are shared by their points)."""

    codec: str
    points: tuple[str, ...]
    weights: str  # the weights file's name, or RANDOM_INIT
    model: Any
    config: dict[str, int]  # channels of this model (a checkpoint's may differ from the zoo's)
    path: Path | None = None  # the weights file
    parts: bool = True  # laid out as CompressAI's: each network and the entropy coder timed apart
    label: str = ""  # the configuration's name where config is empty (a plug-in's model)


def _config_label(config: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def prepare_models(archs: Sequence[str], points: Sequence[str], source: WeightsSource | None = None
                   ) -> list[TimedModel]:
    """Trained models where ``source`` has weights for (arch, point) — a ``--checkpoint`` or a zoo file
    in the cache or mirror — else one random-initialised model per configuration (seed 0,
    ``update(force=True)``) standing for all the points without weights. A checkpoint's configuration is
    its own (:func:`bench.learned.macs.configurations`)."""
    import torch

    from bench.learned.checkpoint import load_model
    from bench.learned.weights import WeightsUnavailable, resolve

    out: list[TimedModel] = []
    for arch in archs:
        for config, labels in configurations(arch, points, source).items():
            random_points = []
            for point in labels:
                try:
                    path = resolve(arch, point, source) if source is not None else None
                except WeightsUnavailable:
                    path = None
                if path is None:
                    random_points.append(point)
                    continue
                loaded = load_model(arch, point, source)
                out.append(TimedModel(arch, (point,), path.name, loaded.model, dict(loaded.config), path))
            if random_points:
                torch.manual_seed(0)
                model = zoo.model_class(arch)(**dict(config)).eval()
                model.update(force=True)
                out.append(TimedModel(arch, tuple(random_points), RANDOM_INIT, model, dict(config)))
    return out


def _tensor(pixels: Any, multiple: int, device: Any) -> Any:
    import numpy as np
    import torch

    x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
    x = x.permute(2, 0, 1).to(torch.float32).div(255).unsqueeze(0)
    return pad_tensor(x, multiple, MODEL)  # as the harness's adapter: right and bottom, by replication


def split_timing(
    models: Sequence[TimedModel],
    images: Sequence[str | Path],
    *,
    device: str = "cpu",
    repeats: int = 3,
    jpeg_points: Sequence[str] = JPEG_POINTS,
    calls: Sequence[tuple[Codec, Sequence[str]]] = (),
    timer: WarmTimer | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[StepTiming]:
    """Time every coding step of every model, JPEG's encode/decode and the whole ``encode``/``decode``
    calls of ``calls`` (codecs without a torch module, with their points) on ``images``.

    The caller sets torch's thread count; it is recorded (JPEG's as 1: Pillow codes on one thread).
    ``timer`` defaults to a :class:`WarmTimer` with ``repeats`` and the device's synchronisation.
    """
    import torch

    from bench.core import registry
    from bench.core.images import load_rgb

    if not images:
        raise ComplexityError("no images to time; give at least one (e.g. a Kodak image)")
    torch_device = torch.device(device)
    timer = timer or WarmTimer(repeats=repeats, synchronize=synchronizer(device))
    threads = torch.get_num_threads()
    device_hardware = hardware(torch_device.type, environment.collect())
    cpu_hardware = environment.cpu_model()
    loaded = [(Path(p).name, load_rgb(p).pixels) for p in images]
    out: list[StepTiming] = []

    def record(codec: str, points: Sequence[str], weights: str, config: str, image: str,
               timed: list[tuple[Step, Timing]], dev: str, hw: str, n_threads: int) -> None:
        for point in points:
            for step, t in timed:
                out.append(StepTiming(dev, hw, n_threads, codec, point, weights, config, image, step.side,
                                      step.name, step.kind, t.median_s, t.spread_s, t.repeats))

    whole = [(registry.create(REFERENCE_CODEC, {}), tuple(jpeg_points))] if jpeg_points else []
    for codec, points in [*whole, *calls]:
        sync = codec.synchronize()
        codec_timer = WarmTimer(repeats=timer.repeats, clock=timer.clock, synchronize=sync)
        dev, hw, n_threads = ("cuda", device_hardware, threads) if sync else ("cpu", cpu_hardware, threads)
        if codec.name == REFERENCE_CODEC:
            n_threads = 1
        for name, pixels in loaded:
            if progress and codec.name != REFERENCE_CODEC:
                progress(f"{codec.name} {'/'.join(points)} {name}")
            for point in points:
                coder = codec.coder(point)
                data = coder.encode(pixels)
                steps = [Step("encode", "total", "total", lambda c=coder, p=pixels: c.encode(p), pixels.shape),
                         Step("decode", "total", "total", lambda c=coder, d=data: c.decode(d), pixels.shape)]
                record(codec.name, (point,), "-", "-", name, time_steps(steps, codec_timer), dev, hw, n_threads)
    for timed_model in models:
        model = timed_model.model.to(torch_device).eval()
        multiple = model_kind(model).multiple
        for name, pixels in loaded:
            if progress:
                progress(f"{timed_model.codec} {'/'.join(timed_model.points)} {name}")
            x = _tensor(pixels, multiple, torch_device)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # mbt2018 on GPU warns at every call
                timed = time_steps(coding_steps(model, x, parts=timed_model.parts), timer)
            record(timed_model.codec, timed_model.points, timed_model.weights,
                   _config_label(timed_model.config) or timed_model.label, name, timed, torch_device.type,
                   device_hardware, threads)
    return out
