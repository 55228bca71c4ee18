"""Progress bars of a run: one line per stage (a codec's RD pass, its timing pass) and, above them, one
line for the whole run across codecs, with its ETA.

The whole run's total is counted before any work: the rows each codec measures, plus those it times
in a separate pass (the parallel RD rows are timed again afterwards: two units each). Its rate is
tqdm's moving average, so the ETA follows the codec at work (JPEG's rows take milliseconds, a learned
model's seconds) rather than the run's mean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

__all__ = ["RunProgress"]


class RunProgress:
    """The overall bar (``all codecs``) and the stage bars under it; nothing is shown when disabled."""

    def __init__(self, total: int, *, enabled: bool = True, codecs: int = 1) -> None:
        self.enabled = enabled and total > 0
        self.codecs = codecs
        self.overall = tqdm(total=total, desc=self._label(0), unit="row", disable=not self.enabled,
                            dynamic_ncols=True, leave=True, file=sys.stderr, position=0)
        self._started = 0

    def _label(self, started: int) -> str:
        return f"all codecs ({started}/{self.codecs})" if self.codecs > 1 else "all rows"

    def next_codec(self) -> None:
        """Count one more codec started (shown in the overall line)."""
        self._started += 1
        self.overall.set_description_str(self._label(min(self._started, self.codecs)), refresh=False)

    @contextmanager
    def stage(self, total: int, desc: str) -> Iterator[_Stage]:
        """A bar for one stage of ``total`` rows; each of its steps also advances the overall bar."""
        bar = tqdm(total=total, desc=desc, unit="row", disable=not self.enabled or total == 0, dynamic_ncols=True,
                   leave=False, file=sys.stderr, position=1)
        try:
            yield _Stage(bar, self.overall)
        finally:
            bar.close()

    def skip(self, n: int = 1) -> None:
        """Count ``n`` units of the total that will not be done (a failed RD row is not timed)."""
        self.overall.update(n)

    def grow(self, n: int) -> None:
        """Add ``n`` units to the total (work found while running)."""
        if n:
            self.overall.total += n
            self.overall.refresh()

    def close(self) -> None:
        self.overall.close()


class _Stage:
    def __init__(self, bar: tqdm, overall: tqdm) -> None:
        self._bar = bar
        self._overall = overall

    def update(self, n: int = 1) -> None:
        self._bar.update(n)
        self._overall.update(n)
