"""Comparisons that rank codecs: every codec against every other, and all against the anchor over one interval.

Rows of the BD table against an anchor cannot be ranked against each other: each integrates over its own
overlap and fits the anchor on its own subset of points. Two ways to compare codecs directly:

* :func:`pair_table`: the BD-rate of each codec against each other measured codec, on the images both have,
  over the two curves' own overlap, with the paired bootstrap interval of :mod:`bench.analysis.bdrate`.
  Each unordered pair is computed once; its reverse is the same comparison read the other way
  (BD-rate 100·(1/(1 + b/100) − 1), BD-quality negated, interval ends swapped), which the rules make exact.
  The interval is resampled in the direction whose BD-rate is negative (bounded by −100 %, so its
  Monte-Carlo error is the smaller), or the one that is defined: the minimum overlap is asked of one
  curve of the two, not of both.
* :func:`common_interval_table`: every curve's BD-rate against the anchor over one quality interval, the
  intersection of all their ranges (after ``--rate-range``), on the images all the measured codecs have:
  the anchor is fitted once, so rows differ only by the test curve and rank.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bench.analysis.bdrate import BdResult, BootstrapResult, bd_rate_over
from bench.analysis.bdtable import BdTable, Memo, bd_common, bd_interval, common_images, mean_pair
from bench.analysis.curves import Curve

__all__ = ["CommonBd", "PairBd", "common_interval_table", "inverse_rate", "pair_table"]


@dataclass(frozen=True)
class PairBd:
    """``test`` against ``anchor``: BD-rate, BD-quality and interval over the images both have.

    ``derived``: computed as ``anchor`` against ``test`` and read the other way."""

    metric: str
    method: str
    test: str
    anchor: str
    images: int
    rate: BdResult
    quality: BdResult
    ci: BootstrapResult | None
    ci_reason: str | None
    derived: bool = False


@dataclass(frozen=True)
class CommonBd:
    """Every curve against the anchor over one quality ``interval`` (dB; for a lower-is-better metric, of its
    negated values, as integrated), or the reason there is none."""

    metric: str
    method: str
    interval: tuple[float, float] | None
    images: int
    rates: tuple[tuple[str, BdResult], ...]
    reason: str | None = None


def inverse_rate(value: float) -> float:
    """The BD-rate of the anchor against the test, from the test's against the anchor (percent)."""
    return -100.0 * value / (100.0 + value)


def _reversed(pair: PairBd) -> PairBd:
    """``pair`` read the other way (see the module's docstring)."""
    rate = pair.rate if pair.rate.value is None else replace(pair.rate, value=inverse_rate(pair.rate.value),
                                                              n_anchor=pair.rate.n_test, n_test=pair.rate.n_anchor)
    quality = pair.quality if pair.quality.value is None else replace(
        pair.quality, value=-pair.quality.value, n_anchor=pair.quality.n_test, n_test=pair.quality.n_anchor)
    ci = pair.ci
    if ci is not None and ci.low is not None and ci.high is not None and ci.estimate is not None:
        slope = (100.0 / (100.0 + ci.estimate)) ** 2  # |d inverse / d value| at the estimate
        ci = replace(ci, low=inverse_rate(ci.high), high=inverse_rate(ci.low), estimate=inverse_rate(ci.estimate),
                     mc_error=None if ci.mc_error is None else ci.mc_error * slope)
    return replace(pair, test=pair.anchor, anchor=pair.test, rate=rate, quality=quality, ci=ci,
                   derived=not pair.derived)


def _measured(table: BdTable) -> dict[str, Curve]:
    """The measured curves of ``table``, the anchor first, in the table's order."""
    names = [table.anchor.name] if not table.anchor.published else []
    names += [e.codec for e in table.entries if e.codec not in names and not table.curves[e.codec].published]
    return {name: table.anchor if name == table.anchor.name else table.curves[name] for name in names}


