"""bench.core.datasets: folders, the Kodak manifest, download-and-verify, and (when
BENCH_KODAK_DIR is set) the real Kodak copy."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from bench.core import datasets
from bench.core.datasets import Dataset, ImageItem, _ManifestRow, folder_dataset, kodak, open_dataset
from bench.core.errors import DatasetError
from conftest import closed_port_url

KODAK_NAMES = [f"kodim{i:02d}.png" for i in range(1, 25)]


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BENCH_KODAK_DIR", "BENCH_KODAK_URL", "BENCH_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def publish(folder: Path, count: int = 3) -> list[_ManifestRow]:
    """Write random PNGs into ``folder``; return manifest rows computed with hashlib."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(count):
        pixels = rng.integers(0, 256, size=(8 + i, 5, 3), dtype=np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(pixels).save(path)
        data = path.read_bytes()
        rows.append(_ManifestRow(
            name=path.name, width=5, height=8 + i, size=len(data),
            file_sha256=hashlib.sha256(data).hexdigest(),
            pixel_sha256=hashlib.sha256(pixels.tobytes()).hexdigest(),
        ))
    return rows


# --- folder datasets ----------------------------------------------------------------------------

def test_folder_dataset_lists_images_directly_inside_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    for name in ["b.PNG", "a.jpg", "c.tiff", "d.webp", "notes.txt", ".hidden.png", "sub/e.png"]:
        (folder / name).write_bytes(b"")
    (folder / "dir.png").mkdir()
    ds = folder_dataset(folder)
    assert ds.name == "mine"
    assert [item.name for item in ds.items] == ["a.jpg", "b.PNG", "c.tiff", "d.webp"]
    assert ds.items[1] == ImageItem("b.PNG", folder / "b.PNG", None)
    assert str(folder) in ds.source
    assert folder_dataset(folder, name="custom").name == "custom"


def test_folder_dataset_missing_or_empty(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        folder_dataset(tmp_path / "absent")
    assert "absent" in one_line(error)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as error:
        folder_dataset(tmp_path / "empty")
    assert "empty" in one_line(error) and ".png" in one_line(error)


def test_open_dataset(tmp_path: Path, no_env: None) -> None:
    (tmp_path / "x.png").write_bytes(b"")
    assert open_dataset(str(tmp_path)).items[0].name == "x.png"
    with pytest.raises(DatasetError) as error:
        open_dataset("imagenet")
    message = one_line(error)
    assert "'imagenet'" in message and "kodak" in message and "folder" in message
    # "kodak" goes to kodak(), which reports the (empty) local copy
    with pytest.raises(DatasetError) as error:
        open_dataset("kodak", kodak_dir=tmp_path)
    assert "kodim01.png" in one_line(error)


# --- the bundled manifest -------------------------------------------------------------------------

def test_bundled_kodak_manifest() -> None:
    rows = datasets._kodak_manifest()
    assert [r.name for r in rows] == KODAK_NAMES
    for r in rows:
        assert {(r.width, r.height)} <= {(768, 512), (512, 768)}
        assert len(r.file_sha256) == len(r.pixel_sha256) == 64
        int(r.file_sha256, 16), int(r.pixel_sha256, 16)
    assert sum(r.size for r in rows) > 10_000_000


def test_parse_manifest_rejects_garbage() -> None:
    with pytest.raises(DatasetError, match="line 2"):
        datasets._parse_manifest("file\tWxH\n kodim01.png\t7\n", source="x.tsv")


# --- download and verify (synthetic manifest, local HTTP server) ----------------------------------

def test_fetch_downloads_verifies_and_reuses(server: SimpleNamespace, tmp_path: Path) -> None:
    rows = publish(server.root)
    cache = tmp_path / "cache" / "kodak"
    items = datasets._fetch_verified(rows, cache, server.url)
    assert [i.name for i in items] == ["img0.png", "img1.png", "img2.png"]
    assert all(i.path == cache / i.name and i.path.is_file() for i in items)
    assert [i.expected_pixel_sha256 for i in items] == [r.pixel_sha256 for r in rows]
    assert len(server.requests) == 3
    assert sorted(p.name for p in cache.iterdir()) == ["img0.png", "img1.png", "img2.png"]

    again = datasets._fetch_verified(rows, cache, server.url)
    assert again == items
    assert len(server.requests) == 3  # nothing downloaded twice


def test_fetch_accepts_lossless_resave(server: SimpleNamespace, tmp_path: Path) -> None:
    rows = publish(server.root)
    path = server.root / "img1.png"
    before = path.read_bytes()
    with Image.open(path) as img:
        img.load()
        img.save(path, compress_level=0)  # same pixels, other bytes
    assert path.read_bytes() != before
    items = datasets._fetch_verified(rows, tmp_path / "cache", server.url)
    assert len(items) == 3


def test_fetch_corrupt_file_is_deleted_and_named(server: SimpleNamespace, tmp_path: Path) -> None:
    rows = publish(server.root)
    path = server.root / "img1.png"
    with Image.open(path) as img:
        pixels = np.array(img)
    pixels[0, 0, 0] ^= 1
    Image.fromarray(pixels).save(path)
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError) as error:
        datasets._fetch_verified(rows, cache, server.url)
    message = one_line(error)
    assert "img1.png" in message and "pixels differ" in message
    assert "BENCH_KODAK_DIR" in message
    assert sorted(p.name for p in cache.iterdir()) == ["img0.png"]  # no corrupt, no partial file


def test_fetch_replaces_corrupt_cached_file(server: SimpleNamespace, tmp_path: Path) -> None:
    rows = publish(server.root)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "img2.png").write_bytes(b"garbage")
    datasets._fetch_verified(rows, cache, server.url)
    assert sorted(server.requests) == ["/img0.png", "/img1.png", "/img2.png"]
    assert (cache / "img2.png").read_bytes() == (server.root / "img2.png").read_bytes()


