"""Scoring processes: the quality of reconstructions (PSNR, Y′CbCr, MS-SSIM), and the rows a codec derives
(:meth:`~bench.core.codec.Codec.derivation`), computed on every core while no call is timed.

The evaluator times a batch of rows in its own process, alone, then hands their reconstructions to
:class:`ScoringPool` and waits: ``jobs`` processes score them, each image's MS-SSIM reference built once
per process (:data:`REFERENCES_BUDGET`). Derived rows are untimed work too: once a codec's derivation has
been checked on the run's sample, the processes make them (:meth:`ScoringPool.derive`), one torch thread
each. The processes are forked when the run starts, before any codec has computed in the run's process
(they inherit the run's codecs, not their models), and stay for the whole run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import numpy as np

from bench.core.codec import Codec, Coder
from bench.core.errors import WorkerError
from bench.core.lru import SizedLru
from bench.core.measure import Reference, measure_row, quality, reference_of
from bench.core.metric_registry import resolve_metrics
from bench.core.screening import PreparedImage
from bench.core.tasks import REFERENCES_BUDGET, reference_nbytes
from bench.core.trace import span

__all__ = ["DeriveTask", "ScoreTask", "ScoringPool", "Scores"]

T = TypeVar("T")

WATCH_S = 1.0
"""How often a run waiting on its scoring processes looks whether one of them has ended."""

Scores = tuple[dict[str, Any], list[str]]
"""One reconstruction's quality columns and notes on what is missing (:func:`bench.core.measure.quality`)."""


@dataclass(frozen=True)
class ScoreTask:
    """Reconstructions of one image to score: the image's pixel hash (its reference's key), pixels and recons."""

    sha256: str
    pixels: np.ndarray
    recons: list[np.ndarray]
    only: frozenset[str] | None = None  #: the plug-in metrics to score (None: every one of the run)


@dataclass(frozen=True)
class DeriveTask:
    """One row to derive in a scoring process: the codec's place among the pool's codecs, the point, the image."""

    codec: int
    point: str
    image: PreparedImage


_state: dict[str, Any] = {}


def _queue_call(frame: FrameType | None) -> str:
    """``"send"`` while ``frame`` (or a caller) puts on a multiprocessing queue or writes to its pipe (its write
    lock may be held), ``"receive"`` while it reads one (its read lock may be held), else ``""``."""
    while frame is not None:
        if frame.f_globals.get("__name__") in ("multiprocessing.queues", "multiprocessing.connection"):
            name = frame.f_code.co_name
            if "put" in name or "send" in name:
                return "send"
            if "get" in name or "recv" in name:
                return "receive"
        frame = frame.f_back
    return ""


def _worker_exit(signum: int, frame: FrameType | None) -> None:
    """SIGTERM in a scoring process (sent by ``Pool.terminate`` or to the whole process group): leave at once,
    quietly, without holding a lock of the pool's queues (a process killed holding one leaves the evaluator's
    ``Pool.terminate`` waiting for it forever). Reading a task: the exit unwinds the read first (releasing
    its lock); sending a result: the result is sent whole first and the exit tried again 10 ms later;
    otherwise (scoring, exiting already): ``os._exit`` at once, as the default action would."""
    call = "" if _state.get("leaving") else _queue_call(frame)
    if call == "send":
        signal.signal(signal.SIGALRM, _worker_exit)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        return
    if call == "receive":
        _state["leaving"] = True
        raise SystemExit(128 + signal.SIGTERM)  # the pool's worker loop lets it through; no traceback
    os._exit(128 + signal.SIGTERM)


def _init(trace: Path | None, metrics: tuple[str, ...], codecs: tuple[Codec, ...]) -> None:
    # The evaluator alone answers Ctrl-C and SIGTERM, and ends the pool (terminate() sends SIGTERM): a scoring
    # process ignores SIGINT and leaves on SIGTERM without the evaluator's handler, a traceback or a write to
    # a pipe its parent no longer reads.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_exit)
    import torch

    torch.set_num_threads(1)
    _state.clear()
    _state.update(trace=trace, references=SizedLru(REFERENCES_BUDGET, reference_nbytes),
                  metrics=resolve_metrics(metrics), codecs=codecs, derivers={})


def _reference(sha256: str, pixels: np.ndarray) -> Reference:
    """The image's reference, from this process's cache or built (and kept) now."""
    return _state["references"].get(sha256, lambda: reference_of(pixels, _state["metrics"]))


def _score(task: ScoreTask) -> list[Scores]:
    with span(_state["trace"], "untimed"):
        reference = _reference(task.sha256, task.pixels)
        return [quality(reference, task.pixels, recon, task.only) for recon in task.recons]


def _deriver(codec: int, point: str) -> Coder:
    key = (codec, point)
    if key not in _state["derivers"]:
        _state["derivers"][key] = _state["codecs"][codec].derivation(point)
    return _state["derivers"][key]


def _derive(task: DeriveTask) -> dict[str, Any]:
    with span(_state["trace"], "untimed"):
        return measure_row(_deriver(task.codec, task.point), task.image,
                           _reference(task.image.sha256, task.image.pixels), timed=False)


