"""Rate–quality curves: one :class:`Curve` per codec, measured or published.

* :func:`measured_curves` — one curve per codec from stored rows of one identity (:mod:`bench.core.identity`),
  averaged by :func:`bench.analysis.summary.summarize` (its convention: mean bpp, mean PSNR, MS-SSIM dB of the
  mean MS-SSIM).
* :func:`published_curve` — CompressAI's published Kodak curves shipped in ``bench/data/reference/``
  (see its ``SOURCE.md``), by key (``"jpeg"``, ``"vtm"``, ``"mbt2018"``, ``"mbt2018-8bit"`` …).
* :func:`reference_to_curve` — any curve read from a file (:mod:`bench.analysis.reference`), named
  ``ref:<name>``; :mod:`bench.analysis.refcurves` finds them from the command line's ``--reference``.

Published and reference curves are means only (:attr:`Curve.published`): no per-image data, so no
bootstrap interval when one is the anchor.

BD tables, plots, the report and the export read curves from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.reference import ReferenceCurve, read_reference
from bench.analysis.summary import summarize
from bench.core.errors import BenchError
from bench.core.identity import check_measured_once, current_rows
from bench.core.metrics import ms_ssim_db

__all__ = [
    "BUILTIN_AXES",
    "DEFAULT_OVERLAYS",
    "BD_METRICS",
    "METRICS",
    "PUBLISHED",
    "PUBLISHED_DATASET",
    "PUBLISHED_PREFIX",
    "REFERENCE_PREFIX",
    "Axis",
    "Curve",
    "CurveError",
    "dataset_of",
    "measured_curves",
    "plugin_axes",
    "published_curve",
    "published_for",
    "reference_to_curve",
]

METRICS: dict[str, str] = {"psnr": "PSNR (RGB)", "ms_ssim_db": "MS-SSIM (RGB)"}
"""Quality metrics of a curve (attribute name → axis name); both in dB."""

BD_METRICS: dict[str, str] = {**METRICS, "psnr_y": "PSNR-Y (BT.709 Y′)"}
"""The built-in metrics of the BD tables: those of the figures, and luma PSNR (where the rows have it); the
plug-in metrics a set of rows was scored by add theirs (:func:`plugin_axes`)."""

PUBLISHED_PREFIX = "published:"
"""Names of published curves, as anchors or overlays: ``published:<key>``."""

REFERENCE_PREFIX = "ref:"
"""Names of curves read from reference files: ``ref:<name in the file>``."""

_ZOO = tuple(f"quality{q}" for q in range(1, 9))
PUBLISHED: dict[str, tuple[str, tuple[str, ...] | None, str]] = {
    "jpeg": ("kodak/jpeg.json", tuple(f"q{q}" for q in range(5, 100, 5)), "JPEG, Pillow 7.1.2"),
    "bmshj2018-factorized": ("kodak/compressai-bmshj2018-factorized_mse_cpu.json", _ZOO, "Factorized, MSE"),
    "bmshj2018-hyperprior": ("kodak/compressai-bmshj2018-hyperprior_mse_cpu.json", _ZOO, "Hyperprior, MSE"),
    "mbt2018": ("kodak/compressai-mbt2018_mse_cpu.json", _ZOO, "Context+Hyperprior, MSE"),
    "bmshj2018-factorized-8bit": (
        "kodak-8bit/compressai-bmshj2018-factorized_mse_ans_cuda.json", _ZOO, "Factorized, MSE, 8-bit metrics"),
    "bmshj2018-hyperprior-8bit": (
        "kodak-8bit/compressai-bmshj2018-hyperprior_mse_ans_cuda.json", _ZOO, "Hyperprior, MSE, 8-bit metrics"),
    "mbt2018-8bit": (
        "kodak-8bit/compressai-mbt2018_mse_ans_cuda.json", _ZOO, "Context+Hyperprior, MSE, 8-bit metrics"),
    "mbt2018-mean": ("kodak/compressai-mbt2018-mean_mse_cpu.json", _ZOO, "Mean+Scale Hyperprior, MSE"),
    "cheng2020-anchor": ("kodak/compressai-cheng2020-anchor_mse_cpu.json", _ZOO[:6], "Cheng 2020 anchor, MSE"),
    "cheng2020-attn": ("kodak/compressai-cheng2020-attn_mse_cpu.json", _ZOO[:6], "Cheng 2020 attention, MSE"),
    "vtm": ("kodak/vtm.json", None, "VTM (VVC reference software)"),
    "hm": ("kodak/hm.json", None, "HM (HEVC reference software)"),
    "bpg": ("kodak/bpg_444_x265_ycbcr.json", None, "BPG 0.9.8, 4:4:4, x265, YCbCr"),
    "av1": ("kodak/av1.json", None, "AV1"),
    "webp": ("kodak/webp.json", tuple(f"q{q}" for q in range(5, 100, 5)), "WebP, Pillow 7.1.2"),
    "jpeg2000": ("kodak/jpeg2000.json", None, "JPEG 2000, ffmpeg 3.4.6"),
}
"""Shipped published curves (Kodak only): key → (file under bench/data/reference, point labels or None for
``p1``…``pN`` in file order, what)."""

_COMMIT = {key: " (commit 869a9f5)" for key in (
    "jpeg", "bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018", "bmshj2018-factorized-8bit",
    "bmshj2018-hyperprior-8bit", "mbt2018-8bit")}
"""The curves whose CompressAI commit is known (``SOURCE.md``)."""

DEFAULT_OVERLAYS = ("jpeg", "bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018")
"""The published curves drawn beside a measured codec of the same name by default (:func:`published_for`);
the others are drawn when asked for (``--reference published:<key>``)."""

PUBLISHED_DATASET = "kodak"


class CurveError(BenchError):
    """Stored rows or a published curve that cannot be turned into a rate–quality curve."""


@dataclass(frozen=True)
class Axis:
    """A quality axis of curves and BD tables: a built-in metric, or a plug-in metric's primary column."""

    key: str
    """The curve's quality (built-in: ``psnr``, ``ms_ssim_db``, ``psnr_y``; plug-in: its primary column)."""
    title: str
    """Name of the axis in tables and figure titles (``PSNR (RGB)``, ``iw-ssim``)."""
    short: str
    """Short name, in BD-quality's name (``BD-PSNR``) and difference axes."""
    unit: str = "dB"
    higher_is_better: bool = True
    metric: str = ""
    """The metric's name (``psnr``, ``ms-ssim``, ``psnr-ycbcr``, or the plug-in's)."""

    @property
    def sign(self) -> float:
        """+1, or −1 for a lower-is-better metric: BD integrals run on ``sign × value``, so that a negative
        BD-rate still means fewer bits at equal quality."""
        return 1.0 if self.higher_is_better else -1.0

    @property
    def unit_text(self) -> str:
        """`` [unit]``, or nothing for a unitless score."""
        return f" [{self.unit}]" if self.unit else ""


