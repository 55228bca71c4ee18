"""Shared fixtures: synthetic images, and the real data CI points at through environment variables."""

from __future__ import annotations

import atexit
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
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


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (one worker per core), one torch thread per worker: torch's default of one
    thread per core would run cores × cores spinning OpenMP threads, slowing every learned test
    several-fold. The harness sets its own count (``--threads``, default 1); tests that ask for more
    still get them."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


class _Zygote:
    """One ``tests/zygote.py`` server per test process and kind, started on first use (see its docstring)."""

    def __init__(self, prefix: tuple[str, ...] = (), *, compressai: bool = True) -> None:
        self.prefix = prefix
        self.env = {**os.environ, "ZYGOTE_COMPRESSAI": "1" if compressai else "0"}
        self.proc: subprocess.Popen | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="zygote-"))

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float | None) -> tuple[int, bool]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([*self.prefix, sys.executable, str(REPO / "tests" / "zygote.py")],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
                                         env=self.env)
            atexit.register(self.close)
        request = {"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout,
                   "stdout": str(self.scratch / "out"), "stderr": str(self.scratch / "err")}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"tests/zygote.py ended (exit status {self.proc.wait()}); its stderr is above")
        reply = json.loads(line)
        return reply["returncode"], reply["timed_out"]

    def read(self, name: str) -> str:
        return (self.scratch / name).read_bytes().decode("utf-8", errors="replace")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


_ZYGOTES: dict[tuple[tuple[str, ...], bool], _Zygote] = {}


def run_python(*args: str | os.PathLike, cwd: str | os.PathLike = REPO, env: dict[str, str] | None = None,
               timeout: float | None = None, check: bool = False, prefix: Sequence[str] = (),
               compressai: bool = True) -> subprocess.CompletedProcess:
    """``python ARGS`` (``-m MODULE …`` or ``-c CODE …``) as a child process, output captured as text.

    The child is forked from a server that has imported torch and CompressAI already
    (``tests/zygote.py``), so a CLI test costs its work, not 3–8 s of imports. ``prefix`` is a
    command the server itself runs under (e.g. ``setpriv …``), so every child runs under it too;
    ``compressai=False`` asks for a server that has not imported CompressAI (cheaper to start). Use
    ``subprocess`` directly for what needs a fresh interpreter (what importing a module loads, the
    heap, signals sent to the process, several processes at once).
    """
    argv = [str(a) for a in args]
    key = (tuple(prefix), compressai)
    if key not in _ZYGOTES:
        _ZYGOTES[key] = _Zygote(tuple(prefix), compressai=compressai)
    zygote = _ZYGOTES[key]
    returncode, timed_out = zygote.run(argv, cwd=Path(cwd), env=dict(os.environ if env is None else env),
                                       timeout=timeout)
    command = [*prefix, sys.executable, *argv]
    stdout, stderr = zygote.read("out"), zygote.read("err")
    if timed_out:
        raise subprocess.TimeoutExpired(command, timeout, output=stdout, stderr=stderr)
    done = subprocess.CompletedProcess(command, returncode, stdout, stderr)
    if check:
        done.check_returncode()
    return done


@pytest.fixture
def forked_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """``verify``'s second decode in a child forked from the zygote instead of a fresh interpreter.

    Still another process (own pid, own torch thread count, ``bench`` imported afresh), without the
    8–12 s of importing torch and CompressAI again. ``tests/test_learned.py`` keeps one verify that
    starts a real interpreter.
    """
    from bench.core import verify

    monkeypatch.setattr(verify, "_second_process", lambda args, cwd: run_python(*args, cwd=cwd))


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
