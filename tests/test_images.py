"""bench.core.images: every mode of the loading policy, on tiny synthetic files."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, features

from bench.core.errors import ImageError
from bench.core.images import IMAGE_SUFFIXES, LoadedImage, load_rgb, pixel_sha256

RGB = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
     [[10, 20, 30], [128, 128, 128], [254, 1, 77]]],
    dtype=np.uint8,
)


def assert_refused(path: Path, *words: str) -> str:
    """load_rgb(path) raises ImageError: one line, naming the file and containing words."""
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    message = str(info.value)
    assert "\n" not in message
    assert path.name in message
    for word in words:
        assert word in message
    return message


def assert_loaded(path: Path, expected: np.ndarray) -> LoadedImage:
    loaded = load_rgb(path)
    assert loaded.pixels.dtype == np.uint8
    assert loaded.pixels.flags.c_contiguous
    np.testing.assert_array_equal(loaded.pixels, expected)
    return loaded


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png16(path: Path, samples: np.ndarray, colour_type: int) -> None:
    """A 16-bit PNG by hand (Pillow cannot write RGB16): filter 0 on every row."""
    height, width = samples.shape[:2]
    rows = samples.reshape(height, -1).astype(">u2")
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                     + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))


def write_tiff_rgb16(path: Path, samples: np.ndarray) -> None:
    """A little-endian, uncompressed, one-strip 16-bit RGB TIFF by hand."""
    height, width = samples.shape[:2]
    data = samples.astype("<u2").tobytes()
    n_entries = 10
    bits_at = 8 + 2 + 12 * n_entries + 4
    data_at = bits_at + 6
    short, long_ = 3, 4
    entries = [  # tag, type, count, value (or offset)
        (256, short, 1, width), (257, short, 1, height), (258, short, 3, bits_at),
        (259, short, 1, 1), (262, short, 1, 2), (273, long_, 1, data_at),
        (277, short, 1, 3), (278, short, 1, height), (279, long_, 1, len(data)),
        (284, short, 1, 1),
    ]
    ifd = struct.pack("<H", n_entries)
    for tag, kind, count, value in entries:
        inline = struct.pack("<HH", value, 0) if kind == short and count == 1 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + inline
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<3H", 16, 16, 16) + data)


# --- accepted -----------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".ppm", ".tif"])
def test_rgb_lossless_formats_as_is(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rgb{suffix}"
    Image.fromarray(RGB).save(path)
    assert assert_loaded(path, RGB).note is None


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_rgb_lossless_webp(tmp_path: Path) -> None:
    path = tmp_path / "rgb.webp"
    Image.fromarray(RGB).save(path, lossless=True, exact=True)
    assert assert_loaded(path, RGB).note is None


def test_ppm_written_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "hand.ppm"
    path.write_bytes(b"P6\n# a comment\n3 2\n255\n" + RGB.tobytes())
    assert assert_loaded(path, RGB).note is None


def test_ppm_small_maxval_is_rescaled_with_note(tmp_path: Path) -> None:
    path = tmp_path / "max100.ppm"
    path.write_bytes(b"P6 2 1 100\n" + bytes([0, 50, 100, 1, 2, 3]))
    # round(v / 100 * 255) by hand: 0, 127.5 -> 128, 255, 2.55 -> 3, 5.1 -> 5, 7.65 -> 8
    loaded = assert_loaded(path, np.array([[[0, 128, 255], [3, 5, 8]]], dtype=np.uint8))
    assert "maxval 100" in loaded.note


def test_jpeg_rgb(tmp_path: Path) -> None:
    path = tmp_path / "photo.JPG"
    Image.fromarray(RGB).save(path, format="JPEG", quality=95)
    loaded = load_rgb(path)
    assert loaded.pixels.shape == (2, 3, 3) and loaded.pixels.dtype == np.uint8
    assert loaded.note is None


def test_grayscale_replicated(tmp_path: Path) -> None:
    grey = np.array([[0, 50, 200], [255, 1, 128]], dtype=np.uint8)
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    expected = np.stack([grey, grey, grey], axis=-1)
    loaded = assert_loaded(path, expected)
    assert "grayscale" in loaded.note


def test_bilevel_replicated_as_0_255(tmp_path: Path) -> None:
    img = Image.new("1", (3, 2), 0)
    img.putpixel((1, 0), 1)
    img.putpixel((2, 1), 1)
    path = tmp_path / "bits.png"
    img.save(path)
    expected = np.zeros((2, 3, 3), dtype=np.uint8)
    expected[0, 1] = expected[1, 2] = 255
    assert "bilevel" in assert_loaded(path, expected).note


def palette_image(indices: list[list[int]]) -> Image.Image:
    img = Image.new("P", (len(indices[0]), len(indices)))
    img.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220])
    for y, row in enumerate(indices):
        for x, index in enumerate(row):
            img.putpixel((x, y), index)
    return img


def test_palette_converted(tmp_path: Path) -> None:
    path = tmp_path / "pal.png"
    palette_image([[0, 1, 2], [2, 1, 0]]).save(path)
    a, b, c = [10, 20, 30], [40, 50, 60], [70, 80, 90]
    expected = np.array([[a, b, c], [c, b, a]], dtype=np.uint8)
    assert "palette" in assert_loaded(path, expected).note


def test_palette_with_unused_transparency_converted(tmp_path: Path) -> None:
    path = tmp_path / "pal_trns_unused.png"
    palette_image([[0, 1, 2], [2, 1, 0]]).save(path, transparency=3)  # index 3 never used
    a, b, c = [10, 20, 30], [40, 50, 60], [70, 80, 90]
    loaded = assert_loaded(path, np.array([[a, b, c], [c, b, a]], dtype=np.uint8))
    assert "palette" in loaded.note and "transparency unused" in loaded.note


def test_palette_with_used_transparency_refused(tmp_path: Path) -> None:
    path = tmp_path / "pal_trns.png"
    palette_image([[0, 1, 2], [2, 1, 3]]).save(path, transparency=3)
    assert_refused(path, "transparency", "1 of 6", "flatten it onto a background first")


def test_palette_with_partial_alpha_table_refused(tmp_path: Path) -> None:
    path = tmp_path / "pal_alpha.png"
    palette_image([[0, 1, 2], [2, 1, 0]]).save(path, transparency=bytes([255, 128, 255, 255]))
    assert_refused(path, "transparency", "2 of 6")


def test_rgba_opaque_alpha_dropped(tmp_path: Path) -> None:
    rgba = np.dstack([RGB, np.full((2, 3), 255, dtype=np.uint8)])
    path = tmp_path / "opaque.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    assert "alpha dropped" in assert_loaded(path, RGB).note


def test_rgba_transparent_refused(tmp_path: Path) -> None:
    rgba = np.dstack([RGB, np.full((2, 3), 255, dtype=np.uint8)])
    rgba[1, 2, 3] = 254
    path = tmp_path / "translucent.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    assert_refused(path, "has transparency", "1 of 6", "flatten it onto a background first")


def test_la_opaque_replicated(tmp_path: Path) -> None:
    grey = np.array([[0, 50, 200], [255, 1, 128]], dtype=np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(np.dstack([grey, np.full_like(grey, 255)]), mode="LA").save(path)
    loaded = assert_loaded(path, np.stack([grey, grey, grey], axis=-1))
    assert "grayscale" in loaded.note and "alpha dropped" in loaded.note


def test_la_transparent_refused(tmp_path: Path) -> None:
    grey = np.array([[0, 50, 200], [255, 1, 128]], dtype=np.uint8)
    path = tmp_path / "la_t.png"
    Image.fromarray(np.dstack([grey, np.zeros_like(grey)]), mode="LA").save(path)
    assert_refused(path, "transparency", "6 of 6")


def test_rgb_colour_key_used_refused_unused_accepted(tmp_path: Path) -> None:
    used, unused = tmp_path / "key_used.png", tmp_path / "key_unused.png"
    Image.fromarray(RGB).save(used, transparency=(10, 20, 30))
    Image.fromarray(RGB).save(unused, transparency=(1, 2, 3))
    assert_refused(used, "transparency", "1 of 6")
    assert "transparency unused" in assert_loaded(unused, RGB).note


def test_exif_orientation_not_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.png"
    Image.fromarray(RGB).save(path, exif=exif)
    loaded = assert_loaded(path, RGB)  # still 2×3, as stored
    assert "orientation 6 not applied" in loaded.note


# --- refused ------------------------------------------------------------------------------------

def test_uint16_grayscale_png_refused(tmp_path: Path) -> None:
    path = tmp_path / "grey16.png"
    Image.fromarray(np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)).save(path)
    with Image.open(path) as img:  # the premise: Pillow wrote a 16-bit PNG
        assert img.mode.startswith("I")
    assert_refused(path, "16-bit", "8 bits")


@pytest.mark.parametrize("colour_type, channels", [(2, 3), (6, 4), (4, 2)])
def test_16bit_colour_png_refused(tmp_path: Path, colour_type: int, channels: int) -> None:
    path = tmp_path / f"colour16_{colour_type}.png"
    samples = (np.arange(2 * 3 * channels, dtype=np.uint16) * 3001).reshape(2, 3, channels)
    write_png16(path, samples, colour_type)
    with Image.open(path) as img:  # the premise: Pillow opens it as 8-bit, without complaint
        assert img.mode in ("RGB", "RGBA")
    assert_refused(path, "16-bit-per-channel PNG", "8 bits per channel yourself")


def test_16bit_rgb_tiff_refused(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.tif"
    write_tiff_rgb16(path, (np.arange(18, dtype=np.uint16) * 3001).reshape(2, 3, 3))
    with Image.open(path) as img:  # the premise: Pillow opens it as 8-bit, without complaint
        assert img.mode == "RGB"
    assert_refused(path, "16-bit-per-sample TIFF", "8 bits per channel yourself")


def test_16bit_ppm_refused(tmp_path: Path) -> None:
    path = tmp_path / "rgb16.ppm"
    path.write_bytes(b"P6 2 1 65535\n" + struct.pack(">6H", 0, 1000, 65535, 256, 512, 40000))
    assert_refused(path, "maxval 65535", "8 bits per channel yourself")


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_float_and_int32_tiff_refused(tmp_path: Path, dtype: type) -> None:
    path = tmp_path / f"deep_{np.dtype(dtype).name}.tif"
    Image.fromarray(np.arange(6, dtype=dtype).reshape(2, 3)).save(path)
    assert_refused(path, "8 bits per channel yourself")


@pytest.mark.parametrize("name", ["cmyk.jpg", "cmyk.tif"])
def test_cmyk_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    Image.new("CMYK", (3, 2), (10, 20, 30, 40)).save(path)
    assert_refused(path, "CMYK", "colour-managed tool")


def test_lab_tiff_refused(tmp_path: Path) -> None:
    path = tmp_path / "lab.tif"
    Image.new("LAB", (3, 2), (50, 128, 128)).save(path)
    assert_refused(path, "LAB", "colour-managed tool")


@pytest.mark.parametrize("fmt, suffix", [("PNG", ".png"), ("JPEG", ".jpg")])
def test_truncated_file_refused(tmp_path: Path, fmt: str, suffix: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(noise).save(whole, format=fmt)
    path = tmp_path / f"truncated{suffix}"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert_refused(path, "truncated")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_text_file_named_png_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not an image\n")
    assert_refused(path, "not a readable", "re-export it as PNG")


def test_gif_is_not_an_accepted_format(tmp_path: Path) -> None:
    path = tmp_path / "anim.png"  # content decides, not the suffix
    Image.fromarray(RGB).save(path, format="GIF")
    assert_refused(path, "not a readable")


def test_missing_file_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nowhere.png", "no such file")


def test_folder_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.png"
    folder.mkdir()
    assert_refused(folder, "folder")


# --- pixel_sha256 and constants -------------------------------------------------------------------

def test_pixel_sha256_matches_hashlib_on_hand_built_bytes() -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert pixel_sha256(pixels) == hashlib.sha256(bytes(range(18))).hexdigest()


def test_pixel_sha256_hashes_c_order_of_views() -> None:
    base = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    flipped = base[:, ::-1]  # not C-contiguous
    expected = bytes(int(base[y, 2 - x, c]) for y in range(2) for x in range(3) for c in range(3))
    assert pixel_sha256(flipped) == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize("bad", [
    np.zeros((2, 3), dtype=np.uint8),
    np.zeros((2, 3, 4), dtype=np.uint8),
    np.zeros((2, 3, 3), dtype=np.float32),
    [[[0, 0, 0]]],
])
def test_pixel_sha256_rejects_non_rgb8(bad: object) -> None:
    with pytest.raises(ImageError, match="H×W×3 uint8"):
        pixel_sha256(bad)  # type: ignore[arg-type]


def test_image_suffixes() -> None:
    assert set(IMAGE_SUFFIXES) == {
        ".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp"}
    assert all(s == s.lower() for s in IMAGE_SUFFIXES)
