"""Wall-clock timing done right: one discarded warm-up per key, optional synchronisation, repeats,
median and spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Timing(Generic[T]):
    """Median and spread (max − min) of ``repeats`` timed calls, and the last call's result."""

    median_s: float
    spread_s: float
    repeats: int
    result: T


def measure(
    fn: Callable[[], T],
    *,
    repeats: int = 1,
    synchronize: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing[T]:
    """Time ``fn`` ``repeats`` times.

    ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before the clock
    starts and before it stops, so queued GPU work is neither charged to the next
    call nor left out of this one. Warm-up is the caller's job (:class:`WarmUps`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    sync = synchronize or (lambda: None)
    samples = []
    result: T
    for _ in range(repeats):
        sync()
        start = clock()
        result = fn()
        sync()
        samples.append(clock() - start)
    return Timing(statistics.median(samples), max(samples) - min(samples), repeats, result)


class WarmUps:
    """The keys already warmed up: each key (e.g. operating point and input shape) gets one discarded call.

    A key counts as warmed up once its call has started, even if the call raised: the timed calls that
    follow report the fault, a second warm-up would only repeat it.
    """

    def __init__(self) -> None:
        self._done: set[Hashable] = set()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._done

    def once(self, key: Hashable, call: Callable[[], object]) -> bool:
        """Run ``call()`` (its result discarded) unless ``key`` was warmed up already; True when it ran."""
        if key in self._done:
            return False
        self._done.add(key)
        call()
        return True