def test_fetch_missing_on_server(server: SimpleNamespace, tmp_path: Path) -> None:
    rows = publish(server.root)
    (server.root / "img2.png").unlink()
    with pytest.raises(DatasetError) as error:
        datasets._fetch_verified(rows, tmp_path / "cache", server.url)
    message = one_line(error)
    assert "img2.png" in message and "HTTP 404" in message and "BENCH_KODAK_DIR" in message


def test_fetch_with_progress_bar(server: SimpleNamespace, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    rows = publish(server.root)
    datasets._fetch_verified(rows, tmp_path / "cache", server.url, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_kodak_server_down_names_file_url_and_fix(tmp_path: Path, no_env: None) -> None:
    url = closed_port_url()
    with pytest.raises(DatasetError) as error:
        kodak(cache_dir=tmp_path, base_url=url)
    message = one_line(error)
    assert f"{url}kodim01.png" in message
    assert "use --kodak-dir DIR or set BENCH_KODAK_DIR=DIR" in message
    assert list((tmp_path / "kodak").iterdir()) == []


def test_kodak_url_from_environment(tmp_path: Path, no_env: None,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = closed_port_url().rstrip("/")  # a missing trailing slash is added
    monkeypatch.setenv("BENCH_KODAK_URL", url)
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "c"))
    with pytest.raises(DatasetError) as error:
        kodak()
    assert f"{url}/kodim01.png" in one_line(error)
    assert (tmp_path / "c" / "kodak").is_dir()


def test_cache_root_precedence(tmp_path: Path, no_env: None,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert datasets._cache_root(None) == tmp_path / "home" / ".cache" / "lic-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert datasets._cache_root(None) == tmp_path / "home" / ".cache" / "lic-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets._cache_root(None) == tmp_path / "xdg" / "lic-bench"
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "env"))
    assert datasets._cache_root(None) == tmp_path / "env"
    assert datasets._cache_root(tmp_path / "arg") == tmp_path / "arg"


def test_kodak_local_dir_missing_lists_every_file(tmp_path: Path, no_env: None) -> None:
    with pytest.raises(DatasetError) as error:
        kodak(local_dir=tmp_path)
    message = one_line(error)
    assert all(name in message for name in KODAK_NAMES)
    with pytest.raises(DatasetError) as error:
        kodak(local_dir=tmp_path / "absent")
    assert "absent" in one_line(error) and "BENCH_KODAK_DIR" in one_line(error)


# --- the real Kodak copy (conftest's kodak_dir skips unless BENCH_KODAK_DIR points at one) --------

def test_real_kodak_copy_verifies(kodak_dir: Path) -> None:
    ds = kodak(local_dir=kodak_dir)
    assert isinstance(ds, Dataset) and ds.name == "kodak"
    assert [item.name for item in ds.items] == KODAK_NAMES
    assert all(item.path == kodak_dir / item.name for item in ds.items)
    # The environment variable alone selects the same copy.
    assert kodak().items == ds.items


def test_bundled_manifest_matches_shared_copy(kodak_dir: Path) -> None:
    shared = kodak_dir / "MANIFEST.tsv"
    if not shared.is_file():
        pytest.skip(f"no {shared}")
    parsed = datasets._parse_manifest(shared.read_text(encoding="utf-8"), source=str(shared))
    assert parsed == datasets._kodak_manifest()


def mirror(kodak_dir: Path, target: Path) -> None:
    target.mkdir()
    for name in KODAK_NAMES:
        (target / name).symlink_to(kodak_dir / name)


def test_lossless_resaves_pass_and_altered_pixel_fails(kodak_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    mirror(kodak_dir, copy)
    for name in ("kodim03.png", "kodim17.png"):
        (copy / name).unlink()
        with Image.open(kodak_dir / name) as img:
            img.save(copy / name, compress_level=1)
        assert (copy / name).read_bytes() != (kodak_dir / name).read_bytes()
    assert [item.name for item in kodak(local_dir=copy).items] == KODAK_NAMES

    (copy / "kodim05.png").unlink()
    with Image.open(kodak_dir / "kodim05.png") as img:
        pixels = np.asarray(img.convert("RGB")).copy()
    pixels[100, 200, 1] ^= 1
    Image.fromarray(pixels).save(copy / "kodim05.png")
    (copy / "kodim24.png").unlink()
    with pytest.raises(DatasetError) as error:
        kodak(local_dir=copy)
    message = one_line(error)
    assert "kodim05.png (pixels differ)" in message
    assert "missing: kodim24.png" in message
    assert "kodim03.png" not in message and "kodim17.png" not in message


def test_kodak_pixels_match_manifest_through_load_rgb(kodak_dir: Path) -> None:
    from bench.core.images import load_rgb, pixel_sha256

    row = datasets._kodak_manifest()[3]  # kodim04: portrait
    pixels = load_rgb(kodak_dir / row.name).pixels
    assert pixels.shape == (row.height, row.width, 3) == (768, 512, 3)
    assert pixel_sha256(pixels) == row.pixel_sha256


def test_shared_folder_copy_into_tmp(kodak_dir: Path, tmp_path: Path) -> None:
    """A plain copy (not symlinks) of the real files passes via the file-hash path."""
    copy = tmp_path / "plain"
    copy.mkdir()
    for name in KODAK_NAMES:
        shutil.copyfile(kodak_dir / name, copy / name)
    assert len(kodak(local_dir=copy).items) == 24
