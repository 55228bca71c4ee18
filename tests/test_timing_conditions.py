"""Timing conditions a reviewer checks: a warm-up for every codec, repeats with their spread (none for one
sample), a flag for unstable timings, and rows timed with fewer repeats than asked timed again."""

from __future__ import annotations

import math
import time

import numpy as np
from PIL import Image

from bench.core.codec import Codec, Coder
from bench.core.datasets import folder_dataset
from bench.core.reuse import LATER_QUALITY, Action, reuse_rule
from bench.core.timing import NOISY_SPREAD, measure
from bench.pipeline import CodecRun, Settings, evaluate
from conftest import natural_image


class CountingCoder(Coder):
    """Raw pixels; counts calls; the first ``slow_calls`` encodes sleep 30 ms (a cold first call)."""

    def __init__(self, point: str, slow_calls: int = 0, slow_every: int = 0) -> None:
        self.point, self.encodes, self.decodes = point, 0, 0
        self.slow_calls, self.slow_every = slow_calls, slow_every

    def encode(self, image: np.ndarray) -> bytes:
        self.encodes += 1
        if self.encodes <= self.slow_calls or (self.slow_every and self.encodes % self.slow_every == 0):
            time.sleep(0.03)
        return image.shape[0].to_bytes(2, "big") + image.shape[1].to_bytes(2, "big") + image.tobytes()

    def decode(self, data: bytes) -> np.ndarray:
        self.decodes += 1
        height, width = int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")
        return np.frombuffer(data[4:], np.uint8).reshape(height, width, 3).copy()


class CountingCodec(Codec):
    name = "counting-test"

    def __init__(self, **coder_args: int) -> None:
        self.coders: dict[str, CountingCoder] = {}
        self.coder_args = coder_args

    def default_points(self) -> list[str]:
        return ["a"]

    def coder(self, point: str) -> CountingCoder:
        return self.coders.setdefault(point, CountingCoder(point, **self.coder_args))

    def identity(self) -> dict[str, int]:
        return {"counting": 1}


def folder_of(tmp_path, shapes):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"im{i}.png")
    return folder


def test_every_codec_is_warmed_up_once_per_point_and_shape(tmp_path):
    """Three images of two shapes, one point, 3 repeats: 2 warm-up round trips + 3 × 3 timed calls each way."""
    folder = folder_of(tmp_path, [(40, 56), (40, 56), (56, 40)])
    codec = CountingCodec(slow_calls=1)  # the cold first call: 30 ms, taken by the warm-up
    report = evaluate(folder_dataset(folder), [CodecRun(codec, ("a",))], tmp_path / "r",
                      Settings(repeats=3, progress=False))
    coder = codec.coders["a"]
    assert (coder.encodes, coder.decodes) == (2 + 9, 2 + 9)
    assert (report.rows["timing_repeats"] == 3).all()
    assert (report.rows["encode_s"] < 0.02).all()  # no timed call paid the cold start


def test_one_sample_has_no_spread_and_is_stored_empty(tmp_path):
    assert measure(lambda: None, repeats=1).spread_s is None
    assert measure(lambda: None, repeats=1).relative_spread is None
    folder = folder_of(tmp_path, [(40, 56)])
    report = evaluate(folder_dataset(folder), [CodecRun(CountingCodec(), ("a",))], tmp_path / "r",
                      Settings(repeats=1, progress=False))
    row = report.rows.iloc[0]
    assert row["timing_repeats"] == 1 and row["encode_s"] > 0
    assert math.isnan(row["encode_spread_s"]) and math.isnan(row["decode_spread_s"])
    stored = (tmp_path / "r" / "imgs" / "rows.csv").read_text().splitlines()
    header, values = stored[0].split(","), stored[1].split(",")
    assert values[header.index("encode_spread_s")] == "" and values[header.index("timing_repeats")] == "1"


def test_a_spread_over_ten_percent_of_the_median_is_flagged(tmp_path):
    clock = iter([0.0, 1.0, 1.0, 2.0, 2.0, 3.2]).__next__  # samples 1.0, 1.0, 1.2: spread 0.2 = 20 %
    timing = measure(lambda: None, repeats=3, clock=clock)
    assert timing.median_s == 1.0 and math.isclose(timing.spread_s, 0.2) and timing.noisy
    steady = measure(lambda: None, repeats=3, clock=iter([0.0, 1.0, 1.0, 2.0, 2.0, 3.05]).__next__)
    assert math.isclose(steady.relative_spread, 0.05) and steady.relative_spread < NOISY_SPREAD and not steady.noisy

    folder = folder_of(tmp_path, [(40, 56)])
    codec = CountingCodec(slow_every=3)  # one of the three timed encodes sleeps 30 ms
    report = evaluate(folder_dataset(folder), [CodecRun(codec, ("a",))], tmp_path / "r",
                      Settings(repeats=3, progress=False))
    assert len(report.noisy) == 1 and report.noisy[0].startswith("counting-test a im0.png: encode ")


def test_rows_timed_with_fewer_repeats_than_asked_are_timed_again(tmp_path):
    row = {"status": "ok", "host": "aaaaaaaaaaaa", "encode_s": "0.1", "timing_repeats": "1",
           **dict.fromkeys(LATER_QUALITY, "40.0")}
    assert reuse_rule(row, "aaaaaaaaaaaa", True, repeats=1)[0] == Action.REUSE
    assert reuse_rule(row, "aaaaaaaaaaaa", True, repeats=3) == (Action.TIME, "timings taken again (stored from "
                                                                             "fewer than 3 repeats)")
    assert reuse_rule({**row, "timing_repeats": "5"}, "aaaaaaaaaaaa", True, repeats=3)[0] == Action.REUSE
    assert reuse_rule({**row, "timing_repeats": ""}, "aaaaaaaaaaaa", True, repeats=2)[0] == Action.TIME  # legacy: 1

    folder = folder_of(tmp_path, [(40, 56)])
    first = evaluate(folder_dataset(folder), [CodecRun(CountingCodec(), ("a",))], tmp_path / "r",
                     Settings(repeats=1, progress=False))
    again = evaluate(folder_dataset(folder), [CodecRun(CountingCodec(), ("a",))], tmp_path / "r",
                     Settings(repeats=3, progress=False))
    assert (first.measured, again.measured, again.timed) == (1, 0, 1)
    assert list(again.rows["timing_repeats"]) == [3]
