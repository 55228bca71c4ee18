"""BD tables as text: Markdown (one table per method × metric, then the points used) and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import numpy as np

from bench.analysis.bdcompareformat import ci_name, per_image_lines, resampling_text, significance_lines
from bench.analysis.bdrate import BdResult
from bench.analysis.bdtable import BdEntry, BdTable
from bench.analysis.curves import Axis, Curve

__all__ = ["CSV_COLUMNS", "csv_value", "direction_lines", "escape_pipes", "format_number", "format_result", "selection_text",
           "table_csv", "table_markdown"]

QUALITY_NAME = {"psnr": "BD-PSNR", "ms_ssim_db": "BD-MS-SSIM", "psnr_y": "BD-PSNR-Y"}


def quality_name(axis: Axis) -> str:
    """BD-quality's name on ``axis``: ``BD-PSNR``, ``BD-MS-SSIM``, ``BD-PSNR-Y``, ``BD-<metric>``."""
    return QUALITY_NAME.get(axis.key, f"BD-{axis.short}")


def direction_lines(axes: Iterable[Axis]) -> list[str]:
    """A note on the lower-is-better axes among ``axes`` (none when every one is higher-is-better)."""
    lower = [axis.short for axis in axes if not axis.higher_is_better]
    if not lower:
        return []
    names = ", ".join(lower)
    return [(f"Lower is better for {names}: BD-rate is computed on the negated values, so a negative BD-rate "
             f"still means fewer bits at equal quality; BD-quality ({', '.join(f'BD-{n}' for n in lower)}) and "
             "the quality overlap are in the metric's own values and direction (negative: lower, better, at "
             "equal rate)."), ""]
METHOD_TEXT = {
    "cubic": ("cubic (VCEG-M33: least-squares cubic, integrated analytically; each curve fitted on its points "
              "inside the other curve's range plus the nearest one beyond each end, at least 4; *all points*: "
              "fitted on every point, as the `bjontegaard` package does; *fit RMS*: RMS residual of each "
              "BD-rate fit in natural log of rate; *PSNR of mean MSE*: BD-rate with each point's quality "
              "10·log10(255²/mean MSE) instead of the mean PSNR, the other averaging convention; *payload*: "
              "BD-rate on the coded payload's rate, `payload_bytes` (no container or header bytes), for "
              "codecs that record it)"),
    "pchip": "pchip (JVET CTC: piecewise cubic Hermite interpolation)",
}


def format_number(value: float | None, digits: int = 2, sign: bool = True) -> str:
    if value is None:
        return "—"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace("-", "−")


def format_result(result: BdResult, digits: int = 2) -> str:
    return format_number(result.value, digits) if result.ok else f"n/a: {escape_pipes(result.reason or '')}"


def escape_pipes(text: str) -> str:
    return text.replace("|", "\\|")


def _ci_cell(entry: BdEntry) -> str:
    if entry.ci is not None and entry.ci.low is not None and entry.ci.high is not None:
        return f"[{format_number(entry.ci.low, 1)}, {format_number(entry.ci.high, 1)}]"
    if not entry.rate.ok:
        return "—"
    return f"n/a: {escape_pipes(entry.ci_reason or '')}"


def _all_points_cell(entry: BdEntry) -> str:
    return format_result(entry.rate_all) if entry.rate_all is not None and entry.rate_all.ok else "—"


def _payload_cell(entry: BdEntry) -> str:
    return format_result(entry.rate_payload) if entry.rate_payload is not None and entry.rate_payload.ok else "—"


def _rms_cell(entry: BdEntry) -> str:
    anchor, test = entry.fit_rms
    return " · ".join("—" if v is None else f"{v:.4f}" for v in (anchor, test))


def _interval_text(interval: tuple[float, float] | None, digits: int) -> str:
    if interval is None:
        return "—"
    return f"{interval[0]:.{digits}f}–{interval[1]:.{digits}f}"


def _points_text(curve: Curve) -> str:
    rates = curve.rate()
    finite = rates[np.isfinite(rates)]
    span = f"{finite.min():.3f}–{finite.max():.3f} bpp" if finite.size else "no rates"
    return f"{len(curve.points)} points ({', '.join(curve.points)}), {span}"


def selection_text(table: BdTable) -> str | None:
    """The user's choice of points (``--anchor-points``, ``--rate-range``) in words, or None without one."""
    parts = []
    if table.anchor_points is not None:
        parts.append(f"anchor points limited to {', '.join(table.anchor_points)}")
    if table.rate_range is not None:
        low, high = table.rate_range
        parts.append(f"every curve limited to its points with a mean rate in {low:g}–{high:g} bpp")
    if not parts:
        return None
    return ("Points chosen for this table: " + "; ".join(parts) + ". The cubic fit-range rule "
            "(below) then chooses among the points left.")


def _selection_lines(table: BdTable) -> list[str]:
    text = selection_text(table)
    return [] if text is None else [text, ""]


