"""Complexity measurement: MACs against hand computation, parameter counts against the published sizes,
timing tables from a fixture, the warm-up/synchronisation logic on a fake device, memory in a fresh
process. The report rendered from the measurement's files: tests/test_complexity_report.py."""

from __future__ import annotations

import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from bench.learned import zoo
from bench.analysis.complexity_plot import decode_times
from bench.analysis.complexity_report import complexity_markdown, study_markdown
from bench.learned.complexity.files import RANDOM_INIT
from bench.learned.complexity.tables import StepTiming, macs_frame, results_time_table, run_environments, split_table
from bench.learned.complexity.timing import Step, WarmTimer, synchronizer, time_steps
from bench.learned.macs import ComplexityError, configurations, count_model, param_count
from bench.core.store import load_rows

FIXTURE = Path(__file__).parent / "fixtures" / "complexity"
H, W = 512, 768  # a landscape Kodak image


# --------------------------------------------------------------------------- MACs by hand


def conv_macs(h_out: int, w_out: int, c_out: int, c_in: int, k: int) -> int:
    """A convolution: every output position of every output channel sums C_in·k² products (no bias)."""
    return h_out * w_out * c_out * c_in * k * k


def gdn_macs(channels: int, h: int, w: int) -> int:
    """GDN's 1×1 convolution of x² with γ (C×C): C² MACs per position (β is a bias: not counted)."""
    return channels * channels * h * w


