"""The evaluator's tasks on a Dask cluster (``run --executor dask``); imported only then.

The driver (the process that runs :class:`bench.core.evaluator.Evaluation`) decides what is missing,
submits one task per (codec, operating point, image) and stays the only writer of ``rows.csv``: it
appends each row as its future completes, so killing the driver resumes as a local run does, and a
task whose worker dies is run again elsewhere by the scheduler (a row is appended once, by key).

Workers need no shared filesystem: an image travels as its pixels' bytes with their hash, checked on
arrival (:class:`ImagePayload`); a worker builds each codec once from its name and options, through
the same registry, options and weight resolution (cache, mirror, zoo, hash checks) as a local run, and
refuses to measure when its build differs from the driver's (:func:`bench.core.reuse.codec_hash`).
A task calls :class:`bench.core.tasks.PointWorker`, whose RD and timing calls are those of a local run
(:func:`bench.core.measure.measure_row`, :func:`bench.core.tasks.time_row`), so rows are the same by construction.

Resources (``dask worker --resources "timing=1 GPU=1"``): a timing task holds ``timing=1``, which one
worker per machine declares, so no two timings share a machine; and the RD pass of a codec is finished
before its timings start, so no RD task competes with them either. Tasks of a codec on a CUDA device
also hold ``GPU=1``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from distributed import Client, Future, Nanny, Scheduler, SpecCluster, Worker, as_completed
from distributed.scheduler import KilledWorker

from bench.core import environment, registry
from bench.core.codec import Codec
from bench.core.errors import BenchError, CodecError, ImageError
from bench.core.tasks import CodecRun, PointWorker, Row, Settings
from bench.core.images import pixel_sha256
from bench.core.lru import SizedLru
from bench.core.reuse import LATER_QUALITY, codec_hash
from bench.core.screening import PreparedImage

__all__ = ["GPU", "TIMING", "DaskExecutor", "ImagePayload", "local_cluster"]

log = logging.getLogger(__name__)

TIMING = "timing"  #: the worker resource a timing task holds; one worker per machine declares ``timing=1``
GPU = "GPU"  #: the worker resource a task of a codec on a CUDA device holds


@dataclass(frozen=True)
class ImagePayload:
    """An image as it travels to a worker: its pixels' bytes, shape and SHA-256, checked on arrival."""

    name: str
    data: bytes
    shape: tuple[int, int, int]
    sha256: str
    conversion: str = ""

    @classmethod
    def of(cls, image: PreparedImage) -> ImagePayload:
        pixels = np.ascontiguousarray(image.pixels)
        return cls(image.name, pixels.tobytes(), tuple(pixels.shape), image.sha256, image.conversion)

    def unpack(self) -> PreparedImage:
        """The image, once its pixels hash to the driver's ``sha256`` (:class:`ImageError` otherwise)."""
        pixels = np.frombuffer(self.data, dtype=np.uint8).reshape(self.shape)
        if pixel_sha256(pixels) != self.sha256:
            raise ImageError(f"{self.name}: the pixels that reached this worker do not hash to the driver's "
                             f"{self.sha256[:12]}…; check the network and the worker's memory, then rerun")
        return PreparedImage(self.name, Path(self.name), pixels, self.sha256, self.conversion)


@dataclass(frozen=True)
class CodecSpec:
    """How a worker builds a codec: its name, option values and the driver's codec hash to match."""

    name: str
    options: tuple[tuple[str, Any], ...]
    expected_hash: str

    @classmethod
    def of(cls, run: CodecRun) -> CodecSpec:
        return cls(run.codec.name, tuple(sorted(dict(run.options).items(), key=lambda item: item[0])),
                   codec_hash(run.codec))

    def build(self) -> Codec:
        options = {key: list(value) if isinstance(value, tuple) else value for key, value in self.options}
        try:
            registry.entry(self.name)
        except CodecError:  # a variant (e.g. a named model) is defined by its options, as in the CLI
            registry.expand({self.name: options})
        codec = registry.create(self.name, options)
        if codec_hash(codec) != self.expected_hash:
            raise CodecError(f"codec {self.name!r} builds differently on worker {environment.cpu_model()!r} "
                             f"({codec.identity()}); install the driver's versions of the harness and its "
                             "libraries on every worker")
        return codec


# --- on the worker ------------------------------------------------------------------------------

_state = threading.local()  # per worker thread: codecs are not assumed thread-safe
_machine: dict[str, Any] = {}


def _point_worker(spec: CodecSpec, settings: Settings) -> PointWorker:
    workers = _state.__dict__.setdefault("workers", {})
    if (spec, settings) not in workers:
        workers[(spec, settings)] = PointWorker(spec.build(), settings)
    return workers[(spec, settings)]


IMAGES_BUDGET = 256 * 2**20
"""Bytes of checked images a worker thread keeps (its tasks may alternate between images)."""


