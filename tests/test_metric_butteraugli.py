"""The butteraugli plug-in against libjxl's ``benchmark_xl``, a second route through libjxl's butteraugli.

``benchmark_xl`` (libjxl-devtools 0.7) compressed each committed reference with libjpeg and computed the
butteraugli maximum and 3-norm in memory on its own decode; the decoded images, those values and
``butteraugli_main``'s output on the stored files are committed (tests/fixtures/metric_refs/libjxl). Tests
that run the tool skip where it is not installed (CI); the parser, the tool lookup and the plumbing are
tested everywhere, the plumbing with a stand-in tool that replays a recorded output.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core.errors import MetricError
from bench.core.metric_registry import create_metric

REFS = Path(__file__).resolve().parent / "fixtures" / "metric_refs" / "libjxl"
VALUES = json.loads((REFS / "values.json").read_text(encoding="utf-8"))
PAIRS = VALUES["pairs"]
HAS_TOOL = bool(os.environ.get("BENCH_BUTTERAUGLI") or shutil.which("butteraugli_main"))
needs_tool = pytest.mark.skipif(not HAS_TOOL, reason="libjxl's butteraugli_main is not installed "
                                                      "(apt-get install libjxl-devtools)")
# benchmark_xl prints both numbers with 8 decimals, butteraugli_main the maximum with 10 and the 3-norm with 6
# (printf's %f); both come from the same libjxl functions on the same pixels, so they differ by rounding only.
MAX_TOL = 1e-7
NORM_TOL = 6e-7


def read(name: str) -> np.ndarray:
    with Image.open(REFS / name) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def metric():
    return create_metric("butteraugli")


@pytest.fixture(scope="module")
def plugin(metric):
    return sys.modules[type(metric).__module__]


def test_declaration(metric) -> None:
    assert [c.name for c in metric.columns] == ["butteraugli", "butteraugli_3norm"]
    assert metric.primary == "butteraugli_3norm" and not metric.higher_is_better and metric.min_side == 8


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p["distorted"])
def test_parser_reads_recorded_output_as_benchmark_xl_values(plugin, pair: dict) -> None:
    maximum, norm = plugin.parse_output(pair["butteraugli_main_stdout"])
    assert maximum == pytest.approx(pair["benchmark_xl_max_norm"], abs=MAX_TOL)
    assert norm == pytest.approx(pair["benchmark_xl_pnorm"], abs=NORM_TOL)


def test_parser_refuses_other_output(plugin) -> None:
    with pytest.raises(MetricError, match="cannot read a distance"):
        plugin.parse_output("Usage: butteraugli_main <reference> <distorted>\n")
    with pytest.raises(MetricError, match="no '3-norm:' line"):
        plugin.parse_output("1.5\n6-norm: 0.9\n")
    assert plugin.parse_output("1.5\n6-norm: 0.9\n", pnorm=6) == (1.5, 0.9)


def test_missing_tool_names_the_package(metric, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BENCH_BUTTERAUGLI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    image = read("ref_b.png")
    with pytest.raises(MetricError, match="apt-get install libjxl-devtools.*BENCH_BUTTERAUGLI"):
        metric.score(image, image)
    monkeypatch.setenv("BENCH_BUTTERAUGLI", str(tmp_path / "nowhere"))
    with pytest.raises(MetricError, match="BENCH_BUTTERAUGLI=.*nowhere.*not an executable"):
        metric.score(image, image)


def stand_in(tmp_path: Path, stdout: str, status: int = 0) -> Path:
    """An executable that saves its arguments and its two input images, prints ``stdout`` and exits."""
    tool = tmp_path / "fake_butteraugli"
    tool.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/args\ncp \"$1\" {tmp_path}/ref.png\n"
                    f"cp \"$2\" {tmp_path}/test.png\nprintf '%s' '{stdout}'\nexit {status}\n", encoding="utf-8")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return tool


def test_runs_the_named_tool_on_lossless_pngs(metric, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pair = PAIRS[-1]
    monkeypatch.setenv("BENCH_BUTTERAUGLI", str(stand_in(tmp_path, pair["butteraugli_main_stdout"])))
    reference, test = read(pair["reference"]), read(pair["distorted"])
    values = metric.score(reference, test)
    assert values["butteraugli"] == pytest.approx(pair["benchmark_xl_max_norm"], abs=MAX_TOL)
    assert values["butteraugli_3norm"] == pytest.approx(pair["benchmark_xl_pnorm"], abs=NORM_TOL)
    args = (tmp_path / "args").read_text(encoding="utf-8").split()
    assert args[2:] == ["--intensity_target", "80", "--pnorm", "3"]
    for saved, array in (("ref.png", reference), ("test.png", test)):
        with Image.open(tmp_path / saved) as image:
            assert "icc_profile" not in image.info
            np.testing.assert_array_equal(np.asarray(image), array)


def test_tool_failure_is_a_metric_error(metric, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_BUTTERAUGLI", str(stand_in(tmp_path, "", status=1)))
    image = read("ref_b.png")
    with pytest.raises(MetricError, match="exit status 1"):
        metric.score(image, image)


def test_too_small_or_mismatched_images_are_refused(metric) -> None:
    # libjxl's butteraugli gives 0 for a side under 8 pixels (measured with butteraugli_main 0.7 on 7×30 noise).
    image = read("ref_b.png")
    with pytest.raises(MetricError, match="101×7;.*8 pixels"):
        metric.score(image[:7], image[:7])
    with pytest.raises(MetricError, match="shape"):
        metric.score(image, image[:50])


@needs_tool
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p["distorted"])
def test_matches_benchmark_xl(metric, pair: dict) -> None:
    values = metric.score(read(pair["reference"]), read(pair["distorted"]))
    assert values["butteraugli"] == pytest.approx(pair["benchmark_xl_max_norm"], abs=MAX_TOL)
    assert values["butteraugli_3norm"] == pytest.approx(pair["benchmark_xl_pnorm"], abs=NORM_TOL)


@needs_tool
def test_identical_images_score_zero(metric) -> None:
    image = read("ref_a.png")
    assert metric.score(image, image.copy()) == {"butteraugli": 0.0, "butteraugli_3norm": 0.0}


@needs_tool
def test_identity_names_the_tool_and_its_version(metric) -> None:
    identity = metric.identity()
    assert Path(identity["tool"]).name.startswith("butteraugli")
    assert identity.get("libjxl-devtools") or identity.get("sha256")
    assert identity["intensity_target"] == 80 and identity["pnorm"] == 3