def test_factorized_quality3_macs_match_the_closed_form():
    config = zoo.channels(zoo.zoo_point("bmshj2018-factorized", "lambda0.0067"))
    assert config == {"N": 128, "M": 192}
    n, m = config["N"], config["M"]
    # analysis: four 5×5 stride-2 convolutions, GDN after the first three
    grids = [(H // 2, W // 2), (H // 4, W // 4), (H // 8, W // 8), (H // 16, W // 16)]
    channels = [(3, n), (n, n), (n, n), (n, m)]
    convs = sum(conv_macs(h, w, c_out, c_in, 5) for (h, w), (c_in, c_out) in zip(grids, channels))
    gdns = sum(gdn_macs(n, h, w) for h, w in grids[:3])
    analysis = convs + gdns
    # synthesis: four 5×5 stride-2 transposed convolutions; each input position scatters C_out·k² products
    # per input channel, i.e. H_in·W_in·C_in·C_out·k² = H_out·W_out·C_out·C_in·k²/s² on the output grid
    in_grids = [(H // 16, W // 16), (H // 8, W // 8), (H // 4, W // 4), (H // 2, W // 2)]
    t_channels = [(m, n), (n, n), (n, n), (n, 3)]
    deconvs = sum(conv_macs(h, w, c_out, c_in, 5) for (h, w), (c_in, c_out) in zip(in_grids, t_channels))
    deconvs_output_grid = sum(conv_macs(2 * h, 2 * w, c_out, c_in, 5) // 4
                              for (h, w), (c_in, c_out) in zip(in_grids, t_channels))
    igdns = sum(gdn_macs(n, h, w) for h, w in grids[:3])  # IGDN after the first three, at their outputs
    synthesis = deconvs + igdns

    assert deconvs == deconvs_output_grid
    assert gdns == 128**2 * (384 * 256 + 192 * 128 + 96 * 64) == 2_113_929_216
    assert analysis == synthesis == 16_584_278_016
    assert round(analysis / 1e9, 2) == 16.58

    count = count_model("bmshj2018-factorized", config, height=H, width=W)
    g_a, g_s = count.parts["g_a"], count.parts["g_s"]
    assert g_a.macs == analysis and g_s.macs == synthesis  # exactly
    assert g_a.gdn_macs == gdns and g_s.gdn_macs == igdns
    assert g_a.gdn_elements == g_s.gdn_elements == n * sum(h * w for h, w in grids[:3])
    assert g_a.gdn_elementwise_ops == 3 * n * (384 * 256 + 192 * 128 + 96 * 64)
    assert count.side("encoder") == ("g_a",) and count.side("decoder") == ("g_s",)
    assert count.total("encoder") == analysis and count.total("decoder") == synthesis
    assert count.total("encoder") / count.pixels == 42_176
    assert g_a.input_shape == (1, 3, H, W) and g_a.output_shape == (1, m, H // 16, W // 16)
    assert "aten::rsqrt" in g_a.not_counted and "aten::sqrt" in g_s.not_counted

    frame = macs_frame([count])
    enc = frame[frame["part"] == "encoder"].iloc[0]
    assert enc["macs"] == analysis and enc["macs_per_pixel"] == 42_176


# Published sizes, rounded to 0.01 M; the exact integers are CompressAI 1.2.8's nn.Parameter counts.
PUBLISHED = [
    ("bmshj2018-factorized", "lambda0.0067", 3.00, 2_998_147),
    ("bmshj2018-factorized", "lambda0.0483", 7.03, 7_030_531),
    ("bmshj2018-hyperprior", "lambda0.0067", 5.08, 5_075_843),
    ("bmshj2018-hyperprior", "lambda0.0483", 11.82, 11_816_323),
    ("mbt2018", "lambda0.0067", 14.13, 14_130_467),
    ("mbt2018", "lambda0.0250", 25.50, 25_504_596),
]


def test_parameter_counts_match_the_published_sizes():
    import torch

    other_conventions = {"without entropy bottleneck": [], "with buffers": []}
    for arch, point, published, exact in PUBLISHED:
        torch.manual_seed(0)
        model = zoo.model_class(arch)(**zoo.channels(zoo.zoo_point(arch, point)))
        params = param_count(model)
        assert params == exact, arch
        assert round(params / 1e6, 2) == published, arch
        without_eb = params - sum(p.numel() for p in model.entropy_bottleneck.parameters())
        with_buffers = params + sum(b.numel() for b in model.buffers())
        other_conventions["without entropy bottleneck"].append(round(without_eb / 1e6, 2) == published)
        other_conventions["with buffers"].append(round(with_buffers / 1e6, 2) == published)
    # the convention is unique: leaving out the entropy bottleneck (factorized: 2.99 M) or adding the
    # buffers (mbt2018: the context model's mask, 15.97 M) breaks some of the six published sizes
    assert not all(other_conventions["without entropy bottleneck"])
    assert not all(other_conventions["with buffers"])


def test_zoo_configurations_of_the_study_points():
    points = zoo.DEFAULT_POINTS
    assert configurations("bmshj2018-factorized", points) == {
        (("N", 128), ("M", 192)): ["lambda0.0067", "lambda0.0130", "lambda0.0250"],
        (("N", 192), ("M", 320)): ["lambda0.0483"]}
    assert configurations("bmshj2018-hyperprior", points) == configurations("bmshj2018-factorized", points)
    assert configurations("mbt2018", points) == {
        (("N", 192), ("M", 192)): ["lambda0.0067", "lambda0.0130"],
        (("N", 192), ("M", 320)): ["lambda0.0250", "lambda0.0483"]}


def test_context_model_executed_and_effective_and_coding_sides():
    count = count_model("mbt2018", {"N": 192, "M": 192}, height=64, width=64)  # ŷ is 4×4
    ctx = count.parts["context_prediction"]
    executed = conv_macs(4, 4, 2 * 192, 192, 5)  # the full 5×5 kernel at every position
    assert ctx.macs == executed == 29_491_200
    assert ctx.effective_macs == executed * 12 // 25  # mask type A keeps 12 of 25 taps
    ep = count.parts["entropy_parameters"]
    assert ep.macs == 16 * (768 * 640 + 640 * 512 + 512 * 384)  # three 1×1 convolutions on 4M channels
    assert count.side("encoder") == ("g_a", "h_a", "h_s", "context_prediction", "entropy_parameters")
    assert count.side("decoder") == ("h_s", "context_prediction", "entropy_parameters", "g_s")
    parts = count.parts
    assert count.total("decoder") == sum(parts[p].macs for p in ("h_s", "context_prediction",
                                                                  "entropy_parameters", "g_s"))
    assert count.total("encoder", "effective_macs") == count.total("encoder") - executed + ctx.effective_macs
    assert count.params_total == sum(p.params for p in parts.values()) + count.params_entropy


# --------------------------------------------------------------------------- time tables


@pytest.fixture
def fixture_rows() -> pd.DataFrame:
    return load_rows(FIXTURE / "rows.csv")


def test_results_time_table_groups_by_device_and_never_mixes(fixture_rows):
    table = results_time_table(fixture_rows, run_environments(FIXTURE))
    assert set(table["device"]) == {"cpu", "cuda"}
    assert set(table[table["device"] == "cuda"]["hardware"]) == {"Example GPU X1"}
    assert set(table[table["device"] == "cpu"]["hardware"]) == {"Example CPU 9000"}
    # JPEG has no device in its rows: it ran on the CPU
    assert set(table[table["codec"] == "jpeg"]["device"]) == {"cpu"}

    def row(device, codec, point):
        sel = table[(table["device"] == device) & (table["codec"] == codec) & (table["point"] == point)]
        assert len(sel) == 1
        return sel.iloc[0]

    # means by hand from the fixture (see its README)
    assert row("cpu", "bmshj2018-factorized", "lambda0.0067")["encode_s"] == pytest.approx((1.0 + 3.0) / 2)
    assert row("cpu", "bmshj2018-factorized", "lambda0.0130")["decode_s"] == pytest.approx((1.75 + 3.75) / 2)
    assert row("cpu", "bmshj2018-hyperprior", "lambda0.0067")["encode_s"] == pytest.approx((2.0 + 6.0) / 2)
    assert row("cuda", "bmshj2018-factorized", "lambda0.0067")["encode_s"] == pytest.approx(0.02)
    failed_out = row("cuda", "bmshj2018-hyperprior", "lambda0.0130")
    assert failed_out["images"] == 2 and failed_out["encode_s"] == pytest.approx((2.5 + 6.5) / 200)
    assert row("cpu", "jpeg", "q50")["encode_s"] == pytest.approx(0.003)
    assert table["codec"].iloc[0] == "jpeg"

    text = complexity_markdown(results_table=table)
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append(line)
        else:
            current = None
    device_tables = [t for t in tables if t[0].startswith("| device | codec | point | images")]
    assert len(device_tables) == 2
    for t in device_tables:
        devices = {line.split("|")[1].strip() for line in t[2:]}
        assert len(devices) == 1  # one device per table
    assert "Device **cpu** (Example CPU 9000), 1 thread" in text
    assert "Device **cuda** (Example GPU X1), 1 thread" in text

    assert decode_times(table, device="cuda") == pytest.approx(
        {"bmshj2018-factorized": (2.25 + 2.75) / 200, "bmshj2018-hyperprior": (4.25 + 4.75) / 200})
    with pytest.raises(ComplexityError, match="lack columns"):
        results_time_table(fixture_rows.drop(columns=["device"]))


class FakeDevice:
    """Work queues until synchronize(); the clock only moves when the queue is drained."""

    def __init__(self) -> None:
        self.now = 0.0
        self.queued = 0.0
        self.syncs = 0
        self.calls = 0

    def clock(self) -> float:
        return self.now

    def synchronize(self) -> None:
        self.syncs += 1
        self.now += self.queued
        self.queued = 0.0

    def work(self, seconds: float):
        def fn():
            self.calls += 1
            # the first call of a shape is slow (allocation, kernel selection): the warm-up absorbs it
            self.queued += 10.0 if self.calls == 1 else seconds
        return fn


def test_warm_timer_warms_up_once_per_shape_and_synchronizes_around_the_clock():
    device = FakeDevice()
    timer = WarmTimer(repeats=3, synchronize=device.synchronize, clock=device.clock)
    first = timer(("encode", "g_a", (1, 3, 512, 768)), device.work(0.5))
    assert first.median_s == 0.5 and first.spread_s == 0.0  # the 10 s warm-up is not in it
    assert device.calls == 4 and device.syncs == 2 + 2 * 3
    again = timer(("encode", "g_a", (1, 3, 512, 768)), device.work(0.5))
    assert again.median_s == 0.5 and device.calls == 7 and device.syncs == 8 + 6  # no second warm-up
    device.calls = 0  # a new shape (portrait Kodak image): warmed up again
    other = timer(("encode", "g_a", (1, 3, 768, 512)), device.work(0.25))
    assert other.median_s == 0.25 and device.calls == 4

    # without synchronisation, queued (asynchronous) work escapes the clock: why CUDA needs it
    lazy = FakeDevice()
    missed = WarmTimer(repeats=1, clock=lazy.clock)(("decode", "g_s", (1,)), lazy.work(0.5))
    assert missed.median_s == 0.0

    steps = [Step("encode", "g_a", "network", device.work(1.0), (1, 3, 64, 64)),
             Step("decode", "g_s", "network", device.work(2.0), (1, 3, 64, 64))]
    timed = time_steps(steps, WarmTimer(repeats=1, synchronize=device.synchronize, clock=device.clock))
    assert [t.median_s for _, t in timed] == [1.0, 2.0]


def test_synchronizer_only_on_cuda():
    class FakeCuda:
        def __init__(self):
            self.count = 0

        def synchronize(self):
            self.count += 1

    cuda = FakeCuda()
    assert synchronizer("cpu", cuda=cuda) is None
    sync = synchronizer("cuda", cuda=cuda)
    sync()
    assert cuda.count == 1
    assert synchronizer("cuda:0", cuda=cuda) is not None


def _timing(device, codec, point, image, side, step, kind, seconds, weights="w.pth"):
    return StepTiming(device, "Example", 1, codec, point, weights, "N=128, M=192", image, side, step, kind,
                      seconds, 0.0, 1)


def test_split_table_sums_steps_per_kind_and_keeps_devices_apart():
    timings = []
    for image, f in (("a.png", 1.0), ("b.png", 3.0)):
        for device, d in (("cpu", 1.0), ("cuda", 0.01)):
            timings += [
                _timing(device, "bmshj2018-hyperprior", "lambda0.0067", image, "encode", "g_a", "network", f * d),
                _timing(device, "bmshj2018-hyperprior", "lambda0.0067", image, "encode", "h_a", "network", 0.1 * d),
                _timing(device, "bmshj2018-hyperprior", "lambda0.0067", image, "encode", "code ẑ", "entropy", 0.2),
                _timing(device, "bmshj2018-hyperprior", "lambda0.0067", image, "encode", "code ŷ", "entropy", 0.3),
                _timing(device, "bmshj2018-hyperprior", "lambda0.0067", image, "encode", "total", "total", f * d + 1),
            ]
    table = split_table(timings)
    assert len(table) == 2 and set(table["device"]) == {"cpu", "cuda"}
    cpu = table[table["device"] == "cpu"].iloc[0]
    assert cpu["images"] == 2
    assert cpu["encode_network_s"] == pytest.approx(((1.0 + 0.1) + (3.0 + 0.1)) / 2)
    assert cpu["encode_entropy_s"] == pytest.approx(0.5)
    assert math.isnan(cpu["encode_ar_loop_s"]) and math.isnan(cpu["decode_total_s"])
    text = complexity_markdown(split=table)
    assert text.count("| device | codec | point | weights |") == 2


# --------------------------------------------------------------------------- memory


MEMORY_TEST = "test_fresh_process_peak_memory_of_a_tiny_model"


@pytest.fixture(scope="module", autouse=True)
def tiny_model_memory(request):
    """The fresh-process measurement, started when the module starts so that it overlaps the other tests
    (the child spends most of its time importing torch and compressai); only when its test is selected."""
    from bench.learned.memory import measure_memory

    if not any(item.name == MEMORY_TEST for item in request.session.items):
        yield None
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(measure_memory, "bmshj2018-factorized", {"N": 8, "M": 12}, size=(64, 64),
                          phases=("encode",), timeout_s=300)


def test_fresh_process_peak_memory_of_a_tiny_model(tiny_model_memory):
    from bench.learned.memory import measure_memory

    result = tiny_model_memory.result()["encode"]
    assert result.kind.startswith("peak RSS") and result.device == "cpu" and result.weights == RANDOM_INIT
    assert (result.height, result.width) == (64, 64) and result.config == {"N": 8, "M": 12}
    # torch + compressai alone take tens of MiB at least; a tiny model on 64×64 adds little
    assert 50 * 2**20 < result.baseline_bytes <= result.peak_bytes < 16 * 2**30
    assert 0 <= result.delta_bytes < 1 * 2**30
    assert result.imports_bytes <= result.baseline_bytes
    with pytest.raises(ComplexityError, match="exactly one of"):
        measure_memory("bmshj2018-factorized", {"N": 8, "M": 12})
    with pytest.raises(ComplexityError, match="unknown phase"):
        measure_memory("bmshj2018-factorized", {"N": 8, "M": 12}, size=(64, 64), phases=("train",))


def test_memory_child_decodes_the_bitstream_it_encoded(tmp_path):
    # the child's work, in this process (the fresh-process path is the test above): encode writes the
    # harness's bitstream container, decode reads only that
    from bench.learned.memory import _main

    spec = {"arch": "bmshj2018-hyperprior", "config": {"N": 8, "M": 12}, "checkpoint": None, "point": None,
            "image": None, "size": [40, 72], "device": "cpu", "threads": 1}
    stream = tmp_path / "stream.bin"
    encoded = _main({**spec, "phase": "encode", "write": str(stream)})
    decoded = _main({**spec, "phase": "decode", "read": str(stream)})
    assert stream.stat().st_size > 0
    assert (encoded["height"], encoded["width"]) == (decoded["height"], decoded["width"]) == (40, 72)
    assert decoded["phase"] == "decode" and decoded["peak_bytes"] >= decoded["baseline_bytes"] > 0


def test_importing_the_measurement_code_imports_neither_torch_nor_pyplot():
    code = ("import sys, bench.learned.complexity.run, bench.learned.macs, bench.learned.memory; "
            "print('torch' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_study_figures_beside_our_counts():
    """The study's "Params" cell is compared with encode + decode MACs and FLOPs (a hand computation: 3.50e10 +
    3.58e10 = 7.08e10, ratios 1.00 and 2.00; 4.2e10 / 7.08e10 = 0.59, 8.4e10 / 7.08e10 = 1.19), and its
    context-model decode times are shown with the per-image reading named an assumption (104 / 24 = 4.3 s)."""
    rows = [{"arch": "a", "config": "N=1", "part": "encoder", "macs": 3.50e10, "params": 2e6},
            {"arch": "a", "config": "N=1", "part": "decoder", "macs": 3.58e10, "params": 2e6},
            {"arch": "a", "config": "N=1", "part": "model", "macs": float("nan"), "params": 3_000_000},
            {"arch": "b", "config": "N=2", "part": "encoder", "macs": 2.1e10, "params": 1e6},
            {"arch": "b", "config": "N=2", "part": "decoder", "macs": 2.1e10, "params": 1e6},
            {"arch": "b", "config": "N=2", "part": "model", "macs": float("nan"), "params": 1_500_000}]
    text = "\n".join(study_markdown(pd.DataFrame(rows)))
    assert "7.08e+10" in text and "104–252.63 s" in text and "an assumption" in text and "4.3–10.5 s" in text
    assert "| a | N=1 | 3.00 M | 7.08e+10 | 1.00 | 2.00 |" in text
    assert "| b | N=2 | 1.50 M | 4.20e+10 | 0.59 | 1.19 |" in text


def test_memory_takes_paths_relative_to_the_callers_folder(tmp_path, monkeypatch):
    """The children run in the repository; an image path relative to the caller's folder still works,
    and a missing one is one error naming it before any child starts."""
    from PIL import Image

    from bench.learned.memory import measure_memory

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (64, 48), (90, 120, 30)).save(tmp_path / "photos" / "a.png")
    monkeypatch.chdir(tmp_path)
    result = measure_memory("bmshj2018-factorized", {"N": 8, "M": 12}, image="photos/a.png", phases=("encode",))
    assert result["encode"].peak_bytes > 0
    with pytest.raises(ComplexityError, match=r"photos/b.png: no such image file \(relative to "):
        measure_memory("bmshj2018-factorized", {"N": 8, "M": 12}, image="photos/b.png")
