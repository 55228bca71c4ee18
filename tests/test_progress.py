"""The run's overall progress line: its total is every row measured or timed in the run, across codecs, and its
ETA is per codec (the current one at its own rate, later ones at their priors; checked with a fake clock)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.core.estimate import unit_seconds
from bench.core.timing import TimingPolicy
from bench.core.progress import CodecUnits, RunProgress
from bench.pipeline import CodecRun, Settings, evaluate


def test_stages_advance_the_overall_line(capsys):
    progress = RunProgress(5, codecs=2)
    for total in (3, 2):
        progress.next_codec()
        with progress.stage(total, "stage") as bar:
            for _ in range(total):
                bar.update()
    assert progress.overall.n == 5
    progress.close()
    assert "all codecs (2/2)" in capsys.readouterr().err


def test_disabled_progress_prints_nothing(capsys):
    progress = RunProgress(4, enabled=False, codecs=2)
    with progress.stage(4, "stage") as bar:
        bar.update(4)
    progress.close()
    assert capsys.readouterr().err == ""


def _finals(err: str) -> dict[str, str]:
    """The last ``n/total`` each bar label shows in tqdm's output."""
    seen: dict[str, str] = {}
    for line in re.split(r"[\r\n]", err):  # each redraw starts a line; the ETA after the count names codecs too
        found = re.match(r"\s*(all codecs \(\d/\d\)|jpeg[^:]*|webp[^:]*):[^|]*\|[^|]*\| (\d+/\d+)", line)
        if found:
            seen[found[1].strip()] = found[2]
    return seen


def test_the_overall_total_counts_each_row_of_every_codec_once(image_folder, tmp_path, capsys):
    dataset = folder_dataset(image_folder)  # 3 images
    runs = [CodecRun(registry.create("jpeg"), ("q20", "q80")), CodecRun(registry.create("webp"), ("q50",))]
    # jpeg: 6 rows, each timed and then scored in a batch; webp 3: 9 in all, one unit a row
    evaluate(dataset, runs, tmp_path / "r", Settings(jobs=2, repeats=1, progress=True))
    finals = _finals(capsys.readouterr().err)
    assert finals["all codecs (2/2)"] == "9/9"
    # a rerun with more repeats times every row again: 9 units, one pass each
    evaluate(dataset, runs, tmp_path / "r", Settings(jobs=2, repeats=2, progress=True))
    finals = _finals(capsys.readouterr().err)
    assert finals["all codecs (2/2)"] == "9/9"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _steps(progress: RunProgress, clock: FakeClock, n: int, seconds: float) -> None:
    with progress.stage(n, "stage") as bar:
        for _ in range(n):
            clock.now += seconds
            bar.update()


def test_the_eta_is_the_current_codecs_own_rate_plus_the_priors_of_later_codecs():
    clock = FakeClock()
    plan = [CodecUnits("a", 10), CodecUnits("b", 5, prior_s=4.0)]
    progress = RunProgress(15, enabled=False, codecs=2, plan=plan, clock=clock)
    progress.next_codec()
    _steps(progress, clock, 4, 1.0)
    eta = progress.eta()
    assert (eta.codec, eta.codec_s, eta.observed) == ("a", 6.0, True)  # 6 units left at 1 s each
    assert (eta.later_s, eta.later_codecs, eta.unknown_codecs) == (20.0, 1, 0)  # 5 × 4 s
    assert eta.known_s == 26.0
    progress.next_codec()  # b has done nothing yet: its prior
    assert (progress.eta().codec_s, progress.eta().observed, progress.eta().later_s) == (20.0, False, 0.0)
    _steps(progress, clock, 2, 3.0)  # then its own rate
    assert (progress.eta().codec_s, progress.eta().observed) == (9.0, True)


def test_a_fast_first_codec_does_not_set_the_rate_of_a_slow_one_without_a_prior():
    clock = FakeClock()
    plan = [CodecUnits("jpeg", 96), CodecUnits("learned", 24), CodecUnits("other", 0)]
    progress = RunProgress(120, enabled=False, codecs=3, plan=plan, clock=clock)
    progress.next_codec()
    _steps(progress, clock, 48, 0.01)
    eta = progress.eta()
    assert eta.codec_s == pytest.approx(0.48)
    assert (eta.later_codecs, eta.later_s, eta.unknown_codecs, eta.unknown_units) == (0, 0.0, 1, 24)


def test_skipped_and_grown_units_change_what_is_left_not_the_rate():
    clock = FakeClock()
    progress = RunProgress(10, enabled=False, plan=[CodecUnits("a", 10)], clock=clock)
    progress.next_codec()
    _steps(progress, clock, 2, 2.0)  # 2 s per unit
    progress.skip(3)
    assert progress.eta().codec_s == 10.0  # 5 left
    progress.grow(5)
    assert progress.eta().codec_s == 20.0  # 10 left


def test_the_eta_is_shown_on_the_overall_line(capsys):
    clock = FakeClock()
    progress = RunProgress(3, codecs=2, plan=[CodecUnits("a", 2), CodecUnits("b", 1)], clock=clock)
    progress.next_codec()
    _steps(progress, clock, 2, 1.0)
    progress.close()
    err = capsys.readouterr().err
    assert "all codecs (1/2)" in err and "ETA" in err


def test_unit_seconds_is_the_mean_row_time_times_repeats_plus_one():
    rows = pd.DataFrame({"codec": ["a", "a", "a", "b", "c"], "status": ["ok", "ok", "failed", "ok", "ok"],
                         "encode_s": [1.0, 3.0, 50.0, 0.5, None], "decode_s": [1.0, 1.0, 50.0, 0.25, 1.0]})
    priors = unit_seconds(rows, TimingPolicy(repeats=3))
    assert priors == {"a": pytest.approx(4 * 3.0), "b": pytest.approx(4 * 0.75)}  # a: (2 + 4) / 2; c: untimed
    assert unit_seconds(pd.DataFrame(), TimingPolicy(repeats=3)) == {}


def test_unit_seconds_by_duration_counts_a_short_calls_loop():
    rows = pd.DataFrame({"codec": ["a", "b"], "encode_s": [2.0, 0.02], "decode_s": [0.5, 0.01]})
    priors = unit_seconds(rows, TimingPolicy(short_s=0.1, min_value_s=0.1))
    # a: untimed 2.5, timed once each 2.5; b: untimed 0.03, each call once to calibrate + a 0.1 s loop
    assert priors == {"a": pytest.approx(5.0), "b": pytest.approx(0.03 + 0.02 + 0.1 + 0.01 + 0.1)}

