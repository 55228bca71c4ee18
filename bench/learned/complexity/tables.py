"""The measurement as tidy tables: harness time averages, step timings, counts and memory.

Each table is what one CSV of :data:`bench.learned.complexity.files.FILES` holds; pandas only, no torch.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.learned.complexity.files import KINDS, REFERENCE_CODEC, ComplexityError
from bench.learned.macs import SIDES, ModelCount
from bench.learned.memory import MemoryResult

__all__ = ["StepTiming", "csv_text", "parts_check", "hardware", "macs_frame", "memory_frame", "results_time_table",
           "run_environments", "split_table", "steps_frame", "time_frame"]

_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


# --------------------------------------------------------------------------- times from the result rows


def run_environments(results_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``run_id → environment`` from ``<results_dir>/runs/*.json`` (the harness's run metadata)."""
    from bench.core.schema import read_runs

    return {run_id: dict(meta["environment"] or {}) for run_id, meta in read_runs(results_dir).items()}


def _point_key(point: str) -> tuple[str, float, str]:
    match = _NUMBER.search(point)
    return (point[: match.start()] if match else point, float(match.group(1)) if match else 0.0, point)


def hardware(device: str, env: Mapping[str, Any] | None) -> str:
    """The CPU or GPU (by ``device``) of a run's ``environment``; ``unknown`` when it does not say."""
    if not env:
        return "unknown"
    value = env.get("gpu") if device.startswith("cuda") else env.get("cpu")
    return str(value) if value else "unknown"


