"""One measurement: encode, decode and score one image at one operating point.

:func:`code_row` times the calls (or not), checks what the codec returned and runs the codec's own
integrity checks outside the timed region; :func:`quality` computes PSNR (RGB and Y′CbCr) and MS-SSIM
against a reference prepared once per image (:func:`reference_of`), here or in a scoring process
(:mod:`bench.core.scoring`); :func:`score_row` finishes the row. :func:`measure_row` does all three. A codec fault marks
the row ``failed`` with the reason; it never ends the run. :func:`later_quality` fills the quality
columns a stored row predates, after checking the codec still gives that row's bitstream and PSNR.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.codec import Coder
from bench.core.errors import MetricError, PluginError
from bench.core.metric import Metric, Scorer
from bench.core.metrics import MsSsimReference, ms_ssim_db, psnr_ycbcr
from bench.core.screening import PreparedImage
from bench.core.store import write_bytes_atomic
from bench.core.timing import Timing, TimingPolicy, measure, time_call

__all__ = ["Coded", "Reference", "code_row", "later_quality", "measure_row", "metrics_label", "quality", "reference_of",
           "score_row", "timing_columns"]

@dataclass
class Reference:
    """What scores every reconstruction of one image: its MS-SSIM reference (or why there is none, e.g. the
    image is too small) and, per plug-in metric of the run, its prepared scorer (or why it cannot score it)."""

    ms_ssim: MsSsimReference | None
    error: str | None = None
    scorers: tuple[tuple[Metric, Scorer | None, str | None], ...] = ()

    @property
    def nbytes(self) -> int:
        """Bytes of the MS-SSIM reference's maps (what a cache of references counts)."""
        return self.ms_ssim.nbytes if self.ms_ssim is not None else 0


def metrics_label(metrics: Sequence[Metric], stored: str = "") -> str:
    """The ``metrics`` cell of a row scored by ``metrics`` beside those of its ``stored`` cell:
    ``name:version`` of each, sorted, comma-separated (a metric named in both keeps the new version)."""
    versions = dict(item.rsplit(":", 1) for item in stored.split(",") if ":" in item)
    versions.update({metric.name: str(metric.version) for metric in metrics})
    return ",".join(f"{name}:{versions[name]}" for name in sorted(versions))


def _metric_values(metric: Metric, scorer: Scorer, recon: np.ndarray) -> dict[str, float]:
    """``metric``'s columns for ``recon``; a plug-in that fills an undeclared column is an error."""
    values = scorer(recon)
    declared = {column.name for column in metric.columns}
    if not isinstance(values, Mapping) or set(values) - declared:
        extra = sorted(set(values) - declared) if isinstance(values, Mapping) else [repr(values)]
        raise PluginError(f"metric {metric.name!r} returned {', '.join(extra)}, not among its declared columns "
                          f"({', '.join(sorted(declared))}); fix its score() or its columns")
    return {name: float(value) for name, value in values.items()}


