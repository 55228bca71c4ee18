"""BD-rate per metric: one row per codec, one column per quality axis of the table, and JPEG AI's average.

The table's entries (:mod:`bench.analysis.bdtable`) hold a BD-rate per codec × metric × method; this module
reads them across the metrics, for result sets scored by plug-in metrics (``run --metrics jpeg-ai``). The
*JPEG AI average* of a codec is the arithmetic mean of its BD-rates against the anchor over the seven
perceptual metrics of JPEG AI's common test conditions (:data:`JPEG_AI_AVERAGED`): MS-SSIM (the built-in
axis, MS-SSIM in dB of the mean MS-SSIM), IW-SSIM, VIF, FSIM, NLPD, VMAF and PSNR-HVS-M. A codec lacking
any of them (a metric the rows were not scored by, or a BD-rate that is undefined) has none, and the
reason names what is missing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bench.analysis.bdtable import BdEntry, BdTable
from bench.analysis.curves import BUILTIN_AXES

__all__ = ["AVERAGE_LABEL", "JPEG_AI_AVERAGED", "MetricAverage", "has_plugin_metrics", "jpeg_ai_averages",
           "metrics_csv_lines", "metrics_markdown"]

JPEG_AI_AVERAGED = ("ms-ssim", "iw-ssim", "vif", "fsim", "nlpd", "vmaf", "psnr-hvs-m")
"""The metrics whose BD-rates JPEG AI's common test conditions average (metric names; ``ms-ssim`` is the
built-in MS-SSIM axis)."""
AVERAGE_LABEL = "JPEG AI avg"
AVERAGE_KEY = "jpeg_ai_avg"
"""The ``metric`` cell of the average's line in ``bd-rate.csv``."""


@dataclass(frozen=True)
class MetricAverage:
    """One codec's JPEG AI average: the mean BD-rate [%] over :data:`JPEG_AI_AVERAGED`, or why there is none."""

    codec: str
    method: str
    value: float | None
    reason: str | None
    rates: tuple[tuple[str, float], ...] = ()
    """(metric name, BD-rate) of each metric averaged."""


def has_plugin_metrics(table: BdTable) -> bool:
    """Whether the table has an axis beyond the built-in ones."""
    return any(key not in BUILTIN_AXES for key in table.axes)


def _by_metric_name(table: BdTable) -> dict[str, str]:
    """Metric name → the table's axis key."""
    return {axis.metric: key for key, axis in table.axes.items()}


def jpeg_ai_averages(table: BdTable, method: str | None = None) -> tuple[MetricAverage, ...]:
    """Per codec of the table (its order), the JPEG AI average of its BD-rates by ``method`` (default: the
    table's first)."""
    method = method or table.methods[0]
    keys = _by_metric_name(table)
    entries = {(e.codec, e.metric): e for e in table.entries if e.method == method}
    out = []
    for codec in dict.fromkeys(e.codec for e in table.entries if e.method == method):
        absent = [name for name in JPEG_AI_AVERAGED if name not in keys or (codec, keys[name]) not in entries]
        if absent:
            out.append(MetricAverage(codec, method, None, f"missing {', '.join(absent)}"))
            continue
        found = {name: entries[codec, keys[name]] for name in JPEG_AI_AVERAGED}
        undefined = [name for name, entry in found.items() if not entry.rate.ok]
        if undefined:
            out.append(MetricAverage(codec, method, None, f"no BD-rate on {', '.join(undefined)}"))
            continue
        rates = tuple((name, float(entry.rate.value)) for name, entry in found.items())  # type: ignore[arg-type]
        out.append(MetricAverage(codec, method, float(np.mean([v for _, v in rates])), None, rates))
    return tuple(out)


def _cell(entry: BdEntry | None) -> str:
    if entry is None:
        return "—"
    if not entry.rate.ok:
        return "n/a"
    return f"{entry.rate.value:+.2f}".replace("-", "−")


def _average_cell(average: MetricAverage) -> str:
    if average.value is None:
        return f"n/a: {average.reason}"
    return f"{average.value:+.2f}".replace("-", "−")


def metrics_markdown(table: BdTable, *, heading_level: int = 2) -> str:
    """The section "BD-rate per metric" (codec × metric, then the JPEG AI average), or "" for a table
    without plug-in metrics."""
    if not has_plugin_metrics(table) or not table.entries:
        return ""
    h = "#" * heading_level
    method = table.methods[0]
    entries: Mapping[tuple[str, str], BdEntry] = {(e.codec, e.metric): e for e in table.entries
                                                 if e.method == method}
    metrics = [key for key in table.axes if any(metric == key for _, metric in entries)]
    lower = [table.axes[key].short for key in metrics if not table.axes[key].higher_is_better]
    direction = (f" Lower is better for {', '.join(lower)}: their BD-rates are computed on the negated values, "
                 "so negative still means fewer bits at equal quality." if lower else "")
    lines = [f"{h}# BD-rate per metric", "",
             (f"BD-rate [%] against {table.anchor.name} ({method}) on each quality axis: the mean curves over the "
              f"images each pair has, as in the tables above (n/a: undefined there, with the reason).{direction} "
              f"*{AVERAGE_LABEL}*: the arithmetic mean of the BD-rates over the seven perceptual metrics of JPEG "
              f"AI's common test conditions ({', '.join(JPEG_AI_AVERAGED)}; MS-SSIM in dB), only when all seven "
              "have a BD-rate."), "",
             "| codec | " + " | ".join(table.axes[key].short for key in metrics) + f" | {AVERAGE_LABEL} |",
             "|---|" + "---:|" * len(metrics) + "---|"]
    for average in jpeg_ai_averages(table, method):
        cells = [_cell(entries.get((average.codec, key))) for key in metrics]
        lines.append(f"| {average.codec} | " + " | ".join(cells) + f" | {_average_cell(average)} |")
    return "\n".join([*lines, ""]) + "\n"


def metrics_csv_lines(table: BdTable, columns: tuple[str, ...]) -> str:
    """Lines of ``bd-rate.csv`` (its ``columns``, no header) for each method × codec's JPEG AI average
    (metric ``jpeg_ai_avg``), "" for a table without plug-in metrics."""
    if not has_plugin_metrics(table):
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for method in table.methods:
        for average in jpeg_ai_averages(table, method):
            values = {"dataset": table.dataset, "anchor": table.anchor.name, "method": method,
                      "metric": AVERAGE_KEY, "codec": average.codec,
                      "bd_rate": "" if average.value is None else repr(average.value),
                      "bd_rate_reason": average.reason or ""}
            writer.writerow([values.get(column, "") for column in columns])
    return buffer.getvalue()
