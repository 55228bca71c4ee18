"""BD tables as LaTeX (booktabs): one ``table`` per method × metric, the numbers of ``bd-rate.md``.

Each table holds, per codec, the points used, BD-rate [%] with its bootstrap interval and BD-quality [dB],
rounded as in the Markdown (exact values: ``bd-rate.csv``); a value that is undefined is ``---`` (the
reason is in the Markdown and the CSV). Text from the data (codec names, the anchor's) is escaped, so any
name compiles. Needs ``\\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

from bench.analysis.bdrate import BdResult
from bench.analysis.bdtable import BdEntry, BdTable
from bench.analysis.bdformat import QUALITY_NAME
from bench.analysis.curves import BD_METRICS

__all__ = ["latex_escape", "latex_number", "table_latex"]

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_METHOD = {"cubic": "cubic fit (VCEG-M33)", "pchip": "PCHIP (JVET CTC)"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``&`` → ``\\&``, ``_`` → ``\\_`` …)."""
    return "".join(_SPECIAL.get(c, c) for c in text)


def latex_number(value: float | None, digits: int = 2) -> str:
    """A signed number in math mode (``$-3.74$``: a true minus sign), or ``---`` for None."""
    return "---" if value is None else f"${value:+.{digits}f}$"


def _value(result: BdResult, digits: int) -> str:
    return latex_number(result.value if result.ok else None, digits)


def _interval(entry: BdEntry) -> str:
    ci = entry.ci
    if ci is None or ci.low is None or ci.high is None:
        return "---"
    return f"[{latex_number(ci.low, 1)}, {latex_number(ci.high, 1)}]"


def table_latex(table: BdTable) -> str:
    """The BD table as LaTeX source: a comment line, then one booktabs ``table`` per method × metric."""
    pct = round(100 * table.level)
    anchor = latex_escape(table.anchor.label if table.anchor.published else table.anchor.name)
    lines = [f"% BD-rate vs {anchor} on {latex_escape(table.dataset)}; made by `python -m bench bd-rate "
             "--latex`; needs \\usepackage{booktabs}", ""]
    for method in table.methods:
        for metric, axis in BD_METRICS.items():
            entries = [e for e in table.entries if e.method == method and e.metric == metric]
            if not entries:
                continue
            lines += [
                "\\begin{table}[t]",
                "\\centering",
                (f"\\caption{{BD-rate and {QUALITY_NAME[metric]} against {anchor}, {latex_escape(axis)}, "
                 f"{_METHOD[method]}, {latex_escape(table.dataset)}; {pct}\\,\\% bootstrap CI over images.}}"),
                "\\begin{tabular}{lrrcr}",
                "\\toprule",
                f"Codec & Points & BD-rate [\\%] & {pct}\\,\\% CI [\\%] & {QUALITY_NAME[metric]} [dB] \\\\",
                "\\midrule",
            ]
            for e in entries:
                name = latex_escape(table.curves[e.codec].label if e.codec in table.curves else e.codec)
                lines.append(f"{name} & {len(e.points)} & {_value(e.rate, 2)} & {_interval(e)} & "
                             f"{_value(e.quality, 3)} \\\\")
            lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(lines)
