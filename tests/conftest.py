"""Shared fixtures: synthetic images, and the real data CI points at through environment variables."""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def natural_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and noise: compresses like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = 128 + 60 * np.sin(xx / 17.0 + seed) * np.cos(yy / 23.0)
    image = np.stack([base, np.roll(base, 7, axis=1), 255 - base], axis=-1)
    image[height // 3 : height // 2, width // 4 : width // 2] = (220, 40, 90)
    image += rng.normal(0, 6, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three RGB PNGs of different sizes (one odd, one portrait) in a folder named 'synthetic'."""
    folder = tmp_path / "synthetic"
    folder.mkdir()
    for i, (h, w) in enumerate([(192, 256), (257, 193), (200, 200)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture
def kodak_dir() -> Path:
    value = os.environ.get("BENCH_KODAK_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("BENCH_KODAK_DIR not set (CI points it at ../shared/data/kodak)")
    return Path(value)


@pytest.fixture
def shared_dir() -> Path:
    value = os.environ.get("BENCH_SHARED_DIR") or str(REPO.parent / "shared")
    if not Path(value).is_dir():
        pytest.skip("shared data not available (set BENCH_SHARED_DIR)")
    return Path(value)


def closed_port_url(path: str = "") -> str:
    """A URL on 127.0.0.1 where nothing listens: a machine without network, as tests see it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimpleNamespace]:
    """Serve tmp_path/www over HTTP on 127.0.0.1; ``requests`` lists the paths asked for."""
    root = tmp_path / "www"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        try:
            yield SimpleNamespace(root=root, requests=requests,
                                  url=f"http://127.0.0.1:{httpd.server_address[1]}/")
        finally:
            httpd.shutdown()
            thread.join()
