"""The study beside the harness: BD-rate vs JPEG of the three learned models, measured here, as the
study's text gives it, and from CompressAI's published curves on the same operating points."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from bench import study
from bench.analysis.bdformat import csv_value, escape_pipes, format_number, format_result
from bench.analysis.bdrate import DEFAULT_MIN_OVERLAP, METHODS, BdResult
from bench.analysis.bdtable import BdTableError, Memo, bd_common, bd_pair
from bench.analysis.curves import METRICS, Curve, published_curve

__all__ = ["NOT_RUN", "STUDY", "StudyRow", "study_comparison", "study_csv", "study_markdown"]

STUDY: dict[str, tuple[str, float, float]] = {
    arch: (study.LABELS[arch], *study.STUDY_BD_RATES[arch]) for arch in study.ARCHITECTURES
}
"""Model label and BD-rate vs JPEG in percent (PSNR, MS-SSIM dB), from the study's text."""
STUDY_POINTS = study.POINTS
"""The study's λ, the harness's labels of CompressAI zoo quality 3–6 (MSE)."""
ZOO_POINTS = tuple(f"quality{q}" for q in study.ZOO_QUALITIES)
STUDY_ANCHOR = study.STUDY_ANCHOR
NOT_RUN = "not run (no weights)"
PUBLISHED_JPEG = "jpeg: Pillow 7.1.2 (CompressAI's jpeg.json)"


@dataclass(frozen=True)
class StudyRow:
    """One model × metric: this harness (a BdResult, or a reason), the study, CompressAI's published curves."""

    codec: str
    model: str
    metric: str
    measured: BdResult | None
    measured_reason: str | None
    measured_points: tuple[str, ...]
    study: float
    published: BdResult
    caveat: str = ""
    """What this harness's number rests on (its weights, its anchor's build): see :func:`study_comparison`."""


def _study_points(curve: Curve) -> Curve:
    """The model's curve on the study's λ when it has any of them, else as it is."""
    present = [p for p in curve.points if p in STUDY_POINTS]
    return curve.subset(present) if present else curve


def study_comparison(curves: Mapping[str, Curve], *, method: str = "cubic",
                     min_overlap: float = DEFAULT_MIN_OVERLAP, rows: pd.DataFrame | None = None,
                     memo: Memo | None = None, caveats: Mapping[str, str] | None = None) -> list[StudyRow]:
    """The three models' BD-rate vs JPEG: this harness, the study, CompressAI's published curves (q3–6).

    With the ``rows`` behind ``curves``, the harness's BD-rates are on the images common to the model and
    JPEG (:func:`bd_common`, as in :func:`bd_table`); without, on the mean curves as given. ``caveats``
    (codec → text, :func:`bench.analysis.provenance.study_caveats`) go into each row beside the published
    curves' own (zoo weights, JPEG of Pillow 7.1.2).
    """
    if method not in METHODS:
        raise BdTableError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    published_anchor = published_curve(STUDY_ANCHOR)
    out = []
    for codec, (model, *study_values) in STUDY.items():
        published_model = published_curve(codec).subset(ZOO_POINTS)
        for metric, study_value in zip(METRICS, study_values):
            published, _ = bd_pair(published_anchor, published_model, metric, method, min_overlap)
            measured, reason, points = None, None, ()
            if codec not in curves:
                reason = NOT_RUN
            elif STUDY_ANCHOR not in curves:
                reason = f"anchor {STUDY_ANCHOR} not in the results"
            else:
                test = _study_points(curves[codec])
                points = test.points
                if rows is None:
                    measured, _ = bd_pair(curves[STUDY_ANCHOR], test, metric, method, min_overlap)
                else:
                    measured, _, _ = bd_common(rows, curves[STUDY_ANCHOR], test, metric, method, min_overlap,
                                               memo=memo)
            harness = (caveats or {}).get(codec, "weights and JPEG build not known here")
            caveat = f"harness: {harness} · published: zoo weights; {PUBLISHED_JPEG}"
            out.append(StudyRow(codec, model, metric, measured, reason, points, study_value, published, caveat))
    return out


def study_markdown(rows: Sequence[StudyRow], *, method: str = "cubic", heading_level: int = 2) -> str:
    """Markdown: one table per metric, three columns side by side."""
    h = "#" * heading_level
    lines = [
        f"{h} Comparison with the study (BD-rate vs JPEG, %)",
        "",
        ("- **this harness**: the model's measured mean curve (on the study's four λ when present) vs the "
        f"harness's own JPEG run, method {method};"),
        "- **the study**: numbers from the study's text;",
        ("- **CompressAI published**: CompressAI's published Kodak curves on the same operating points, zoo "
        "quality 3–6 (= λ 0.0067, 0.0130, 0.0250, 0.0483) of `compressai-<model>_mse_cpu.json` vs "
        f"`jpeg.json` (Pillow 7.1.2, q5…q95), method {method} (see `bench/data/reference/SOURCE.md`)."),
        "",
    ]
    for metric, axis in METRICS.items():
        lines += [
            f"**{axis}, dB**",
            "",
            "| model | codec | this harness | the study | CompressAI published | caveat |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in (r for r in rows if r.metric == metric):
            measured = format_result(r.measured) if r.measured is not None else escape_pipes(r.measured_reason or "")
            lines.append(f"| {r.model} | {r.codec} | {measured} | {format_number(r.study)} | "
                         f"{format_result(r.published)} | {escape_pipes(r.caveat)} |")
        lines.append("")
    used = [f"{r.codec}: {', '.join(r.measured_points)}" for r in rows if r.metric == "psnr" and r.measured_points]
    if used:
        lines += ["Harness operating points used: " + "; ".join(used) + ".", ""]
    return "\n".join(lines)


def study_csv(rows: Sequence[StudyRow]) -> str:
    """One line per model × metric; floats written exactly, reasons beside empty values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("model", "codec", "metric", "measured", "measured_reason", "measured_points", "study",
                     "published", "published_reason", "caveat"))
    for r in rows:
        measured = r.measured.value if r.measured is not None else None
        reason = r.measured.reason if r.measured is not None else r.measured_reason
        writer.writerow([csv_value(v) for v in (
            r.model, r.codec, r.metric, measured, reason, " ".join(r.measured_points), r.study,
            r.published.value, r.published.reason, r.caveat,
        )])
    return buffer.getvalue()