def table_markdown(table: BdTable, *, heading_level: int = 2) -> str:
    """The table as Markdown: for each method, one table per metric, then the curves' points."""
    h = "#" * heading_level
    anchor = table.anchor
    pct = round(100 * table.level)
    whose = "the test codec has (the anchor is a published curve)" if anchor.published else "both codecs have"
    errors = [e.ci.mc_error for e in table.entries if e.ci is not None and e.ci.mc_error is not None]
    lines = [
        f"{h} BD-rate vs {anchor.name}",
        "",
        (f"Dataset {table.dataset}; anchor **{anchor.name}** ({anchor.source}); BD values on the mean curves "
        f"(negative BD-rate: fewer bits than the anchor at equal quality; positive BD-PSNR / BD-MS-SSIM: "
        f"higher quality at equal rate) over the images that {whose} with status ok and a value of the "
        f"metric at every operating point (*images*). {pct}% CI of BD-rate: paired {ci_name(table)} bootstrap over "
        f"the same images ({resampling_text(table, errors)}). Overlap: the integration interval (quality in dB for "
        f"BD-rate, rate in bpp for "
        f"BD-quality); at least {100 * table.min_overlap:.0f}% of the test curve's range is required; "
        f"each curve needs at least 4 strictly monotonic points."),
        "",
        *_selection_lines(table),
        *direction_lines(table.axes.values()),
    ]
    if not table.entries:
        lines += [f"No codec besides the anchor {anchor.name} in these results: nothing to compare.", ""]
    for method in table.methods if table.entries else ():
        lines += [f"{h}# Method: {METHOD_TEXT[method]}", ""]
        for metric, axis in table.axes.items():
            if not any(e.metric == metric for e in table.entries):
                continue  # PSNR-Y: rows from before it was recorded
            qname = quality_name(axis)
            unit = axis.unit_text
            cubic = method == "cubic"
            mse = cubic and metric == "psnr"
            extra_head = " all points [%] | payload [%] | fit RMS anchor · test |" if cubic else ""
            extra_head += " PSNR of mean MSE [%] |" if mse else ""
            lines += [
                f"**{axis.title}, {axis.unit}**" if axis.unit else f"**{axis.title}**",
                "",
                (f"| codec | points | BD-rate [%] | {pct}% CI [%] | images | {qname}{unit} | overlap{unit} "
                f"| overlap [bpp] |{extra_head}"),
                "|---|---:|---:|---|---:|---:|---|---|" + ("---:|---:|---|" if cubic else "") + ("---:|" if mse else ""),
            ]
            rows = [e for e in table.entries if e.method == method and e.metric == metric]
            digits = 2 if axis.unit == "dB" else 4  # a unitless score's range is often a few hundredths
            for e in rows:
                extra = f" {_all_points_cell(e)} | {_payload_cell(e)} | {_rms_cell(e)} |" if cubic else ""
                extra += f" {format_result(e.rate_mse_mean) if e.rate_mse_mean is not None else '—'} |" if mse else ""
                lines.append(
                    f"| {e.codec} | {len(e.points)} | {format_result(e.rate)} | {_ci_cell(e)} | "
                    f"{e.images} | {format_result(e.quality, digits + 1)} | "
                    f"{_interval_text(e.rate.overlap, digits)} | {_interval_text(e.quality.overlap, 3)} |{extra}"
                )
            lines.append("")
            lines += significance_lines(rows, table.level)
            lines += per_image_lines(table, method, metric)
    lines += [f"{h}# Operating points used", "", f"- anchor {anchor.name}: {_points_text(anchor)}"]
    codecs = dict.fromkeys(e.codec for e in table.entries)
    for name in codecs:
        curve = table.curves[name]
        failed = sum(curve.failed or ())
        note = f"; {failed} failed rows left out of the means" if failed else ""
        lines.append(f"- {name}: {_points_text(curve)}{note}")
    lines.append("")
    return "\n".join(lines)


CSV_COLUMNS = (
    "dataset", "anchor", "method", "metric", "codec", "n_anchor", "n_test", "points", "images",
    "bd_rate", "bd_rate_reason", "ci_level", "ci_low", "ci_high", "ci_images", "ci_valid", "ci_resamples",
    "ci_reason", "bd_quality", "bd_quality_reason", "overlap_quality_low", "overlap_quality_high",
    "overlap_rate_low", "overlap_rate_high", "ci_mc_error", "bd_rate_all_points", "fit_rms_anchor", "fit_rms_test",
    "bd_rate_psnr_of_mean_mse", "bd_rate_payload", "bd_rate_payload_reason", "ci_method", "images_median",
    "images_q1", "images_q3", "images_favour", "images_defined",
)


def csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def table_csv(table: BdTable) -> str:
    """One line per method × metric × codec; floats written exactly (``repr``), empty when undefined."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    per_image = {(i.codec, i.metric, i.method): i for i in (table.comparisons.images if table.comparisons else ())}
    for e in table.entries:
        ci = e.ci
        image = per_image.get((e.codec, e.metric, e.method))
        quartiles = image.quartiles if image is not None else None
        has_ci = ci is not None and ci.low is not None
        q_lo, q_hi = e.rate.overlap or (None, None)
        r_lo, r_hi = e.quality.overlap or (None, None)
        values = (
            table.dataset, table.anchor.name, e.method, e.metric, e.codec, len(table.anchor.points),
            len(e.points), " ".join(e.points), e.images, e.rate.value, e.rate.reason, table.level,
            ci.low if has_ci else None, ci.high if has_ci else None, e.ci_images if ci is not None else None,
            ci.n_valid if ci is not None else None, ci.n_boot if ci is not None else None,
            None if has_ci else e.ci_reason, e.quality.value, e.quality.reason, q_lo, q_hi, r_lo, r_hi,
            ci.mc_error if has_ci else None, e.rate_all.value if e.rate_all is not None else None, *e.fit_rms,
            e.rate_mse_mean.value if e.rate_mse_mean is not None else None,
            e.rate_payload.value if e.rate_payload is not None else None,
            e.rate_payload.reason if e.rate_payload is not None else None, table.ci_method if ci is not None else None,
            image.median if image is not None else None, *(quartiles or (None, None)),
            image.favour if image is not None else None, image.defined.size if image is not None else None,
        )
        writer.writerow([csv_value(v) for v in values])
    return buffer.getvalue()