BUILTIN_AXES: dict[str, Axis] = {
    "psnr": Axis("psnr", BD_METRICS["psnr"], "PSNR", metric="psnr"),
    "ms_ssim_db": Axis("ms_ssim_db", BD_METRICS["ms_ssim_db"], "MS-SSIM", metric="ms-ssim"),
    "psnr_y": Axis("psnr_y", BD_METRICS["psnr_y"], "PSNR-Y", metric="psnr-ycbcr"),
}
"""The built-in axes, in the order of the tables."""


def _scored_by(rows: pd.DataFrame) -> list[str]:
    """The plug-in metric names of the rows' ``metrics`` cells (``name:version``, comma-separated)."""
    if "metrics" not in rows:
        return []
    names = {item.rsplit(":", 1)[0].strip() for cell in rows["metrics"].dropna().unique()
             for item in str(cell).split(",") if item.strip()}
    return sorted(name for name in names if name)


def plugin_axes(rows: pd.DataFrame) -> tuple[Axis, ...]:
    """The axes of the plug-in metrics that scored ``rows`` (their ``metrics`` cells), those of JPEG AI's
    set first in its order, then by name; a metric whose primary column no successful row has a finite
    value of is absent. A metric whose plug-in is not loaded is an error naming it."""
    from bench.core.errors import MetricError
    from bench.core.metric_registry import SETS, create_metric

    names = _scored_by(rows)
    order = {name: i for i, name in enumerate(SETS["jpeg-ai"])}
    names.sort(key=lambda name: (order.get(name, len(order)), name))
    ok = rows["status"] == "ok" if "status" in rows else pd.Series(True, index=rows.index)
    axes = []
    for name in names:
        try:
            metric = create_metric(name)
        except MetricError as exc:
            raise CurveError(f"the rows were scored by metric {name!r}, which cannot be loaded ({exc}); "
                             "make its plug-in findable (metrics/ or BENCH_METRIC_PATH)") from None
        column = metric.primary
        if column not in rows:
            continue
        values = pd.to_numeric(rows.loc[ok, column], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).any():
            continue
        axes.append(Axis(column, metric.name, metric.name, metric.unit, bool(metric.higher_is_better), metric.name))
    return tuple(axes)


