"""The timing policy, by hand: fixed repeats or by the call's duration (a short call looped, a long one
timed once), the repeatability sample, and the precision figures of the summary.

Every time here comes from a fake clock that the timed function advances by a known duration per call,
so each value, median and spread is a hand computation; only the end-to-end run uses the real clock,
and asserts the policy's structure (values, loops, sample flag), never a duration.
"""

from __future__ import annotations

import math
import time
import random
import shutil
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bench.analysis.summary import ci_half_width, imprecise_times, time_precision
from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.core.sampling import repeatability_sample
from bench.core.timing import MIN_VALUE_S, TimingPolicy, measure, time_call
from bench.pipeline import CodecRun, RunReport, Settings, evaluate
from conftest import image_files

# Student's t quantiles (published table values, to full double precision)
T_975_DF1 = 12.706204736174707
T_975_DF3 = 3.182446305284263
T_95_DF3 = 2.3533634348018264


class FakeTimer:
    """A clock that only moves when the timed function runs: call ``i`` lasts ``durations[i]``.

    ``fn()`` returns its 1-based call number; ``events`` records ``call``, ``clock`` and ``sync`` in order.
    """

    def __init__(self, durations: Sequence[float]) -> None:
        self.durations = list(durations)
        self.now = 0.0
        self.calls = 0
        self.syncs = 0
        self.events: list[str] = []

    def fn(self) -> int:
        self.now += self.durations[self.calls]
        self.calls += 1
        self.events.append("call")
        return self.calls

    def clock(self) -> float:
        self.events.append("clock")
        return self.now

    def sync(self) -> None:
        self.syncs += 1
        self.events.append("sync")


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def bracket(loops: int) -> list[str]:
    """The events of one synchronised value of ``loops`` calls."""
    return ["sync", "clock", *["call"] * loops, "sync", "clock"]


# --- measure and TimingPolicy(repeats=N) ---------------------------------------------------------


def test_measure_takes_each_value_as_the_loops_time_over_loops():
    # value 1: 0.1 + 0.3 = 0.4 over 2 calls → 0.2; value 2: 0.5 + 0.7 = 1.2 → 0.6; value 3: 0.2 + 0.2 → 0.2
    timer = FakeTimer([0.1, 0.3, 0.5, 0.7, 0.2, 0.2])
    timing = measure(timer.fn, repeats=3, loops=2, clock=timer.clock)
    assert close(timing.median_s, 0.2) and close(timing.spread_s, 0.6 - 0.2)
    assert (timing.repeats, timing.loops, timer.calls, timing.result) == (3, 2, 6, 6)


def test_a_fixed_policy_takes_that_many_single_call_values():
    timer = FakeTimer([0.2, 0.5, 0.3])
    timing = time_call(timer.fn, TimingPolicy(repeats=3), clock=timer.clock)
    assert close(timing.median_s, 0.3) and close(timing.spread_s, 0.5 - 0.2)
    assert (timing.repeats, timing.loops, timer.calls) == (3, 1, 3)
    assert timing.result == 3  # the last call's result


def test_a_fixed_policy_ignores_the_sample_flag_and_the_calls_duration():
    timer = FakeTimer([0.001, 0.002, 0.004])  # short calls: still not looped under --repeats
    timing = time_call(timer.fn, TimingPolicy(repeats=3), sampled=True, clock=timer.clock)
    assert close(timing.median_s, 0.002) and close(timing.spread_s, 0.003)
    assert (timing.repeats, timing.loops, timer.calls) == (3, 1, 3)


# --- by duration: a long call --------------------------------------------------------------------


def test_a_long_call_is_timed_once_and_that_call_is_the_value():
    timer = FakeTimer([0.25])
    timing = time_call(timer.fn, TimingPolicy(), clock=timer.clock)
    assert close(timing.median_s, 0.25) and timing.spread_s is None
    assert (timing.repeats, timing.loops, timer.calls, timing.result) == (1, 1, 1, 1)


def test_a_call_of_exactly_short_s_counts_as_long():
    timer = FakeTimer([0.1])
    timing = time_call(timer.fn, TimingPolicy(short_s=0.1), clock=timer.clock)
    assert (timing.repeats, timing.loops, timer.calls) == (1, 1, 1) and close(timing.median_s, 0.1)


def test_a_sampled_long_call_takes_two_values_the_first_call_among_them():
    # the first call is the larger: if it were discarded, there would be one value and no spread
    timer = FakeTimer([0.5, 0.25])
    timing = time_call(timer.fn, TimingPolicy(), sampled=True, clock=timer.clock)
    assert close(timing.median_s, 0.375) and close(timing.spread_s, 0.5 - 0.25)
    assert (timing.repeats, timing.loops, timer.calls, timing.result) == (2, 1, 2, 2)


