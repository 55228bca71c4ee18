"""The scripts that compare the harness with CompressAI's eval_model wrap the harness's own functions by name;
their instrumented children must still find them and record every call (one renamed function broke both).

A 192×256 crop of kodim01 (eval_model's MS-SSIM needs sides above 160) and the CPU-trained λ=0.0130
checkpoint of ``../shared/weights``; each child is a fresh interpreter, as the scripts run them.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PERCALL = REPO / "benchmarks" / "eval_model_percall.py"
WHOLE = REPO / "benchmarks" / "learned_vs_eval_model.py"
ARCH = "bmshj2018-factorized"
LABEL = "lambda0.0130"


@pytest.fixture
def setup(tmp_path: Path, shared_dir: Path, kodak_dir: Path):
    checkpoint = shared_dir / "weights" / f"{ARCH}_N128-M192_{LABEL}.pth"
    if not checkpoint.is_file():
        pytest.skip(f"{checkpoint} missing (CI has ../shared/weights)")
    images = tmp_path / "images"
    images.mkdir()
    pixels = np.asarray(Image.open(kodak_dir / "kodim01.png").convert("RGB"))[:192, :256]
    Image.fromarray(pixels).save(images / "crop.png")
    link = tmp_path / f"{LABEL}.tar.pth"  # eval_model names a checkpoint by its file name less ".tar.pth"
    link.symlink_to(checkpoint)
    return images, checkpoint, link


def _child(script: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(script), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _harness_args(images: Path, checkpoint: Path, results: Path, heap: str) -> list[str]:
    return ["run", "--data", str(images), "--codecs", ARCH, "--checkpoint", f"{ARCH}:{LABEL}={checkpoint}",
            "--padding", "eval_model", "--device", "cpu", "--threads", "1", "--repeats", "1", "--jobs", "1",
            "--allocator", heap, "--results", str(results), "--no-progress"]


def test_the_per_call_children_record_each_tool_s_calls_and_pair_them(setup, tmp_path):
    sys.path.insert(0, str(PERCALL.parent))
    try:
        import eval_model_percall as percall
    finally:
        sys.path.remove(str(PERCALL.parent))
    images, checkpoint, link = setup
    ours = _child(PERCALL, "--harness-child", *_harness_args(images, checkpoint, tmp_path / "results", "caching"))
    theirs = _child(PERCALL, "--eval-model-child", "caching", "checkpoint", str(images), "-a", ARCH, "-p",
                    str(link), "-d", str(tmp_path / "eval_model"), "--per-image")
    assert ours["status"] == 0
    keys = {(LABEL, "crop.png", side) for side in ("encode", "decode")}
    assert {(c["point"], c["image"], c["side"]) for c in ours["timed_calls"]} == keys
    # inside each timed call, exactly one model call: compress in the encode, decompress in the decode
    inside = [c for c in ours["model_calls"] if c["timed"]]
    assert {(c["point"], c["image"], c["side"]) for c in inside} == keys and len(inside) == 2
    assert ours["metrics_s"] > 0 and ours["forward_s"] > 0  # the scoring and the warm-up's pass were wrapped
    assert {(c["point"], c["image"], c["side"]) for c in theirs["model_calls"]} == keys
    for call in (*ours["timed_calls"], *ours["model_calls"], *theirs["model_calls"]):
        assert call["wall_s"] > 0
    for call in (*ours["model_calls"], *theirs["model_calls"]):
        assert isinstance(call["faults"], int) and call["faults"] >= 0
    reported = percall.reported_times(tmp_path / "eval_model")
    assert set(reported) == keys
    ratios = percall.per_call(ours, theirs, reported)
    assert sorted(ratios) == [("decode", "CPU"), ("decode", "wall"), ("encode", "CPU"), ("encode", "wall")]
    # a hand computation of one ratio: the harness's stored encode_s over eval_model's own encoding_time
    row = _rows(Path(ours["rows"]))[0]
    hand = float(row["encode_s"]) / reported[(LABEL, "crop.png", "encode")]
    assert ratios[("encode", "wall")] == [pytest.approx(hand, rel=1e-12)]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_whole_run_profile_child_splits_the_harness_s_time(setup, tmp_path):
    images, checkpoint, _ = setup
    profile = _child(WHOLE, "--profile-child", *_harness_args(images, checkpoint, tmp_path / "results", "system"))
    assert profile["status"] == 0
    for part in ("model_s", "warm_up_s", "metrics_s", "verify_s"):
        assert profile[part] > 0, part
    parts = sum(profile[p] for p in ("model_s", "warm_up_s", "metrics_s", "verify_s", "overhead_s"))
    assert parts == pytest.approx(profile["total_s"])