def _image(payload: ImagePayload) -> PreparedImage:
    """The payload's image; checked once per worker thread and image while it is kept (:data:`IMAGES_BUDGET`)."""
    images = _state.__dict__.setdefault("images", SizedLru(IMAGES_BUDGET, lambda image: image.pixels.nbytes))
    return images.get(payload.sha256, payload.unpack)


def _set_threads(threads: int) -> int:
    """Torch threads for this task, set before it runs, as the local path does (the metrics use torch:
    a first task under torch's default thread count would sum in another order); returns them."""
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def worker_hardware() -> dict[str, Any]:
    """This worker machine's part of the host fingerprint (:func:`bench.core.environment.machine`)."""
    if not _machine:
        _machine.update(environment.machine())
    return dict(_machine)


def dask_setup(worker: Worker) -> None:
    """Run at a worker's start by ``dask worker --preload bench.core.cluster`` (the local cluster's workers
    too): torch imported and the machine facts read then, all workers at once, not by a first task."""
    worker_hardware()


def _carry(payload: ImagePayload) -> ImagePayload:
    """An image as a task result: the scheduler keeps the payload, so a lost copy is sent again."""
    return payload


def rd_task(point: str, payload: ImagePayload, *, spec: CodecSpec, settings: Settings) -> dict[str, Any]:
    """One row's RD values on a worker: :meth:`PointWorker.rd_row`, as a ``--jobs`` process does (one thread)."""
    _set_threads(1)
    worker = _point_worker(spec, settings)
    return worker.rd_row(point, _image(payload))


def _stored_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """What a timing task needs of the stored row: its length and PSNR, whether it is in the repeatability
    sample, and its quality columns (to fill)."""
    return {key: row.get(key, "") for key in ("bytes", "psnr", "timing_sampled", *LATER_QUALITY)}


def timing_task(point: str, payload: ImagePayload, stored: Mapping[str, Any], *, spec: CodecSpec,
                settings: Settings) -> tuple[dict[str, Any], dict[str, Any]]:
    """One row's timings on a worker (:meth:`PointWorker.timing`), and the conditions they were taken under:
    the machine, torch threads and heap policy in effect."""
    from bench.core.allocator import apply

    if os.environ.get(_TRIM):
        raise BenchError(f"this worker's heap runs with {_TRIM}={os.environ[_TRIM]} (set by Dask's nanny), which "
                         "maps and page-faults every block over 128 KiB again: its timings would not be glibc's "
                         "default heap; start the timing worker with `dask worker --no-nanny …`")
    allocator = apply(settings.allocator)
    threads = _set_threads(settings.threads)
    worker = _point_worker(spec, settings)
    update = worker.timing(point, _image(payload), stored)
    return update, {"hardware": worker_hardware(), "threads": threads, "allocator": allocator}


# --- on the driver ------------------------------------------------------------------------------


_TRIM = "MALLOC_TRIM_THRESHOLD_"
"""Dask's nanny starts workers with this set (65536), which also freezes glibc's mmap threshold at
128 KiB: every larger block is mapped and faulted again on each call (JPEG + MS-SSIM: 2.7× slower here)."""


QUIET_WORKER = {"distributed.worker.profile.enabled": False}
"""Dask configuration of the local cluster's workers: no statistical profiler, which samples the running
task's stack every 10 ms (twice the CPU of an idle worker, taken from the tasks); a running cluster's
workers get it from ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False`` (``docs/cluster.md``)."""


def local_cluster(workers: int) -> SpecCluster:
    """A cluster on this machine: ``workers`` processes of one thread on 127.0.0.1, the first declaring
    ``timing=1`` (one machine: one timing at a time), under glibc's default heap like a local run, this
    module preloaded (:func:`dask_setup`) and :data:`QUIET_WORKER`. The workers log only critical
    errors: a task's fault reaches the driver as its exception, and a worker stopping with the cluster
    may otherwise print a heartbeat traceback after the run."""
    import dask

    environ = {key: value for key, value in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if key != _TRIM}
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ, **QUIET_WORKER})
    specs = {f"bench-{i}": {"cls": Nanny, "options": {"nthreads": 1, "host": "127.0.0.1", "dashboard": False,
                                                      "silence_logs": logging.CRITICAL, "preload": [__name__],
                                                      "resources": {TIMING: 1} if i == 0 else {}}}
             for i in range(workers)}
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "port": 0, "dashboard": False}}
    return SpecCluster(workers=specs, scheduler=scheduler, silence_logs=logging.ERROR, name="lic-bench")


