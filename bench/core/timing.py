"""Wall-clock timing done right: one discarded warm-up per key, optional synchronisation, values of one
or more calls each, median and spread (none for one value), and a flag for a spread above 10 % of the median.

:class:`TimingPolicy` says how many values a row gets and how many calls make a value: a fixed number
of single calls (``--repeats N``), or, by default, by the call's duration (:func:`time_call`).
"""

from __future__ import annotations

import math
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
    """Median and spread (max − min) of ``repeats`` timed values, and the last call's result.

    A value is the time of ``loops`` consecutive calls divided by ``loops``. ``spread_s`` is None for a
    single value: one value has no spread (0 would claim a perfectly stable measurement)."""

    median_s: float
    spread_s: float | None
    repeats: int
    result: T
    loops: int = 1

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
    loops: int = 1,
    synchronize: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing[T]:
    """Take ``repeats`` values of ``fn``, each the time of ``loops`` consecutive calls over ``loops``.

    ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before the clock
    starts and before it stops, so queued GPU work is neither charged to the next
    call nor left out of this one. Warm-up is the caller's job (:class:`WarmUps`).
    """
    if repeats < 1 or loops < 1:
        raise ValueError(f"repeats and loops must be at least 1, got {repeats} and {loops}")
    samples, result = _values(fn, repeats, loops, synchronize or (lambda: None), clock)
    return _timing(samples, loops, result)


def _values(fn: Callable[[], T], repeats: int, loops: int, sync: Callable[[], None],
            clock: Callable[[], float]) -> tuple[list[float], T]:
    samples = []
    for _ in range(repeats):
        sync()
        start = clock()
        for _ in range(loops):
            result = fn()
        sync()
        samples.append((clock() - start) / loops)
    return samples, result


def _timing(samples: list[float], loops: int, result: T) -> Timing[T]:
    spread = max(samples) - min(samples) if len(samples) > 1 else None
    return Timing(statistics.median(samples), spread, len(samples), result, loops)


MIN_VALUE_S = 0.02
"""The least time of one looped value by default. pyperf takes 0.1 s; on this project's 2-core VMs a value's
spread from one value to the next is the machine's (5–10 % at 0.01, 0.02 or 0.1 s alike,
``benchmarks/value_length.py``), and 0.1 s would make the classic codecs' timing alone outlast the study's
8-minute budget (docs/speed.md)."""

MIN_CALL_S = 1e-7
"""A first call read as shorter than this (a coarse clock) is taken as this long: loops stay bounded."""

DESCHEDULED_CPU_SHARE = 0.5
"""A first call that took at least :attr:`TimingPolicy.short_s` of wall time but less than this share of it
on the process's CPU clock was descheduled (a loaded machine), not long: it is called once more before it
is classified, so a 1 ms call is never timed as a long one (with the real clock, on a codec without a
``synchronize``; a codec working in a child process pays that extra call on each long first call)."""


@dataclass(frozen=True)
class TimingPolicy:
    """How a row's encode and decode are timed (pyperf's idea: calibrate, then sample).

    ``repeats`` set: that many values of one call each, for every row (``--repeats N``). Unset (the
    default), by the call's duration: the first timed call is a value when it lasts at least
    ``short_s``; a shorter call is looped, ``loops`` = ⌈``min_value_s`` / first call⌉, so a value lasts
    about ``min_value_s`` (the first call then only calibrates). A row takes ``values`` values, a row of
    the repeatability sample ``sample_values`` (:func:`bench.core.sampling.repeatability_sample`), or
    ``sample_values_long`` for a call of ``long_s`` or more (a second value of a 0.5 s or a 40 s call tells
    its repeatability; a third would add time, not knowledge).
    """

    repeats: int | None = None
    short_s: float = 0.1
    min_value_s: float = MIN_VALUE_S
    values: int = 1
    sample_values: int = 3
    long_s: float = 0.1
    sample_values_long: int = 2

    def __post_init__(self) -> None:
        if self.repeats is not None and self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        if min(self.values, self.sample_values, self.sample_values_long) < 1:
            raise ValueError("values, sample_values and sample_values_long must be at least 1")
        if not self.min_value_s > 0:
            raise ValueError(f"min_value_s must be positive, got {self.min_value_s}")

    @property
    def name(self) -> str:
        """How the run's rows were timed, for its metadata: ``repeats N`` or ``by duration``."""
        if self.repeats is not None:
            return f"repeats {self.repeats}"
        return (f"by duration (calls under {self.short_s:g} s looped to ≥ {self.min_value_s:g} s a value; "
                f"{self.values} value(s) a row, {self.sample_values} in the repeatability sample, "
                f"{self.sample_values_long} there for calls of {self.long_s:g} s or more)")


def time_call(fn: Callable[[], T], policy: TimingPolicy, *, sampled: bool = False,
              synchronize: Callable[[], None] | None = None,
              clock: Callable[[], float] = time.perf_counter) -> Timing[T]:
    """Time ``fn`` under ``policy`` (a row of the repeatability sample when ``sampled``); after a warm-up."""
    if policy.repeats is not None:
        return measure(fn, repeats=policy.repeats, synchronize=synchronize, clock=clock)
    sync = synchronize or (lambda: None)
    values = policy.sample_values if sampled else policy.values
    cpu = time.process_time if clock is time.perf_counter and synchronize is None else None
    began = cpu() if cpu else 0.0
    first, result = _values(fn, 1, 1, sync, clock)
    if cpu and first[0] >= policy.short_s and cpu() - began < DESCHEDULED_CPU_SHARE * first[0]:
        first, result = _values(fn, 1, 1, sync, clock)  # descheduled: this call tells how long one takes
    if first[0] >= policy.short_s:  # a long call: the first call is the first value
        if sampled and first[0] >= policy.long_s:
            values = policy.sample_values_long
        if values > 1:
            rest, result = _values(fn, values - 1, 1, sync, clock)
            first += rest
        return _timing(first, 1, result)
    loops = max(1, math.ceil(policy.min_value_s / max(first[0], MIN_CALL_S)))
    samples, result = _values(fn, values, loops, sync, clock)
    return _timing(samples, loops, result)


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
