"""Load an image file as 8-bit RGB pixels, refusing anything that would need a guess.

The benchmark measures distortion on 8-bit RGB, so every input is reduced to an
``H×W×3`` ``uint8`` array exactly as stored. Conversions that lose nothing are done
and described in :attr:`LoadedImage.note`; anything else is refused with an
:class:`~bench.core.errors.ImageError` whose one-line message names the file and the fix.

Policy, by Pillow mode after decoding:

=====================  ===================================================================
Mode                   What happens
=====================  ===================================================================
RGB (8-bit)            used as is (``note`` is None)
L, 1                   grey level replicated to R = G = B ("1" gives 0 or 255), with a note
P                      palette looked up to RGB, with a note; refused if its transparency
                       is used (some pixel not fully opaque)
LA, PA, RGBA, RGBa     alpha dropped with a note when every pixel is fully opaque (255);
                       otherwise refused: flatten onto a background first
L / RGB with a         treated like the alpha modes above (the key colour is transparency)
transparency key
16-bit PNG / TIFF /    refused: Pillow opens some of these as "RGB" by truncating or
PPM (maxval > 255)     clamping, and the benchmark will not pick a bit-depth reduction for
                       you; convert to 8 bits per channel yourself
I;16*, I, F            refused (16/32-bit integer or float samples), same fix
CMYK, YCbCr, LAB, HSV  refused: convert to sRGB with a colour-managed tool
                       (JPEG's own YCbCr is decoded to RGB by Pillow and is fine)
other modes            refused
=====================  ===================================================================

Other rules:

* Only PNG, JPEG (including MPO, the multi-picture JPEG some cameras write), PPM/PGM,
  BMP, TIFF and WebP are decoded, whatever the suffix; for multi-frame files the first
  frame is used.
* PPM/PGM files with a maxval below 255 are rescaled to 0..255 by Pillow; a note says so.
* Truncated, damaged, missing or non-image files are refused. The whole image is decoded
  inside the check, and ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is never set, so a
  truncated PNG or JPEG cannot slip through as a partly grey picture.
* EXIF orientation is not applied: pixels are used as stored (a note mentions a non-trivial
  orientation tag), so results do not depend on the viewer's rotation.
* Embedded ICC profiles are ignored: the stored RGB values are what is measured.
* An image with a side below :data:`MIN_SIDE` (16) pixels is refused at screening
  (:func:`check_size`, called by :func:`bench.core.screening.prepare_images`), not by
  :func:`load_rgb`: it decodes fine, but its rate would be mostly container and padding.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.core.errors import ImageError, one_line

__all__ = ["IMAGE_SUFFIXES", "JPEG_FIXED_BYTES", "MIN_SIDE", "LoadedImage", "check_size", "load_rgb",
           "pixel_sha256", "too_small"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp",
)
"""File suffixes (lower case, with the dot) that :func:`bench.core.datasets.folder_dataset` picks up."""

MIN_SIDE = 16
"""The smallest width and height, in pixels, of an image the benchmark measures.

Why: a codec's rate includes what it writes whatever the image (headers, tables) and the padding it
codes beyond the image's edge, and on a tiny image that is nearly all of it. The JPEG codec (Pillow,
4:2:0, no optimisation) writes :data:`JPEG_FIXED_BYTES` = 625 bytes before any pixel is coded, 5 000
bits: over 5 000 bpp on a 1×1 image, enough to lead the mean bpp of hundreds of normal images. Why
16: that fixed part alone exceeds the raw 8-bit RGB pixels (24 bpp) up to 14 pixels a side
(5 000 / 14² ≈ 25.5 bpp), and 16 is the side of one 4:2:0 JPEG block (MCU), which a smaller image is
padded to anyway; the learned models pad to 64 likewise. At 16×16 the fixed part is 19.5 bpp.

This refuses degenerate inputs (icons, 1-pixel strips, placeholders); it does not make sizes
comparable: on natural content the 625 bytes are still about half of a q50 JPEG file at 96×96 and
1–2 % at Kodak's 768×512, so a mean bpp over images of very different sizes leans towards the small
ones. Keep a dataset's images of similar size; ``payload_bytes`` counts the coded data alone.