class DaskExecutor:
    """Submits an evaluation's tasks to a Dask cluster and yields their results as they complete."""

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = replace(settings, progress=False)  # what the workers need
        self._images: dict[str, Future] = {}
        self._resources = {address: dict(info.get("resources") or {})
                           for address, info in client.scheduler_info()["workers"].items()}
        timers = sorted(address for address, resources in self._resources.items() if resources.get(TIMING))
        if not timers:
            raise BenchError(f"no worker of the Dask cluster at {client.scheduler.address} declares the resource "
                             f"{TIMING}=1; start one worker per machine with --resources {TIMING}=1")
        probes = [client.submit(worker_hardware, workers=[address], pure=False) for address in timers]
        self.hardware = [probe.result() for probe in probes]  # a task, not client.run: torch loads off the event loop
        """The machine facts of the workers that take timings (one per machine), in address order."""

    @classmethod
    @contextmanager
    def open(cls, settings: Settings) -> Iterator[DaskExecutor]:
        """Connect to ``settings.scheduler``, or start a local cluster of ``settings.jobs`` workers."""
        cluster = None
        try:
            if settings.scheduler:
                client = Client(settings.scheduler, timeout=30)
            else:
                cluster = local_cluster(settings.jobs)
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise BenchError(f"cannot reach the Dask scheduler at {settings.scheduler or 'a local cluster'} "
                             f"({exc}); start it (`dask scheduler`) or fix --scheduler / BENCH_DASK_SCHEDULER") from None
        try:
            client.wait_for_workers(1, timeout=60)
            yield cls(client, settings)
        except TimeoutError:
            raise BenchError(f"the Dask scheduler at {client.scheduler.address} has no worker after 60 s; start "
                             "`dask worker ADDRESS` on the machines") from None
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _resources_of(self, run: CodecRun, row: Mapping[str, Any], *, timing: bool) -> dict[str, int]:
        """The resources a task of ``row`` holds: ``timing=1`` to time it, ``GPU=1`` on a CUDA device."""
        device = str(row.get("device") or "cpu")
        wanted = {TIMING: 1} if timing else {}
        if device.startswith("cuda"):
            wanted[GPU] = 1
        for name in wanted:
            if not any(resources.get(name) for resources in self._resources.values()):
                raise BenchError(f"codec {run.codec.name} needs a worker with the resource {name}=1 and none "
                                 f"declares it; start workers with --resources {name}=1")
        return wanted

    def _image(self, image: PreparedImage) -> Future:
        if image.sha256 not in self._images:
            self._images[image.sha256] = self.client.submit(_carry, ImagePayload.of(image),
                                                            key=f"image-{image.sha256}", pure=False)
        return self._images[image.sha256]

    def _gather(self, futures: Mapping[Future, Any]) -> Iterator[tuple[Any, Any]]:
        """(what each future was submitted for, its result), in the order they complete."""
        try:  # results gathered in batches as they complete, not one round trip each
            for future, result in as_completed(list(futures), with_results=True):
                yield futures[future], result
        except KilledWorker as exc:
            raise BenchError(f"a task killed every worker it ran on ({exc}); rerun to resume, and look at the "
                             "workers' logs") from None
        finally:
            pending = [future for future in futures if not future.done()]
            if pending:  # interrupted: the tasks left would otherwise still run
                self.client.cancel(pending)

    def rd_rows(self, run: CodecRun, missing: Sequence[Row]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(base, RD values) of each missing row, computed on the workers, as they complete."""
        spec = CodecSpec.of(run)
        futures = self._map(rd_task, run, [(task.fields, task.fields, (task.point, self._image(task.image)))
                                           for task in missing],
                            timing=False, spec=spec, settings=self.settings)
        yield from self._gather(futures)

    def timings(self, run: CodecRun, untimed: Sequence[Row]
                ) -> Iterator[tuple[Row, tuple[dict[str, Any], dict[str, Any]]]]:
        """(row, (timing columns, conditions)) of each row to time, as they complete; submitted image by image
        (a timing worker runs them in that order, each image checked once)."""
        spec = CodecSpec.of(run)
        ordered = sorted(untimed, key=lambda task: task.image.name)
        futures = self._map(timing_task, run,
                            [(task, task.fields, (task.point, self._image(task.image), _stored_values(task.fields)))
                             for task in ordered],
                            timing=True, spec=spec, settings=self.settings)
        yield from self._gather(futures)

    def _map(self, function: Callable[..., Any], run: CodecRun, tasks: Sequence[tuple[Any, Mapping[str, Any], tuple[Any, ...]]],
             *, timing: bool, **common: Any) -> dict[Future, Any]:
        """Submit ``function(*arguments, **common)`` for each (what it is for, its row, arguments) of
        ``tasks``, in order: one message to the scheduler per group of tasks that hold the same
        resources (not one per task); the futures and what each was submitted for."""
        prefix = "time" if timing else "rd"
        groups: dict[tuple[tuple[str, int], ...], list[tuple[Any, Mapping[str, Any], tuple[Any, ...]]]] = {}
        for task in tasks:
            groups.setdefault(tuple(sorted(self._resources_of(run, task[1], timing=timing).items())), []).append(task)
        futures: dict[Future, Any] = {}
        for resources, group in groups.items():
            submitted = self.client.map(function, *zip(*(arguments for _, _, arguments in group)), **common,
                                        key=[f"{prefix}-{row['key']}" for _, row, _ in group],
                                        resources=dict(resources), pure=False)
            futures.update(zip(submitted, (item for item, _, _ in group)))
        return futures
