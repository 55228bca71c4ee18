"""The complexity report, rendered from the measurement's files: the committed report rebuilt byte for
byte from the committed tables, the tables read back exactly as written, the test conditions from the run
file, the BD-rate plot; and the renderer never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.complexity_plot import decode_time_vs_bd_rate_figure, read_bd_rates
from bench.analysis.complexity_report import complexity_markdown, read_tables, render_complexity
from bench.core.store import load_rows
from bench.learned.complexity.files import FILES, RUN_FORMAT, read_run, write_run
from bench.learned.complexity.run import write_measurements
from bench.learned.complexity.tables import (StepTiming, parts_check, results_time_table, run_environments, split_table,
                                             steps_frame)
from bench.learned.macs import ComplexityError, count_model
from bench.learned.memory import MemoryResult

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "complexity"


@pytest.fixture
def fixture_table() -> pd.DataFrame:
    return results_time_table(load_rows(FIXTURE / "rows.csv"), run_environments(FIXTURE))


def test_the_committed_report_is_rebuilt_byte_for_byte_from_the_committed_tables(tmp_path):
    reports = REPO / "reports"
    written = render_complexity(reports, bd_rates=read_bd_rates(reports / "bd-rate.csv"), out_dir=tmp_path)
    assert {p.name for p in written} == {"complexity.md", "complexity-decode-vs-bd-rate.png"}
    assert (tmp_path / "complexity.md").read_bytes() == (reports / "complexity.md").read_bytes()


def test_the_renderer_imports_no_torch():
    code = ("import sys, bench.analysis.complexity_report, bench.analysis.complexity_plot; "
            "print('torch' in sys.modules, 'compressai' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.split() == ["False", "False", "False"]


def _steps() -> list[StepTiming]:
    steps = []
    for image, f in (("a.png", 1.0), ("b.png", 3.0)):
        for kind, name, seconds in (("network", "g_a", 0.1 / 3), ("entropy", "code ŷ", 0.2 / 7),
                                    ("total", "total", 1 / 3)):
            steps.append(StepTiming("cpu", "Example", 1, "mbt2018", "lambda0.0067", "random init", "N=8, M=12",
                                    image, "encode", name, kind, f * seconds, 0.0, 3))
    return steps


def test_tables_read_back_exactly_as_written(tmp_path, fixture_table):
    memory = [(["lambda0.0067"], MemoryResult("mbt2018", {"N": 8, "M": 12}, "encode", "cpu", "peak RSS (VmHWM)",
                                              2**31 + 1, 2**30 + 3, 2**29, 64, 96, 1, "random init"))]
    count = count_model("bmshj2018-factorized", {"N": 8, "M": 12}, height=64, width=96)
    write_measurements(tmp_path, [count], points={("bmshj2018-factorized", count.config_label): ["lambda0.0067"]},
                       results_table=fixture_table, steps=_steps(), memory=memory)
    tables = read_tables(tmp_path)
    # floats such as 0.1/3 come back bit for bit (compared exactly), integers as integers
    pd.testing.assert_frame_equal(tables.results, fixture_table, check_exact=True, check_dtype=False)
    pd.testing.assert_frame_equal(tables.split, split_table(_steps()), check_exact=True, check_dtype=False)
    assert tables.split["encode_network_s"].iloc[0] == (1.0 * (0.1 / 3) + 3.0 * (0.1 / 3)) / 2
    row = tables.memory.iloc[0]
    assert (row["peak_bytes"], row["baseline_bytes"], row["delta_bytes"]) == (2**31 + 1, 2**30 + 3, 2**30 - 2)
    model = tables.macs[tables.macs["part"] == "model"].iloc[0]
    assert model["params"] == count.params_total
    encoder = tables.macs[tables.macs["part"] == "encoder"].iloc[0]
    assert encoder["macs"] == count.total("encoder") and encoder["macs_per_pixel"] == count.total("encoder") / 6144
    assert tables.run["format"] == RUN_FORMAT and tables.run["gdn_elementwise_ops"] == 3


def test_test_conditions_come_from_the_run_file():
    run = {"environment": {"cpu": "Example CPU", "cpu_count": 8, "gpu": None, "python": "3.11.7",
                           "versions": {"torch": "2.14.1", "compressai": "1.2.8"}, "date": "2026-01-02",
                           "git_commit": "abc"},
           "entropy_coder": "ans", "device": "cpu", "threads": 2, "allocator": "caching",
           "allocator_module": "bench.core.allocator", "images": ["kodim01.png", "kodim02.png"], "repeats": 3,
           "results": None}
    text = complexity_markdown(run=run)
    expected = [
        "- CPU: Example CPU (8 logical cores); GPU: none",
        "- torch 2.14.1, compressai 1.2.8, entropy coder ans; Python 3.11.7",
        "- instrumented timing and memory on: cpu",
        "- torch threads: 2",
        "- heap policy of the instrumented timing (`bench.core.allocator`): caching",
        "- images timed: 2 (kodim01.png, kodim02.png)",
        "- timed repeats per step (median kept): 3",
        "- date 2026-01-02, commit abc",
    ]
    assert [line for line in text.splitlines() if line.startswith("- ")] == expected  # no harness rows: no line
    assert "- images timed: none" in complexity_markdown(run={**run, "images": []})
    assert "- harness rows from: results/kodak/rows.csv" in complexity_markdown(
        run={**run, "results": "results/kodak/rows.csv"})


def test_the_run_file_has_a_format(tmp_path):
    path = write_run(tmp_path / FILES["run"], {"device": "cpu"})
    assert json.loads(path.read_text()) == {"format": RUN_FORMAT, "device": "cpu"}
    assert read_run(path)["device"] == "cpu"
    path.write_text(json.dumps({"format": "something-else/9"}))
    with pytest.raises(ComplexityError, match="something-else/9"):
        read_run(path)
    with pytest.raises(ComplexityError, match="python -m bench complexity"):
        read_tables(tmp_path / "empty")


def test_bd_rates_plot_and_report_files(tmp_path, fixture_table):
    csv_path = tmp_path / "bd-rate.csv"
    csv_path.write_text(
        "dataset,anchor,method,metric,codec,bd_rate\n"
        "kodak,jpeg,cubic,psnr,bmshj2018-factorized,-30.5\n"
        "kodak,jpeg,cubic,psnr,bmshj2018-hyperprior,-45.0\n"
        "kodak,jpeg,cubic,ms_ssim_db,bmshj2018-factorized,-40.0\n"
        "kodak,jpeg,pchip,psnr,bmshj2018-factorized,-31.0\n"
        "kodak,jpeg,cubic,psnr,mbt2018,\n"
    )
    rates = read_bd_rates(csv_path)
    assert rates == {"jpeg": 0.0, "bmshj2018-factorized": -30.5, "bmshj2018-hyperprior": -45.0}
    figure = decode_time_vs_bd_rate_figure({"bmshj2018-factorized": 1.0, "jpeg": 0.01}, rates)
    assert len(figure.axes) == 1 and figure.axes[0].get_xscale() == "log"
    with pytest.raises(ComplexityError, match="nothing to plot"):
        decode_time_vs_bd_rate_figure({"mbt2018": 0.01}, rates)

    count = count_model("mbt2018", {"N": 192, "M": 192}, height=64, width=64)
    written = write_measurements(tmp_path / "reports", [count],
                                 points={("mbt2018", count.config_label): ["lambda0.0067"]},
                                 results_table=fixture_table)
    written += render_complexity(tmp_path / "reports", bd_rates=rates)
    names = {p.name for p in written}
    assert {"complexity.md", "complexity-macs.csv", "complexity-time.csv", "complexity-memory.csv",
            "complexity-run.json", "complexity-decode-vs-bd-rate.png"} <= names
    text = (tmp_path / "reports" / "complexity.md").read_text()
    assert "## Parameters and MACs" in text and "executed / effective" in text
    assert "![decode time vs BD-rate](complexity-decode-vs-bd-rate.png)" in text
    macs = pd.read_csv(tmp_path / "reports" / "complexity-macs.csv")
    assert set(macs["part"]) >= {"g_a", "context_prediction", "encoder", "decoder", "model"}


def test_ar_loop_rates_and_the_line_through_two_configurations():
    """Executed GMAC/s per configuration and the line seconds = fixed + MACs/rate, by hand: encode 4 s for
    4 GMAC and 12 s for 12 GMAC (1 GMAC/s, nothing fixed); decode 8 s and 12 s (2 GMAC/s plus 6 s)."""
    from bench.analysis.complexity_report import ar_loop_rates, ar_loop_text

    macs = pd.DataFrame({"arch": ["m"] * 4, "config": ["A", "A", "B", "B"],
                         "part": ["context_prediction", "entropy_parameters"] * 2,
                         "macs": [3e9, 1e9, 9e9, 3e9]})
    split = pd.DataFrame({"codec": ["m", "m", "m"], "config": ["A", "B", "B"], "point": ["p1", "p2", "p3"],
                          "encode_ar_loop_s": [4.0, 12.0, 12.0], "decode_ar_loop_s": [8.0, 12.0, 12.0]})
    assert ar_loop_rates(macs, split) == [("m", "encode", "A", 4e9, 4.0), ("m", "decode", "A", 4e9, 8.0),
                                          ("m", "encode", "B", 12e9, 12.0), ("m", "decode", "B", 12e9, 12.0)]
    text = ar_loop_text(macs, split)
    assert ("m encode: 1.00 GMAC/s at A (4.00 GMAC in 4.00 s), 1.00 GMAC/s at B (12.00 GMAC in 12.00 s); a line "
            "through both: 1.00 GMAC/s and +0.00 s, so its time follows the executed MACs") in text
    assert "a line through both: 2.00 GMAC/s and +6.00 s, so 6.00 s per image do not scale with the MACs" in text
    slower = split.assign(encode_ar_loop_s=[4.0, 14.0, 14.0])  # 1.00 then 0.86 GMAC/s: 4 s - 4 GMAC / 0.8 = -1 s
    assert ("a line through both: 0.80 GMAC/s and -1.00 s, so the larger configuration's loop runs fewer MACs per "
            "second, and two points resolve no fixed per-image cost") in ar_loop_text(macs, slower)


def _step(image: str, side: str, step: str, kind: str, median: float, spread: float | None, repeats: int
          ) -> StepTiming:
    return StepTiming("cpu", "test CPU", 1, "mbt2018", "lambda0.0067", "w.pth", "N=192, M=192", image, side, step,
                      kind, median, spread, repeats)


def test_parts_are_checked_against_the_whole_within_the_spread():
    steps = steps_frame([
        # image a: parts 0.1 + 0.2 = 0.3, whole 0.32; bound 0.01 + 0.01 + 0.005 = 0.025 ≥ 0.02: within
        _step("a", "encode", "g_a", "network", 0.1, 0.01, 3), _step("a", "encode", "code", "entropy", 0.2, 0.01, 3),
        _step("a", "encode", "total", "total", 0.32, 0.005, 3),
        # image b: parts 0.3, whole 0.4; bound 0.025 < 0.1: outside
        _step("b", "encode", "g_a", "network", 0.1, 0.01, 3), _step("b", "encode", "code", "entropy", 0.2, 0.01, 3),
        _step("b", "encode", "total", "total", 0.4, 0.005, 3),
        # one repeat: no spread, not checkable
        _step("a", "decode", "g_s", "network", 0.5, None, 1), _step("a", "decode", "total", "total", 0.45, None, 1),
    ])
    table = parts_check(steps)
    encode, decode = (table[table["side"] == side].iloc[0] for side in ("encode", "decode"))
    assert (encode["images"], encode["within"], encode["repeats"]) == (2, 1, 3)
    assert encode["parts_s"] == pytest.approx(0.3) and encode["total_s"] == pytest.approx(0.36)
    assert encode["bound_s"] == pytest.approx(0.025)
    assert pd.isna(decode["bound_s"]) and pd.isna(decode["within"]) and decode["parts_s"] == pytest.approx(0.5)
    text = complexity_markdown(parts=table)
    assert "| cpu | mbt2018 | lambda0.0067 | N=192, M=192 | encode | 300.0 | 360.0 | -60.0 | 25.0 | 1/2 | 3 |" in text
    assert "| decode | 500.0 | 450.0 | 50.0 | — | not checkable: one repeat | 1 |" in text