Such images are **refused** at screening like the other unusable files (listed with the reason and
the fix; ``--strict`` refuses the run), not measured and left out of the means: a stored row that
must never be averaged is a trap for every later reader of ``rows.csv``, and refusing is what the
harness already does with an input it cannot measure meaningfully. Rows of such images stored before
this check are kept out of averages with :func:`too_small`.
"""

JPEG_FIXED_BYTES = 625
"""Bytes of a baseline JPEG file from the JPEG codec that do not depend on the pixels: SOI 2, APP0
(JFIF) 18, two DQT 2·69, SOF0 19, four standard DHT 33 + 183 + 33 + 183, SOS header 14, EOI 2."""

# Pillow format names accepted by load_rgb; bit depth is checked for each of them.
_FORMATS = ("PNG", "JPEG", "PPM", "BMP", "TIFF", "WEBP")  # "JPEG" also opens MPO files

_CONVERSION_NOTES = {
    "L": "grayscale (L) replicated to RGB",
    "LA": "grayscale (LA) replicated to RGB",
    "1": "bilevel (1) replicated to RGB as 0/255",
    "P": "palette (P) converted to RGB",
    "PA": "palette (PA) converted to RGB",
}
_ALPHA_MODES = {"LA", "PA", "RGBA", "RGBa"}
_KEYED_MODES = {"1", "L", "P", "RGB"}  # may carry a PNG tRNS colour key or palette alpha
_HIGH_DEPTH_MODES = {"I", "F", "I;16", "I;16L", "I;16B", "I;16N", "I;16S", "I;32"}
_COLOUR_MANAGED_MODES = {"CMYK", "YCbCr", "LAB", "HSV"}
_EXIF_ORIENTATION = 0x0112

_TO_8BIT = "convert it to 8 bits per channel yourself (the benchmark measures 8-bit RGB)"


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels and a description of any conversion that was done."""

    pixels: np.ndarray
    """``H×W×3`` ``uint8``, C-contiguous."""
    note: str | None = None
    """What was converted (e.g. "grayscale (L) replicated to RGB"), or None for plain RGB."""


def load_rgb(path: str | Path) -> LoadedImage:
    """Decode ``path`` to 8-bit RGB following the module's policy.

    Raises
    ------
    ImageError
        The file is missing, unreadable, truncated, or its mode is refused by the policy.
    """
    path = Path(path)
    try:
        with Image.open(path, formats=_FORMATS) as img:
            _check_bit_depth(img, path)
            img.load()  # decode everything now: truncation must raise here, not later
            pixels, notes = _to_rgb(img, path)
            notes += _orientation_note(img)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image file; pass an image file") from None
    except PermissionError as exc:
        raise ImageError(f"{path}: cannot read it ({one_line(exc)}); fix its permissions") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{path}: {one_line(exc)}; if you trust this file, raise PIL.Image.MAX_IMAGE_PIXELS"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: not a readable PNG, JPEG, PPM/PGM, BMP, TIFF or WebP image "
            "(damaged, or another format); re-export it as PNG"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data with any of these.
        raise ImageError(
            f"{path}: cannot decode it ({one_line(exc)}); the file is truncated or damaged, "
            "re-download or re-export it"
        ) from None

    note = "; ".join(notes) if notes else None
    if note:
        log.debug("%s: %s", path, note)
    return LoadedImage(pixels=pixels, note=note)


def too_small(width: int, height: int) -> bool:
    """Whether a ``width × height`` image is below :data:`MIN_SIDE` on either side (see there for why).

    Also works elementwise on numpy arrays or pandas Series (e.g. the ``width`` and ``height``
    columns of stored rows), returning a boolean array; a missing (NaN) size is not too small.
    """
    small = np.minimum(width, height) < MIN_SIDE
    return bool(small) if np.ndim(small) == 0 else small


def check_size(pixels: np.ndarray, path: str | Path) -> None:
    """Raise :class:`ImageError` (one line naming ``path`` and the fix) when ``pixels`` is :func:`too_small`."""
    height, width = pixels.shape[:2]
    if too_small(width, height):
        raise ImageError(
            f"{path}: {width}×{height} pixels, below the {MIN_SIDE}-pixel minimum side (fixed headers would be most "
            f"of its rate: JPEG's {JPEG_FIXED_BYTES} bytes are {8 * JPEG_FIXED_BYTES / max(width * height, 1):.0f} bpp "
            f"here); remove it or use an image at least {MIN_SIDE}×{MIN_SIDE}"
        )


