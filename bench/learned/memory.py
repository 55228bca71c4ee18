"""Peak memory of encoding and of decoding one image, each in a fresh process.

CPU: a child process (``python -m bench.learned.memory SPEC``) imports torch, compressai, numpy and Pillow,
builds or loads the model and reads the image (or the bitstream); its resident set then is the
**baseline** (a process that only imports and loads the model). It resets its peak-RSS counter, encodes
(or decodes) one image and reads the **peak** resident set of that phase; *added* = peak − baseline.
A fresh process per phase keeps one phase's peak out of the other's; the decode child gets the
bitstream the encode child wrote.

On Linux the peak is ``VmHWM`` of ``/proc/self/status``, reset at the phase start by writing ``5`` to
``/proc/self/clear_refs``. ``getrusage(RUSAGE_SELF).ru_maxrss`` is recorded too but not used there: Linux
carries the parent's high-water mark into the child across fork and exec, so a child of a large parent
reports the parent's peak (every child of a 1.5 GiB parent reported 1528 MiB). Elsewhere ``ru_maxrss``
is the peak (lifetime, not reset).

CUDA: in the same child, ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (tensors
allocated through PyTorch's caching allocator; the CUDA context and cuDNN workspaces are not included);
baseline is ``memory_allocated`` with the model on the device.

Models are random-initialised with a given configuration (``update(force=True)``), or loaded from a
checkpoint: then the configuration is the one its tensors hold, and that is what the result records.
Any other registered codec (a plug-in, a named model, JPEG) is measured by :func:`measure_codec_memory`:
the child builds it from its option values in the caller's folder and times nothing but its whole
``encode`` (or ``decode``) call, bitstream container included. Images are padded right and bottom to the model's multiple by replication, as the harness's
adapter does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.core.environment import REPO_DIR
from bench.learned.macs import ComplexityError
from bench.learned.models import model_kind
from bench.learned.padding import MODEL, pad_tensor

__all__ = ["PHASES", "MemoryResult", "cuda_peak", "measure_codec_memory", "measure_memory"]

PHASES: tuple[str, ...] = ("encode", "decode")
_RESULT_PREFIX = "BENCH-MEMORY "


@dataclass(frozen=True)
class MemoryResult:
    """Peak and baseline memory of one phase, in bytes."""

    arch: str
    config: Mapping[str, int]
    phase: str
    device: str
    kind: str
    """How the peak was read: ``"peak RSS (VmHWM, reset at phase start)"``, ``"peak RSS (VmHWM)"``,
    ``"peak RSS (ru_maxrss)"`` (CPU) or ``"cuda max_memory_allocated"``."""
    peak_bytes: int
    baseline_bytes: int
    imports_bytes: int
    """CPU only: resident set after the imports, before the model (0 on CUDA)."""
    height: int
    width: int
    threads: int
    weights: str
    """``"random init"`` or the checkpoint's file name."""
    ru_maxrss_bytes: int = 0
    """``getrusage(RUSAGE_SELF).ru_maxrss`` at the end, for reference (see the module docstring)."""

    @property
    def delta_bytes(self) -> int:
        """What the phase adds on top of the baseline (imports + loaded model)."""
        return self.peak_bytes - self.baseline_bytes


def measure_memory(
    arch: str,
    config: Mapping[str, int] | None = None,
    *,
    image: str | Path | None = None,
    size: tuple[int, int] | None = None,
    checkpoint: str | Path | None = None,
    point: str | None = None,
    device: str = "cpu",
    threads: int = 1,
    phases: Sequence[str] = PHASES,
    python: str = sys.executable,
    timeout_s: float = 600.0,
) -> dict[str, MemoryResult]:
    """Peak memory of each of ``phases`` for one image, each phase in a fresh process.

    The model is ``arch(**config)`` random-initialised, or loaded from ``checkpoint`` (then ``point`` is
    its operating-point label). The image is ``image`` (a file) or a synthetic one of ``size`` (H, W).
    """
    _check(phases, device, threads)
    if (image is None) == (size is None):
        raise ComplexityError("give exactly one of image=PATH or size=(H, W)")
    if checkpoint is None and not config:
        raise ComplexityError(f"give config (e.g. {{'N': 128, 'M': 192}}) or a checkpoint for {arch}")
    if checkpoint is not None and not point:
        raise ComplexityError("a checkpoint needs its operating-point label: point='lambda0.0130'")
    spec: dict[str, Any] = {
        "arch": arch, "config": dict(config or {}),
        "checkpoint": _absolute("checkpoint", checkpoint), "point": point, "image": _absolute("image", image),
        "size": list(size) if size is not None else None, "device": device, "threads": int(threads),
    }
    return _phases(spec, phases, python, timeout_s)


