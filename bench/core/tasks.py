"""One task of a run, as data and as work: the codec runs and settings a run is planned from, and what
a ``--jobs`` process or a Dask worker (:mod:`bench.core.cluster`) does for one row (its RD values, its
timing). The evaluator and the cluster both import from here; the cluster never imports the evaluator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.codec import Codec, Coder
from bench.core.measure import Reference, later_quality, measure_row, reference_of, timing_columns
from bench.core.lru import SizedLru
from bench.core.metric_registry import resolve_metrics
from bench.core.reuse import lacks_quality
from bench.core.screening import PreparedImage
from bench.core.store import refuse_links
from bench.core.timing import MIN_VALUE_S, TimingPolicy, WarmUps, time_call

__all__ = ["CodecRun", "PointWorker", "REFERENCES_BUDGET", "Row", "Settings", "artifact_path", "reference_nbytes", "time_row",
           "warm_up"]

@dataclass(frozen=True)
class Row:
    """One row to measure, time or score: its operating point, its image and the row's fields so far."""

    point: str
    image: PreparedImage
    fields: dict[str, Any]


@dataclass(frozen=True)
class CodecRun:
    """A codec and the operating points to measure."""

    codec: Codec
    points: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """How to run: processes for RD metrics, timing repeats, torch threads, extras.

    ``allocator`` names the heap policy the caller put this process under
    (:func:`bench.core.allocator.apply`); it is recorded, not applied, here.
    """

    jobs: int = 1
    repeats: int | None = None
    """Timed values of one call each for every row; None (the default): by the call's duration (:class:`TimingPolicy`)."""
    threads: int = 1
    allocator: str = "system"
    reco_dir: Path | None = None
    bitstream_dir: Path | None = None
    progress: bool = True
    strict: bool = False
    """Refuse the run, listing every unusable file, instead of measuring the usable ones."""
    wait: float | None = None
    """Seconds to wait for another run writing into the same results folder (None: as long as it takes; 0: refuse)."""
    executor: str = "local"
    """Where tasks run: ``local`` (this process and ``jobs`` processes) or ``dask`` (:mod:`bench.core.cluster`)."""
    scheduler: str | None = None
    """The Dask scheduler's address with ``executor="dask"``; None starts a local cluster of ``jobs`` workers."""
    shard: tuple[int, int] | None = None
    """``(i, n)``: measure only the i-th of n shares of the task list (:func:`in_shard`); None: all of it."""
    derive: bool = True
    """Rows of a codec with a :meth:`~bench.core.codec.Codec.derivation` come from it once the run's sample
    (:func:`~bench.core.sampling.repeatability_sample`) matched the codec's own coder; False: every row by
    the codec's own coder."""
    trace: Path | None = None
    """A file to record, per process, when timed calls and untimed scoring ran (:mod:`bench.core.trace`); None: no record."""
    images: tuple[str, ...] | None = None
    """Measure only these images (relative names, :func:`bench.core.subset.select_images`); None: every usable one.
    The dataset's manifest is still that of every file (the other images' rows stay current)."""

    metrics: tuple[str, ...] = ()
    """Plug-in metrics to score beside the built-in ones (names of :mod:`bench.core.metric_registry`, resolved)."""
    min_value: float = MIN_VALUE_S
    """By duration: the least time of one looped value of a short call (:attr:`TimingPolicy.min_value_s`)."""

    @property
    def timing(self) -> TimingPolicy:
        """How rows are timed: ``repeats`` single calls each, or by duration."""
        return TimingPolicy(repeats=self.repeats, min_value_s=self.min_value)


REFERENCES_BUDGET = 256 * 2**20
"""Bytes of MS-SSIM references a worker keeps (:attr:`MsSsimReference.nbytes`; the last one always)."""


def reference_nbytes(reference: Reference) -> int:
    """Bytes an image's reference keeps (what a worker's cache of references counts)."""
    return reference.nbytes