def test_a_sampled_call_between_short_s_and_long_s_takes_sample_values():
    # the first call is the largest: if it were discarded, the spread would be 0.375 − 0.25 = 0.125
    timer = FakeTimer([0.5, 0.25, 0.375])
    timing = time_call(timer.fn, TimingPolicy(long_s=1.0), sampled=True, clock=timer.clock)
    assert close(timing.median_s, 0.375) and close(timing.spread_s, 0.5 - 0.25)
    assert (timing.repeats, timing.loops, timer.calls, timing.result) == (3, 1, 3, 3)


# --- by duration: a short call -------------------------------------------------------------------

LOOPS = 34  # ⌈0.1 / 0.003⌉ = ⌈33.33…⌉
RAMP = [0.001 * (i + 1) for i in range(LOOPS)]  # 1 ms … 34 ms: sum 0.001·34·35/2 = 0.595, mean 0.0175


def test_a_short_call_calibrates_the_loops_then_takes_one_value_of_that_many_calls():
    timer = FakeTimer([0.003, *RAMP])
    timing = time_call(timer.fn, TimingPolicy(short_s=0.1, min_value_s=0.1), clock=timer.clock)
    assert timing.loops == LOOPS and timing.repeats == 1 and timing.spread_s is None
    assert close(timing.median_s, 0.595 / 34)  # the calibration call (3 ms) is not in the value
    assert timer.calls == 1 + LOOPS and timing.result == 1 + LOOPS


def test_by_default_a_looped_value_lasts_at_least_min_value_s():
    assert TimingPolicy().min_value_s == MIN_VALUE_S == 0.02
    timer = FakeTimer([0.003] * (1 + 7))
    timing = time_call(timer.fn, TimingPolicy(), clock=timer.clock)
    assert timing.loops == 7 and timer.calls == 1 + 7  # ⌈0.02 / 0.003⌉ = ⌈6.67⌉


def test_a_sampled_short_call_takes_three_looped_values():
    value_1 = RAMP                                # 0.595 / 34 = 0.0175
    value_2 = [0.002] * 17 + [0.004] * 17         # (0.034 + 0.068) / 34 = 0.003
    value_3 = [0.005] * 33 + [0.005 + 0.034]      # (0.165 + 0.039) / 34 = 0.006
    timer = FakeTimer([0.003, *value_1, *value_2, *value_3])
    timing = time_call(timer.fn, TimingPolicy(min_value_s=0.1), sampled=True, clock=timer.clock)
    assert (timing.repeats, timing.loops) == (3, LOOPS)
    assert close(timing.median_s, 0.006) and close(timing.spread_s, 0.0175 - 0.003)
    assert timer.calls == 1 + 3 * LOOPS and timing.result == 1 + 3 * LOOPS


def test_the_loops_follow_min_value_s_and_the_values_follow_the_policy():
    timer = FakeTimer([0.008] + [0.002] * (2 * 7))
    timing = time_call(timer.fn, TimingPolicy(short_s=0.02, min_value_s=0.05, values=2), clock=timer.clock)
    assert timing.loops == 7  # ⌈0.05 / 0.008⌉ = ⌈6.25⌉
    assert timing.repeats == 2 and close(timing.median_s, 0.002) and close(timing.spread_s, 0.0)
    assert timer.calls == 1 + 2 * 7
    timer = FakeTimer([0.03] * 5)  # long under short_s 0.02: sample_values single calls
    timing = time_call(timer.fn, TimingPolicy(short_s=0.02, sample_values=5), sampled=True, clock=timer.clock)
    assert (timing.repeats, timing.loops, timer.calls) == (5, 1, 5)


# --- synchronisation and invalid arguments -------------------------------------------------------


def test_synchronize_comes_before_the_clock_starts_and_before_it_stops_for_every_value():
    timer = FakeTimer([0.1, 0.3, 0.5, 0.7])
    measure(timer.fn, repeats=2, loops=2, synchronize=timer.sync, clock=timer.clock)
    assert timer.events == bracket(2) * 2 and timer.syncs == 4

    timer = FakeTimer([0.003] * (1 + 3 * LOOPS))  # calibration value, then 3 values of 34 calls
    time_call(timer.fn, TimingPolicy(min_value_s=0.1), sampled=True, synchronize=timer.sync, clock=timer.clock)
    assert timer.events == bracket(1) + bracket(LOOPS) * 3 and timer.syncs == 2 * (1 + 3)

    timer = FakeTimer([0.5, 0.5])  # long and sampled: the first call is a value, one more follows
    time_call(timer.fn, TimingPolicy(), sampled=True, synchronize=timer.sync, clock=timer.clock)
    assert timer.events == bracket(1) * 2 and timer.syncs == 4


