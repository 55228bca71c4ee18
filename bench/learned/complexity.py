"""The complexity report: parameters, MACs, encoder/decoder time and peak memory per model and λ.

Three sources, never mixed in one table:

* **counts** (:mod:`bench.learned.macs`): parameters and MACs per part and per coding side, with fvcore, at the
  Kodak size; they depend on the architecture and channel configuration only, not on the weights;
* **time**: the harness's per-image rows (``encode_s``/``decode_s`` of whole ``encode``/``decode``
  calls), averaged per device × hardware × threads × codec × point; and an instrumented measurement
  (:func:`split_timing`) that times the networks and the entropy coder separately on a few images, with
  one discarded warm-up call per step and input shape and, on CUDA, ``torch.cuda.synchronize`` around
  the clock;
* **memory** (:mod:`bench.learned.memory`): peak RSS of a fresh process (CPU) or the CUDA allocator's peak.

Models without trained weights are timed random-initialised with their zoo configuration
(``update(force=True)``): their network times are real, their entropy-coding times are not (a random
model's latents are almost all zero, so the rANS coder has next to nothing to code); the tables say so.

:func:`run_complexity` measures everything and :func:`write_complexity` writes ``complexity.md``,
``complexity-macs.csv``, ``complexity-time.csv``, ``complexity-time-steps.csv``,
``complexity-memory.csv`` and, given BD-rates, ``complexity-decode-vs-bd-rate.png``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bench.core import environment
from bench.learned import zoo
from bench.learned.macs import (
    DECODER_PARTS,
    ENCODER_PARTS,
    GDN_ELEMENTWISE_OPS,
    KODAK_SIZE,
    STUDY_ARCHS,
    ComplexityError,
    ModelCount,
    configurations,
    count_model,
)
from bench.learned.memory import MemoryResult, measure_memory
from bench.core.store import write_text_atomic
from bench.core.timing import Timing, measure

if TYPE_CHECKING:
    import torch
    from matplotlib.figure import Figure

    from bench.learned.weights import WeightsSource

__all__ = [
    "FILES", "REFERENCE_CODEC", "ComplexityError", "Step", "StepTiming", "WarmTimer", "coding_steps",
    "complexity_markdown", "decode_time_vs_bd_rate_figure", "decode_times", "macs_frame", "memory_frame",
    "read_bd_rates", "results_time_table", "run_complexity", "run_environments", "split_table",
    "split_timing", "synchronizer", "time_steps", "write_complexity",
]

REFERENCE_CODEC = "jpeg"
JPEG_POINTS: tuple[str, ...] = ("q25", "q50", "q75", "q95")
"""JPEG qualities timed beside the learned models in the instrumented measurement."""
FILES = {
    "markdown": "complexity.md",
    "macs": "complexity-macs.csv",
    "time": "complexity-time.csv",
    "steps": "complexity-time-steps.csv",
    "memory": "complexity-memory.csv",
    "plot": "complexity-decode-vs-bd-rate",
}
RANDOM_INIT = "random init"
KINDS: tuple[str, ...] = ("network", "entropy", "ar_loop", "total")
"""Step kinds: a network, the entropy coder, mbt2018's autoregressive loop (both, interleaved), a whole call."""
_KIND_TEXT = {"network": "network", "entropy": "entropy coding", "ar_loop": "AR loop", "total": "total"}
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


# --------------------------------------------------------------------------- times from the result rows


