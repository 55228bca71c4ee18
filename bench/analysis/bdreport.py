"""The BD-rate report: the table and, on Kodak, the comparison with the study, computed together and
written as ``bd-rate.md``, ``bd-rate.csv``, ``bd-rate-study.csv`` and, when asked, ``bd-rate.tex``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from bench.analysis.bdcompareformat import comparisons_markdown, images_csv, pairs_csv
from bench.analysis.bdformat import CSV_COLUMNS, table_csv, table_markdown
from bench.analysis.bdmetrics import metrics_csv_lines, metrics_markdown
from bench.analysis.bdcompare import comparisons
from bench.analysis.bdrate import DEFAULT_RESAMPLES, MAX_RESAMPLES
from bench.analysis.bdstudy import STUDY, STUDY_ANCHOR, StudyRow, study_comparison, study_csv, study_markdown
from bench.analysis.provenance import study_caveats
from bench.analysis.bdtable import BdTable, Memo, bd_table
from bench.analysis.bdlatex import table_latex
from bench.analysis.curves import PUBLISHED_DATASET, Curve, measured_curves
from bench.core.store import write_text_atomic

__all__ = ["bd_files", "bd_report_markdown", "bd_tables", "write_bd_tables"]

def bd_report_markdown(table: BdTable, study: Sequence[StudyRow] | None, *, heading_level: int = 2,
                       figure: str | None = None) -> str:
    """The BD-rate tables, with plug-in metrics the BD-rate per metric (:mod:`bench.analysis.bdmetrics`), the
    comparisons beside them (with ``figure``, the per-image figure's file name) and, when given, the comparison
    with the study, as one Markdown text."""
    parts = [table_markdown(table, heading_level=heading_level)]
    per_metric = metrics_markdown(table, heading_level=heading_level)
    if per_metric:
        parts.append(per_metric)
    if figure is not None:
        parts.append(f"![per-image BD-rate]({figure})\n")
    parts.append(comparisons_markdown(table, heading_level=heading_level))
    if study is not None:
        parts.append(study_markdown(study, method=table.methods[0], heading_level=heading_level))
    return "\n".join(parts)


def bd_tables(
    rows: pd.DataFrame,
    *,
    anchor: str = "jpeg",
    methods: Sequence[str] = ("cubic", "pchip"),
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
    runs: Mapping[str, Mapping[str, Any] | None] | None = None,
    references: Sequence[Curve] = (),
    codecs: Sequence[str] | None = None,
    anchor_points: Sequence[str] | None = None,
    rate_range: tuple[float, float] | None = None,
    mc_target: float | None = None,
    max_boot: int = MAX_RESAMPLES,
    ci_method: str = "percentile",
    pairs: bool = False,
) -> tuple[BdTable, list[StudyRow] | None]:
    """The BD table (:func:`bd_table`, with its reference curves, choice of codecs and points and resampling
    rule), its :attr:`~bench.analysis.bdtable.BdTable.comparisons` (per-image, common interval and, with
    ``pairs``, every pair: :func:`bench.analysis.bdcompare.comparisons`) and, on Kodak (the study's dataset),
    the comparison with the study (first method, the study's own points); ``runs`` (run id → metadata) name
    the builds in the study rows' caveats."""
    memo: Memo = {}
    table = bd_table(rows, anchor=anchor, methods=methods, n_boot=n_boot, seed=seed, level=level, memo=memo,
                     references=references, codecs=codecs, anchor_points=anchor_points, rate_range=rate_range,
                     mc_target=mc_target, max_boot=max_boot, ci_method=ci_method)
    table = replace(table, comparisons=comparisons(rows, table, pairs=pairs, memo=memo))
    study = None
    if table.dataset == PUBLISHED_DATASET:
        caveats = study_caveats(rows, (runs or {}).values(), STUDY, STUDY_ANCHOR)
        study = study_comparison(measured_curves(rows), method=methods[0], rows=rows, memo=memo, caveats=caveats)
    return table, study


def bd_files(table: BdTable, study: Sequence[StudyRow] | None, *, latex: bool = False,
             latex_ci: bool = True) -> dict[str, str]:
    """File name → content: ``bd-rate.md``, ``bd-rate.csv``, with a study comparison ``bd-rate-study.csv``,
    and with ``latex`` ``bd-rate.tex`` (:func:`bench.analysis.bdlatex.table_latex`, intervals with ``latex_ci``)."""
    files = {"bd-rate.md": "# BD-rate\n\n" + bd_report_markdown(table, study),
             "bd-rate.csv": table_csv(table) + metrics_csv_lines(table, CSV_COLUMNS)}
    if study is not None:
        files["bd-rate-study.csv"] = study_csv(study)
    if table.comparisons is not None and table.comparisons.images:
        files["bd-rate-images.csv"] = images_csv(table, table.comparisons.images)
    if table.comparisons is not None and table.comparisons.pairs is not None:
        files["bd-rate-pairs.csv"] = pairs_csv(table, table.comparisons.pairs)
    if latex:
        files["bd-rate.tex"] = table_latex(table, ci=latex_ci)
    return files


def write_bd_tables(table: BdTable, study: Sequence[StudyRow] | None, reports_dir: str | Path, *,
                    latex: bool = False, latex_ci: bool = True) -> list[Path]:
    """Write :func:`bd_files` of :func:`bd_tables`' results into ``reports_dir``; returns the paths."""
    written = []
    for name, text in bd_files(table, study, latex=latex, latex_ci=latex_ci).items():
        write_text_atomic(Path(reports_dir) / name, text)
        written.append(Path(reports_dir) / name)
    return written
