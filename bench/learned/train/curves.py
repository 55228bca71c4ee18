"""The per-epoch CSV log of a training stage, and the training curves drawn from it.

The log (``<stage>/log.csv``) gets one row per epoch, appended with a single ``write`` (a killed run
loses at most that row; a torn last line is dropped when the file is next read or appended to). An
epoch repeated after a resume replaces its earlier row. Figures use matplotlib's object API on the
Agg canvas (no pyplot) and are regenerable at any time from the log alone.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bench.core.store import write_bytes_atomic
from bench.learned.train.errors import TrainError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "LOG_COLUMNS", "append_log_row", "curve_name", "read_log", "training_figure", "write_all_curves", "write_curves",
]

LOG_COLUMNS: tuple[str, ...] = (
    "stage", "lambda", "epoch", "steps", "lr",
    "train_loss", "train_mse", "train_bpp", "train_psnr", "train_aux",
    "val_loss", "val_mse", "val_bpp", "val_psnr",
    "real_bpp", "real_bpp_estimated", "real_images",
    "epoch_s", "time",
)
"""``epoch`` counts from 1; ``steps`` is the stage's total after the epoch; ``real_bpp`` is the
payload of ``compress()`` (after ``update(force=True)``) on ``real_images`` full validation images and
``real_bpp_estimated`` the likelihood estimate on the same images (empty on other epochs)."""


def _format(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _drop_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def append_log_row(path: str | Path, row: Mapping[str, Any]) -> None:
    """Append one epoch's row (header first if the file is new), in a single write."""
    path = Path(path)
    unknown = set(row) - set(LOG_COLUMNS)
    if unknown:
        raise TrainError(f"unknown log columns {sorted(unknown)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if path.exists():
        _drop_torn_tail(path)
    if not path.exists() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer.writerow(LOG_COLUMNS)
    writer.writerow([_format(row.get(c)) for c in LOG_COLUMNS])
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, buffer.getvalue().encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_log(path: str | Path) -> pd.DataFrame:
    """The log as a DataFrame, one row per epoch (the last written wins), sorted by epoch."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainError(f"{path}: no training log; train the stage first") from None
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    frame = pd.read_csv(io.StringIO(text), dtype={"stage": str, "time": str}) if text else pd.DataFrame()
    if list(frame.columns) != list(LOG_COLUMNS):
        raise TrainError(f"{path}: not a training log of this version (columns differ); move it away")
    frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    return frame


def training_figure(frame: pd.DataFrame, title: str) -> Figure:
    """Loss, bpp and PSNR against epoch, training and validation (real bpp as markers)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(13.0, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    epochs = frame["epoch"]
    panels = (("loss", "loss (λ·255²·MSE + bpp)"), ("bpp", "rate [bpp]"), ("psnr", "PSNR [dB]"))
    for ax, (key, ylabel) in zip(axes, panels, strict=True):
        style = "-" if len(frame) > 20 else ".-"
        ax.plot(epochs, frame[f"train_{key}"], style, color="tab:blue", label="train")
        ax.plot(epochs, frame[f"val_{key}"], style, color="tab:orange", label="validation")
        if key == "bpp" and frame["real_bpp"].notna().any():
            real = frame[frame["real_bpp"].notna()]
            ax.plot(real["epoch"], real["real_bpp"], "o", color="tab:green", label="validation, real bitstream")
            ax.plot(real["epoch"], real["real_bpp_estimated"], "x", color="tab:green",
                    label="same images, estimated")
        if key == "loss" and (frame["train_loss"] > 0).all() and (frame["val_loss"].dropna() > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return figure


def write_curves(log_path: str | Path, out_png: str | Path, *, title: str | None = None) -> Path:
    """Draw the curves of one stage's log into ``out_png`` (atomically); return its path."""
    frame = read_log(log_path)
    if frame.empty:
        raise TrainError(f"{log_path}: no epoch logged yet; nothing to plot")
    out_png = Path(out_png)
    if title is None:
        title = f"{out_png.stem.removeprefix('training-')} (λ={frame['lambda'].iloc[-1]})"
    figure = training_figure(frame, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    write_bytes_atomic(out_png, buffer.getvalue())
    return out_png


def curve_name(run: str, stage: str) -> str:
    """File name of a stage's figure: ``training-<run>-<stage>.png``."""
    return f"training-{run}-{stage}.png"


def write_all_curves(out: str | Path, reports: str | Path, *, runs: Sequence[str] | None = None) -> list[Path]:
    """Redraw every stage log under ``out`` (``<out>/<run>/<stage>/log.csv``) into ``reports``."""
    out, reports = Path(out), Path(reports)
    written = []
    for log_path in sorted(out.glob("*/*/log.csv")):
        run, stage = log_path.parent.parent.name, log_path.parent.name
        if runs is not None and run not in runs:
            continue
        written.append(write_curves(log_path, reports / curve_name(run, stage)))
    if not written:
        raise TrainError(f"{out}: no training logs (<run>/<stage>/log.csv) to plot")
    return written
