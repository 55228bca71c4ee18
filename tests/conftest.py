"""Shared fixtures: synthetic images, and the real data CI points at through environment variables."""

from __future__ import annotations

import contextlib
import csv
import http.server
import io
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def _find_shared() -> None:
    """Point the suite at ``../shared`` (the Kodak set, weights, published results) when it is there and
    the environment names none, as ``.ci/run`` does: a `make test` beside it skips nothing for want of it."""
    shared = Path(os.environ.get("BENCH_SHARED_DIR") or REPO.parent / "shared")
    if not shared.is_dir():
        return
    os.environ.setdefault("BENCH_SHARED_DIR", str(shared))
    if (shared / "data" / "kodak").is_dir():
        os.environ.setdefault("BENCH_KODAK_DIR", str(shared / "data" / "kodak"))


_find_shared()
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


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (one worker per core), one torch thread per worker: torch's default of one
    thread per core would run cores × cores spinning OpenMP threads, slowing every learned test
    several-fold. The harness sets its own count (``--threads``, default 1); tests that ask for more
    still get them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def eval_model_module():
    """CompressAI's ``python -m compressai.utils.eval_model`` as a module (``main(argv)`` runs it in this process);
    importing it sets torch to 1 thread, restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    from compressai.utils.eval_model import __main__ as eval_model

    yield eval_model
    torch.set_num_threads(threads)


@pytest.fixture
def verify_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """``verify``'s second decode (``python -m bench.core.verify JOB OUT``) run in this process, not in a
    fresh interpreter: its codecs are built again from the run's options, in a registry that has loaded
    nothing (as a new process's), but modules, caches and torch's state are this process's, so it does not
    show that decoding needs nothing the first decode left in memory. ``tests/test_learned.py`` keeps one
    verify whose second decode is a real process.
    """
    from bench.core import verify
    from clitools import fresh_registry

    def second(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
        if args[:2] != ["-m", "bench.core.verify"]:
            raise ValueError(f"verify's second process runs -m bench.core.verify, not {args}")
        err = io.StringIO()
        with contextlib.redirect_stderr(err), fresh_registry():
            code = verify._worker_main(args[2:])
        return subprocess.CompletedProcess([sys.executable, *args], code, "", err.getvalue())

    monkeypatch.setattr(verify, "_second_process", second)


def image_files(folder: Path, shapes: Sequence[tuple[int, int]], prefix: str = "img") -> Path:
    """``folder`` made and filled with one natural-looking PNG per (height, width), ``<prefix><i>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(shapes):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"{prefix}{i}.png")
    return folder


def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A rows file's header and rows, as text."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or ()), list(reader)


def write_csv_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Write ``rows`` under ``header`` (columns not in it dropped), as an older or edited rows file."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread inside the test (fastest at small sizes, no oversubscription), as before after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Three RGB PNGs of different sizes (one odd, one portrait) in a folder named 'synthetic'."""
    return image_files(tmp_path / "synthetic", [(192, 256), (257, 193), (200, 200)])


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
