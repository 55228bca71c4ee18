import pytest

from bench.core.timing import measure


class FakeDevice:
    """A device whose work completes only at synchronize(); a fake clock advances by queued work."""

    def __init__(self):
        self.now = 0.0
        self.queued = 0.0
        self.log = []

    def clock(self):
        self.log.append("clock")
        return self.now

    def launch(self, seconds):
        self.log.append("launch")
        self.queued += seconds  # asynchronous: returns at once
        return seconds

    def synchronize(self):
        self.log.append("sync")
        self.now += self.queued
        self.queued = 0.0


def test_synchronize_brackets_the_clock():
    device = FakeDevice()
    durations = iter([3.0, 1.0, 2.0])
    timing = measure(lambda: device.launch(next(durations)), repeats=3, synchronize=device.synchronize,
                     clock=device.clock)
    assert timing.median_s == 2.0 and timing.spread_s == 2.0 and timing.repeats == 3
    assert device.log[:5] == ["sync", "clock", "launch", "sync", "clock"]


def test_without_synchronize_async_work_is_missed():
    device = FakeDevice()
    timing = measure(lambda: device.launch(5.0), clock=device.clock)
    assert timing.median_s == 0.0  # what an unsynchronized timer reports on a GPU


def test_queued_work_is_not_charged_to_the_next_call():
    device = FakeDevice()
    device.launch(10.0)  # earlier work still in flight
    timing = measure(lambda: device.launch(1.0), synchronize=device.synchronize, clock=device.clock)
    assert timing.median_s == 1.0


def test_repeats_must_be_positive():
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)


def test_warm_ups_run_once_per_key():
    from bench.core.timing import WarmUps

    calls = []
    warm = WarmUps()
    assert warm.once(("q75", (512, 768, 3)), lambda: calls.append(1)) is True
    assert warm.once(("q75", (512, 768, 3)), lambda: calls.append(2)) is False
    assert warm.once(("q75", (768, 512, 3)), lambda: calls.append(3)) is True  # a new shape: warmed again
    assert calls == [1, 3] and ("q75", (512, 768, 3)) in warm and ("q50", (512, 768, 3)) not in warm

    def fails():
        calls.append(4)
        raise RuntimeError("first call")

    with pytest.raises(RuntimeError):
        warm.once("broken", fails)
    assert warm.once("broken", fails) is False and calls == [1, 3, 4]  # not warmed up a second time