def pixel_sha256(pixels: np.ndarray) -> str:
    """SHA-256 (hex) of an ``H×W×3`` ``uint8`` array's bytes in C (row-major) order."""
    if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8
            and pixels.ndim == 3 and pixels.shape[2] == 3):
        shape = getattr(pixels, "shape", None)
        dtype = getattr(pixels, "dtype", type(pixels).__name__)
        raise ImageError(
            f"pixel_sha256 needs an H×W×3 uint8 array, got shape {shape} dtype {dtype}; "
            "pass LoadedImage.pixels"
        )
    return hashlib.sha256(np.ascontiguousarray(pixels).data).hexdigest()


def _check_bit_depth(img: Image.Image, path: Path) -> None:
    """Refuse files with more than 8 bits per sample that Pillow would open as 8-bit modes."""
    if img.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(26)
        # 8-byte signature, IHDR length and type (8), width and height (8): byte 24 is the depth.
        if len(header) >= 25 and header[12:16] == b"IHDR" and header[24] > 8:
            raise ImageError(f"{path}: is a {header[24]}-bit-per-channel PNG; {_TO_8BIT}")
    elif img.format == "TIFF":
        bits = img.tag_v2.get(258, (1,))  # BitsPerSample
        bits = bits if isinstance(bits, tuple) else (bits,)
        if max(bits) > 8:
            raise ImageError(f"{path}: is a {max(bits)}-bit-per-sample TIFF; {_TO_8BIT}")
    elif img.format == "PPM":
        maxval = _ppm_maxval(path)
        if maxval is not None and maxval > 255:
            raise ImageError(
                f"{path}: has more than 8 bits per sample (PPM/PGM maxval {maxval}); {_TO_8BIT}"
            )


def _ppm_maxval(path: Path) -> int | None:
    """The maxval of a P2/P3/P5/P6 header, or None (bitmaps, or a header we cannot parse)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if head[:2] not in (b"P2", b"P3", b"P5", b"P6"):
        return None
    tokens = re.findall(rb"\S+", re.sub(rb"#[^\r\n]*", b" ", head))
    if len(tokens) < 4 or not tokens[3].isdigit():
        return None
    return int(tokens[3])


def _to_rgb(img: Image.Image, path: Path) -> tuple[np.ndarray, list[str]]:
    """Apply the mode policy to a loaded image; return pixels and conversion notes."""
    mode = img.mode
    notes: list[str] = []
    if mode in _HIGH_DEPTH_MODES:
        raise ImageError(f"{path}: has 16/32-bit or float samples (mode {mode}); {_TO_8BIT}")
    if mode in _COLOUR_MANAGED_MODES:
        raise ImageError(
            f"{path}: is a {mode} image; convert it to sRGB with a colour-managed tool "
            "(one that applies its ICC profile) and save as PNG"
        )

    keyed = mode in _KEYED_MODES and "transparency" in img.info
    if mode in _ALPHA_MODES or keyed:
        rgba = np.asarray(img.convert("RGBA"))
        translucent = int(np.count_nonzero(rgba[..., 3] != 255))
        if translucent:
            raise ImageError(
                f"{path}: has transparency ({translucent} of {rgba.shape[0] * rgba.shape[1]} "
                f"pixels not fully opaque, mode {mode}); flatten it onto a background first"
            )
        pixels = rgba[..., :3]
        notes.append("transparency unused (every pixel opaque), dropped" if keyed
                     else "fully opaque alpha dropped")
    elif mode in ("RGB", "RGBX", "L", "1", "P"):
        pixels = np.asarray(img if mode == "RGB" else img.convert("RGB"))
    else:
        raise ImageError(f"{path}: unsupported image mode {mode}; re-export it as 8-bit RGB PNG")
    if mode in _CONVERSION_NOTES:
        notes.insert(0, _CONVERSION_NOTES[mode])

    if img.format == "PPM":
        maxval = _ppm_maxval(path)
        if maxval is not None and maxval != 255:
            notes.append(f"rescaled from maxval {maxval} to 0..255")
    return np.array(pixels, dtype=np.uint8, order="C"), notes


def _orientation_note(img: Image.Image) -> list[str]:
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block must not make a good image unreadable
        return []
    if orientation not in (None, 1):
        return [f"EXIF orientation {orientation} not applied (pixels as stored)"]
    return []

