"""Visual comparison: the same crop of one image, decoded by each codec at about the same bit rate.

For every codec, the operating point whose bit rate on the **whole** image is closest to the target is
chosen by encoding the whole image at each candidate point (:func:`candidate_points`: a rate search over
every setting of a parametric codec — JPEG's qualities 1…100, WebP's, AVIF's and HEIC's 0…100, JPEG
2000's integer compression ratios around the target's —, else the codec's own points, e.g. a learned
codec's λ, where the caption shows how far the nearest is from the target); ties go to the earlier
candidate. Only the chosen bitstream is
decoded. The figure shows the original crop and each codec's crop side by side, pixel for pixel
(optionally enlarged by an integer factor, nearest neighbour), each captioned with the point, its bpp
and its PSNR on the whole image. A JSON file lists the chosen points.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.core.codec import Codec
from bench.core.environment import git_commit, utc_now
from bench.core.errors import BenchError
from bench.core.images import load_rgb
from bench.core.store import write_bytes_atomic, write_text_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_TARGET_BPP",
    "Choice",
    "Region",
    "VisualError",
    "candidate_points",
    "closest_point",
    "default_region",
    "panel_layout",
    "visual_comparison",
    "visual_figure",
]

DEFAULT_IMAGE = "kodim19.png"
DEFAULT_TARGET_BPP = 0.25
DEFAULT_SIZE = 256
DEFAULT_REGIONS: dict[str, tuple[int, int]] = {"kodim19.png": (40, 400)}
"""(left, top) of hand-picked crops: kodim19's life ring, picket fence and clapboard."""
_QUALITIES = tuple(f"q{q}" for q in range(0, 101))
SEARCH_POINTS: dict[str, tuple[str, ...]] = {
    "jpeg": _QUALITIES[1:], "webp": _QUALITIES, "avif": _QUALITIES, "avif-444": _QUALITIES, "heic": _QUALITIES,
    "heic-444": _QUALITIES,
}
"""Candidate points of codecs whose every setting is worth trying (otherwise the codec's default points)."""
RATIO_SEARCH: tuple[str, ...] = ("jpeg2000",)
"""Codecs coded at any compression ratio vs 24-bit RGB (``ratio96`` ≈ 0.25 bpp): tried at every integer
ratio within ±25 % of 24/target."""

DPI = 100
GAP = 12
"""Pixels between panels and around the figure."""
CAPTION = 46
"""Pixels of caption band above each panel."""
TITLE = 34
"""Pixels of the title band at the top."""


class VisualError(BenchError):
    """A visual comparison that cannot be made (bad region, encoder failure)."""


@dataclass(frozen=True)
class Region:
    """A crop: left, top, width, height in pixels of the original image."""

    left: int
    top: int
    width: int
    height: int

    def cut(self, image: np.ndarray) -> np.ndarray:
        return image[self.top : self.top + self.height, self.left : self.left + self.width]


@dataclass(frozen=True)
class Choice:
    """The operating point of one codec closest to the target bit rate, and its decoded image."""

    codec: str
    point: str
    bytes: int
    bpp: float
    psnr: float
    candidates: int
    recon: np.ndarray = field(repr=False, compare=False)

    def record(self) -> dict[str, object]:
        return {"codec": self.codec, "point": self.point, "bytes": self.bytes, "bpp": self.bpp,
                "psnr": self.psnr, "candidates": self.candidates}


def candidate_points(codec: Codec, target_bpp: float = DEFAULT_TARGET_BPP) -> tuple[str, ...]:
    """Points tried for ``codec`` (see :data:`SEARCH_POINTS`, :data:`RATIO_SEARCH`), else its default points."""
    if codec.name in SEARCH_POINTS:
        return SEARCH_POINTS[codec.name]
    if codec.name in RATIO_SEARCH:
        centre = 24.0 / target_bpp
        return tuple(f"ratio{r}" for r in range(max(1, math.floor(centre / 1.25)), math.ceil(centre * 1.25) + 1))
    return tuple(codec.default_points())


