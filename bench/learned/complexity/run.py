"""Count, time and measure the learned models, and write the tables and the run file.

:func:`run_complexity` does all of it; :func:`write_measurements` writes already-measured results.
Rendering them (``complexity.md``, the plot) is :mod:`bench.analysis.complexity_report`'s job.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bench.core import environment
from bench.core.store import write_text_atomic
from bench.learned import zoo
from bench.learned.complexity.files import FILES, REFERENCE_CODEC, ComplexityError, write_run
from bench.learned.complexity.registered import count_codecs, timed_codecs
from bench.learned.complexity.tables import (
    StepTiming,
    csv_text,
    macs_frame,
    memory_frame,
    results_time_table,
    run_environments,
    split_table,
    steps_frame,
    time_frame,
)
from bench.learned.complexity.timing import JPEG_POINTS, prepare_models, split_timing
from bench.learned.macs import GDN_ELEMENTWISE_OPS, KODAK_SIZE, STUDY_ARCHS, ModelCount, configurations, count_model
from bench.learned.memory import MemoryResult, measure_codec_memory, measure_memory

if TYPE_CHECKING:
    from bench.learned.complexity.registered import CodecModels
    from bench.learned.weights import WeightsSource

__all__ = ["run_complexity", "write_measurements"]


def write_measurements(
    out_dir: str | Path,
    counts: Sequence[ModelCount],
    *,
    points: Mapping[tuple[str, str], Sequence[str]] | None = None,
    results_table: pd.DataFrame | None = None,
    steps: Sequence[StepTiming] = (),
    memory: Sequence[tuple[Sequence[str], MemoryResult]] = (),
    conditions: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the CSV tables and the run file (``conditions`` and the counting convention) to ``out_dir``.

    ``points`` maps (arch, config label) to the operating points that use the configuration;
    ``results_table`` is :func:`~bench.learned.complexity.tables.results_time_table` of the harness rows.
    """
    out = Path(out_dir)
    files = {
        FILES["macs"]: csv_text(macs_frame(counts, points)),
        FILES["time"]: csv_text(time_frame(results_table, split_table(steps))),
        FILES["steps"]: csv_text(steps_frame(steps)),
        FILES["memory"]: csv_text(memory_frame(memory)),
    }
    written = []
    for name, text in files.items():
        write_text_atomic(out / name, text)
        written.append(out / name)
    run = {"source": "measured by `python -m bench complexity` (bench.learned.complexity.run)",
           **(conditions or {}), "gdn_elementwise_ops": GDN_ELEMENTWISE_OPS}
    written.append(write_run(out / FILES["run"], run))
    return written