@pytest.mark.parametrize("args", [{"repeats": 0}, {"loops": 0}, {"repeats": -1}, {"loops": -2}])
def test_measure_refuses_fewer_than_one_repeat_or_loop(args):
    timer = FakeTimer([0.1] * 4)
    with pytest.raises(ValueError):
        measure(timer.fn, clock=timer.clock, **args)
    assert timer.calls == 0


@pytest.mark.parametrize("args", [{"repeats": 0}, {"repeats": -3}, {"values": 0}, {"sample_values": 0}])
def test_a_timing_policy_refuses_fewer_than_one_value(args):
    with pytest.raises(ValueError):
        TimingPolicy(**args)


# --- the repeatability sample --------------------------------------------------------------------


def stand_in(sha: int, height: int, width: int) -> SimpleNamespace:
    """An image as the sample sees it: a pixel hash and an (H, W, 3) array (only its shape is read)."""
    return SimpleNamespace(sha256=f"{sha:064x}", pixels=np.broadcast_to(np.zeros(3, np.uint8), (height, width, 3)))


def kodak_like() -> tuple[list[SimpleNamespace], list[SimpleNamespace]]:
    """18 landscape (hashes 100…117) and 6 portrait (hashes 200…205) images, in a scrambled order."""
    landscape = [stand_in(sha, 512, 768) for sha in (107, 113, 101, 116, 104, 110, 100, 117, 103,
                                                      109, 115, 102, 105, 111, 114, 106, 108, 112)]
    portrait = [stand_in(sha, 768, 512) for sha in (203, 205, 200, 204, 201, 202)]
    return landscape, portrait


def shas(images: Sequence[SimpleNamespace]) -> list[int]:
    return [int(image.sha256, 16) for image in images]


def test_the_sample_takes_the_first_hashes_of_each_orientation():
    # round(18/8) = round(2.25) = 2 landscape; max(1, round(6/8)) = max(1, 1) = 1 portrait
    landscape, portrait = kodak_like()
    sample = repeatability_sample(landscape + portrait)
    assert sorted(shas(sample)) == [100, 101, 200]


def test_the_sample_does_not_depend_on_the_order_of_the_images():
    landscape, portrait = kodak_like()
    images = landscape + portrait
    expected = shas(repeatability_sample(images))
    for seed in range(5):
        shuffled = images[:]
        random.Random(seed).shuffle(shuffled)
        assert shas(repeatability_sample(shuffled)) == expected
    assert shas(repeatability_sample(images[::-1])) == expected


def test_a_square_image_is_its_own_group_of_the_sample():
    landscape, portrait = kodak_like()
    square = stand_in(999, 512, 512)  # the largest hash: picked only as the one image of its group
    sample = repeatability_sample([square, *landscape, *portrait])
    assert sorted(shas(sample)) == [100, 101, 200, 999]


def test_every_orientation_present_gets_at_least_one_image_and_the_fraction_scales():
    landscape, portrait = kodak_like()
    assert sorted(shas(repeatability_sample(landscape[:2] + portrait[:1]))) == [107, 203]  # max(1, round(0.25))
    # fraction 1/2: round(9) = 9 landscape (100…108), round(3) = 3 portrait (200…202)
    half = repeatability_sample(landscape + portrait, fraction=0.5)
    assert sorted(shas(half)) == [*range(100, 109), 200, 201, 202]
    assert repeatability_sample([]) == []


# --- precision figures of the summary ------------------------------------------------------------


def test_ci_half_width_is_t_times_sd_over_sqrt_n():
    sd = 1.2909944487358056  # of 1, 2, 3, 4: √(5/3)
    assert close(ci_half_width(pd.Series([1.0, 2.0, 3.0, 4.0])), T_975_DF3 * sd / 2)
    assert close(ci_half_width(pd.Series([4.0, 1.0, 3.0, 2.0]), level=0.90), T_95_DF3 * sd / 2)
    # n = 2, values 1 and 3: sd = √2, half-width = t·√2/√2 = t
    assert close(ci_half_width(pd.Series([1.0, 3.0])), T_975_DF1)
    # NaN values are left out: three values remain
    sd3 = 1.0  # of 1, 2, 3
    assert close(ci_half_width(pd.Series([1.0, np.nan, 2.0, 3.0])),
                 4.302652729749464 * sd3 / math.sqrt(3))  # t_{0.975,2}