@dataclass(frozen=True)
class Curve:
    """A mean rate–quality curve, one entry per operating point (measured: sorted by bpp).

    ``ms_ssim`` is raw MS-SSIM; NaN marks a value that is missing (e.g. every row of the point failed).
    ``images`` and ``failed`` count the rows behind each point (``None`` for published curves).
    """

    name: str
    label: str
    points: tuple[str, ...]
    bpp: tuple[float, ...]
    psnr: tuple[float, ...]
    ms_ssim: tuple[float, ...]
    encode_s: tuple[float, ...]
    decode_s: tuple[float, ...]
    source: str
    images: tuple[int, ...] | None = None
    failed: tuple[int, ...] | None = None
    dataset: str | None = None
    """The dataset the curve was measured on, where known (published: kodak; a file: as it declares)."""
    psnr_y: tuple[float, ...] | None = None
    """Mean PSNR of Y′ (BT.709) per point, where the rows have it (``None`` for published curves)."""
    dataset_images: int | None = None
    """How many images a published or reference curve's means are over, where its file (or tag) says."""
    extra: tuple[tuple[Axis, tuple[float, ...]], ...] = ()
    """Plug-in metrics: each axis with its mean value per point (the mean of the images' values)."""

    @property
    def published(self) -> bool:
        """A mean curve from elsewhere (shipped or from a file): no per-image rows behind it."""
        return self.name.startswith((PUBLISHED_PREFIX, REFERENCE_PREFIX))

    @property
    def ms_ssim_db(self) -> tuple[float, ...]:
        """MS-SSIM in dB of each point's mean MS-SSIM (NaN stays NaN)."""
        with np.errstate(invalid="ignore"):
            return tuple(float(v) for v in ms_ssim_db(np.asarray(self.ms_ssim, dtype=np.float64)))

    @property
    def axes(self) -> dict[str, Axis]:
        """The curve's axes by key: the built-in ones, then its plug-in metrics'."""
        return {**BUILTIN_AXES, **{axis.key: axis for axis, _ in self.extra}}

    def quality(self, metric: str) -> np.ndarray:
        """``psnr``, ``ms_ssim_db``, ``psnr_y`` or a plug-in metric's column as a float64 array in the metric's
        own values (NaN where the curve has no value; all NaN for a plug-in metric it was not scored by)."""
        if metric in BD_METRICS:
            values = getattr(self, metric)
        else:
            values = next((v for axis, v in self.extra if axis.key == metric), None)
        if values is None:
            return np.full(len(self.points), np.nan)
        return np.asarray(values, dtype=np.float64)

    def bd_quality(self, metric: str) -> np.ndarray:
        """:meth:`quality` as BD integrals use it: negated for a lower-is-better metric."""
        axis = self.axes.get(metric)
        return self.quality(metric) * (1.0 if axis is None else axis.sign)

    def rate(self) -> np.ndarray:
        return np.asarray(self.bpp, dtype=np.float64)

    def subset(self, points: Iterable[str]) -> Curve:
        """The curve restricted to ``points`` (kept in this curve's order)."""
        wanted = set(points)
        unknown = wanted - set(self.points)
        if unknown:
            raise CurveError(f"{self.name} has no operating points {sorted(unknown)}; it has {list(self.points)}")
        keep = [i for i, p in enumerate(self.points) if p in wanted]

        def pick(values: tuple | None) -> tuple | None:
            return None if values is None else tuple(values[i] for i in keep)

        return replace(
            self, points=pick(self.points), bpp=pick(self.bpp), psnr=pick(self.psnr), ms_ssim=pick(self.ms_ssim),
            encode_s=pick(self.encode_s), decode_s=pick(self.decode_s), images=pick(self.images),
            failed=pick(self.failed), psnr_y=pick(self.psnr_y),
            extra=tuple((axis, pick(values)) for axis, values in self.extra),
        )


# --- measured -----------------------------------------------------------------------------------


def dataset_of(rows: pd.DataFrame) -> str:
    """The one dataset the rows belong to; raises when there are none or several."""
    names = sorted(set(rows["dataset"].dropna()))
    if len(names) != 1:
        found = ", ".join(names) if names else "none"
        raise CurveError(f"results must hold exactly one dataset (found: {found}); pass one dataset's rows.csv")
    return names[0]


