"""The classical anchors (WebP, JPEG 2000, AVIF, HEIC): round trips, sweeps, payload parsers, published curves."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.core import containers
from bench.core import registry
from bench.analysis.bdrate import bd_rate
from bench.core.errors import CodecError
from bench.core.metrics import psnr
from bench.analysis.reference import read_reference
from conftest import REPO, natural_image

ANCHORS = ("webp", "jpeg2000", "avif", "avif-444", "heic", "heic-444")


def plugin(stem: str):
    """The plug-in module ``codecs/<stem>.py`` as the registry loaded it."""
    registry.names()
    return sys.modules[f"bench_plugins.{stem}"]


def kodak_image(kodak_dir: Path, name: str) -> np.ndarray:
    return np.asarray(Image.open(kodak_dir / name).convert("RGB"))


def encoded(name: str, point: str, image: np.ndarray) -> bytes:
    return registry.create(name).coder(point).encode(image)


def test_anchors_are_registered_and_describe_their_settings():
    assert set(ANCHORS) <= set(registry.names())
    for name in ANCHORS:
        codec = registry.create(name)
        assert 8 <= len(codec.default_points()) <= 12
        assert codec.identity()
    assert "not the HM reference encoder" in registry.create("heic").describe()
    assert registry.create("jpeg2000").identity()["wavelet"] == "irreversible 9/7"


def test_plugins_import_neither_pillow_heif_nor_torch():
    code = ("import sys; from bench.core import containers, registry; registry.names(); registry.create('webp').identity(); "
            "print('pillow_heif' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


@pytest.mark.parametrize("name", ANCHORS)
def test_unknown_point_names_the_labels(name):
    with pytest.raises(CodecError, match="e.g."):
        registry.create(name).coder("q101" if name != "jpeg2000" else "q50")


@pytest.mark.parametrize("shape", [(96, 128), (97, 131)])
@pytest.mark.parametrize("name", ANCHORS)
def test_round_trip(name, shape):
    codec = registry.create(name)
    coder = codec.coder(codec.default_points()[len(codec.default_points()) // 2])
    image = natural_image(*shape, seed=3)
    data = coder.encode(image)
    assert isinstance(data, bytes) and data == coder.encode(image)  # deterministic: the timing pass checks it
    recon = coder.decode(data)
    assert recon.shape == image.shape and recon.dtype == np.uint8
    assert psnr(image, recon) > 25


@pytest.mark.parametrize("name", ANCHORS)
def test_bpp_rises_strictly_over_the_default_sweep_on_kodak(kodak_dir, name):
    image = kodak_image(kodak_dir, "kodim23.png")[128:384, 192:576]  # 256×384 crop, for speed
    codec = registry.create(name)
    rates, qualities = [], []
    for point in codec.default_points():
        coder = codec.coder(point)
        data = coder.encode(image)
        rates.append(8 * len(data) / (image.shape[0] * image.shape[1]))
        qualities.append(psnr(image, coder.decode(data)))
    assert np.all(np.diff(rates) > 0), dict(zip(codec.default_points(), rates))
    assert np.all(np.diff(qualities) > 0), dict(zip(codec.default_points(), qualities))


# --- payload parsers on real files --------------------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    value = os.environ.get("BENCH_KODAK_DIR")
    if value and (Path(value) / "kodim23.png").is_file():
        return kodak_image(Path(value), "kodim23.png")
    return natural_image(512, 768, seed=1)


def test_webp_payload_is_the_vp8_chunk(photo):
    data = encoded("webp", "q50", photo)
    payload = containers.webp_payload_bytes(data)
    # simple-format lossy WebP: 'RIFF' size 'WEBP' + 'VP8 ' size, then the chunk (padded to even)
    assert data[12:16] == b"VP8 " and struct.unpack_from("<I", data, 16)[0] == payload
    assert len(data) - payload in (20, 21)


@pytest.mark.parametrize("point", ["q5", "q50", "q95"])
def test_jpeg_payload_is_the_scan_data(photo, point):
    """A baseline JPEG has one scan: its data runs from the end of the SOS header to the EOI marker."""
    data = encoded("jpeg", point, photo)
    sos = data.index(b"\xff\xda")
    header_end = sos + 2 + struct.unpack_from(">H", data, sos + 2)[0]
    assert data.endswith(b"\xff\xd9")
    assert containers.jpeg_payload_bytes(data) == len(data) - 2 - header_end
    coder = registry.create("jpeg").coder(point)
    assert coder.verify(photo, data, coder.decode(data)) == {"payload_bytes": len(data) - 2 - header_end}
    with pytest.raises(CodecError, match="no SOI"):
        containers.jpeg_payload_bytes(data[2:])
    buffer = io.BytesIO()  # restart markers (RST0–7) inside the scan are scan data
    Image.fromarray(photo).save(buffer, "JPEG", quality=int(point[1:]), subsampling=2, restart_marker_blocks=4)
    restarts = buffer.getvalue()
    sos = restarts.index(b"\xff\xda")
    header_end = sos + 2 + struct.unpack_from(">H", restarts, sos + 2)[0]
    assert any(bytes([0xFF, m]) in restarts[header_end:] for m in range(0xD0, 0xD8))
    assert containers.jpeg_payload_bytes(restarts) == len(restarts) - 2 - header_end


def test_j2k_payload_starts_at_the_first_tile_and_the_codestream_uses_9_7_with_ict(photo):
    data = encoded("jpeg2000", "ratio48", photo)
    payload = containers.j2k_payload_bytes(data)
    header = len(data) - payload
    assert data[header:header + 2] == b"\xff\x90" and data[-2:] == b"\xff\xd9"  # SOT … EOC
    assert 40 < header < 400
    cod = data.find(b"\xff\x52", 2, header)  # COD: Lcod Scod | prog layers(2) MCT | levels xcb ycb style wavelet
    _, _, _, layers, mct, levels, _, _, _, wavelet = struct.unpack_from(">HBBHBBBBBB", data, cod + 2)
    assert (layers, mct, levels, wavelet) == (1, 1, 5, 0)  # one layer, colour transform, 5 levels, 9/7
    assert abs(8 * len(data) / photo.shape[0] / photo.shape[1] - 0.5) < 0.01  # 48:1 of 24 bpp


@pytest.mark.parametrize(("name", "stem", "overhead"), [
    ("avif", "pillow_modern", (150, 600)), ("avif-444", "pillow_modern", (150, 600)),
    ("heic", "heic", (250, 700)), ("heic-444", "heic", (250, 700)),
])
def test_mdat_payload_of_heif_files(photo, name, stem, overhead):
    data = encoded(name, "q30", photo)
    payload = containers.mdat_payload_bytes(data)
    mdat = data.rfind(b"mdat")
    assert struct.unpack_from(">I", data, mdat - 4)[0] == payload + 8  # the last box, to the end of the file
    assert mdat + 4 + payload == len(data)
    assert overhead[0] < len(data) - payload < overhead[1]


def test_chroma_subsampling_is_what_the_name_says(photo):
    import pillow_heif

    for name, expected in (("avif", 0b11), ("avif-444", 0b00)):
        data = encoded(name, "q30", photo[:64, :64])
        config = data[data.find(b"av1C") + 6]  # av1C byte 2: … chroma_subsampling_x, _y, sample position(2)
        assert (config >> 2) & 0b11 == expected, name
    for name, expected in (("heic", 420), ("heic-444", 444)):
        data = encoded(name, "q30", photo[:64, :64])
        assert pillow_heif.open_heif(io.BytesIO(data)).info["chroma"] == expected, name


def test_parsers_reject_broken_files(photo):
    webp = encoded("webp", "q50", photo[:64, :64])
    j2k = encoded("jpeg2000", "ratio24", photo[:64, :64])
    avif = encoded("avif", "q50", photo[:64, :64])
    for parse, data in [(containers.webp_payload_bytes, webp[:30]), (containers.webp_payload_bytes, j2k),
                        (containers.j2k_payload_bytes, j2k[:60]), (containers.j2k_payload_bytes, webp),
                        (containers.mdat_payload_bytes, avif[:-10]), (containers.mdat_payload_bytes, webp),
                        (containers.mdat_payload_bytes, j2k)]:
        with pytest.raises(CodecError):
            parse(data)


@pytest.mark.parametrize("name", ANCHORS)
def test_verify_reports_payload_bytes(name):
    codec = registry.create(name)
    coder = codec.coder(codec.default_points()[3])
    image = natural_image(64, 96)
    data = coder.encode(image)
    recon = coder.decode(data)
    payload = coder.verify(image, data, recon)["payload_bytes"]
    assert 0 < payload < len(data)


# --- against published curves and against JPEG ---------------------------------------------------


def test_webp_matches_compressai_published_kodak_curve(kodak_dir, shared_dir):
    published = read_reference(shared_dir / "reference/compressai-kodak/webp.json")
    # CompressAI's bench: Pillow's img.save(f, "webp", quality=q) (method 4, Pillow's default) for
    # q = 5, 10, …, 95 (19 points). Five of them, over the whole range, on all 24 images keep this short.
    assert "Pillow" in published.description and len(published.bpp) == 19
    picked = (0, 4, 9, 14, 18)  # q5, q25, q50, q75, q95
    codec = plugin("pillow_modern").WebpCodec(method=4)
    images = [kodak_image(kodak_dir, f"kodim{i:02d}.png") for i in range(1, 25)]
    rates, qualities = [], []
    for index in picked:
        coder = codec.coder(f"q{5 * (index + 1)}")
        bpp, quality = [], []
        for image in images:
            data = coder.encode(image)
            bpp.append(8 * len(data) / (image.shape[0] * image.shape[1]))
            quality.append(psnr(image, coder.decode(data)))
        rates.append(np.mean(bpp))
        qualities.append(np.mean(quality))
        assert rates[-1] == pytest.approx(published.bpp[index], rel=0.02), coder.point
        assert abs(qualities[-1] - published.psnr[index]) < 0.1, coder.point
    anchor_rate = [published.bpp[i] for i in picked]
    anchor_psnr = [published.psnr[i] for i in picked]
    assert abs(bd_rate(anchor_rate, anchor_psnr, rates, qualities, method="cubic")) < 3


def test_heic_is_far_ahead_of_jpeg_on_kodak(kodak_dir, tmp_path):
    from bench.core.datasets import folder_dataset
    from bench.pipeline import CodecRun, Settings, evaluate

    folder = tmp_path / "kodak3"
    folder.mkdir()
    for name in ("kodim01.png", "kodim04.png", "kodim23.png"):  # their central 384×256 (a quarter)
        with Image.open(kodak_dir / name) as kodak:
            width, height = kodak.size
            box = (width // 4, height // 4, width // 4 + width // 2, height // 4 + height // 2)
            kodak.convert("RGB").crop(box).save(folder / name)
    runs = [CodecRun(registry.create("jpeg"), ("q10", "q25", "q40", "q55", "q70", "q90")),
            CodecRun(registry.create("heic"), ("q10", "q25", "q40", "q60"))]
    report = evaluate(folder_dataset(folder), runs, tmp_path / "results", Settings(jobs=1, repeats=1, progress=False))
    rows = report.rows
    assert len(rows) == 3 * 10 and (rows["status"] == "ok").all()
    curves = rows.groupby(["codec", "point"])[["bpp", "psnr"]].mean().sort_values("bpp")
    jpeg, heic = curves.loc["jpeg"], curves.loc["heic"]
    saving = bd_rate(jpeg["bpp"], jpeg["psnr"], heic["bpp"], heic["psnr"], method="cubic")
    print(f"HEIC vs JPEG BD-rate on 3 Kodak crops: {saving:.1f} %")
    assert saving < -30