@pytest.mark.parametrize("values", [[], [0.5], [0.5, np.nan], [np.nan, np.nan]])
def test_ci_half_width_is_nan_below_two_values(values):
    assert math.isnan(ci_half_width(pd.Series(values, dtype=float)))


def test_time_precision_counts_the_rows_with_a_spread_and_takes_the_median_relative_spread():
    nan = np.nan
    frame = pd.DataFrame({
        "encode_s":        [0.2,   0.4, 0.1,  0.3, 0.5],
        "decode_s":        [0.1,   0.2, 0.05, 0.4, 0.25],
        "encode_spread_s": [0.02,  nan, 0.03, nan, 0.025],   # 0.1, 0.3, 0.05 of the median
        "decode_spread_s": [0.001, nan, 0.01, nan, 0.05],    # 0.01, 0.2, 0.2
    })
    result = time_precision(frame)
    assert result["repeated_rows"] == 3
    assert close(result["encode_repeat"], 0.1)  # median of 0.05, 0.1, 0.3 (the mean would be 0.15)
    assert close(result["decode_repeat"], 0.2)  # median of 0.01, 0.2, 0.2
    # encode 0.1·(2, 4, 1, 3, 5): sd 0.1·√2.5; decode mean 0.2, squared deviations sum to 0.075
    assert close(result["encode_ci_s"], 2.7764451051977987 * 0.1 * math.sqrt(2.5) / math.sqrt(5))  # t_{0.975,4}
    assert close(result["decode_ci_s"], 2.7764451051977987 * math.sqrt(0.075 / 4) / math.sqrt(5))


def test_time_precision_without_repeated_rows_has_no_repeatability():
    frame = pd.DataFrame({"encode_s": [0.2, 0.4], "decode_s": [0.1, 0.3],
                          "encode_spread_s": [np.nan, np.nan], "decode_spread_s": [np.nan, np.nan]})
    result = time_precision(frame)
    assert result["repeated_rows"] == 0
    assert math.isnan(result["encode_repeat"]) and math.isnan(result["decode_repeat"])
    legacy = time_precision(frame.drop(columns=["encode_spread_s", "decode_spread_s"]))  # rows before spreads
    assert legacy["repeated_rows"] == 0 and math.isnan(legacy["encode_repeat"])