def closest_point(codec: Codec, image: np.ndarray, target_bpp: float,
                  points: Sequence[str] | None = None) -> Choice:
    """Encode ``image`` at every candidate point; decode the one whose bpp is closest to ``target_bpp``."""
    from bench.core.metrics import psnr

    if not (math.isfinite(target_bpp) and target_bpp > 0):
        raise VisualError(f"target bit rate must be a positive number of bpp, got {target_bpp!r}")
    candidates = tuple(points) if points is not None else candidate_points(codec, target_bpp)
    if not candidates:
        raise VisualError(f"{codec.name}: no operating points to try")
    height, width = image.shape[:2]
    best: tuple[float, str, bytes] | None = None
    for point in candidates:
        coder = codec.coder(point)
        try:
            data = coder.encode(image)
        except Exception as exc:  # a codec fault names the codec and point
            raise VisualError(f"{codec.name} {point}: encoding failed ({type(exc).__name__}: {exc})") from exc
        distance = abs(8.0 * len(data) / (height * width) - target_bpp)
        if best is None or distance < best[0]:
            best = (distance, point, data)
    _, point, data = best
    try:
        recon = codec.coder(point).decode(data)
    except Exception as exc:
        raise VisualError(f"{codec.name} {point}: decoding failed ({type(exc).__name__}: {exc})") from exc
    if not isinstance(recon, np.ndarray) or recon.shape != image.shape or recon.dtype != np.uint8:
        raise VisualError(f"{codec.name} {point}: decoder returned {getattr(recon, 'shape', None)}, "
                          f"expected {image.shape} uint8")
    bpp = 8.0 * len(data) / (height * width)
    return Choice(codec.name, point, len(data), bpp, psnr(image, recon), len(candidates), recon)


