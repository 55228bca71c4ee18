"""``complexity.md`` and the decode-time plot, rendered from the complexity measurement's files.

Reads the four CSV tables and the run file that ``python -m bench complexity`` writes
(:data:`bench.learned.complexity.files.FILES`; the harness's time averages are among them) and, for the
plot, BD-rates (:func:`bench.analysis.complexity_plot.read_bd_rates`). Nothing is measured here and
torch is never imported: the committed report can be rebuilt from the committed tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench import study
from bench.analysis.complexity_plot import decode_time_vs_bd_rate_figure, plot_times
from bench.core.store import write_text_atomic
from bench.learned.complexity.files import FILES, KINDS, RANDOM_INIT, ComplexityError, read_run
from bench.learned.complexity.tables import parts_check

__all__ = ["ComplexityTables", "ar_loop_rates", "ar_loop_text", "complexity_markdown", "read_tables", "render_complexity"]

_TOTALS = ("encoder", "decoder", "model")
"""Rows of the MACs table that sum parts, in tables written before its ``row`` column said so."""
_INTEGERS = {"threads", "images", "height", "width", "params", "macs", "effective_macs", "gdn_macs",
             "gdn_elementwise_ops", "peak_bytes", "baseline_bytes", "delta_bytes", "imports_bytes", "repeats"}
"""Integer columns (an empty cell is NaN); the other numeric columns are the ``*_s`` and ``*_per_pixel`` floats."""
_RESULTS_COLUMNS = ("device", "hardware", "threads", "allocator", "codec", "point", "images", "encode_s", "decode_s",
                    "encode_median_s", "decode_median_s")
_SPLIT_COLUMNS = ("device", "hardware", "threads", "codec", "point", "weights", "config", "images",
                  *(f"{side}_{kind}_s" for side in ("encode", "decode") for kind in KINDS))


# --------------------------------------------------------------------------- the measurement's files


@dataclass(frozen=True)
class ComplexityTables:
    """What one complexity measurement wrote, as the report needs it."""

    macs: pd.DataFrame
    results: pd.DataFrame
    """Harness time averages: the ``source=results`` rows of the time table."""
    split: pd.DataFrame
    """Instrumented means per step kind: the ``source=instrumented`` rows."""
    memory: pd.DataFrame
    run: dict[str, Any]
    parts: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Parts against the whole call per side (:func:`parts_check` of the step timings; empty without them)."""


def _cell(column: str, text: str) -> int | float:
    if text == "":
        return math.nan
    return int(text) if column in _INTEGERS else float(text)  # Python's float(): the written value, bit for bit


def _read_csv(path: Path) -> pd.DataFrame:
    """A table of the measurement: numbers parsed exactly, text as written (an empty cell stays empty)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ComplexityError(f"{path} is missing; run `python -m bench complexity` to measure") from None
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, pd.errors.ParserError) as exc:
        raise ComplexityError(f"{path}: unreadable ({exc}); run `python -m bench complexity` again") from None
    for column in frame.columns:
        if column in _INTEGERS or column.endswith(("_s", "_per_pixel")):
            values = [_cell(column, str(text)) for text in frame[column]]
            exact = column in _INTEGERS and all(isinstance(v, int) for v in values)
            dtype = "int64" if exact else object if column in _INTEGERS else "float64"
            frame[column] = pd.Series(values, index=frame.index, dtype=dtype)
    return frame


def _rows_of(time: pd.DataFrame, source: str, columns: Sequence[str]) -> pd.DataFrame:
    rows = time[time["source"] == source] if "source" in time else time.iloc[0:0]
    if rows.empty:
        return pd.DataFrame()
    return rows[[c for c in columns if c in rows]].reset_index(drop=True)


def read_tables(folder: str | Path) -> ComplexityTables:
    """The tables and the run file of the measurement in ``folder`` (a reports folder)."""
    folder = Path(folder)
    time = _read_csv(folder / FILES["time"])
    return ComplexityTables(
        macs=_read_csv(folder / FILES["macs"]),
        results=_rows_of(time, "results", _RESULTS_COLUMNS),
        split=_rows_of(time, "instrumented", _SPLIT_COLUMNS),
        memory=_read_csv(folder / FILES["memory"]),
        run=read_run(folder / FILES["run"]),
        parts=parts_check(_read_csv(steps)) if (steps := folder / FILES["steps"]).exists() else pd.DataFrame(),
    )


# --------------------------------------------------------------------------- Markdown


def _g(value: float, scale: float, digits: int = 2) -> str:
    return "—" if value is None or pd.isna(value) else f"{value / scale:.{digits}f}"


def _totals_and_parts(group: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any]]:
    """The total rows and the part (and child) rows of one model's MACs table, each by name."""
    records = group.to_dict("records")
    total = [r.get("row") == "total" if "row" in group else r["part"] in _TOTALS for r in records]
    return ({r["part"]: r for r, t in zip(records, total) if t}, {r["part"]: r for r, t in zip(records, total) if not t})