def run_environments(results_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``run_id → environment`` from ``<results_dir>/runs/*.json`` (the harness's run metadata)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(results_dir).glob("runs/*.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ComplexityError(f"{path}: unreadable run metadata ({exc}); move it away or rerun") from None
        out[str(meta.get("run_id", path.stem))] = dict(meta.get("environment") or {})
    return out


def _point_key(point: str) -> tuple[str, float, str]:
    match = _NUMBER.search(point)
    return (point[: match.start()] if match else point, float(match.group(1)) if match else 0.0, point)


def _hardware(device: str, env: Mapping[str, Any] | None) -> str:
    if not env:
        return "unknown"
    value = env.get("gpu") if device.startswith("cuda") else env.get("cpu")
    return str(value) if value else "unknown"


def results_time_table(rows: pd.DataFrame, environments: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> pd.DataFrame:
    """Mean encode/decode time per device × hardware × threads × heap policy × codec × point over ``ok`` rows.

    A row with no device (JPEG) ran on the CPU. Hardware comes from the row's run metadata
    (``environments``, see :func:`run_environments`); rows of different CPUs or GPUs, of different
    thread counts or of different heap policies (``allocator``) are never averaged together.
    """
    needed = {"codec", "point", "encode_s", "decode_s", "status", "device", "threads", "allocator", "run_id", "image"}
    missing = sorted(needed - set(rows.columns))
    if missing:
        raise ComplexityError(f"result rows lack columns {', '.join(missing)}; load them with bench.core.store.load_rows")
    frame = rows[(rows["status"] == "ok")].copy()
    frame = frame[frame["encode_s"].notna() & frame["decode_s"].notna()]
    envs = environments or {}
    frame["device"] = [str(d) if isinstance(d, str) and d else "cpu" for d in frame["device"]]
    frame["hardware"] = [_hardware(d, envs.get(r)) for d, r in zip(frame["device"], frame["run_id"])]
    frame["threads"] = [int(t) if pd.notna(t) else -1 for t in frame["threads"]]
    keys = ["device", "hardware", "threads", "allocator", "codec", "point"]
    grouped = frame.groupby(keys, sort=False, dropna=False).agg(
        images=("image", "nunique"), encode_s=("encode_s", "mean"), decode_s=("decode_s", "mean"),
        encode_median_s=("encode_s", "median"), decode_median_s=("decode_s", "median"),
    ).reset_index()
    codec_order = {c: i for i, c in enumerate(dict.fromkeys([REFERENCE_CODEC, *frame["codec"]]))}
    grouped["_codec"] = grouped["codec"].map(codec_order)
    grouped["_point"] = grouped["point"].map(_point_key)
    grouped = grouped.sort_values(["device", "hardware", "threads", "allocator", "_codec", "_point"], kind="stable")
    return grouped.drop(columns=["_codec", "_point"]).reset_index(drop=True)


# --------------------------------------------------------------------------- instrumented timing


@dataclass(frozen=True)
class Step:
    """One timed piece of coding: ``fn()`` does it once on prepared inputs."""

    side: str  # "encode" | "decode"
    name: str
    kind: str  # one of KINDS
    fn: Callable[[], Any]
    shape: tuple[int, ...]  # input shape: a new shape gets its own warm-up


@dataclass(frozen=True)
class StepTiming:
    """One step on one image: median and spread of ``repeats`` calls (warm-up excluded)."""

    device: str
    hardware: str
    threads: int
    codec: str
    point: str
    weights: str
    config: str  # the timed model's channels, e.g. "N=128, M=192"
    image: str
    side: str
    step: str
    kind: str
    median_s: float
    spread_s: float
    repeats: int


class WarmTimer:
    """:func:`bench.core.timing.measure` with one discarded warm-up call per key (step and input shape)."""

    def __init__(self, *, repeats: int = 3, synchronize: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if repeats < 1:
            raise ComplexityError(f"repeats must be at least 1, got {repeats}")
        self.repeats = repeats
        self.synchronize = synchronize
        self.clock = clock
        self.warmed: set[Hashable] = set()

    def __call__(self, key: Hashable, fn: Callable[[], Any]) -> Timing:
        if key not in self.warmed:
            if self.synchronize:
                self.synchronize()
            fn()
            if self.synchronize:
                self.synchronize()
            self.warmed.add(key)
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


def coding_steps(model: torch.nn.Module, x: torch.Tensor) -> list[Step]:
    """The steps of ``model.compress(x)`` and ``decompress`` as CompressAI runs them, each alone.

    Inputs of each step are computed once beforehand (untimed). Factorized: ``g_a``, entropy coding of
    ŷ; hyperprior: ``g_a``, ``h_a``, coding and decoding ẑ (the encoder needs ẑ), ``h_s``, coding ŷ;
    mbt2018: the same up to ``h_s``, then the autoregressive loop (context model, entropy parameters
    and rANS interleaved per position: one step). Decoding mirrors them and ends with ``g_s``. Each side
    also has its whole call (``compress()``/``decompress()``) as the step ``total``.
    """
    import torch
    import torch.nn.functional as F
    from compressai.models import MeanScaleHyperprior

    m = model
    steps: list[Step] = []
    with torch.no_grad():
        out = m.compress(x)
        strings, shape = out["strings"], list(out["shape"])
        y = m.g_a(x)
        steps.append(Step("encode", "g_a", "network", lambda: m.g_a(x), _shape(x)))
        if not hasattr(m, "h_a"):
            eb = m.entropy_bottleneck
            y_hat = eb.decompress(strings[0], shape)
            steps += [
                Step("encode", "entropy: code ŷ", "entropy", lambda: eb.compress(y), _shape(y)),
                Step("decode", "entropy: decode ŷ", "entropy", lambda: eb.decompress(strings[0], shape), _shape(y)),
                Step("decode", "g_s", "network", lambda: m.g_s(y_hat).clamp_(0, 1), _shape(y_hat)),
            ]
        else:
            eb, gc = m.entropy_bottleneck, m.gaussian_conditional
            uses_abs = not isinstance(m, MeanScaleHyperprior)  # ScaleHyperprior: h_a(|y|)
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
            if hasattr(m, "context_prediction"):
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
                if params.size(1) == 2 * y.size(1):  # mean-scale: (scales, means)
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
    steps += [
        Step("encode", "total", "total", lambda: m.compress(x), _shape(x)),
        Step("decode", "total", "total", lambda: m.decompress(strings, shape), _shape(x)),
    ]
    return steps


@dataclass
class TimedModel:
    """A model to time at one or more operating points (random models are shared by their points)."""

    codec: str
    points: tuple[str, ...]
    weights: str  # the weights file's name, or RANDOM_INIT
    model: Any
    config: dict[str, int]  # channels of this model (a checkpoint's may differ from the zoo's)
    path: Path | None = None  # the weights file


def _config_label(config: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def prepare_models(archs: Sequence[str], points: Sequence[str], source: WeightsSource | None = None
                   ) -> list[TimedModel]:
    """Trained models where ``source`` has weights for (arch, point) — a ``--checkpoint`` or a zoo file
    in the cache or mirror — else one random-initialised model per zoo configuration (seed 0,
    ``update(force=True)``) standing for all the points without weights."""
    import torch

    from bench.learned.weights import WeightsUnavailable, load_model, resolve

    out: list[TimedModel] = []
    for arch in archs:
        for config, labels in configurations(arch, points).items():
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
    pad_h, pad_w = -x.size(2) % multiple, -x.size(3) % multiple
    if pad_h or pad_w:  # as the harness's adapter: right and bottom, by replication
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    return x


def split_timing(
    models: Sequence[TimedModel],
    images: Sequence[str | Path],
    *,
    device: str = "cpu",
    repeats: int = 3,
    jpeg_points: Sequence[str] = JPEG_POINTS,
    timer: WarmTimer | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[StepTiming]:
    """Time every coding step of every model (and JPEG's encode/decode) on ``images``.

    The caller sets torch's thread count; it is recorded. ``timer`` defaults to a :class:`WarmTimer`
    with ``repeats`` and the device's synchronisation.
    """
    import torch

    from bench.core import registry
    from bench.core.images import load_rgb

    if not images:
        raise ComplexityError("no images to time; give at least one (e.g. a Kodak image)")
    torch_device = torch.device(device)
    timer = timer or WarmTimer(repeats=repeats, synchronize=synchronizer(device))
    threads = torch.get_num_threads()
    hardware = _hardware(torch_device.type, environment.collect())
    cpu_hardware = environment.cpu_model()
    loaded = [(Path(p).name, load_rgb(p).pixels) for p in images]
    out: list[StepTiming] = []

    def record(codec: str, points: Sequence[str], weights: str, config: str, image: str,
               timed: list[tuple[Step, Timing]], dev: str, hw: str, n_threads: int) -> None:
        for point in points:
            for step, t in timed:
                out.append(StepTiming(dev, hw, n_threads, codec, point, weights, config, image, step.side,
                                      step.name, step.kind, t.median_s, t.spread_s, t.repeats))

    jpeg = registry.create(REFERENCE_CODEC, {}) if jpeg_points else None
    cpu_timer = WarmTimer(repeats=timer.repeats, clock=timer.clock)
    for name, pixels in loaded:
        for point in jpeg_points:
            coder = jpeg.coder(point)
            data = coder.encode(pixels)
            steps = [Step("encode", "total", "total", lambda c=coder, p=pixels: c.encode(p), pixels.shape),
                     Step("decode", "total", "total", lambda c=coder, d=data: c.decode(d), pixels.shape)]
            record(REFERENCE_CODEC, (point,), "-", "-", name, time_steps(steps, cpu_timer), "cpu",
                   cpu_hardware, 1)
    for timed_model in models:
        model = timed_model.model.to(torch_device).eval()
        multiple = int(getattr(model, "downsampling_factor", 64))
        for name, pixels in loaded:
            if progress:
                progress(f"{timed_model.codec} {'/'.join(timed_model.points)} {name}")
            x = _tensor(pixels, multiple, torch_device)
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # mbt2018 on GPU warns at every call
                timed = time_steps(coding_steps(model, x), timer)
            record(timed_model.codec, timed_model.points, timed_model.weights,
                   _config_label(timed_model.config), name, timed, torch_device.type, hardware, threads)
    return out


def steps_frame(timings: Sequence[StepTiming]) -> pd.DataFrame:
    """The step timings as a DataFrame, one row per step × image × point."""
    columns = list(StepTiming.__dataclass_fields__)
    return pd.DataFrame([[getattr(t, c) for c in columns] for t in timings], columns=columns)


def split_table(timings: Sequence[StepTiming] | pd.DataFrame) -> pd.DataFrame:
    """Mean per image of each side's network, entropy-coding, AR-loop and total time, per
    device × hardware × threads × codec × point × weights."""
    frame = timings if isinstance(timings, pd.DataFrame) else steps_frame(timings)
    keys = ["device", "hardware", "threads", "codec", "point", "weights", "config"]
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "images"])
    per_image = frame.groupby([*keys, "image", "side", "kind"], sort=False)["median_s"].sum().reset_index()
    per_image["column"] = per_image["side"] + "_" + per_image["kind"] + "_s"
    wide = per_image.pivot_table(index=[*keys, "image"], columns="column", values="median_s", sort=False)
    table = wide.groupby(level=keys, sort=False).mean()
    table["images"] = wide.groupby(level=keys, sort=False).size()
    ordered = [f"{side}_{kind}_s" for side in ("encode", "decode") for kind in KINDS]
    for column in ordered:
        if column not in table:
            table[column] = math.nan
    table = table[["images", *ordered]].reset_index()
    table.columns.name = None
    table["_codec"] = table["codec"].map({c: i for i, c in enumerate(dict.fromkeys([REFERENCE_CODEC, *table["codec"]]))})
    table["_point"] = table["point"].map(_point_key)
    table = table.sort_values(["device", "hardware", "threads", "_codec", "_point"], kind="stable")
    return table.drop(columns=["_codec", "_point"]).reset_index(drop=True)


# --------------------------------------------------------------------------- counts and memory as tables


def macs_frame(counts: Sequence[ModelCount], points: Mapping[tuple[str, str], Sequence[str]] | None = None
               ) -> pd.DataFrame:
    """One row per part, plus ``encoder``, ``decoder`` and ``model`` totals, per architecture and config.

    ``points`` maps (arch, config label) to the operating points that use the configuration.
    """
    rows = []
    for c in counts:
        used = " ".join((points or {}).get((c.arch, c.config_label), ()))
        base = {"arch": c.arch, "config": c.config_label, "points": used, "height": c.height, "width": c.width}
        for part in c.parts.values():
            sides = "+".join(s for s, parts in (("enc", ENCODER_PARTS), ("dec", DECODER_PARTS)) if part.part in parts)
            rows.append({**base, "part": part.part, "sides": sides,
                         "input_shape": "x".join(map(str, part.input_shape)), "params": part.params,
                         "macs": part.macs, "effective_macs": part.effective_macs, "gdn_macs": part.gdn_macs,
                         "gdn_elementwise_ops": part.gdn_elementwise_ops,
                         "not_counted": " ".join(part.not_counted)})
        for side in ("encoder", "decoder"):
            parts = c.side(side)
            rows.append({**base, "part": side, "sides": "enc" if side == "encoder" else "dec",
                         "input_shape": "", "params": c.total(side, "params"),
                         "macs": c.total(side), "effective_macs": c.total(side, "effective_macs"),
                         "gdn_macs": c.total(side, "gdn_macs"),
                         "gdn_elementwise_ops": c.total(side, "gdn_elementwise_ops"),
                         "not_counted": "parts: " + " ".join(parts)})
        rows.append({**base, "part": "model", "sides": "", "input_shape": "", "params": c.params_total,
                     "macs": math.nan, "effective_macs": math.nan, "gdn_macs": math.nan,
                     "gdn_elementwise_ops": math.nan,
                     "not_counted": f"all nn.Parameters (entropy bottleneck {c.params_entropy}); "
                                    f"buffers not counted ({c.buffers_total})"})
    frame = pd.DataFrame(rows)
    pixels = frame["height"] * frame["width"]
    frame["macs_per_pixel"] = frame["macs"] / pixels
    frame["effective_macs_per_pixel"] = frame["effective_macs"] / pixels
    for column in ("params", "macs", "effective_macs", "gdn_macs", "gdn_elementwise_ops"):
        frame[column] = frame[column].astype("Int64")  # exact integers; empty where undefined
    return frame


def memory_frame(results: Sequence[tuple[Sequence[str], MemoryResult]]) -> pd.DataFrame:
    """One row per measured phase: (points the model stands for, result)."""
    rows = []
    for points, r in results:
        rows.append({"arch": r.arch, "config": ", ".join(f"{k}={v}" for k, v in r.config.items()),
                     "points": " ".join(points), "weights": r.weights, "device": r.device, "kind": r.kind,
                     "phase": r.phase, "height": r.height, "width": r.width, "threads": r.threads,
                     "peak_bytes": r.peak_bytes, "baseline_bytes": r.baseline_bytes,
                     "delta_bytes": r.delta_bytes, "imports_bytes": r.imports_bytes})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- BD-rate and the trade-off plot


def read_bd_rates(path: str | Path, *, metric: str = "psnr", method: str = "cubic") -> dict[str, float]:
    """``codec → BD-rate [%]`` from a BD-rate CSV (``reports/bd-rate.csv``): columns ``codec`` and
    ``bd_rate``, filtered on ``metric`` and ``method`` where those columns exist; empty cells skipped;
    the ``anchor`` codec (when there is such a column) at 0."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ComplexityError(f"cannot read BD-rates from {path}: {exc}; run `make bd-rate` first") from None
    if not {"codec", "bd_rate"} <= set(frame.columns):
        raise ComplexityError(f"{path} has no 'codec' and 'bd_rate' columns (has {', '.join(frame.columns)})")
    for column, value in (("metric", metric), ("method", method)):
        if column in frame.columns:
            frame = frame[frame[column] == value]
    rates = {}
    if "anchor" in frame.columns:  # the anchor is at 0 % against itself
        rates.update({str(a): 0.0 for a in frame["anchor"].dropna().unique()})
    frame = frame[pd.to_numeric(frame["bd_rate"], errors="coerce").notna()]
    rates.update({str(c): float(v) for c, v in zip(frame["codec"], frame["bd_rate"])})
    return rates


def decode_times(table: pd.DataFrame, *, device: str, hardware: str | None = None) -> dict[str, float]:
    """``codec → mean decode time [s]`` over its points, for one device (and hardware) of a time table
    with a ``decode_s`` column (:func:`results_time_table`) or ``decode_total_s`` (:func:`split_table`)."""
    column = "decode_s" if "decode_s" in table.columns else "decode_total_s"
    rows = table[table["device"] == device]
    if hardware is not None:
        rows = rows[rows["hardware"] == hardware]
    if rows["hardware"].nunique() > 1:
        raise ComplexityError(f"{device} rows come from {rows['hardware'].nunique()} different machines "
                              f"({', '.join(rows['hardware'].unique())}); pass hardware=")
    return {str(c): float(v) for c, v in rows.groupby("codec", sort=False)[column].mean().items()}


def decode_time_vs_bd_rate_figure(decode_s: Mapping[str, float], bd_rates: Mapping[str, float], *,
                                  caption: str = "", untrained: Iterable[str] = ()) -> Figure:
    """Decode time (log axis) against BD-rate for the codecs in both mappings; open markers for
    codecs timed with untrained weights."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    codecs = [c for c in decode_s if c in bd_rates and decode_s[c] > 0]
    if not codecs:
        raise ComplexityError("no codec has both a decode time and a BD-rate; nothing to plot")
    untrained = set(untrained)
    figure = Figure(figsize=(7.0, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    for codec in codecs:
        open_marker = codec in untrained
        axes.scatter([decode_s[codec]], [bd_rates[codec]], s=50, marker="o",
                     facecolors="none" if open_marker else "C0", edgecolors="C0")
        axes.annotate(codec + (" (untrained)" if open_marker else ""), (decode_s[codec], bd_rates[codec]),
                      textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xscale("log")
    shown = [decode_s[c] for c in codecs]
    axes.set_xlim(min(shown) / 2, max(shown) * 5)  # room for the labels right of the points
    axes.axhline(0.0, color="0.6", linewidth=0.8)
    axes.set_xlabel("decode time per image [s] (log)")
    axes.set_ylabel("BD-rate [%] (lower is better)")
    axes.grid(True, which="both", alpha=0.3)
    if caption:
        axes.set_title(caption, fontsize=9)
    return figure


# --------------------------------------------------------------------------- Markdown


def _g(value: float, scale: float, digits: int = 2) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value / scale:.{digits}f}"


def _ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{1000 * value:.1f}" if value < 1 else f"{1000 * value:,.0f}"


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


def _macs_markdown(counts: Sequence[ModelCount], points: Mapping[tuple[str, str], Sequence[str]]) -> list[str]:
    lines = []
    if not counts:
        return ["No counts.", ""]
    h, w = counts[0].height, counts[0].width
    lines += [
        (f"Counted with fvcore on one {w}×{h} image (a Kodak image; per pixel: divided by {w * h:,}). "
        "1 MAC = one multiply-accumulate (fvcore's \"flop\"). Parameters: every `nn.Parameter` of the model, "
        "entropy bottleneck included, buffers (the context model's mask, CDF tables) excluded — the convention "
        "of the published model sizes."),
        "",
        ("| model | config | λ (points) | params total | encoder params | decoder params | encoder MACs | "
        "decoder MACs | encoder MAC/px | decoder MAC/px | GDN element-wise ops enc / dec¹ | context model "
        "executed / effective² |"),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in counts:
        used = ", ".join(p.removeprefix("lambda") for p in points.get((c.arch, c.config_label), ()))
        ctx = c.parts.get("context_prediction")
        ctx_text = f"{_g(ctx.macs, 1e9)} G / {_g(ctx.effective_macs, 1e9)} G" if ctx else "—"
        lines.append(
            f"| {c.arch} | {c.config_label} | {used} | {c.params_total / 1e6:.2f} M | "
            f"{c.total('encoder', 'params') / 1e6:.2f} M | {c.total('decoder', 'params') / 1e6:.2f} M | "
            f"{_g(c.total('encoder'), 1e9)} G | {_g(c.total('decoder'), 1e9)} G | "
            f"{_g(c.total('encoder') / c.pixels, 1e3, 1)} k | {_g(c.total('decoder') / c.pixels, 1e3, 1)} k | "
            f"{_g(c.total('encoder', 'gdn_elementwise_ops'), 1e6, 1)} M / "
            f"{_g(c.total('decoder', 'gdn_elementwise_ops'), 1e6, 1)} M | {ctx_text} |"
        )
    lines += [
        "",
        ("Per part (encoder = g_a + h_a + h_s + context model + entropy parameters; decoder = h_s + context "
        "model + entropy parameters + g_s; the entropy bottleneck's parameters are in the total only):"),
        "",
        ("| model | config | part | side | input | params | MACs | MAC/px | of which GDN 1×1 | effective MACs² | "
        "GDN element-wise ops¹ |"),
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in counts:
        for part in c.parts.values():
            side = "+".join(s for s, parts in (("enc", ENCODER_PARTS), ("dec", DECODER_PARTS)) if part.part in parts)
            lines.append(
                f"| {c.arch} | {c.config_label} | {part.part} | {side} | {'×'.join(map(str, part.input_shape[1:]))} | "
                f"{part.params:,} | {_g(part.macs, 1e9, 3)} G | {_g(part.macs / c.pixels, 1e3, 2)} k | "
                f"{_g(part.gdn_macs, 1e9, 3)} G | {_g(part.effective_macs, 1e9, 3)} G | "
                f"{_g(part.gdn_elementwise_ops, 1e6, 1)} M |"
            )
    lines += [
        "",
        (f"¹ GDN/IGDN compute x·rsqrt(β + conv1×1(x², γ)) (sqrt for IGDN). The 1×1 convolution (C² MACs per "
        f"position) is in the MACs; its element-wise work is not, and is given apart as {GDN_ELEMENTWISE_OPS} "
        "operations per input element (one square, one sqrt/rsqrt, one multiply), never added to the MACs."),
        "",
        ("² The context model is a 5×5 convolution with mask type A (12 of 25 taps unmasked). *Executed*: what "
        "CompressAI runs — the full 5×5 kernel, densely in `forward()` and, in `compress`/`decompress`, once per "
        "latent position on a 5×5 crop (`_compress_ar`/`_decompress_ar`), which costs exactly the dense layer's "
        "MACs per position; the encoder and decoder columns use this count. *Effective*: the 12 unmasked taps "
        "only, what an implementation skipping the zeros would need. The per-position loop's real cost is "
        "dominated by its Python and kernel-launch overhead, not by MACs (see the times)."),
        "",
        ("Not counted: bias additions, activations (ReLU, LeakyReLU), `abs`, quantisation and rounding, "
        "clamping, the entropy coder (rANS) and its index computation, and the likelihoods that only "
        "`forward()` computes. Counts do not depend on the weights."),
        "",
    ]
    return lines


def _table_groups(table: pd.DataFrame) -> Iterable[tuple[tuple[str, str, int, str], pd.DataFrame]]:
    """Groups of one device, hardware, thread count and (where the table has it) heap policy."""
    if "allocator" not in table:
        table = table.assign(allocator="")
    for key, group in table.groupby(["device", "hardware", "threads", "allocator"], sort=False):
        yield (str(key[0]), str(key[1]), int(key[2]), str(key[3])), group


def _caption(device: str, hardware: str, threads: int, allocator: str = "") -> str:
    thread_text = "threads unknown" if threads < 0 else f"{threads} thread{'s' if threads != 1 else ''}"
    heap_text = f", heap `{allocator}`" if allocator else ""
    return f"Device **{device}** ({hardware}), {thread_text}{heap_text}"


def _results_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return ["No result rows with timings: run `python -m bench run` first.", ""]
    lines = []
    for (device, hardware, threads, allocator), group in _table_groups(table):
        lines += [
            (f"{_caption(device, hardware, threads, allocator)}: mean over images of one `encode`/`decode` call "
             "(bitstream container and pixel conversion included)."),
            "",
            "| device | codec | point | images | encode [ms] | decode [ms] |",
            "|---|---|---|---:|---:|---:|",
        ]
        for r in group.itertuples():
            lines.append(f"| {device} | {r.codec} | {r.point} | {r.images} | {_ms(r.encode_s)} | {_ms(r.decode_s)} |")
        lines.append("")
    return lines


def _split_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return ["Not measured.", ""]
    lines = []
    for (device, hardware, threads, allocator), group in _table_groups(table):
        lines += [
            f"{_caption(device, hardware, threads, allocator)}: mean over {int(group['images'].max())} image(s) of the "
            "median of the repeats; one discarded warm-up call per step and input shape"
            + (", `torch.cuda.synchronize()` before starting and stopping the clock" if device == "cuda" else "")
            + ". Network and entropy coding are timed apart; *AR loop* is mbt2018's per-position loop (context "
            "model, entropy parameters and rANS interleaved, not separable); *total* is the whole "
            "`compress()`/`decompress()` call. JPEG: Pillow, one thread, always on the CPU.",
            "",
            ("| device | codec | point | weights | config | enc network | enc entropy | enc AR loop | enc total | "
            "dec network | dec entropy | dec AR loop | dec total |"),
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in group.itertuples():
            weights = "random init³" if r.weights == RANDOM_INIT else r.weights
            lines.append(
                f"| {device} | {r.codec} | {r.point} | {weights} | {r.config} | {_ms(r.encode_network_s)} | "
                f"{_ms(r.encode_entropy_s)} | {_ms(r.encode_ar_loop_s)} | {_ms(r.encode_total_s)} | "
                f"{_ms(r.decode_network_s)} | {_ms(r.decode_entropy_s)} | {_ms(r.decode_ar_loop_s)} | "
                f"{_ms(r.decode_total_s)} |"
            )
        lines.append("")
    if (table["weights"] == RANDOM_INIT).any():
        lines += [
            ("³ **Untrained model: indicative only.** No trained weights were available, so a random-initialised "
            "model of the zoo configuration (seed 0, `update(force=True)`) was timed; one such model stands for all "
            "the points that share its configuration. Its network times are those of the real architecture; its "
            "entropy-coding and AR-loop times are not, because they depend on the rate and a random model's "
            "latents are nearly all zero."),
            "",
        ]
    return lines


def _memory_markdown(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["Not measured.", ""]
    lines = []
    for device, group in frame.groupby("device", sort=False):
        kind = group["kind"].iloc[0]
        if device == "cpu":
            what = ("peak resident set of a fresh process per phase (Linux: `VmHWM`, reset when the phase "
                    "starts; `ru_maxrss` is not used because Linux carries the parent's peak into a child); "
                    "*baseline*: resident set of the same process after importing torch, compressai, numpy and "
                    "Pillow, loading the model and reading the image (or the bitstream), before the phase; "
                    "*added* = peak − baseline")
        else:
            what = ("`torch.cuda.max_memory_allocated()` after `reset_peak_memory_stats()`, in a fresh process; "
                    "*baseline*: `memory_allocated()` with the model on the device; CUDA context not included")
        lines += [
            f"Device **{device}** ({kind}): {what}. One image, {int(group['threads'].iloc[0])} torch thread(s).",
            "",
            "| device | model | config | weights | image | phase | peak [MiB] | baseline [MiB] | added [MiB] |",
            "|---|---|---|---|---|---|---:|---:|---:|",
        ]
        for r in group.itertuples():
            weights = "random init" if r.weights == RANDOM_INIT else r.weights
            lines.append(f"| {device} | {r.arch} | {r.config} | {weights} | {r.width}×{r.height} | {r.phase} | "
                         f"{_mib(r.peak_bytes)} | {_mib(r.baseline_bytes)} | {_mib(r.delta_bytes)} |")
        lines.append("")
    return lines


def _conditions(conditions: Mapping[str, Any]) -> list[str]:
    env = conditions.get("environment") or {}
    versions = env.get("versions") or {}
    lines = ["## Test conditions", ""]
    lines.append(f"- CPU: {env.get('cpu', 'unknown')} ({env.get('cpu_count', '?')} logical cores); "
                 f"GPU: {env.get('gpu') or 'none'}")
    lines.append(f"- torch {versions.get('torch', '?')}, compressai {versions.get('compressai', '?')}, "
                 f"entropy coder {conditions.get('entropy_coder', '?')}; Python {env.get('python', '?')}")
    for key, text in (("device", "instrumented timing and memory on"), ("threads", "torch threads"),
                      ("allocator", "heap policy of the instrumented timing (`bench.core.allocator`)"),
                      ("images", "images timed"), ("repeats", "timed repeats per step (median kept)"),
                      ("results", "harness rows from")):
        if key in conditions:
            lines.append(f"- {text}: {conditions[key]}")
    lines.append(f"- date {env.get('date', '?')}, commit {env.get('git_commit') or 'unknown'}")
    lines.append("")
    return lines


def complexity_markdown(
    counts: Sequence[ModelCount],
    *,
    points: Mapping[tuple[str, str], Sequence[str]] | None = None,
    results_table: pd.DataFrame | None = None,
    split: pd.DataFrame | None = None,
    memory: pd.DataFrame | None = None,
    plot: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> str:
    """The text of ``complexity.md`` from already-computed tables."""
    points = points or {}
    lines = [
        "# Complexity",
        "",
        ("Parameters and MACs per model and channel configuration; encoder and decoder time per model and λ; "
        "peak memory. Every time table holds one device on one machine with one thread count."),
        "",
    ]
    lines += _conditions(conditions or {})
    lines += ["## Parameters and MACs", ""] + _macs_markdown(counts, points)
    lines += ["## Encoder and decoder time", "", "### Whole calls, from the harness's results", ""]
    lines += _results_markdown(results_table if results_table is not None else pd.DataFrame())
    lines += ["### Network and entropy coding (instrumented)", ""]
    lines += _split_markdown(split if split is not None else pd.DataFrame())
    lines += ["## Peak memory", ""] + _memory_markdown(memory if memory is not None else pd.DataFrame())
    lines += ["## Decode time vs BD-rate", ""]
    if plot:
        lines += [f"![decode time vs BD-rate]({plot})", ""]
    else:
        lines += ["No BD-rates yet: run `make bd-rate`, then this again.", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- files


def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue()


def time_frame(results_table: pd.DataFrame | None, split: pd.DataFrame | None) -> pd.DataFrame:
    """``complexity-time.csv``: harness averages (``source=results``) and instrumented means
    (``source=instrumented``, ``encode_s``/``decode_s`` = the whole call) in one tidy table."""
    frames = []
    if results_table is not None and not results_table.empty:
        frames.append(results_table.assign(source="results", weights="", config=""))
    if split is not None and not split.empty:
        frames.append(split.assign(source="instrumented", encode_s=split["encode_total_s"],
                                   decode_s=split["decode_total_s"]))
    if not frames:
        return pd.DataFrame(columns=["source", "device", "hardware", "threads", "codec", "point", "weights",
                                     "config", "images", "encode_s", "decode_s"])
    frame = pd.concat(frames, ignore_index=True)
    first = ["source", "device", "hardware", "threads", "codec", "point", "weights", "config", "images",
             "encode_s", "decode_s"]
    return frame[first + [c for c in frame.columns if c not in first]]


def _plot_times(results_table: pd.DataFrame | None, split: pd.DataFrame, bd_rates: Mapping[str, float]
                ) -> tuple[dict[str, float], str, set[str]] | None:
    """Decode times for the plot from one source and one device: the source (harness results, else the
    instrumented measurement) and device that cover most codecs with a BD-rate."""
    best = None
    for name, table in (("harness results", results_table), ("instrumented timing", split)):
        if table is None or table.empty:
            continue
        for (device, hardware), _ in table.groupby(["device", "hardware"], sort=False):
            times = decode_times(table, device=device, hardware=hardware)
            covered = len(set(times) & set(bd_rates))
            if covered and (best is None or covered > best[0]):
                untrained = set(table[table["weights"] == RANDOM_INIT]["codec"]) if "weights" in table else set()
                caption = f"{device} ({hardware}): decode time per image from the {name}, mean over points"
                best = (covered, times, caption, untrained)
    return None if best is None else best[1:]


def write_complexity(
    out_dir: str | Path,
    counts: Sequence[ModelCount],
    *,
    points: Mapping[tuple[str, str], Sequence[str]] | None = None,
    results_table: pd.DataFrame | None = None,
    steps: Sequence[StepTiming] = (),
    memory: Sequence[tuple[Sequence[str], MemoryResult]] = (),
    bd_rates: Mapping[str, float] | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the Markdown report and its CSV tables (and, given BD-rates, the trade-off plot) to ``out_dir``."""
    from bench.analysis.plots import save_figure

    out = Path(out_dir)
    split = split_table(steps)
    memory_table = memory_frame(memory)
    written = []
    plot_name = None
    if bd_rates:
        choice = _plot_times(results_table, split, bd_rates)
        if choice is not None:
            times, caption, untrained = choice
            figure = decode_time_vs_bd_rate_figure(times, bd_rates, caption=caption, untrained=untrained)
            written += save_figure(figure, out / FILES["plot"], formats=("png",))
            plot_name = f"{FILES['plot']}.png"
    files = {
        FILES["macs"]: _csv(macs_frame(counts, points)),
        FILES["time"]: _csv(time_frame(results_table, split)),
        FILES["steps"]: _csv(steps_frame(steps)),
        FILES["memory"]: _csv(memory_table),
        FILES["markdown"]: complexity_markdown(counts, points=points, results_table=results_table, split=split,
                                               memory=memory_table, plot=plot_name, conditions=conditions),
    }
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    return written


# --------------------------------------------------------------------------- everything at once


def run_complexity(
    out_dir: str | Path,
    *,
    archs: Sequence[str] = STUDY_ARCHS,
    points: Sequence[str] = zoo.DEFAULT_POINTS,
    source: WeightsSource | None = None,
    rows_path: str | Path | None = None,
    images: Sequence[str | Path] = (),
    device: str = "cpu",
    threads: int = 1,
    repeats: int = 3,
    allocator: str = "system",
    memory: bool = True,
    jpeg_points: Sequence[str] = JPEG_POINTS,
    bd_rates: Mapping[str, float] | None = None,
    size: tuple[int, int] = KODAK_SIZE,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Count, time and measure ``archs`` at ``points`` and write the report into ``out_dir``.

    ``source`` supplies trained weights (``--checkpoint``, zoo cache or mirror); points without weights
    are timed random-initialised. ``rows_path`` is the harness's ``rows.csv`` (optional); ``images`` are
    timed (instrumented) and the first one is used for memory (skipped when ``memory`` is False or there
    are no images); ``size`` (H, W) is the size MACs are counted at. ``allocator`` is the heap policy
    the caller put this process under (:func:`bench.core.allocator.apply`), recorded with the conditions.
    """
    import compressai
    import torch

    from bench.core.store import load_rows

    if threads < 1 or repeats < 1:
        raise ComplexityError("threads and repeats must be at least 1")
    if device == "cuda" and not torch.cuda.is_available():
        raise ComplexityError("device cuda asked for, but torch sees no CUDA device; use device='cpu'")
    for arch in archs:
        zoo.check_arch(arch)
    say = progress or (lambda message: None)
    torch.set_num_threads(threads)

    counts, used = [], {}
    for arch in archs:
        for config, labels in configurations(arch, points).items():
            say(f"counting {arch} {dict(config)}")
            count = count_model(arch, dict(config), height=size[0], width=size[1])
            counts.append(count)
            used[(arch, count.config_label)] = labels

    results_table = None
    if rows_path is not None and Path(rows_path).exists():
        rows = load_rows(rows_path)
        results_table = results_time_table(rows, run_environments(Path(rows_path).parent))

    steps: list[StepTiming] = []
    memory_results: list[tuple[Sequence[str], MemoryResult]] = []
    if images:
        models = prepare_models(archs, points, source)
        steps = split_timing(models, images, device=device, repeats=repeats, jpeg_points=jpeg_points,
                             progress=lambda m: say(f"timing {m}"))
        if memory:  # once per zoo configuration: trained weights of that configuration if any, else random
            for arch in archs:
                for config, labels in configurations(arch, points).items():
                    trained = next((m for m in models if m.codec == arch and m.path is not None
                                    and tuple(m.config.items()) == config), None)
                    say(f"memory {arch} {dict(config)}")
                    result = measure_memory(arch, dict(config), image=images[0],
                                            checkpoint=trained.path if trained else None,
                                            point=trained.points[0] if trained else None,
                                            device=device, threads=threads)
                    memory_results += [(labels, r) for r in result.values()]
    conditions = {
        "environment": environment.collect(),
        "entropy_coder": compressai.get_entropy_coder(),
        "device": device,
        "threads": threads,
        "allocator": allocator,
        "images": f"{len(images)} ({', '.join(Path(p).name for p in images)})" if images else "none",
        "repeats": repeats,
    }
    if results_table is not None:
        conditions["results"] = str(rows_path)
    return write_complexity(out_dir, counts, points=used, results_table=results_table, steps=steps,
                            memory=memory_results, bd_rates=bd_rates, conditions=conditions)
