"""The comparisons beside the BD table as text: per-image summaries and significance sentences (under each
metric's table), the common-interval table, the pair matrices (Markdown), and their CSV files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from bench.analysis.bdcompare import Comparisons
from bench.analysis.bdimages import ImageBd
from bench.analysis.bdpairs import CommonBd, PairBd
from bench.analysis.bdrate import BootstrapResult
from bench.analysis.bdtable import BdEntry, BdTable

__all__ = ["ci_name", "comparisons_markdown", "images_csv", "pairs_csv", "per_image_lines", "resampling_text",
           "significance_lines"]


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+.{digits}f}".replace("-", "−")


def _includes_zero(ci: BootstrapResult | None) -> bool:
    return ci is not None and ci.low is not None and ci.high is not None and ci.low <= 0.0 <= ci.high


def significance_lines(entries: Iterable[BdEntry], level: float) -> list[str]:
    """A sentence for each entry whose interval includes 0."""
    pct = round(100 * level)
    lines = [f"- {e.codec}: {pct}% CI [{_number(e.ci.low, 1)}, {_number(e.ci.high, 1)}] includes 0: not "
             f"significant at {pct} %." for e in entries if _includes_zero(e.ci) and e.ci is not None]
    return [*lines, ""] if lines else []


def per_image_lines(table: BdTable, method: str, metric: str) -> list[str]:
    """The per-image summary of one method × metric beside the mean-curve BD-rate, as a Markdown table."""
    found = [i for i in (table.comparisons.images if table.comparisons else ()) if (i.method, i.metric) == (method, metric)]
    if not found:
        return []
    lines = [f"Per image (each image's own curves against {table.anchor.name}'s on that image):", "",
             "| codec | BD-rate, mean curves [%] | median [%] | IQR [%] | images favouring the codec |",
             "|---|---:|---:|---|---|"]
    for item in found:
        mean = table.entry(item.codec, metric, method).rate.value
        quartiles = item.quartiles
        iqr = "—" if quartiles is None else f"{_number(quartiles[0], 1)} to {_number(quartiles[1], 1)}"
        undefined = len(item.images) - item.defined.size
        note = f" ({undefined} undefined)" if undefined else ""
        lines.append(f"| {item.codec} | {_number(mean)} | {_number(item.median)} | {iqr} | "
                     f"{item.favour} of {len(item.images)}{note} |")
    return [*lines, ""]


def _cell(pair: PairBd) -> str:
    if not pair.rate.ok:
        return "n/a"
    ci = pair.ci
    if ci is None or ci.low is None or ci.high is None:
        return _number(pair.rate.value)
    mark = " (n.s.)" if _includes_zero(ci) else ""
    return f"{_number(pair.rate.value)} [{_number(ci.low, 1)}, {_number(ci.high, 1)}]{mark}"


def _pairs_markdown(table: BdTable, pairs: Sequence[PairBd], h: str) -> list[str]:
    pct = round(100 * table.level)
    errors = [p.ci.mc_error for p in pairs if p.ci is not None and p.ci.mc_error is not None]
    lines = [f"{h}# Direct comparisons: every codec against every other", "",
             (f"Cell: BD-rate [%] of the row's codec against the column's ({pairs[0].method}; negative: the row's "
              f"codec needs fewer bits), over the images both have and the two curves' own overlap, with the "
              f"paired {ci_name(table)} {pct}% interval ({resampling_text(table, errors)}); *(n.s.)*: the "
              f"interval includes 0, not significant at {pct} %. Each pair is computed once; its reverse is the same "
              "comparison read the other way. Claims of \"A against B\" rest on these, not on two rows against "
              "the anchor. Every number: `bd-rate-pairs.csv`."), ""]
    codecs = list(dict.fromkeys(p.anchor for p in pairs))
    for metric, axis in table.axes.items():
        found = {(p.test, p.anchor): p for p in pairs if p.metric == metric}
        if not found:
            continue
        lines += [f"**{axis.title}**", "", "| codec \\ against | " + " | ".join(codecs) + " |",
                  "|---|" + "---|" * len(codecs)]
        for test in codecs:
            cells = ["—" if test == anchor else _cell(found[test, anchor]) for anchor in codecs]
            lines.append(f"| {test} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _common_markdown(table: BdTable, comparisons: Comparisons, h: str) -> list[str]:
    common = comparisons.common
    if not common:
        return []
    intervals = "; ".join(_interval_text(table, c) for c in common)
    images = max(c.images for c in common)
    lines = [f"{h}# One interval for ranking", "",
             (f"BD-rate [%] against {table.anchor.name} ({common[0].method}) with every curve integrated over the "
              f"same quality interval, the intersection of all their ranges: {intervals}; on the {images} images "
              "every measured codec has; each curve fitted on its points inside the interval plus the nearest "
              "beyond each end. The anchor's fit is the same in every row, so rows rank; the intervals of the "
              "differences are in the direct comparisons."), "",
             "| codec | " + " | ".join(f"{table.axis(c.metric).title} [%]" for c in common) + " |",
             "|---|" + "---:|" * len(common)]
    names = list(dict.fromkeys(name for c in common for name, _ in c.rates))
    for name in names:
        cells = []
        for c in common:
            result = dict(c.rates).get(name)
            cells.append("—" if result is None else _number(result.value) if result.ok else f"n/a: {result.reason}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _interval_text(table: BdTable, common: CommonBd) -> str:
    """``common``'s quality interval in its metric's own values and unit, or why it has none."""
    axis = table.axis(common.metric)
    if common.interval is None:
        return f"{axis.title}: none ({common.reason})"
    low, high = sorted(axis.sign * v for v in common.interval)
    unit = f" {axis.unit}" if axis.unit else ""
    digits = 2 if axis.unit == "dB" else 4
    return f"{axis.title} {low:.{digits}f}–{high:.{digits}f}{unit}"


def ci_name(table: BdTable) -> str:
    return "BCa" if table.ci_method == "bca" else "percentile"


def resampling_text(table: BdTable, errors: Sequence[float]) -> str:
    """How many resamples and the Monte-Carlo error of the interval ends reached, in words."""
    if table.mc_target is None:
        text = f"{table.n_boot} resamples, seed {table.seed}"
    else:
        text = (f"seed {table.seed}, {table.n_boot} resamples, more until the batch-means Monte-Carlo error of the "
                f"interval ends is at most {table.mc_target:g} percentage points, at most {table.max_boot}")
    if errors:
        above = sum(e > table.mc_target for e in errors) if table.mc_target is not None else 0
        text += f"; that error reached at most {max(errors):.2f}"
        if above:
            text += f", above {table.mc_target:g} in {above} of {len(errors)} intervals"
    return text


def comparisons_markdown(table: BdTable, *, heading_level: int = 2) -> str:
    """The common-interval table and, when computed, the pair matrices."""
    if table.comparisons is None:
        return ""
    h = "#" * heading_level
    lines = _common_markdown(table, table.comparisons, h)
    if table.comparisons.pairs:
        lines += _pairs_markdown(table, table.comparisons.pairs, h)
    return "\n".join(lines)


def _csv(header: Sequence[str], lines: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for line in lines:
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in line])
    return buffer.getvalue()


def images_csv(table: BdTable, images: Sequence[ImageBd]) -> str:
    """One line per method × metric × codec × image: its BD-rate against the anchor, or why there is none."""
    return _csv(("dataset", "anchor", "method", "metric", "codec", "image", "bd_rate", "reason"),
                ((table.dataset, table.anchor.name, i.method, i.metric, i.codec, image, value if reason is None
                  else None, reason) for i in images for image, value, reason in zip(i.images, i.values, i.reasons)))


def pairs_csv(table: BdTable, pairs: Sequence[PairBd]) -> str:
    """One line per metric × ordered pair (both directions)."""
    header = ("dataset", "method", "metric", "test", "anchor", "images", "bd_rate", "bd_rate_reason", "ci_level",
              "ci_method", "ci_low", "ci_high", "ci_resamples", "ci_mc_error", "ci_reason", "bd_quality",
              "overlap_quality_low", "overlap_quality_high", "derived")
    lines = []
    for p in pairs:
        ci = p.ci if p.ci is not None and p.ci.low is not None else None
        low, high = p.rate.overlap or (None, None)
        lines.append((table.dataset, p.method, p.metric, p.test, p.anchor, p.images, p.rate.value, p.rate.reason,
                      table.level, table.ci_method, ci.low if ci else None, ci.high if ci else None,
                      p.ci.n_boot if p.ci else None, ci.mc_error if ci else None,
                      None if ci else (p.ci.reason if p.ci and p.ci.reason else p.ci_reason), p.quality.value,
                      low, high, p.derived))
    return _csv(header, lines)