def pair_table(rows: pd.DataFrame, table: BdTable, *, memo: Memo | None = None, mc_target: float | None = None
               ) -> tuple[PairBd, ...]:
    """Both directions of every pair of ``table``'s measured codecs, for each of its metrics, by its first
    method, with its resampling settings (``n_boot``, seed, level, ``ci_method``) and ``mc_target``."""
    curves = _measured(table)
    method = table.methods[0]
    metrics = list(dict.fromkeys(e.metric for e in table.entries))
    out = []
    for metric in metrics:
        names = list(curves)
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                pair = _pair(rows, table, curves[first], curves[second], metric, method, memo, mc_target)
                out += [pair, _reversed(pair)]
    return tuple(out)


def _pair(rows: pd.DataFrame, table: BdTable, anchor: Curve, test: Curve, metric: str, method: str,
          memo: Memo | None, mc_target: float | None) -> PairBd:
    forward = bd_common(rows, anchor, test, metric, method, table.min_overlap, memo=memo)
    backward = bd_common(rows, test, anchor, metric, method, table.min_overlap, memo=memo)
    if backward[0].ok and (not forward[0].ok or (forward[0].value or 0.0) > 0):
        return _reversed(_bootstrapped(rows, table, test, anchor, metric, method, backward, memo, mc_target))
    return _bootstrapped(rows, table, anchor, test, metric, method, forward, memo, mc_target)


def _bootstrapped(rows: pd.DataFrame, table: BdTable, anchor: Curve, test: Curve, metric: str, method: str,
                  values: tuple[BdResult, BdResult, pd.Index], memo: Memo | None, mc_target: float | None) -> PairBd:
    rate, quality, images = values
    ci, ci_reason = None, "no BD-rate"
    if rate.ok:
        ci, ci_reason, _ = bd_interval(rows, anchor, test, metric, method, images, n_boot=table.n_boot,
                                       seed=table.seed, level=table.level, min_overlap=table.min_overlap,
                                       memo=memo, mc_target=mc_target, max_boot=table.max_boot,
                                       ci_method=table.ci_method)
    return PairBd(metric, method, test.name, anchor.name, len(images), rate, quality, ci, ci_reason)


def common_interval_table(rows: pd.DataFrame, table: BdTable, *, memo: Memo | None = None) -> tuple[CommonBd, ...]:
    """For each metric of ``table``: every curve with a BD-rate against its anchor, over the intersection of
    all their quality ranges, by the table's first method."""
    method = table.methods[0]
    out = []
    for metric in dict.fromkeys(e.metric for e in table.entries):
        names = [e.codec for e in table.entries if e.metric == metric and e.method == method and e.rate.ok]
        measured = [n for n in names if not table.curves[n].published]
        if not names:
            continue
        images: pd.Index | None = None
        for name in measured:
            own = common_images(rows, table.anchor, table.curves[name], metric, memo=memo)
            images = own if images is None else images.intersection(own)
        images = pd.Index([]) if images is None else images
        if measured and images.empty:
            out.append(CommonBd(metric, method, None, 0, (), "no image has a value of every codec"))
            continue
        anchor = table.anchor
        if measured and not anchor.published:
            anchor = mean_pair(rows, anchor, table.curves[measured[0]], images, memo=memo)[0]
        means = {anchor.name: anchor}
        for name in names:
            test = table.curves[name]
            means[name] = test if test.published else mean_pair(rows, table.anchor, test, images, memo=memo)[1]
        out.append(_common(metric, method, means, table.anchor.name, len(images) if measured else 0))
    return tuple(out)


def _common(metric: str, method: str, means: dict[str, Curve], anchor: str, images: int) -> CommonBd:
    ranges = []
    for curve in means.values():
        quality = curve.bd_quality(metric)
        if not np.all(np.isfinite(quality)) or not np.all(np.isfinite(curve.rate())):
            return CommonBd(metric, method, None, images, (), f"{curve.name} has no value at some of its points")
        ranges.append((float(quality.min()), float(quality.max())))
    low, high = max(r[0] for r in ranges), min(r[1] for r in ranges)
    if not high > low:
        return CommonBd(metric, method, None, images, (), "the curves share no quality interval")
    base = means[anchor]
    rates = []
    for name, curve in means.items():
        if name == anchor:
            continue
        rates.append((name, bd_rate_over(base.rate(), base.bd_quality(metric), curve.rate(), curve.bd_quality(metric),
                                         (low, high), method=method, labels=(base.points, curve.points))))
    return CommonBd(metric, method, (low, high), images, tuple(rates))