def measured_curves(rows: pd.DataFrame) -> dict[str, Curve]:
    """One mean curve per codec of one dataset's rows, keyed (and ordered) by codec name.

    Per codec, the rows of one identity (:func:`bench.core.identity.current_rows`: its current settings, unless
    the caller selected others); an image measured twice within it is refused (a store fault).
    """
    if rows.empty:
        raise CurveError("the results hold no rows; run `python -m bench run` first")
    dataset = dataset_of(rows)
    rows = current_rows(rows)[0]
    check_measured_once(rows)
    summary = summarize(rows)
    extra = _plugin_means(rows)
    curves: dict[str, Curve] = {}
    for codec in sorted(set(summary["codec"])):
        part = summary[summary["codec"] == codec]

        def floats(column: str, part: pd.DataFrame = part) -> tuple[float, ...]:
            return tuple(float(v) for v in part[column])

        curves[codec] = Curve(
            name=codec,
            label=codec,
            points=tuple(str(p) for p in part["point"]),
            bpp=floats("bpp"),
            psnr=floats("psnr"),
            ms_ssim=floats("ms_ssim"),
            encode_s=floats("encode_s"),
            decode_s=floats("decode_s"),
            source=f"measured on {dataset}",
            images=tuple(int(v) for v in part["images"]),
            failed=tuple(int(v) for v in part["failed"]),
            psnr_y=floats("psnr_y"),
            extra=tuple((axis, tuple(float(means.get((codec, str(p)), math.nan)) for p in part["point"]))
                        for axis, means in extra),
        )
    return curves


def _plugin_means(rows: pd.DataFrame) -> list[tuple[Axis, dict[tuple[str, str], float]]]:
    """Per plug-in axis of ``rows``: (codec, point) → the mean of the successful rows' finite values (as
    PSNR is averaged); a point without one is absent."""
    out = []
    good = rows[rows["status"] == "ok"]
    for axis in plugin_axes(rows):
        values = pd.to_numeric(good[axis.key], errors="coerce")
        values = values.where(np.isfinite(values))
        means = values.groupby([good["codec"].astype(str), good["point"].astype(str)]).mean().dropna()
        out.append((axis, {key: float(v) for key, v in means.items()}))
    return out


# --- published ----------------------------------------------------------------------------------


def published_curve(key: str) -> Curve:
    """A shipped published curve by key (``"jpeg"``, ``"mbt2018-8bit"`` …), named ``published:<key>``."""
    key = key.removeprefix(PUBLISHED_PREFIX)
    if key not in PUBLISHED:
        raise CurveError(f"no published curve {key!r}; shipped: {', '.join(PUBLISHED_PREFIX + k for k in PUBLISHED)}")
    relative, points, what = PUBLISHED[key]
    with resources.as_file(resources.files("bench") / "data" / "reference" / relative) as path:
        reference = read_reference(path)
    n = len(reference.bpp)
    points = points or tuple(f"p{i}" for i in range(1, n + 1))
    if n != len(points) or reference.psnr is None or reference.ms_ssim is None:
        raise CurveError(f"bench/data/reference/{relative}: expected {len(points)} points with PSNR and MS-SSIM")
    nan = (math.nan,) * n
    return Curve(
        name=PUBLISHED_PREFIX + key,
        label=f"{key} (published)",
        points=points,
        bpp=reference.bpp,
        psnr=reference.psnr,
        ms_ssim=reference.ms_ssim,
        encode_s=reference.extra.get("encoding_time", nan),
        decode_s=reference.extra.get("decoding_time", nan),
        source=f"CompressAI results/image/kodak{_COMMIT.get(key, '')}, {Path(relative).name}: {what}",
        dataset=PUBLISHED_DATASET,
        dataset_images=reference.images,
    )


def published_for(codecs: Iterable[str], dataset: str) -> list[Curve]:
    """The published curves of the codecs that have one among :data:`DEFAULT_OVERLAYS`, for the dataset
    they were measured on."""
    if dataset != PUBLISHED_DATASET:
        return []
    return [published_curve(codec) for codec in codecs if codec in DEFAULT_OVERLAYS]


def reference_to_curve(reference: ReferenceCurve) -> Curve:
    """A curve read from a file as a :class:`Curve` named ``ref:<name>``, its points ``p1``…``pN`` when the
    file has no labels; a quality the file lacks is NaN (BD values on it say so)."""
    n = len(reference.bpp)
    nan = (math.nan,) * n
    what = f": {reference.description}" if reference.description and reference.description != reference.name else ""
    return Curve(
        name=REFERENCE_PREFIX + reference.name,
        label=reference.name,
        points=reference.points or tuple(f"p{i}" for i in range(1, n + 1)),
        bpp=reference.bpp,
        psnr=reference.psnr or nan,
        ms_ssim=reference.ms_ssim or nan,
        encode_s=reference.extra.get("encoding_time", nan),
        decode_s=reference.extra.get("decoding_time", nan),
        source=f"{reference.source}{what}" + (f" ({reference.dataset_source})" if reference.dataset_source else ""),
        dataset=reference.dataset,
        dataset_images=reference.images,
    )


# --- export -------------------------------------------------------------------------------------