def quality(reference: Reference, pixels: np.ndarray, recon: np.ndarray,
            only: Collection[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """The quality columns of one reconstruction (PSNR, its Y′CbCr channels, MS-SSIM, the reference's plug-in
    metrics, or those of them named in ``only``, and the ``metrics`` cell naming them) and notes on what is
    missing: a metric that cannot score the image leaves its cells empty, and the note says why."""
    values: dict[str, Any] = psnr_ycbcr(pixels, recon)  # RGB PSNR and its Y′CbCr channels, one pass
    notes = []
    try:
        if reference.ms_ssim is None:
            raise MetricError(reference.error)
        value = reference.ms_ssim.score(recon)
        values["ms_ssim"] = value
        values["ms_ssim_db"] = ms_ssim_db(value)
    except MetricError as exc:
        notes.append(f"ms_ssim missing: {exc}")
    scorers = [item for item in reference.scorers if only is None or item[0].name in only]
    for metric, scorer, why in scorers:
        try:
            if scorer is None:
                raise MetricError(why)
            values.update(_metric_values(metric, scorer, recon))
        except MetricError as exc:
            notes.append(f"{metric.name} missing: {exc}")
    if scorers:
        values["metrics"] = metrics_label([metric for metric, _, _ in scorers])
    return values, notes


def later_quality(pixels: np.ndarray, data: bytes, recon: np.ndarray,
                   stored: Mapping[str, str]) -> tuple[dict[str, float], str | None]:
    """The Y′CbCr PSNR columns of a stored row, from its bitstream ``data`` made again and decoded.

    Returns (values, None), or ({}, why) when the new encode is not the stored one: another length
    than the stored ``bytes``, or a decoded image whose PSNR is not the stored ``psnr`` exactly.
    """
    if len(data) != int(float(stored["bytes"])):
        return {}, f"encoder gave {len(data)} bytes now, {stored['bytes']} in the stored row"
    values = psnr_ycbcr(pixels, recon)
    value = values.pop("psnr")
    if repr(value) != stored["psnr"]:  # as the store writes a float
        return {}, f"decoded PSNR {value!r} now, {stored['psnr']} in the stored row"
    return values, None


def timing_columns(encoded: Timing[Any], decoded: Timing[Any], policy: TimingPolicy, sampled: bool) -> dict[str, Any]:
    """A row's timing columns: medians, spreads, values and loops of each, and the sample flag (1 or 0 by
    duration; empty under a fixed number of repeats, which has no sample)."""
    return {
        "encode_s": encoded.median_s, "decode_s": decoded.median_s,
        "encode_spread_s": encoded.spread_s, "decode_spread_s": decoded.spread_s,
        "timing_repeats": encoded.repeats, "encode_loops": encoded.loops, "decode_loops": decoded.loops,
        "timing_sampled": "" if policy.repeats is not None else int(sampled),
    }


def reference_of(pixels: np.ndarray, metrics: Sequence[Metric] = ()) -> Reference:
    """The reference of an image (built once, scores every reconstruction of it): its MS-SSIM reference and
    each of ``metrics`` prepared (:meth:`Metric.prepare`), or why not (too small, …)."""
    try:
        ms_ssim, error = MsSsimReference(pixels), None
    except MetricError as exc:
        ms_ssim, error = None, str(exc)
    height, width = pixels.shape[:2]
    scorers = []
    for metric in metrics:
        if min(height, width) < metric.min_side:
            scorers.append((metric, None, f"{metric.name} needs both image sides of at least {metric.min_side} "
                                          f"pixels; got {height}×{width} (H×W)"))
            continue
        try:
            scorers.append((metric, metric.prepare(pixels), None))
        except MetricError as exc:
            scorers.append((metric, None, str(exc)))
    return Reference(ms_ssim, error, tuple(scorers))


@dataclass
class Coded:
    """A row's calls made and checked (:func:`code_row`), before its reconstruction is scored.

    ``recon`` is None when the row failed before it could be scored (``row`` says why)."""

    row: dict[str, Any]
    recon: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def code_row(
    coder: Coder,
    image: PreparedImage,
    *,
    timed: bool,
    policy: TimingPolicy = TimingPolicy(),
    sampled: bool = False,
    synchronize: Callable[[], None] | None = None,
    bitstream_path: Path | None = None,
) -> Coded:
    """Encode and decode one image at one operating point and check what the codec returned; never
    raises for codec faults.

    ``timed``: the calls are timed under ``policy`` (``sampled``: a row of the repeatability sample),
    after the caller's warm-up; otherwise each is made once, untimed. The codec's own checks
    (:meth:`Coder.verify`) run after the timed calls.
    """
    pixels = image.pixels
    height, width = pixels.shape[:2]
    row: dict[str, Any] = {"width": width, "height": height, "status": "ok"}
    try:
        coder.select(pixels)  # untimed; a no-op unless the point depends on the image
        if timed:
            encoded = time_call(lambda: coder.encode(pixels), policy, sampled=sampled, synchronize=synchronize)
            data = encoded.result
            decoded = time_call(lambda: coder.decode(data), policy, sampled=sampled, synchronize=synchronize)
        else:
            encoded = measure(lambda: coder.encode(pixels))
            data = encoded.result
            decoded = measure(lambda: coder.decode(data))
        recon = decoded.result
    except Exception as exc:  # a codec fault marks the row, the run goes on
        return Coded({**row, "status": "failed", "note": f"{type(exc).__name__}: {exc}"})
    if not isinstance(data, bytes | bytearray) or len(data) == 0:
        return Coded({**row, "status": "failed", "note": "encoder returned no bytes"})
    row["bytes"] = len(data)
    if bitstream_path is not None:
        write_bytes_atomic(bitstream_path, bytes(data))
    row["bpp"] = 8.0 * len(data) / (height * width)
    if not isinstance(recon, np.ndarray) or recon.shape != pixels.shape or recon.dtype != np.uint8:
        shape = getattr(recon, "shape", None)
        return Coded({**row, "status": "failed", "note": f"decoder returned {shape}, expected {pixels.shape} uint8"})
    if timed:
        row.update(timing_columns(encoded, decoded, policy, sampled))
    notes: list[str] = []
    checks = coder.verify(pixels, bytes(data), recon)
    if checks.get("status", "ok") != "ok":
        row["status"] = checks["status"]
    if checks.get("note"):
        notes.append(str(checks["note"]))
    row.update({k: v for k, v in checks.items() if k not in ("status", "note")})
    return Coded(row, recon, notes)


def score_row(coded: Coded, scores: tuple[dict[str, Any], list[str]], reco_path: Path | None = None) -> dict[str, Any]:
    """The finished row of ``coded`` with its ``scores`` (:func:`quality` of its reconstruction, computed
    here or in another process); the reconstruction written as PNG to ``reco_path`` if given."""
    row = dict(coded.row)
    if coded.recon is None:
        return row
    values, metric_notes = scores
    row.update(values)
    notes = coded.notes + metric_notes
    if not math.isfinite(row["psnr"]) and row["psnr"] != math.inf:
        row["status"] = "failed"
        notes.append("PSNR is not a number")
    row["note"] = "; ".join(notes)
    if reco_path is not None:  # atomically, never through a link (write_bytes_atomic)
        import io

        from PIL import Image

        png = io.BytesIO()
        Image.fromarray(coded.recon, "RGB").save(png, format="PNG")
        write_bytes_atomic(reco_path, png.getvalue())
    return row


def measure_row(
    coder: Coder,
    image: PreparedImage,
    reference: Reference,
    *,
    timed: bool,
    policy: TimingPolicy = TimingPolicy(),
    sampled: bool = False,
    synchronize: Callable[[], None] | None = None,
    reco_path: Path | None = None,
    bitstream_path: Path | None = None,
) -> dict[str, Any]:
    """Encode, decode and score one image at one operating point (:func:`code_row`, then :func:`score_row`
    in this process); never raises for codec faults."""
    coded = code_row(coder, image, timed=timed, policy=policy, sampled=sampled, synchronize=synchronize,
                     bitstream_path=bitstream_path)
    if coded.recon is None:
        return coded.row
    return score_row(coded, quality(reference, image.pixels, coded.recon), reco_path)