def _keeps_torch_threads(measure: Callable[..., list[Path]]) -> Callable[..., list[Path]]:
    """``measure`` leaving torch's thread count as it found it (it sets the count it measures under)."""

    @functools.wraps(measure)
    def kept(*args: Any, **kwargs: Any) -> list[Path]:
        import torch

        threads = torch.get_num_threads()
        try:
            return measure(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return kept


@_keeps_torch_threads
def run_complexity(
    out_dir: str | Path,
    *,
    archs: Sequence[str] = STUDY_ARCHS,
    points: Sequence[str] = zoo.DEFAULT_POINTS,
    codecs: Sequence[CodecModels] = (),
    source: WeightsSource | None = None,
    rows_path: str | Path | None = None,
    images: Sequence[str | Path] = (),
    device: str = "cpu",
    threads: int = 1,
    repeats: int = 3,
    allocator: str = "system",
    memory: bool = True,
    jpeg_points: Sequence[str] = JPEG_POINTS,
    size: tuple[int, int] = KODAK_SIZE,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Count, time and measure ``archs`` at ``points`` and ``codecs`` (other registered codecs, built by
    :func:`~bench.learned.complexity.registered.prepare_codecs`) at theirs, and write the tables and the run
    file into ``out_dir``.

    ``source`` supplies trained weights (``--checkpoint``, zoo cache or mirror); points without weights
    are timed random-initialised. Parameters, MACs and memory are those of the configuration that runs:
    a user checkpoint's, read from its tensors, else the zoo's of the label. ``rows_path`` is the harness's ``rows.csv`` (optional); ``images`` are
    timed (instrumented) and the first one is used for memory (skipped when ``memory`` is False or there
    are no images); ``size`` (H, W) is the size MACs are counted at. ``allocator`` is the heap policy
    the caller put this process under (:func:`bench.core.allocator.apply`), recorded with the conditions,
    as is why a codec's counts or step timings are absent (``absent``).
    """
    import compressai
    import torch

    from bench.core import allocator as heap
    from bench.core.manifest import current_rows, read_manifest
    from bench.core.store import load_rows

    if threads < 1 or repeats < 1:
        raise ComplexityError("threads and repeats must be at least 1")
    if device == "cuda" and not torch.cuda.is_available():
        raise ComplexityError("device cuda asked for, but torch sees no CUDA device; use device='cpu'")
    for arch in archs:
        zoo.check_arch(arch)
    say = progress or (lambda message: None)
    torch.set_num_threads(threads)

    # the configuration of what runs: a user checkpoint's own channels, else the zoo's of the label
    configs = {arch: configurations(arch, points, source) for arch in archs}
    counts, used = [], {}
    for arch in archs:
        for config, labels in configs[arch].items():
            say(f"counting {arch} {dict(config)}")
            count = count_model(arch, dict(config), height=size[0], width=size[1])
            counts.append(count)
            used[(arch, count.config_label)] = labels
    for entry in codecs:
        if entry.groups:
            say(f"counting {entry.name}")
    more, more_used = count_codecs(codecs, size)
    counts += more
    used.update(more_used)

    results_table = None
    if rows_path is not None and Path(rows_path).exists():
        rows, _ = current_rows(load_rows(rows_path), read_manifest(Path(rows_path).parent))  # the dataset's images
        results_table = results_time_table(rows, run_environments(Path(rows_path).parent))

    steps: list[StepTiming] = []
    memory_results: list[tuple[Sequence[str], MemoryResult]] = []
    if images:
        models, calls = timed_codecs(codecs)
        models = prepare_models(archs, points, source) + models
        if any(entry.name == REFERENCE_CODEC for entry in codecs):
            jpeg_points = ()  # timed as asked, not twice
        steps = split_timing(models, images, device=device, repeats=repeats, jpeg_points=jpeg_points, calls=calls,
                             progress=lambda m: say(f"timing {m}"))
        if memory:  # once per configuration: trained weights of that configuration if any, else random
            for arch in archs:
                for config, labels in configs[arch].items():
                    trained = next((m for m in models if m.codec == arch and m.path is not None
                                    and tuple(m.config.items()) == config), None)
                    say(f"memory {arch} {dict(config)}")
                    result = measure_memory(arch, dict(config), image=images[0],
                                            checkpoint=trained.path if trained else None,
                                            point=trained.points[0] if trained else None,
                                            device=device, threads=threads)
                    memory_results += [(labels, r) for r in result.values()]
            for entry in codecs:  # once per structure, at its first point; once at the first point without one
                for labels in entry.groups.values() or [[entry.points[0]]]:
                    say(f"memory {entry.name} {labels[0]}")
                    result = measure_codec_memory(entry.name, entry.options, labels[0], image=images[0],
                                                  device=device, threads=threads)
                    memory_results += [(labels, r) for r in result.values()]
    conditions = {
        "command": list(sys.argv),
        "environment": environment.collect(),
        "entropy_coder": compressai.get_entropy_coder(),
        "device": device,
        "threads": threads,
        "allocator": allocator,
        "allocator_module": heap.__name__,
        "images": [Path(p).name for p in images],
        "repeats": repeats,
        "results": str(rows_path) if results_table is not None else None,
        "absent": {entry.name: entry.reason for entry in codecs if entry.reason},
    }
    return write_measurements(out_dir, counts, points=used, results_table=results_table, steps=steps,
                              memory=memory_results, conditions=conditions)