def measure_codec_memory(codec: str, options: Mapping[str, Any], point: str, *, image: str | Path,
                         device: str = "cpu", threads: int = 1, phases: Sequence[str] = PHASES,
                         python: str = sys.executable, timeout_s: float = 600.0) -> dict[str, MemoryResult]:
    """Peak memory of the whole ``encode`` and ``decode`` calls of any registered codec at ``point``, each
    phase in a fresh process that builds the codec as ``registry.create(codec, options)`` (``options``:
    resolved option values, JSON-serialisable) in this process's folder and environment, so relative
    paths among the options and ``BENCH_CODEC_PATH`` mean what they mean here. ``device`` is recorded;
    the codec's own ``device`` option decides where it runs (``cuda``: the CUDA allocator's peak)."""
    _check(phases, device, threads)
    spec: dict[str, Any] = {
        "arch": codec, "codec": codec, "options": dict(options), "point": point, "cwd": str(Path.cwd()),
        "image": _absolute("image", image), "device": device, "threads": int(threads),
    }
    try:
        json.dumps(spec)
    except TypeError as exc:
        raise ComplexityError(f"{codec}: its options cannot be passed to the memory measurement ({exc}); give "
                              "plain values, or --no-memory") from None
    return _phases(spec, phases, python, timeout_s)


def _check(phases: Sequence[str], device: str, threads: int) -> None:
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        raise ComplexityError(f"unknown phase(s) {unknown or list(phases)}; use {', '.join(PHASES)}")
    if device not in ("cpu", "cuda"):
        raise ComplexityError(f"unknown device {device!r}; use cpu or cuda")
    if threads < 1:
        raise ComplexityError(f"threads must be at least 1, got {threads}")


def _absolute(what: str, path: str | Path | None) -> str | None:
    """``path`` made absolute (the children run in the repository), or one error naming it when it is missing."""
    if path is None:
        return None
    if not Path(path).is_file():
        raise ComplexityError(f"{path}: no such {what} file (relative to {Path.cwd()})")
    return str(Path(path).resolve())


def _phases(spec: Mapping[str, Any], phases: Sequence[str], python: str, timeout_s: float
            ) -> dict[str, MemoryResult]:
    results: dict[str, MemoryResult] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        stream = Path(tmp) / "stream.bin"
        # decoding needs a bitstream: the encode child always runs, in its own process
        results["encode"] = _child({**spec, "phase": "encode", "write": str(stream)}, python, timeout_s)
        if "decode" in phases:
            results["decode"] = _child({**spec, "phase": "decode", "read": str(stream)}, python, timeout_s)
    return {p: results[p] for p in phases}


def _child(spec: Mapping[str, Any], python: str, timeout_s: float) -> MemoryResult:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONWARNINGS", "ignore")
    command = [python, "-m", "bench.learned.memory", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env,
                              cwd=REPO_DIR, check=False)
    except subprocess.TimeoutExpired:
        raise ComplexityError(f"memory measurement of {spec['arch']} ({spec['phase']}) took longer than "
                              f"{timeout_s:g} s; give a larger timeout_s") from None
    except OSError as exc:
        raise ComplexityError(f"cannot start {python} for the memory measurement: {exc}") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])[-500:]
        raise ComplexityError(f"memory measurement of {spec['arch']} ({spec['phase']}) failed "
                              f"(exit {done.returncode}): {tail or 'no output'}")
    return MemoryResult(**json.loads(lines[-1][len(_RESULT_PREFIX):]))


def cuda_peak(run: Any, cuda: Any) -> tuple[int, int]:
    """``(peak, baseline)`` bytes of ``run()`` on the CUDA allocator ``cuda`` (``torch.cuda``).

    Baseline is ``memory_allocated()`` before; the peak counter is reset, the work synchronised.
    """
    cuda.synchronize()
    baseline = int(cuda.memory_allocated())
    cuda.reset_peak_memory_stats()
    run()
    cuda.synchronize()
    return int(cuda.max_memory_allocated()), baseline


# --------------------------------------------------------------------------- the child process


def _maxrss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # Linux reports KiB, macOS bytes