def results_time_table(rows: pd.DataFrame, environments: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> pd.DataFrame:
    """Mean encode/decode time per device × hardware × threads × heap policy × codec × point over ``ok`` rows.

    A row with no device (JPEG) ran on the CPU. Hardware comes from the row's run metadata
    (``environments``, see :func:`run_environments`); rows of different CPUs or GPUs, of different
    thread counts or of different heap policies (``allocator``) are never averaged together.
    """
    needed = {"codec", "point", "encode_s", "decode_s", "status", "device", "threads", "allocator", "run_id", "image"}
    missing = sorted(needed - set(rows.columns))
    if missing:
        raise ComplexityError(f"result rows lack columns {', '.join(missing)}; load them with bench.core.store.load_rows")
    frame = rows[(rows["status"] == "ok")].copy()
    frame = frame[frame["encode_s"].notna() & frame["decode_s"].notna()]
    envs = environments or {}
    frame["device"] = [str(d) if isinstance(d, str) and d else "cpu" for d in frame["device"]]
    frame["hardware"] = [hardware(d, envs.get(r)) for d, r in zip(frame["device"], frame["run_id"])]
    frame["threads"] = [int(t) if pd.notna(t) else -1 for t in frame["threads"]]
    keys = ["device", "hardware", "threads", "allocator", "codec", "point"]
    grouped = frame.groupby(keys, sort=False, dropna=False).agg(
        images=("image", "nunique"), encode_s=("encode_s", "mean"), decode_s=("decode_s", "mean"),
        encode_median_s=("encode_s", "median"), decode_median_s=("decode_s", "median"),
    ).reset_index()
    codec_order = {c: i for i, c in enumerate(dict.fromkeys([REFERENCE_CODEC, *frame["codec"]]))}
    grouped["_codec"] = grouped["codec"].map(codec_order)
    grouped["_point"] = grouped["point"].map(_point_key)
    grouped = grouped.sort_values(["device", "hardware", "threads", "allocator", "_codec", "_point"], kind="stable")
    return grouped.drop(columns=["_codec", "_point"]).reset_index(drop=True)


# --------------------------------------------------------------------------- instrumented step timings


@dataclass(frozen=True)
class StepTiming:
    """One step on one image: median and spread of ``repeats`` calls (warm-up excluded)."""

    device: str
    hardware: str
    threads: int
    codec: str
    point: str
    weights: str
    config: str  # the timed model's channels, e.g. "N=128, M=192"
    image: str
    side: str
    step: str
    kind: str
    median_s: float
    spread_s: float
    repeats: int


def steps_frame(timings: Sequence[StepTiming]) -> pd.DataFrame:
    """The step timings as a DataFrame, one row per step × image × point."""
    columns = list(StepTiming.__dataclass_fields__)
    return pd.DataFrame([[getattr(t, c) for c in columns] for t in timings], columns=columns)


def split_table(timings: Sequence[StepTiming] | pd.DataFrame) -> pd.DataFrame:
    """Mean per image of each side's network, entropy-coding, AR-loop and total time, per
    device × hardware × threads × codec × point × weights."""
    frame = timings if isinstance(timings, pd.DataFrame) else steps_frame(timings)
    keys = ["device", "hardware", "threads", "codec", "point", "weights", "config"]
    if frame.empty:
        return pd.DataFrame(columns=[*keys, "images"])
    per_image = frame.groupby([*keys, "image", "side", "kind"], sort=False)["median_s"].sum().reset_index()
    per_image["column"] = per_image["side"] + "_" + per_image["kind"] + "_s"
    wide = per_image.pivot_table(index=[*keys, "image"], columns="column", values="median_s", sort=False)
    table = wide.groupby(level=keys, sort=False).mean()
    table["images"] = wide.groupby(level=keys, sort=False).size()
    ordered = [f"{side}_{kind}_s" for side in ("encode", "decode") for kind in KINDS]
    for column in ordered:
        if column not in table:
            table[column] = math.nan
    table = table[["images", *ordered]].reset_index()
    table.columns.name = None
    table["_codec"] = table["codec"].map({c: i for i, c in enumerate(dict.fromkeys([REFERENCE_CODEC, *table["codec"]]))})
    table["_point"] = table["point"].map(_point_key)
    table = table.sort_values(["device", "hardware", "threads", "_codec", "_point"], kind="stable")
    return table.drop(columns=["_codec", "_point"]).reset_index(drop=True)


def parts_check(steps: pd.DataFrame) -> pd.DataFrame:
    """Whether each side's timed parts add up to its whole ``compress()``/``decompress()`` call.

    Per device × hardware × threads × codec × point × weights × config × side, means over images of:
    ``parts_s`` (sum of the parts' medians), ``total_s`` (the whole call's median) and ``bound_s`` (the
    parts' spreads plus the whole's: how far the two sums may drift apart by noise alone); ``within``
    counts the images whose |parts − total| ≤ their bound, ``images`` all of them; ``repeats`` is the
    fewest repeats of any step. Under two repeats there is no spread (``bound_s`` and ``within`` NaN):
    not checkable.
    """
    keys = ["device", "hardware", "threads", "codec", "point", "weights", "config"]
    columns = [*keys, "side", "images", "repeats", "parts_s", "total_s", "bound_s", "within"]
    if steps.empty or "kind" not in steps:
        return pd.DataFrame(columns=columns)
    spread = pd.to_numeric(steps["spread_s"], errors="coerce")
    frame = steps.assign(spread=spread, whole=steps["kind"] == "total")
    rows = []
    for key, group in frame.groupby([*keys, "side"], sort=False):
        per_image = []
        for _, image in group.groupby("image", sort=False):
            parts, whole = image[~image["whole"]], image[image["whole"]]
            if parts.empty or whole.empty:
                continue
            spreads = pd.concat([parts["spread"], whole["spread"]])
            repeats = int(image["repeats"].min())
            bound = math.nan if repeats < 2 or spreads.isna().any() else float(spreads.sum())
            per_image.append((float(parts["median_s"].sum()), float(whole["median_s"].iloc[0]), bound, repeats))
        if not per_image:
            continue
        parts_s, total_s, bounds, repeats = zip(*per_image)
        checkable = not any(math.isnan(b) for b in bounds)
        within = sum(abs(p - t) <= b for p, t, b in zip(parts_s, total_s, bounds)) if checkable else math.nan
        rows.append([*key, len(per_image), min(repeats), sum(parts_s) / len(parts_s), sum(total_s) / len(total_s),
                     sum(bounds) / len(bounds) if checkable else math.nan, within])
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- counts and memory as tables


def macs_frame(counts: Sequence[ModelCount], points: Mapping[tuple[str, str], Sequence[str]] | None = None
               ) -> pd.DataFrame:
    """One row per part, per other child with parameters (no MACs), plus the ``encoder`` and ``decoder``
    (or, for a model counted on ``forward()`` alone, ``forward``) and ``model`` totals, per model and config;
    the column ``row`` says which (``part``, ``child``, ``total``: a child may be called ``encoder`` too).

    ``points`` maps (arch, config label) to the operating points that use the configuration.
    """
    short = {"encoder": "enc", "decoder": "dec", "forward": "fwd"}
    rows = []
    for c in counts:
        used = " ".join((points or {}).get((c.arch, c.config_label), ()))
        base = {"arch": c.arch, "config": c.config_label, "points": used, "height": c.height, "width": c.width}
        for part in c.parts.values():
            rows.append({**base, "part": part.part, "row": "part", "sides": "+".join(short[s] for s in part.sides),
                         "input_shape": "x".join(map(str, part.input_shape)), "params": part.params,
                         "macs": part.macs, "effective_macs": part.effective_macs, "gdn_macs": part.gdn_macs,
                         "gdn_elementwise_ops": part.gdn_elementwise_ops,
                         "not_counted": " ".join(part.not_counted)})
        for child, params in c.children.items():
            if child not in c.parts:
                rows.append({**base, "part": child, "row": "child", "sides": "", "input_shape": "", "params": params,
                             "macs": math.nan, "effective_macs": math.nan, "gdn_macs": math.nan,
                             "gdn_elementwise_ops": math.nan, "not_counted": "not a coding network: no MACs"})
        for side in SIDES:
            parts = c.side(side)
            if not parts:
                continue
            rows.append({**base, "part": side, "row": "total", "sides": short[side],
                         "input_shape": "", "params": c.total(side, "params"),
                         "macs": c.total(side), "effective_macs": c.total(side, "effective_macs"),
                         "gdn_macs": c.total(side, "gdn_macs"),
                         "gdn_elementwise_ops": c.total(side, "gdn_elementwise_ops"),
                         "not_counted": "parts: " + " ".join(parts)})
        rows.append({**base, "part": "model", "row": "total", "sides": "", "input_shape": "", "params": c.params_total,
                     "macs": math.nan, "effective_macs": math.nan, "gdn_macs": math.nan,
                     "gdn_elementwise_ops": math.nan,
                     "not_counted": "; ".join([f"all nn.Parameters (entropy bottleneck {c.params_entropy}); "
                                               f"buffers not counted ({c.buffers_total})", *c.notes])})
    frame = pd.DataFrame(rows)
    pixels = frame["height"] * frame["width"]
    frame["macs_per_pixel"] = frame["macs"] / pixels
    frame["effective_macs_per_pixel"] = frame["effective_macs"] / pixels
    for column in ("params", "macs", "effective_macs", "gdn_macs", "gdn_elementwise_ops"):
        frame[column] = frame[column].astype("Int64")  # exact integers; empty where undefined
    return frame


def memory_frame(results: Sequence[tuple[Sequence[str], MemoryResult]]) -> pd.DataFrame:
    """One row per measured phase: (points the model stands for, result)."""
    rows = []
    for points, r in results:
        rows.append({"arch": r.arch, "config": ", ".join(f"{k}={v}" for k, v in r.config.items()),
                     "points": " ".join(points), "weights": r.weights, "device": r.device, "kind": r.kind,
                     "phase": r.phase, "height": r.height, "width": r.width, "threads": r.threads,
                     "peak_bytes": r.peak_bytes, "baseline_bytes": r.baseline_bytes,
                     "delta_bytes": r.delta_bytes, "imports_bytes": r.imports_bytes})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the CSV files


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as the CSV text the complexity files hold (no index, ``\\n`` line ends)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue()


def time_frame(results_table: pd.DataFrame | None, split: pd.DataFrame | None) -> pd.DataFrame:
    """``complexity-time.csv``: harness averages (``source=results``) and instrumented means
    (``source=instrumented``, ``encode_s``/``decode_s`` = the whole call) in one tidy table."""
    frames = []
    if results_table is not None and not results_table.empty:
        frames.append(results_table.assign(source="results", weights="", config=""))
    if split is not None and not split.empty:
        frames.append(split.assign(source="instrumented", encode_s=split["encode_total_s"],
                                   decode_s=split["decode_total_s"]))
    if not frames:
        return pd.DataFrame(columns=["source", "device", "hardware", "threads", "codec", "point", "weights",
                                     "config", "images", "encode_s", "decode_s"])
    frame = pd.concat(frames, ignore_index=True)
    first = ["source", "device", "hardware", "threads", "codec", "point", "weights", "config", "images",
             "encode_s", "decode_s"]
    return frame[first + [c for c in frame.columns if c not in first]]
