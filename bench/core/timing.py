"""Wall-clock timing done right: one discarded warm-up per key, optional synchronisation, repeats,
median and spread (none for one sample), and a flag for a spread above 10 % of the median."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


NOISY_SPREAD = 0.10
"""A timing whose spread exceeds this fraction of its median is flagged (pyperf warns at 10 % too)."""


def relative_spread(median_s: float | None, spread_s: float | None) -> float | None:
    """Spread over median (None for one sample, or no positive median)."""
    if spread_s is None or not median_s or median_s <= 0:
        return None
    return spread_s / median_s


def is_noisy(median_s: float | None, spread_s: float | None) -> bool:
    """True when the spread exceeds :data:`NOISY_SPREAD` of the median."""
    relative = relative_spread(median_s, spread_s)
    return relative is not None and relative > NOISY_SPREAD


@dataclass(frozen=True)
class Timing(Generic[T]):
    """Median and spread (max − min) of ``repeats`` timed calls, and the last call's result.

    ``spread_s`` is None for a single sample: one call has no spread (0 would claim a perfectly
    stable measurement)."""

    median_s: float
    spread_s: float | None
    repeats: int
    result: T

    @property
    def relative_spread(self) -> float | None:
        """Spread over median (None for one sample or a zero median)."""
        return relative_spread(self.median_s, self.spread_s)

    @property
    def noisy(self) -> bool:
        """True when the spread exceeds :data:`NOISY_SPREAD` of the median."""
        return is_noisy(self.median_s, self.spread_s)


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
    spread = max(samples) - min(samples) if repeats > 1 else None
    return Timing(statistics.median(samples), spread, repeats, result)


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