def test_imprecise_times_lists_the_points_whose_encode_or_decode_ci_exceeds_the_target():
    summary = pd.DataFrame([
        # codec, point, encode_s, decode_s, encode_ci_s, decode_ci_s
        ("jpeg", "q50", 1.0, 1.0, 0.05, 0.01),            # encode exactly 5 %: not above
        ("jpeg", "q90", 1.0, 1.0, 0.0501, 0.01),          # encode above
        ("bmshj", "q1", 0.5, 0.2, 0.001, 0.011),          # decode above (0.011 > 0.01)
        ("bmshj", "q2", 0.5, 0.2, np.nan, np.nan),        # one image: no CI, never listed
        ("mbt", "q3", 2.0, 4.0, 0.099, 0.199),            # both just within
    ], columns=["codec", "point", "encode_s", "decode_s", "encode_ci_s", "decode_ci_s"])
    assert imprecise_times(summary, 0.05) == ["jpeg q90", "bmshj q1"]
    assert imprecise_times(summary, 0.0495) == ["jpeg q50", "jpeg q90", "bmshj q1", "mbt q3"]
    assert imprecise_times(summary, 0.06) == []


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def by_duration(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """One run by duration (the default policy) of JPEG q50 on 2 landscape and 1 portrait images."""
    root = tmp_path_factory.mktemp("by_duration")
    folder = image_files(root / "tiny", [(192, 256), (192, 256), (256, 192)])  # MS-SSIM needs sides > 160
    runs = [CodecRun(registry.create("jpeg", {}), ("q50",))]
    report = evaluate(folder_dataset(folder), runs, root / "r", Settings(progress=False))
    return SimpleNamespace(folder=folder, runs=runs, results=root / "r", rows=report.rows.copy())


def sampled_rows(rows: pd.DataFrame) -> pd.Series:
    """The rows of the sample, by hand: max(1, round(2/8)) = 1 landscape, that of the smaller pixel hash,
    and the one portrait."""
    landscape = rows[rows["width"] > rows["height"]]
    portrait = rows[rows["width"] < rows["height"]]
    assert (len(landscape), len(portrait)) == (2, 1)
    return rows["image_sha256"].isin({min(landscape["image_sha256"]), portrait["image_sha256"].iloc[0]})


def rerun_with_repeats(by_duration: SimpleNamespace, tmp_path) -> RunReport:
    """The by-duration results copied, then run again with ``--repeats 2``."""
    results = tmp_path / "r"
    shutil.copytree(by_duration.results, results)
    return evaluate(folder_dataset(by_duration.folder), by_duration.runs, results, Settings(repeats=2, progress=False))


def test_a_run_by_duration_loops_short_calls_and_gives_the_sampled_images_three_values(by_duration):
    rows = by_duration.rows
    assert len(rows) == 3 and (rows["status"] == "ok").all()
    is_sampled = sampled_rows(rows)
    assert is_sampled.sum() == 2
    assert rows["encode_s"].notna().all() and rows["decode_s"].notna().all()
    assert (rows["encode_loops"] > 1).all() and (rows["decode_loops"] > 1).all()  # JPEG on 256×192: ≪ 0.1 s
    assert list(rows["timing_sampled"].astype(int)) == [int(s) for s in is_sampled]
    assert (rows.loc[is_sampled, "timing_repeats"] == 3).all()
    assert rows.loc[is_sampled, ["encode_spread_s", "decode_spread_s"]].notna().all().all()
    assert (rows.loc[~is_sampled, "timing_repeats"] == 1).all()
    assert rows.loc[~is_sampled, ["encode_spread_s", "decode_spread_s"]].isna().all().all()


def test_repeats_retime_the_rows_of_one_value_with_single_call_values(by_duration, tmp_path):
    again = rerun_with_repeats(by_duration, tmp_path)
    once = ~sampled_rows(by_duration.rows)
    retimed = again.rows[again.rows["image_sha256"].isin(by_duration.rows.loc[once, "image_sha256"])]
    assert len(retimed) == 1 and again.timed >= 1
    assert (retimed["timing_repeats"] == 2).all()
    assert (retimed["encode_loops"] == 1).all() and (retimed["decode_loops"] == 1).all()


def test_repeats_retime_every_row_timed_by_duration(by_duration, tmp_path):
    again = rerun_with_repeats(by_duration, tmp_path)
    assert again.timed == len(again.rows) == 3
    assert (again.rows["timing_repeats"] == 2).all()
    assert (again.rows["encode_loops"] == 1).all() and (again.rows["decode_loops"] == 1).all()


def test_a_run_by_duration_retimes_every_row_timed_with_fixed_repeats(by_duration, tmp_path):
    fixed = rerun_with_repeats(by_duration, tmp_path)
    assert (fixed.rows["timing_sampled"].isna()).all()  # no sample under --repeats N
    again = evaluate(folder_dataset(by_duration.folder), by_duration.runs, tmp_path / "r", Settings(progress=False))
    assert again.timed == len(again.rows) == 3 and again.measured == 0
    is_sampled = sampled_rows(again.rows)
    assert list(again.rows["timing_sampled"].astype(int)) == [int(s) for s in is_sampled]
    assert list(again.rows["timing_repeats"]) == [3 if s else 1 for s in is_sampled]
    assert (again.rows["encode_loops"] > 1).all()


def test_a_short_call_descheduled_on_its_first_call_is_still_looped():
    """Real clocks: the first call sleeps 0.15 s (wall time, no CPU: what a descheduled process sees), the
    others take microseconds. The first call is not taken for a long one: it is called again, then looped."""
    from bench.core.timing import DESCHEDULED_CPU_SHARE

    calls = []

    def fn():
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.15)
        return len(calls)

    timing = time_call(fn, TimingPolicy())
    assert DESCHEDULED_CPU_SHARE == 0.5
    assert timing.loops > 1 and timing.median_s < 0.01
    assert len(calls) == 2 + timing.loops  # the slept call, its repeat (the calibration), one looped value


def test_a_long_call_on_the_cpu_is_one_value_without_a_loop():
    """Real clocks: a first call that spends its 0.12 s on the CPU is a long call: one value, no loop (a second
    call only if the machine is so loaded that the process got under half of the wall time)."""
    def spin():
        end = time.process_time() + 0.12
        while time.process_time() < end:
            pass
        return 1

    calls = []
    timing = time_call(lambda: calls.append(1) or spin(), TimingPolicy())
    assert len(calls) <= 2 and timing.loops == 1 and timing.median_s >= 0.12