def default_region(name: str, image: np.ndarray, size: int = DEFAULT_SIZE) -> Region:
    """A hand-picked crop for known images, else the ``size``² window with the most detail.

    Detail: the sum of absolute luma gradients, over windows on a 16-pixel grid (first maximum wins).
    """
    height, width = image.shape[:2]
    if size > min(height, width):
        raise VisualError(f"crop size {size} exceeds the image ({width}×{height}); choose a smaller size")
    if name in DEFAULT_REGIONS:
        left, top = DEFAULT_REGIONS[name]
        if left + size <= width and top + size <= height:
            return Region(left, top, size, size)
    luma = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    detail = np.zeros((height, width))
    detail[:, 1:] += np.abs(np.diff(luma, axis=1))
    detail[1:, :] += np.abs(np.diff(luma, axis=0))
    integral = np.pad(detail.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    best = (-1.0, 0, 0)
    for top in range(0, height - size + 1, 16):
        for left in range(0, width - size + 1, 16):
            total = (integral[top + size, left + size] - integral[top, left + size]
                     - integral[top + size, left] + integral[top, left])
            if total > best[0]:
                best = (total, left, top)
    return Region(best[1], best[2], size, size)


def panel_layout(panels: int, region: Region, zoom: int, columns: int) -> tuple[int, int, int, int]:
    """(figure width, figure height, columns, rows) in pixels for ``panels`` crops."""
    cols = max(1, min(columns, panels))
    rows = math.ceil(panels / cols)
    width = cols * region.width * zoom + (cols + 1) * GAP
    height = TITLE + rows * (CAPTION + region.height * zoom) + (rows + 1) * GAP
    return width, height, cols, rows


def _off_target(bpp: float, target_bpp: float | None) -> str:
    """`` (+108% vs 0.25)`` when the rate is more than 10% away from the target, else nothing."""
    if target_bpp is None or abs(bpp / target_bpp - 1) <= 0.1:
        return ""
    return f" ({100 * (bpp / target_bpp - 1):+.0f}% vs {target_bpp:g})".replace("-", "−")


def visual_figure(original: np.ndarray, choices: Sequence[Choice], region: Region, *, zoom: int = 2,
                  columns: int = 3, title: str = "", target_bpp: float | None = None) -> Figure:
    """Original crop first, then each codec's crop, pixel-exact (×``zoom``), captioned.

    With ``target_bpp``, a caption says how far a rate more than 10% off the target is from it.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if zoom < 1:
        raise VisualError(f"zoom must be a positive integer, got {zoom!r}")
    panels = [(f"original\n{region.width}×{region.height} crop at ({region.left}, {region.top})", original)]
    panels += [(f"{c.codec} {c.point}\n{c.bpp:.3f} bpp{_off_target(c.bpp, target_bpp)}, PSNR {c.psnr:.2f} dB",
                c.recon) for c in choices]
    width, height, cols, _ = panel_layout(len(panels), region, zoom, columns)
    pw, ph = region.width * zoom, region.height * zoom
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, facecolor="white")
        FigureCanvasAgg(figure)
        figure.text(0.5, 1 - (TITLE / 2) / height, title, ha="center", va="center", fontsize=12)
        for i, (caption, pixels) in enumerate(panels):
            row, col = divmod(i, cols)
            left = GAP + col * (pw + GAP)
            top = TITLE + GAP + row * (CAPTION + ph + GAP)  # from the top, in pixels
            crop = np.repeat(np.repeat(region.cut(pixels), zoom, axis=0), zoom, axis=1)
            figure.figimage(crop, xo=left, yo=height - (top + CAPTION + ph), origin="upper")
            figure.text((left + pw / 2) / width, 1 - (top + CAPTION / 2) / height, caption,
                        ha="center", va="center", fontsize=10, linespacing=1.3)
    return figure


def visual_comparison(
    image_path: str | Path,
    codecs: Sequence[Codec],
    out_dir: str | Path,
    *,
    target_bpp: float = DEFAULT_TARGET_BPP,
    region: Region | None = None,
    size: int = DEFAULT_SIZE,
    zoom: int = 2,
    columns: int = 3,
    points: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[Path], list[Choice]]:
    """Write ``visual-<image>.png`` and ``visual-<image>.json`` into ``out_dir``.

    ``region`` defaults to :func:`default_region` with ``size``; ``points`` overrides the candidate
    points of named codecs. Returns the files written and the choices made.
    """
    from bench.analysis.plots import figure_bytes

    path = Path(image_path)
    image = load_rgb(path).pixels
    if not codecs:
        raise VisualError("no codec to compare; name at least one")
    region = region or default_region(path.name, image, size)
    height, width = image.shape[:2]
    if (region.left < 0 or region.top < 0 or region.width < 1 or region.height < 1
            or region.left + region.width > width or region.top + region.height > height):
        raise VisualError(f"crop {region} does not fit in {path.name} ({width}×{height}); move or shrink it")
    choices = [closest_point(c, image, target_bpp, (points or {}).get(c.name)) for c in codecs]
    title = (f"{path.name}: per codec the operating point closest to {target_bpp:g} bpp; "
             f"bpp and PSNR of the whole image; crops shown ×{zoom}")
    figure = visual_figure(image, choices, region, zoom=zoom, columns=columns, title=title, target_bpp=target_bpp)
    out = Path(out_dir)
    stem = out / f"visual-{path.stem}"
    png, record = Path(f"{stem}.png"), Path(f"{stem}.json")
    write_bytes_atomic(png, figure_bytes(figure, "png"))
    summary = {
        "image": path.name,
        "width": width,
        "height": height,
        "target_bpp": target_bpp,
        "region": {"left": region.left, "top": region.top, "width": region.width, "height": region.height},
        "zoom": zoom,
        "psnr_of": "whole image",
        "choices": [c.record() for c in choices],
        "command": list(sys.argv),
        "git_commit": git_commit(),
        "date": utc_now(),
    }
    write_text_atomic(record, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return [png, record], choices
