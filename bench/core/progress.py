"""Progress bars of a run: one line per stage (a codec's RD pass, its timing pass) and, above them, one
line for the whole run across codecs, with its ETA.

The whole run's total is counted before any work: the rows each codec measures, plus those it times
in a separate pass (the parallel RD rows are timed again afterwards: two units each).

The ETA is not one rate over the whole run (JPEG's rows take milliseconds, a learned model's seconds:
a run's average would promise minutes for hours of work). Given the run's plan (:class:`CodecUnits`),
it is per codec (:meth:`RunProgress.eta`): the current codec's remaining units at the rate of its own
units so far; each codec not started yet at its prior seconds per unit (an estimate, e.g. from its
stored rows: :func:`bench.core.estimate.unit_seconds`) or, without one, counted as not estimated.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from tqdm import tqdm

__all__ = ["CodecUnits", "Eta", "RunProgress"]


@dataclass(frozen=True)
class CodecUnits:
    """One codec of the run's plan: its units of work and, if known, an estimate of the seconds per unit."""

    name: str
    units: int
    prior_s: float | None = None


@dataclass(frozen=True)
class Eta:
    """What is left of a run, in seconds where it can be told."""

    codec: str | None
    """The codec at work (None before the first or after the last)."""
    codec_s: float | None
    """Its remaining units × its seconds per unit (None when it has done none and has no prior)."""
    observed: bool
    """Whether ``codec_s`` comes from the codec's own units in this run (else from its prior)."""
    later_s: float
    """Codecs not started yet that have a prior: their units × prior (an estimate)."""
    later_codecs: int
    """How many codecs ``later_s`` covers."""
    unknown_codecs: int
    """Codecs not started yet without a prior (not estimated), with units to do."""
    unknown_units: int
    """Their units."""

    @property
    def known_s(self) -> float:
        """The seconds that are told: the current codec's and the estimated later ones'."""
        return (self.codec_s or 0.0) + self.later_s

    def text(self) -> str:
        """One line for the bar, e.g. ``ETA 00:26 (jpeg 00:06 · 1 later ~00:20)`` when every part is told, else
        its parts, e.g. ``ETA jpeg 00:40 · 3 later not estimated (96 rows)``; ``~``: from priors."""
        parts = []
        if self.codec is not None:
            told = "not estimated" if self.codec_s is None else ("" if self.observed else "~") + _clock(self.codec_s)
            parts.append(f"{self.codec} {told}")
        if self.later_codecs:
            parts.append(f"{self.later_codecs} later ~{_clock(self.later_s)}")
        if self.unknown_codecs:
            parts.append(f"{self.unknown_codecs} later not estimated ({self.unknown_units} rows)")
        if not parts:
            return "ETA 00:00"
        if len(parts) > 1 and self.codec_s is not None and not self.unknown_codecs:
            return f"ETA {_clock(self.known_s)} ({' · '.join(parts)})"
        return "ETA " + " · ".join(parts)


def _clock(seconds: float) -> str:
    return tqdm.format_interval(max(0, round(seconds)))


class RunProgress:
    """The overall bar (``all codecs``) and the stage bars under it; nothing is shown when disabled.

    ``plan`` (one :class:`CodecUnits` per codec, in the order :meth:`next_codec` starts them) gives the
    per-codec ETA of :meth:`eta`; without it the bar shows tqdm's own. ``clock``: seconds, for tests.
    """

    def __init__(self, total: int, *, enabled: bool = True, codecs: int = 1, plan: Sequence[CodecUnits] = (),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled and total > 0
        self.codecs = codecs
        self.plan = list(plan)
        self._clock = clock
        self._units = [codec.units for codec in self.plan]
        self._index = -1  #: the codec at work in ``plan``
        self._started_at = 0.0  #: when it started
        self._worked = 0  #: its units done so far (skipped ones not counted)
        self._skipped = 0
        self._last = 0.0  #: when its last unit was done
        own_eta = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]" if self.plan else None
        self.overall = tqdm(total=total, desc=self._label(0), unit="row", disable=not self.enabled,
                            dynamic_ncols=True, leave=True, file=sys.stderr, position=0, bar_format=own_eta)
        self._started = 0

    def _label(self, started: int) -> str:
        return f"all codecs ({started}/{self.codecs})" if self.codecs > 1 else "all rows"

    def next_codec(self) -> None:
        """Count one more codec started (shown in the overall line); the next of ``plan`` is at work."""
        self._started += 1
        self.overall.set_description_str(self._label(min(self._started, self.codecs)), refresh=False)
        if self._index < len(self.plan):
            self._index += 1
        self._started_at = self._last = self._clock()
        self._worked = self._skipped = 0
        self._show()

    def eta(self) -> Eta:
        """The remaining time: the current codec's at its own rate (or prior), the later ones' at their priors."""
        current = self.plan[self._index] if 0 <= self._index < len(self.plan) else None
        codec_s, observed = None, False
        if current is not None:
            left = max(0, self._units[self._index] - self._worked - self._skipped)
            if self._worked:
                codec_s, observed = left * (self._last - self._started_at) / self._worked, True
            elif current.prior_s is not None:
                codec_s = left * current.prior_s
            elif not left:
                codec_s = 0.0
        later = [(codec, units) for codec, units in zip(self.plan[self._index + 1:], self._units[self._index + 1:])
                 if units > 0]
        known = [(codec, units) for codec, units in later if codec.prior_s is not None]
        unknown = [units for codec, units in later if codec.prior_s is None]
        return Eta(codec=current.name if current is not None else None, codec_s=codec_s, observed=observed,
                   later_s=sum(units * codec.prior_s for codec, units in known), later_codecs=len(known),
                   unknown_codecs=len(unknown), unknown_units=sum(unknown))

    def _show(self) -> None:
        if self.plan and self.enabled:
            self.overall.set_postfix_str(self.eta().text(), refresh=False)

    def _advance(self, n: int) -> None:
        self._worked += n
        self._last = self._clock()
        self._show()
        self.overall.update(n)

    @contextmanager
    def stage(self, total: int, desc: str) -> Iterator[_Stage]:
        """A bar for one stage of ``total`` rows; each of its steps also advances the overall bar."""
        bar = tqdm(total=total, desc=desc, unit="row", disable=not self.enabled or total == 0, dynamic_ncols=True,
                   leave=False, file=sys.stderr, position=1)
        try:
            yield _Stage(bar, self._advance)
        finally:
            bar.close()

    def skip(self, n: int = 1) -> None:
        """Count ``n`` units of the total that will not be done (a failed RD row is not timed)."""
        self._skipped += n
        self._show()
        self.overall.update(n)

    def grow(self, n: int) -> None:
        """Add ``n`` units to the total (work found while running, by the codec at work)."""
        if n:
            if 0 <= self._index < len(self.plan):
                self._units[self._index] += n
            self.overall.total += n
            self._show()
            self.overall.refresh()

    def close(self) -> None:
        self.overall.close()


class _Stage:
    def __init__(self, bar: tqdm, advance: Callable[[int], None]) -> None:
        self._bar = bar
        self._advance = advance

    def update(self, n: int = 1) -> None:
        self._bar.update(n)
        self._advance(n)
