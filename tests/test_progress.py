"""The run's overall progress line: its total is every row measured or timed in the run, across codecs."""

from __future__ import annotations

import re

from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.core.progress import RunProgress
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
    for label, count in re.findall(r"(all codecs \(\d/\d\)|jpeg[^:]*|webp[^:]*):[^|]*\|[^|]*\| (\d+/\d+)", err):
        seen[label.strip()] = count
    return seen


def test_the_overall_total_counts_each_pass_of_every_codec(image_folder, tmp_path, capsys):
    dataset = folder_dataset(image_folder)  # 3 images
    runs = [CodecRun(registry.create("jpeg"), ("q20", "q80")), CodecRun(registry.create("webp"), ("q50",))]
    # jpeg in 2 processes: 6 RD rows, then 6 timed in the sequential pass; webp likewise 3 + 3: 18 in all
    evaluate(dataset, runs, tmp_path / "r", Settings(jobs=2, repeats=1, progress=True))
    finals = _finals(capsys.readouterr().err)
    assert finals["all codecs (2/2)"] == "18/18"
    # a rerun with more repeats times every row again: 9 units, one pass each
    evaluate(dataset, runs, tmp_path / "r", Settings(jobs=2, repeats=2, progress=True))
    finals = _finals(capsys.readouterr().err)
    assert finals["all codecs (2/2)"] == "9/9"