def _status() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of this process in bytes (Linux); empty where there is no /proc."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024  # kB
    return out


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current resident set (Linux ≥ 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _resident() -> int:
    return _status().get("VmRSS") or _maxrss_bytes()


def _synthetic(height: int, width: int) -> Any:
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 60 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    image = np.stack([base, np.roll(base, 7, axis=1), 255 - base], axis=-1)
    image += np.random.default_rng(0).normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _peak(run: Any, cuda: bool) -> tuple[int, int, str]:
    """``(peak, baseline, kind)`` of ``run()``: the CUDA allocator's (``cuda``) or the resident set's."""
    if cuda:
        import torch

        return (*cuda_peak(run, torch.cuda), "cuda max_memory_allocated")
    base = _resident()
    reset = _reset_peak()
    run()
    status = _status()
    if "VmHWM" in status:
        return status["VmHWM"], base, "peak RSS (VmHWM, reset at phase start)" if reset else "peak RSS (VmHWM)"
    return _maxrss_bytes(), base, "peak RSS (ru_maxrss)"


def _codec_main(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A registered codec's whole ``encode`` (or ``decode``) call, built as the caller built it."""
    import numpy as np
    import torch

    from bench.core import registry
    from bench.core.images import load_rgb

    os.chdir(spec["cwd"])  # the caller's folder: relative options and BENCH_CODEC_PATH as there
    torch.set_num_threads(int(spec["threads"]))
    imports = _resident()
    registry.expand({spec["codec"]: spec["options"]})  # a named model is defined by its options
    codec = registry.create(spec["codec"], spec["options"])
    coder = codec.coder(spec["point"])
    loaded = getattr(coder, "loaded", None)
    out: dict[str, Any] = {}
    if spec["phase"] == "encode":
        pixels = np.array(load_rgb(spec["image"]).pixels)

        def run() -> None:
            out["data"] = coder.encode(pixels)
    else:
        data = Path(spec["read"]).read_bytes()

        def run() -> None:
            out["pixels"] = coder.decode(data)
    peak, base, kind = _peak(run, codec.synchronize() is not None)
    if spec["phase"] == "encode" and spec.get("write"):
        Path(spec["write"]).write_bytes(out["data"])
    height, width = (pixels if spec["phase"] == "encode" else out["pixels"]).shape[:2]
    return asdict(MemoryResult(
        arch=spec["codec"], config=dict(loaded.config) if loaded is not None else {}, phase=spec["phase"],
        device="cuda" if kind.startswith("cuda") else "cpu", kind=kind, peak_bytes=int(peak),
        baseline_bytes=int(base), imports_bytes=0 if kind.startswith("cuda") else int(imports),
        height=int(height), width=int(width), threads=int(spec["threads"]),
        weights=weights_label(loaded) if loaded is not None else "-", ru_maxrss_bytes=_maxrss_bytes(),
    ))


def weights_label(loaded: Any) -> str:
    """How the tables name a loaded model's weights: its checkpoint file's name, else a prefix of their hash."""
    origin = str(loaded.origin)
    if origin.startswith("checkpoint:"):
        return Path(origin.removeprefix("checkpoint:")).name
    return f"sha256 {loaded.sha256[:12]}"


def _main(spec: Mapping[str, Any]) -> dict[str, Any]:
    if spec.get("codec"):
        return _codec_main(spec)
    import compressai  # noqa: F401
    import numpy as np
    import PIL.Image
    import torch

    torch.set_num_threads(int(spec["threads"]))
    imports = _resident()
    device = torch.device(spec["device"])
    if spec["checkpoint"]:
        from bench.learned.checkpoint import load_model
        from bench.learned.weights import Checkpoint, WeightsSource

        source = WeightsSource(checkpoints=(Checkpoint(spec["arch"], spec["point"], Path(spec["checkpoint"])),),
                               offline=True)
        loaded = load_model(spec["arch"], spec["point"], source)
        model, config, weights = loaded.model, dict(loaded.config), Path(spec["checkpoint"]).name
    else:
        from bench.learned import zoo

        torch.manual_seed(0)
        config = {k: int(v) for k, v in spec["config"].items()}
        model = zoo.model_class(spec["arch"])(**config)
        model.update(force=True)
        weights = "random init"
    model = model.eval().to(device)
    multiple = model_kind(model).multiple

    if spec["phase"] == "encode":
        if spec["image"]:
            with PIL.Image.open(spec["image"]) as img:
                pixels = np.array(img.convert("RGB"))  # writable: torch.from_numpy wants one
        else:
            pixels = _synthetic(*spec["size"])
        height, width = pixels.shape[:2]
    else:
        from bench.learned import bitstream

        data = Path(spec["read"]).read_bytes()
        parsed = bitstream.parse(data)
        height, width = parsed.height, parsed.width
    out: dict[str, Any] = {}

    def encode() -> None:
        x = torch.from_numpy(np.ascontiguousarray(pixels)).to(device)
        x = pad_tensor(x.permute(2, 0, 1).to(torch.float32).div(255).unsqueeze(0), multiple, MODEL)
        with torch.no_grad():
            out.update(model.compress(x))

    def decode() -> None:
        with torch.no_grad():
            x_hat = model.decompress(parsed.strings, list(parsed.shape))["x_hat"][..., :height, :width]
        out["pixels"] = x_hat[0].mul(255).clamp_(0, 255).round_().to("cpu", torch.uint8).numpy()

    peak, base, kind = _peak(encode if spec["phase"] == "encode" else decode, device.type == "cuda")
    if kind.startswith("cuda"):
        imports = 0
    if spec["phase"] == "encode" and spec.get("write"):
        from bench.learned import bitstream

        strings = [list(group) for group in out["strings"]]
        Path(spec["write"]).write_bytes(bitstream.pack(strings, tuple(out["shape"]), height, width))
    return asdict(MemoryResult(
        arch=spec["arch"], config=config, phase=spec["phase"], device=device.type, kind=kind,
        peak_bytes=int(peak), baseline_bytes=int(base), imports_bytes=int(imports), height=int(height),
        width=int(width), threads=int(spec["threads"]), weights=weights, ru_maxrss_bytes=_maxrss_bytes(),
    ))


if __name__ == "__main__":
    print(_RESULT_PREFIX + json.dumps(_main(json.loads(sys.argv[1]))), flush=True)