class ScoringPool:
    """``jobs`` forked processes that score reconstructions and derive rows (one torch thread each); a context
    manager. ``codecs``: those whose rows the processes may derive (inherited at the fork; none under spawn)."""

    def __init__(self, jobs: int, trace: Path | None = None, metrics: tuple[str, ...] = (),
                 codecs: Sequence[Codec] = ()) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        fork = sys.platform.startswith("linux")
        self._codecs = tuple(codecs) if fork else ()  # spawn would pickle them; their rows are derived in the run
        context = mp.get_context("fork" if fork else "spawn")
        self._pool = context.Pool(jobs, initializer=_init, initargs=(trace, tuple(metrics), self._codecs))
        self._workers = list(getattr(self._pool, "_pool", ()))  # the processes as forked (Pool's own list)

    def derives(self, codec: Codec) -> bool:
        """Whether the processes can derive rows of ``codec`` (they were forked knowing it)."""
        return any(known is codec for known in self._codecs)

    def derive(self, codec: Codec, rows: Sequence[tuple[str, PreparedImage]]) -> Iterator[dict[str, Any]]:
        """The rows (point, image) of ``codec`` made by its derivation (untimed :func:`measure_row`), in order,
        each as soon as it and those before it are done."""
        index = next(i for i, known in enumerate(self._codecs) if known is codec)
        results = self._pool.imap(_derive, [DeriveTask(index, point, image) for point, image in rows])
        for _ in rows:
            yield self._wait(results.next)

    def score(self, tasks: Sequence[ScoreTask]) -> list[list[Scores]]:
        """The scores of every task's reconstructions, in order; returns when all are done."""
        return self._wait(self._pool.map_async(_score, tasks, chunksize=1).get)

    def _wait(self, get: Callable[[float], T]) -> T:
        """``get(timeout)`` of a pool result, looking every :data:`WATCH_S` for a process that ended: the pool
        would fork another in its place and wait forever for the task that process held."""
        while True:
            try:
                return get(WATCH_S)
            except mp.TimeoutError:
                self._check_workers()

    def _check_workers(self) -> None:
        """Raise :class:`WorkerError` when a scoring process has ended (none ends before :meth:`close`)."""
        for worker in self._workers:
            code = worker.exitcode
            if code is not None:
                why = (f"killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
                       else f"exit status {code}")
                hint = " (SIGKILL: often the kernel's out-of-memory killer)" if code == -signal.SIGKILL else ""
                raise WorkerError(f"a scoring process (pid {worker.pid}) ended, {why}{hint}, while the run waited "
                                  "for its work; the rows stored so far are kept: run the command again to go on, "
                                  "with fewer --jobs if memory ran out")

    def close(self) -> None:
        """Let the processes finish and leave (after the last :meth:`score`)."""
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        """Stop the processes now (an error, Ctrl-C, SIGTERM): they get SIGTERM (:func:`_worker_exit`).

        ``Pool.terminate`` first takes the task queue's read lock, which an idle process holds while it waits
        for a task. When every process was killed at once (SIGTERM to the process group), the pool may have
        forked new ones before this runs; one of them then waits for a task holding that lock, and never got the
        signal. So, while the pool terminates (in a thread), every live scoring process is sent SIGTERM every
        50 ms; waiting for a task, it leaves releasing the lock (:func:`_worker_exit`). A process killed just
        after taking the lock leaves it taken: with no process left for 0.5 s, the lock is released here. One
        killed while it read a task leaves half a message in the pipe, on which the pool's own threads then
        wait forever: with no process left for 5 s, this returns and leaves them (daemon threads)."""
        done = threading.Event()

        def stop() -> None:
            try:
                self._pool.terminate()
            finally:
                done.set()

        threading.Thread(target=stop, name="scoring-terminate", daemon=True).start()
        idle = 0
        while not done.wait(0.05):
            workers = [child for child in mp.active_children() if "PoolWorker" in child.name and child.pid]
            for child in workers:
                try:
                    os.kill(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            idle = 0 if workers else idle + 1
            if idle == 10:  # no process left for 0.5 s: a dead one holds the lock (killed between taking it and
                self._release_task_lock()  # entering the block that releases it); nothing else can release it
            if idle == 100:  # 5 s: the pool's threads wait on a pipe that a killed process left half read (a
                return  # process killed while it read a task); every process is gone, so leave those threads

    def _release_task_lock(self) -> None:
        """Release the task queue's read lock left taken by a dead process (``Pool``'s private ``_inqueue``)."""
        lock = getattr(getattr(self._pool, "_inqueue", None), "_rlock", None)
        try:
            if lock is not None:
                lock.release()
        except ValueError:  # not taken after all
            pass

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        """Closed (the processes leave on the pool's end-of-work sentinels) after a run that ended well;
        terminated (:meth:`terminate`: signalled until they are gone) after an error, Ctrl-C or SIGTERM. A SIGTERM
        to the whole process group may have killed the processes already, the pool may have forked new ones that
        only a signal ends, and closing then hung (4 of 14 group SIGTERMs on this 2-core VM)."""
        if kind is None:
            self.close()
        else:
            self.terminate()


def split_tasks(tasks: list[ScoreTask], jobs: int) -> list[ScoreTask]:
    """``tasks`` cut so that there are at least ``jobs`` of them where their reconstructions allow (the longest
    halved first): a batch of one image's rows still keeps every process busy."""
    tasks = list(tasks)
    while len(tasks) < jobs:
        longest = max(range(len(tasks)), key=lambda i: len(tasks[i].recons), default=None)
        if longest is None or len(tasks[longest].recons) < 2:
            break
        task = tasks.pop(longest)
        half = len(task.recons) // 2
        tasks[longest:longest] = [ScoreTask(task.sha256, task.pixels, task.recons[:half], task.only),
                                  ScoreTask(task.sha256, task.pixels, task.recons[half:], task.only)]
    return tasks


