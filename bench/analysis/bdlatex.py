"""BD-rates as one LaTeX table (booktabs), as a paper shows them: a row per codec, the metrics side by side.

For the table's first method, each codec's BD-rate [%] per metric (PSNR, MS-SSIM and, where the rows have them,
PSNR-Y and the plug-in metrics), with its bootstrap interval unless left out, rounded as in the Markdown (exact values and the
other method, BD-quality and the points used: ``bd-rate.md`` and ``bd-rate.csv``); a value that is
undefined is ``---`` (the reason is in the Markdown and the CSV). Text from the data (codec names, the
anchor's) is escaped, so any name compiles. Needs ``\\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

from bench.analysis.bdrate import BdResult
from bench.analysis.bdtable import BdEntry, BdTable

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


def table_latex(table: BdTable, *, ci: bool = True) -> str:
    """The BD-rates as LaTeX source: a comment line, then one booktabs ``table`` with a row per codec and, side
    by side, a column (with ``ci``, two: value and interval) per metric the table has (PSNR, MS-SSIM, PSNR-Y),
    of the table's first method. With intervals the table spans the page (``table*``), else one column."""
    pct = round(100 * table.level)
    method = table.methods[0]
    anchor = latex_escape(table.anchor.label if table.anchor.published else table.anchor.name)
    entries = {(e.codec, e.metric): e for e in table.entries if e.method == method}
    metrics = [m for m in table.axes if any(metric == m for _, metric in entries)]
    names = {m: latex_escape(table.axis(m).short) for m in metrics}
    codecs = list(dict.fromkeys(codec for codec, _ in entries))
    width = 2 if ci else 1
    env = "table*" if ci else "table"  # with intervals, too wide for one column of a two-column paper
    interval = f" In brackets: {pct}\\,\\% bootstrap confidence interval over the images." if ci else ""
    lines = [f"% BD-rate vs {anchor} on {latex_escape(table.dataset)}; made by `python -m bench bd-rate "
             "--latex`; needs \\usepackage{booktabs}", "",
             f"\\begin{{{env}}}[t]",
             "\\centering",
             (f"\\caption{{BD-rate [\\%] against {anchor} on {latex_escape(table.dataset)}, {_METHOD[method]}; "
              f"negative: fewer bits at equal quality.{interval} ---: no value (the reason is in bd-rate.md).}}"),
             "\\label{tab:bd-rate}",
             "\\begin{tabular}{l" + ("rc" if ci else "r") * len(metrics) + "}",
             "\\toprule"]
    if ci:
        lines.append(" & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{names[m]}}}" for m in metrics) + " \\\\")
        lines.append(" ".join(f"\\cmidrule(lr){{{2 + width * i}-{3 + width * i}}}" for i in range(len(metrics))))
        lines.append("Codec & " + " & ".join(f"BD-rate [\\%] & {pct}\\,\\% CI" for _ in metrics) + " \\\\")
    else:
        lines.append("Codec & " + " & ".join(names[m] for m in metrics) + " \\\\")
    lines.append("\\midrule")
    for codec in codecs:
        cells = [latex_escape(table.curves[codec].label if codec in table.curves else codec)]
        for metric in metrics:
            entry = entries.get((codec, metric))
            cells.append("---" if entry is None else _value(entry.rate, 2))
            if ci:
                cells.append("---" if entry is None else _interval(entry))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", f"\\end{{{env}}}", ""]
    return "\n".join(lines)
