"""The flow in one call: dataset → codecs → evaluator → rows → summary.

:func:`evaluate` is what ``python -m bench run`` and the Python API use: the core evaluator
measures what is missing into ``rows.csv``, then the analysis wing writes ``summary.csv`` from
those rows — also when the run is interrupted, so the summary always matches the rows on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.analysis.summary import CONVENTION, write_summary
from bench.core.datasets import Dataset
from bench.core.evaluator import CodecRun, Evaluation, RunReport, Settings

__all__ = ["CodecRun", "RunReport", "Settings", "evaluate"]


def evaluate(dataset: Dataset, runs: Sequence[CodecRun], results_dir: str | Path = "results",
             settings: Settings = Settings()) -> RunReport:
    """Measure ``runs`` on ``dataset`` into ``results_dir/<dataset>/``; returns rows and summary."""
    evaluation = Evaluation(dataset, runs, results_dir, settings, metadata={"averages": CONVENTION})
    try:
        evaluation.run()
    finally:
        report = evaluation.report
        report.rows = evaluation.store.frame()
        report.summary = write_summary(evaluation.dir, report.rows)
    return report