def _u(value: Any, scale: float, unit: str, digits: int = 2) -> str:
    """``value / scale`` with its unit, or ``—`` alone when there is no value."""
    text = _g(value, scale, digits)
    return text if text == "—" else f"{text} {unit}"


_NO_SIDE = {"params": math.nan, "macs": math.nan, "gdn_elementwise_ops": math.nan}
"""The cells of a coding side a model has no part on (counted on ``forward()`` alone)."""


def _ms(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{1000 * value:.1f}" if value < 1 else f"{1000 * value:,.0f}"


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


_AR_PARTS = ("context_prediction", "entropy_parameters")


def ar_loop_rates(macs: pd.DataFrame, split: pd.DataFrame) -> list[tuple[str, str, str, float, float]]:
    """(codec, side, config, executed MACs of context model + entropy parameters, AR-loop seconds) per
    configuration measured: the loop's time against the MACs it executes (median over the points)."""
    if macs.empty or split.empty or "part" not in macs or "encode_ar_loop_s" not in split:
        return []
    out = []
    for (codec, config), part in macs[macs["part"].isin(_AR_PARTS)].groupby(["arch", "config"], sort=True):
        times = split[(split["codec"] == codec) & (split["config"] == config)]
        for side in ("encode", "decode"):
            seconds = pd.to_numeric(times[f"{side}_ar_loop_s"], errors="coerce").dropna()
            if len(seconds):
                out.append((codec, side, config, float(part["macs"].sum()), float(seconds.median())))
    return out


def ar_loop_text(macs: pd.DataFrame, split: pd.DataFrame) -> str:
    """What the measured AR-loop times say: executed GMAC/s per configuration and, with two, the line
    seconds = fixed + MACs / rate through them (is the loop bound by its MACs or by a per-position cost?)."""
    rates = ar_loop_rates(macs, split)
    if not rates:
        return " The per-position loop's cost is in the times below."
    parts = []
    for (codec, side), group in pd.DataFrame(rates, columns=["codec", "side", "config", "macs", "s"]).groupby(
            ["codec", "side"], sort=False):
        each = ", ".join(f"{r.macs / r.s / 1e9:.2f} GMAC/s at {r.config} ({r.macs / 1e9:.2f} GMAC in {r.s:.2f} s)"
                         for r in group.itertuples())
        text = f"{codec} {side}: {each}"
        if len(group) == 2 and group["macs"].iloc[1] != group["macs"].iloc[0]:
            slope = (group["s"].iloc[1] - group["s"].iloc[0]) / (group["macs"].iloc[1] - group["macs"].iloc[0])
            fixed = group["s"].iloc[0] - slope * group["macs"].iloc[0]
            share = fixed / group["s"].min()
            if abs(share) < 0.1:
                verdict = "its time follows the executed MACs"
            elif fixed < 0:
                verdict = ("the larger configuration's loop runs fewer MACs per second, and two points resolve no "
                           "fixed per-image cost (a negative one is not a cost)")
            else:
                verdict = (f"{fixed:.2f} s per image do not scale with the MACs ({100 * share:.0f} % of the "
                           "smaller configuration's loop: per-position calls such as the rANS coder's, and Python)")
            text += f"; a line through both: {1 / slope / 1e9:.2f} GMAC/s and {fixed:+.2f} s, so {verdict}"
        parts.append(text)
    return (" The loop's measured times (instrumented, below) against the MACs it executes (context model + "
            "entropy parameters, dense): " + "; ".join(parts) + ".")


def _macs_markdown(macs: pd.DataFrame, gdn_ops: Any, split: pd.DataFrame | None = None) -> list[str]:
    lines = []
    if macs.empty:
        return ["No counts.", ""]
    ar_loop = ar_loop_text(macs, split if split is not None else pd.DataFrame())
    models = [(arch, config, *_totals_and_parts(group))
              for (arch, config), group in macs.groupby(["arch", "config"], sort=False)]
    h, w = int(macs["height"].iloc[0]), int(macs["width"].iloc[0])
    lines += [
        (f"Counted with fvcore on one {w}×{h} image (a Kodak image; per pixel: divided by {w * h:,}). "
        "1 MAC = one multiply-accumulate (fvcore's \"flop\"). Parameters: every `nn.Parameter` of the model, "
        "entropy bottleneck included, buffers (the context model's mask, CDF tables) excluded — the convention "
        "of the published model sizes."),
        "",
        ("| model | config | λ (points) | params total | encoder params | decoder params | encoder MACs | "
        "decoder MACs | encoder MAC/px | decoder MAC/px | GDN element-wise ops enc / dec¹ | context model "
        "executed / effective² |"),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    forward_only = []
    for arch, config, rows, parts in models:
        model = rows["model"]
        enc, dec = rows.get("encoder", _NO_SIDE), rows.get("decoder", _NO_SIDE)
        pixels = model["height"] * model["width"]
        used = ", ".join(p.removeprefix("lambda") for p in model["points"].split())
        ctx = parts.get("context_prediction")
        ctx_text = f"{_g(ctx['macs'], 1e9)} G / {_g(ctx['effective_macs'], 1e9)} G" if ctx else "—"
        lines.append(
            f"| {arch} | {config} | {used} | {_u(model['params'], 1e6, 'M')} | "
            f"{_u(enc['params'], 1e6, 'M')} | {_u(dec['params'], 1e6, 'M')} | "
            f"{_u(enc['macs'], 1e9, 'G')} | {_u(dec['macs'], 1e9, 'G')} | "
            f"{_u(enc['macs'] / pixels, 1e3, 'k', 1)} | {_u(dec['macs'] / pixels, 1e3, 'k', 1)} | "
            f"{_u(enc['gdn_elementwise_ops'], 1e6, 'M', 1)} / "
            f"{_u(dec['gdn_elementwise_ops'], 1e6, 'M', 1)} | {ctx_text} |"
        )
        if "forward" in rows:
            forward_only.append(f"{arch} ({config}): {_u(rows['forward']['macs'], 1e9, 'G')}")
    if forward_only:
        lines += ["", ("Models without `g_a`/`g_s` are counted on their whole `forward()` (per child below, sides "
                       "unknown; it includes the likelihoods that coding does not compute): " + "; ".join(forward_only)
                       + " MACs.")]
    lines += [
        "",
        ("Per part (encoder = g_a + h_a + h_s + context model + entropy parameters; decoder = h_s + context "
        "model + entropy parameters + g_s), and every other child module with its parameters (the entropy "
        "bottleneck's: no MACs, in the total only):"),
        "",
        ("| model | config | part | side | input | params | MACs | MAC/px | of which GDN 1×1 | effective MACs² | "
        "GDN element-wise ops¹ |"),
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arch, config, _, parts in models:
        for name, part in parts.items():
            pixels = part["height"] * part["width"]
            lines.append(
                f"| {arch} | {config} | {name} | {part['sides']} | {'×'.join(part['input_shape'].split('x')[1:])} | "
                f"{part['params']:,} | {_u(part['macs'], 1e9, 'G', 3)} | {_u(part['macs'] / pixels, 1e3, 'k')} | "
                f"{_u(part['gdn_macs'], 1e9, 'G', 3)} | {_u(part['effective_macs'], 1e9, 'G', 3)} | "
                f"{_u(part['gdn_elementwise_ops'], 1e6, 'M', 1)} |"
            )
    lines += [
        "",
        (f"¹ GDN/IGDN compute x·rsqrt(β + conv1×1(x², γ)) (sqrt for IGDN). The 1×1 convolution (C² MACs per "
        f"position) is in the MACs; its element-wise work is not, and is given apart as {gdn_ops} "
        "operations per input element (one square, one sqrt/rsqrt, one multiply), never added to the MACs."),
        "",
        ("² The context model is a 5×5 convolution with mask type A (12 of 25 taps unmasked). *Executed*: what "
        "CompressAI runs — the full 5×5 kernel, densely in `forward()` and, in `compress`/`decompress`, once per "
        "latent position on a 5×5 crop (`_compress_ar`/`_decompress_ar`), which costs exactly the dense layer's "
        "MACs per position; the encoder and decoder columns use this count. *Effective*: the 12 unmasked taps "
        "only, what an implementation skipping the zeros would need." + ar_loop),
        "",
        ("Not counted: bias additions, activations (ReLU, LeakyReLU), `abs`, quantisation and rounding, "
        "clamping, the entropy coder (rANS) and its index computation, and the likelihoods that only "
        "`forward()` computes. Counts do not depend on the weights."),
        "",
    ]
    return lines


def _absent_markdown(absent: Mapping[str, str]) -> list[str]:
    """Why some codecs have no counts, or no step timings (the run file's ``absent``)."""
    if not absent:
        return []
    return ["What could not be measured, and why (their times are whole calls; a dash marks the rest):", "",
            *(f"- {codec}: {reason}" for codec, reason in absent.items()), ""]


def _table_groups(table: pd.DataFrame) -> Iterable[tuple[tuple[str, str, int, str], pd.DataFrame]]:
    """Groups of one device, hardware, thread count and (where the table has it) heap policy."""
    if "allocator" not in table:
        table = table.assign(allocator="")
    for key, group in table.groupby(["device", "hardware", "threads", "allocator"], sort=False):
        yield (str(key[0]), str(key[1]), int(key[2]), str(key[3])), group


def _caption(device: str, hardware: str, threads: int, allocator: str = "") -> str:
    thread_text = "threads unknown" if threads < 0 else f"{threads} thread{'s' if threads != 1 else ''}"
    heap_text = f", heap `{allocator}`" if allocator else ""
    return f"Device **{device}** ({hardware}), {thread_text}{heap_text}"


def _results_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return ["No result rows with timings: run `python -m bench run` first.", ""]
    lines = []
    for (device, hardware, threads, allocator), group in _table_groups(table):
        lines += [
            (f"{_caption(device, hardware, threads, allocator)}: mean over images of one `encode`/`decode` call "
             "(bitstream container and pixel conversion included)."),
            "",
            "| device | codec | point | images | encode [ms] | decode [ms] |",
            "|---|---|---|---:|---:|---:|",
        ]
        for r in group.itertuples():
            lines.append(f"| {device} | {r.codec} | {r.point} | {r.images} | {_ms(r.encode_s)} | {_ms(r.decode_s)} |")
        lines.append("")
    return lines


def _split_markdown(table: pd.DataFrame) -> list[str]:
    if table.empty:
        return ["Not measured.", ""]
    lines = []
    for (device, hardware, threads, allocator), group in _table_groups(table):
        lines += [
            f"{_caption(device, hardware, threads, allocator)}: mean over {int(group['images'].max())} image(s) of the "
            "median of the repeats; one discarded warm-up call per step and input shape"
            + (", `torch.cuda.synchronize()` before starting and stopping the clock" if device == "cuda" else "")
            + ". Network and entropy coding are timed apart; *AR loop* is mbt2018's per-position loop (context "
            "model, entropy parameters and rANS interleaved, not separable); *total* is the whole "
            "`compress()`/`decompress()` call. JPEG: Pillow, one thread, always on the CPU.",
            "",
            ("| device | codec | point | weights | config | enc network | enc entropy | enc AR loop | enc total | "
            "dec network | dec entropy | dec AR loop | dec total |"),
            "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in group.itertuples():
            weights = "random init³" if r.weights == RANDOM_INIT else r.weights
            lines.append(
                f"| {device} | {r.codec} | {r.point} | {weights} | {r.config} | {_ms(r.encode_network_s)} | "
                f"{_ms(r.encode_entropy_s)} | {_ms(r.encode_ar_loop_s)} | {_ms(r.encode_total_s)} | "
                f"{_ms(r.decode_network_s)} | {_ms(r.decode_entropy_s)} | {_ms(r.decode_ar_loop_s)} | "
                f"{_ms(r.decode_total_s)} |"
            )
        lines.append("")
    if (table["weights"] == RANDOM_INIT).any():
        lines += [
            ("³ **Untrained model: indicative only.** No trained weights were available, so a random-initialised "
            "model of the zoo configuration (seed 0, `update(force=True)`) was timed; one such model stands for all "
            "the points that share its configuration. Its network times are those of the real architecture; its "
            "entropy-coding and AR-loop times are not, because they depend on the rate and a random model's "
            "latents are nearly all zero."),
            "",
        ]
    return lines


def _parts_markdown(table: pd.DataFrame) -> list[str]:
    """Do the timed parts add up to the whole call? Per side: parts, whole, their gap and the noise bound."""
    if table.empty:
        return []
    lines = [
        "Parts against the whole call (means over images): the timed parts of a side should add up to its whole "
        "`compress()`/`decompress()` call within the noise, the sum of their spreads and the whole's (max − min "
        "over the repeats). *within*: images where they do. A whole longer than its parts holds untimed work "
        "(padding, string handling); parts longer than the whole mean the timing conditions were not steady.",
        "",
        "| device | codec | point | config | side | parts | whole | parts − whole | bound | within | repeats |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.itertuples():
        checked = not math.isnan(r.bound_s)
        bound = _ms(r.bound_s) if checked else "—"
        within = f"{int(r.within)}/{r.images}" if checked else "not checkable: one repeat"
        lines.append(f"| {r.device} | {r.codec} | {r.point} | {r.config} | {r.side} | {_ms(r.parts_s)} | "
                     f"{_ms(r.total_s)} | {_ms(r.parts_s - r.total_s)} | {bound} | {within} | {r.repeats} |")
    return [*lines, ""]


def _memory_markdown(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["Not measured.", ""]
    lines = []
    for device, group in frame.groupby("device", sort=False):
        kind = group["kind"].iloc[0]
        if device == "cpu":
            what = ("peak resident set of a fresh process per phase (Linux: `VmHWM`, reset when the phase "
                    "starts; `ru_maxrss` is not used because Linux carries the parent's peak into a child); "
                    "*baseline*: resident set of the same process after importing torch, compressai, numpy and "
                    "Pillow, loading the model and reading the image (or the bitstream), before the phase; "
                    "*added* = peak − baseline")
        else:
            what = ("`torch.cuda.max_memory_allocated()` after `reset_peak_memory_stats()`, in a fresh process; "
                    "*baseline*: `memory_allocated()` with the model on the device; CUDA context not included")
        lines += [
            f"Device **{device}** ({kind}): {what}. One image, {int(group['threads'].iloc[0])} torch thread(s).",
            "",
            "| device | model | config | weights | image | phase | peak [MiB] | baseline [MiB] | added [MiB] |",
            "|---|---|---|---|---|---|---:|---:|---:|",
        ]
        for r in group.itertuples():
            weights = "random init" if r.weights == RANDOM_INIT else r.weights
            lines.append(f"| {device} | {r.arch} | {r.config} | {weights} | {r.width}×{r.height} | {r.phase} | "
                         f"{_mib(r.peak_bytes)} | {_mib(r.baseline_bytes)} | {_mib(r.delta_bytes)} |")
        lines.append("")
    return lines


def _conditions(run: Mapping[str, Any]) -> list[str]:
    env = run.get("environment") or {}
    versions = env.get("versions") or {}
    lines = ["## Test conditions", ""]
    lines.append(f"- CPU: {env.get('cpu', 'unknown')} ({env.get('cpu_count', '?')} logical cores); "
                 f"GPU: {env.get('gpu') or 'none'}")
    lines.append(f"- torch {versions.get('torch', '?')}, compressai {versions.get('compressai', '?')}, "
                 f"entropy coder {run.get('entropy_coder', '?')}; Python {env.get('python', '?')}")
    images = run.get("images")
    shown = {**run, "images": None if images is None else f"{len(images)} ({', '.join(images)})" if images else "none"}
    module = run.get("allocator_module", "bench.core.allocator")
    for key, text in (("device", "instrumented timing and memory on"), ("threads", "torch threads"),
                      ("allocator", f"heap policy of the instrumented timing (`{module}`)"),
                      ("images", "images timed"), ("repeats", "timed repeats per step (median kept)"),
                      ("results", "harness rows from")):
        if shown.get(key) is not None:
            lines.append(f"- {text}: {shown[key]}")
    lines.append(f"- date {env.get('date', '?')}, commit {env.get('git_commit') or 'unknown'}")
    lines.append("")
    return lines


def study_markdown(macs: pd.DataFrame) -> list[str]:
    """The study's complexity figures (:data:`bench.study.STUDY_PARAMS_CELL`,
    :data:`bench.study.STUDY_CONTEXT_DECODE_S`) beside this measurement's parameter and MAC counts, each cell
    with the readings it admits and none preferred."""
    low, high = study.STUDY_CONTEXT_DECODE_S
    lines = [
        (f"This project has two figures of the study's complexity table, each a single cell. Its \"Params\" "
         f"column holds {study.STUDY_PARAMS_CELL:.2e}: far more than any of these models has parameters (the "
         "table below), so it reads as an operation count of a Kodak-size encode + decode, either in "
         "multiply-accumulates (MACs) or in FLOPs (2 · MACs). No configuration measured here matches it under "
         "either reading (the two ratio columns below), and one cell cannot tell which reading, or which model, "
         "is meant. Its Context + Hyperprior decode takes "
         f"{low:g}–{high:g} s on an NVIDIA RTX 3080 Ti (the fastest and slowest of its λ). This project reads "
         "that as the time of one Kodak image, an assumption: the table does not say whether it is per image "
         f"or for all 24 ({low / 24:.1f}–{high / 24:.1f} s an image). Per image, it is the order of the serial "
         "per-position loop of CompressAI's reference decoder (one small convolution and entropy-parameter "
         "pass per latent position), which this harness's wavefront coder replaces by 141 batched steps with "
         "the same weights (docs/wavefront.md times both on this CPU and on a GPU)."),
        "",
    ]
    if macs.empty:
        return lines
    rows = []
    for (arch, config), group in macs.groupby(["arch", "config"], sort=False):
        totals, _ = _totals_and_parts(group)
        if {"encoder", "decoder", "model"} <= totals.keys():
            total = totals["encoder"]["macs"] + totals["decoder"]["macs"]
            rows.append(f"| {arch} | {config} | {_g(totals['model']['params'], 1e6)} M | {total:.2e} | "
                        f"{total / study.STUDY_PARAMS_CELL:.2f} | {2 * total / study.STUDY_PARAMS_CELL:.2f} |")
    if rows:
        lines += ["| model | config | params (here) | encode + decode MACs (here) | the cell read as MACs: "
                  "MACs / cell | read as FLOPs: 2 · MACs / cell |",
                  "|---|---|---:|---:|---:|---:|", *rows, ""]
    return lines


def complexity_markdown(
    *,
    macs: pd.DataFrame | None = None,
    results_table: pd.DataFrame | None = None,
    split: pd.DataFrame | None = None,
    memory: pd.DataFrame | None = None,
    plot: str | None = None,
    run: Mapping[str, Any] | None = None,
    parts: pd.DataFrame | None = None,
) -> str:
    """The text of ``complexity.md`` from the measurement's tables (see :class:`ComplexityTables`) and run
    file; ``plot`` is the plot's file name beside it."""
    run = run or {}
    lines = [
        "# Complexity",
        "",
        ("Parameters and MACs per model and channel configuration; encoder and decoder time per model and λ; "
        "peak memory. Every time table holds one device on one machine with one thread count."),
        "",
    ]
    lines += _conditions(run)
    lines += ["## Parameters and MACs", ""]
    lines += _macs_markdown(macs if macs is not None else pd.DataFrame(), run.get("gdn_elementwise_ops", "?"), split)
    lines += _absent_markdown(run.get("absent") or {})
    lines += ["## Encoder and decoder time", "", "### Whole calls, from the harness's results", ""]
    lines += _results_markdown(results_table if results_table is not None else pd.DataFrame())
    lines += ["### Network and entropy coding (instrumented)", ""]
    lines += _split_markdown(split if split is not None else pd.DataFrame())
    lines += _parts_markdown(parts if parts is not None else pd.DataFrame())
    lines += ["## Peak memory", ""] + _memory_markdown(memory if memory is not None else pd.DataFrame())
    lines += ["## The study's figures", ""] + study_markdown(macs if macs is not None else pd.DataFrame())
    lines += ["## Decode time vs BD-rate", ""]
    if plot:
        lines += [f"![decode time vs BD-rate]({plot})", ""]
    else:
        lines += ["No BD-rates yet: run `make bd-rate`, then this again.", ""]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- the files


def render_complexity(folder: str | Path, *, bd_rates: Mapping[str, float] | None = None,
                      out_dir: str | Path | None = None) -> list[Path]:
    """Write ``complexity.md`` (and, given BD-rates, the decode-time plot) from the measurement in
    ``folder`` into ``out_dir`` (default: ``folder``); returns the paths written."""
    from bench.analysis.plots import save_figure

    tables = read_tables(folder)
    out = Path(out_dir) if out_dir is not None else Path(folder)
    written: list[Path] = []
    plot_name = None
    if bd_rates:
        choice = plot_times(tables.results, tables.split, bd_rates)
        if choice is not None:
            times, caption, untrained = choice
            figure = decode_time_vs_bd_rate_figure(times, bd_rates, caption=caption, untrained=untrained)
            written += save_figure(figure, out / FILES["plot"], formats=("png",))
            plot_name = f"{FILES['plot']}.png"
    text = complexity_markdown(macs=tables.macs, results_table=tables.results, split=tables.split,
                               memory=tables.memory, plot=plot_name, run=tables.run, parts=tables.parts)
    write_text_atomic(out / FILES["markdown"], text)
    return [*written, out / FILES["markdown"]]