class PointWorker:
    """A codec built once in a worker, its coders (one per operating point, built on first use), the
    MS-SSIM references of the last images and the warm-ups done: what every RD or timing task of one
    codec needs, on a Dask worker
    (:mod:`bench.core.cluster`, whose tasks may alternate between images).
    """

    def __init__(self, codec: Codec, settings: Settings) -> None:
        self.codec = codec
        self.settings = settings
        self.coders: dict[str, Coder] = {}
        self.warmed = WarmUps()
        self.references: SizedLru[Reference] = SizedLru(REFERENCES_BUDGET, reference_nbytes)
        self.metrics = resolve_metrics(settings.metrics)

    def coder(self, point: str) -> Coder:
        if point not in self.coders:
            self.coders[point] = self.codec.coder(point)
        return self.coders[point]

    def rd_row(self, point: str, image: PreparedImage) -> dict[str, Any]:
        """The row's RD values (untimed :func:`measure_row`), reconstructions and bitstreams written if asked."""
        reference = self.references.get(image.sha256, lambda: reference_of(image.pixels, self.metrics))
        settings, codec = self.settings, self.codec.name
        return measure_row(
            self.coder(point), image, reference, timed=False,
            reco_path=artifact_path(settings.reco_dir, codec, point, image.name, ".png"),
            bitstream_path=artifact_path(settings.bitstream_dir, codec, point, image.name, ".bin"),
        )

    def timing(self, point: str, image: PreparedImage, stored: Mapping[str, Any]) -> dict[str, Any]:
        """The timing columns of the ``stored`` row (its ``bytes``, ``psnr`` and quality columns; :func:`time_row`)."""
        return time_row(self.coder(point), point, image, stored=stored, policy=self.settings.timing,
                        synchronize=self.codec.synchronize(), warmed=self.warmed)


def time_row(coder: Coder, point: str, image: PreparedImage, *, stored: Mapping[str, Any], policy: TimingPolicy,
             synchronize: Callable[[], None] | None, warmed: WarmUps) -> dict[str, Any]:
    """Time one row after its warm-up (under ``policy``; more values when the ``stored`` row's
    ``timing_sampled`` is 1): the timing columns, or ``status`` failed and a ``note`` (a codec fault, or a
    bitstream whose length differs from the ``stored`` row's ``bytes``). A stored row from before the
    Y′CbCr columns gets them too (:func:`bench.core.measure.later_quality`)."""
    warm_up(coder, point, image, warmed)
    sampled = str(stored.get("timing_sampled", "")) == "1"
    try:
        encoded = time_call(lambda: coder.encode(image.pixels), policy, sampled=sampled, synchronize=synchronize)
        decoded = time_call(lambda: coder.decode(encoded.result), policy, sampled=sampled, synchronize=synchronize)
    except Exception as exc:
        return {"status": "failed", "note": f"timing pass: {type(exc).__name__}: {exc}"}
    update: dict[str, Any] = timing_columns(encoded, decoded, policy, sampled)
    if len(encoded.result) != int(float(stored["bytes"])):
        update["status"] = "failed"
        update["note"] = (f"non-deterministic encoder: {len(encoded.result)} bytes in the timing "
                          f"pass, {stored['bytes']} in the RD pass")
    elif lacks_quality(stored):
        values, problem = later_quality(image.pixels, encoded.result, decoded.result, stored)
        update.update(values)
        if problem is not None:
            update.update(status="failed", note=f"timing pass: {problem}")
    return update


def artifact_path(folder: Path | None, codec: str, point: str, image: str, suffix: str) -> Path | None:
    """Where a reconstruction or bitstream of one row goes: ``folder/codec/point/<image><suffix>``, with
    the image's full relative file name (``img.png.bin``, ``img.jpg.bin``), so no two rows share a file.

    Raises :class:`StoreError` when a symbolic link below ``folder`` would take the write elsewhere."""
    if folder is None:
        return None
    path = Path(folder) / codec / point / (image + suffix)
    refuse_links(path, within=folder)
    return path


def warm_up(coder: Coder, point: str, image: PreparedImage, warmed: WarmUps) -> None:
    """One untimed warm-up per (operating point, image shape), for every codec: a first call pays for
    lazy set-up (library loading, tables, allocations) that the timed calls must not (JPEG's first
    encode here: 4.7 ms against a 1.1 ms median)."""
    coder.select(image.pixels)

    def call() -> None:
        try:
            coder.warm_up(image.pixels)
        except Exception:
            pass  # the measured call that follows reports the fault in its row

    warmed.once((point, image.pixels.shape), call)
