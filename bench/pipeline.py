"""The flow in one call: dataset → codecs → evaluator → rows → summary.

:func:`evaluate` is what ``python -m bench run`` and the Python API use: the core evaluator
measures what is missing into ``rows.csv``, then the analysis wing writes ``summary.csv`` from
the current ones (:mod:`bench.core.manifest`; of one identity per codec, :mod:`bench.core.identity`) — also when the run is interrupted, so the summary
always matches the rows on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from bench.analysis.summary import CONVENTION, write_summary
from bench.core.datasets import Dataset
from bench.core.errors import BenchError, one_line
from bench.core.evaluator import CodecRun, Evaluation, RunReport, Settings
from bench.core.screening import Screening
from bench.core.manifest import read_manifest, select_current

__all__ = ["CodecRun", "RunReport", "Settings", "evaluate"]

log = logging.getLogger(__name__)


def evaluate(dataset: Dataset, runs: Sequence[CodecRun], results_dir: str | Path = "results",
             settings: Settings = Settings(), screening: Screening | None = None) -> RunReport:
    """Measure ``runs`` on ``dataset`` into ``results_dir/<dataset>/``; returns rows and summary.

    ``screening`` is :func:`bench.core.screening.prepare_images` of ``dataset`` when the caller did it
    already (to list unusable files first). The summary averages the current rows only (those of the
    dataset's manifest, of one identity per codec); ``report.stale`` counts the others, ``report.other_notes``
    describes the rows of other settings. Nothing is written when the dataset is
    refused (unusable files with ``settings.strict``, or another dataset of this name in the results).
    """
    evaluation = Evaluation(dataset, runs, results_dir, settings, metadata={"averages": CONVENTION},
                            screening=screening)
    evaluation.check()
    with evaluation.store.locked(timeout=settings.wait):  # the summary too: another run may be waiting
        stopped = True
        try:
            evaluation.run()
            stopped = False
        finally:
            report = evaluation.report
            report.rows = evaluation.store.frame()
            current = select_current(report.rows, read_manifest(evaluation.dir), evaluation.dir)
            report.stale, report.other_notes = current.stale, list(current.other_notes)
            try:
                report.summary = write_summary(evaluation.dir, current.rows)
            except (OSError, BenchError) as exc:
                if not stopped:
                    raise
                # the run is stopping on an exception (a full disk, say) that is the one message to give
                log.debug("summary not written: %s", one_line(exc))
    return report
