"""Shared fixtures: synthetic images, and the real data CI points at through environment variables."""

from __future__ import annotations

import atexit
import csv
import fcntl
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
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


class _Zygote:
    """A connection to this test run's ``tests/zygote.py`` server of one kind (command prefix, CompressAI
    or not), which the first worker to need it starts and every worker shares (see its docstring)."""

    def __init__(self, prefix: tuple[str, ...] = (), *, compressai: bool = True) -> None:
        self.prefix = prefix
        self.env = {**os.environ, "ZYGOTE_COMPRESSAI": "1" if compressai else "0"}
        kind = hashlib.sha256(repr((prefix, compressai)).encode()).hexdigest()[:8]
        self.path = _RUN_DIR / f"zygote-{kind}.sock"
        self.scratch = Path(tempfile.mkdtemp(prefix="zygote-"))
        self.connection: socket.socket | None = None
        self.lines: tuple = ()
        self.answered = 0  # requests answered on this connection
        atexit.register(self.close)

    def start(self) -> None:
        """Start this kind's server unless one runs or is starting; do not wait for it."""
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._server()

    def _server(self) -> int:
        """The pid of the server that listens or is importing (started here if none); the lock is held."""
        pid_file = Path(f"{self.path}.pid")
        try:
            pid = int(pid_file.read_text())
            if os.waitpid(pid, os.WNOHANG)[0] == 0:  # our child, still running
                return pid
        except ChildProcessError:  # another worker's
            if _alive(pid):
                return pid
        except (FileNotFoundError, ValueError):
            pass
        server = subprocess.Popen([*self.prefix, sys.executable, str(REPO / "tests" / "zygote.py"), str(self.path)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd=REPO, env=self.env)
        _SERVERS.append(server)
        pid_file.write_text(str(server.pid))
        return server.pid

    def _connect(self) -> None:
        with open(f"{self.path}.lock", "a") as lock:  # one worker at a time checks and, if need be, starts
            fcntl.flock(lock, fcntl.LOCK_EX)
            servers = set()
            while True:
                connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    connection.connect(str(self.path))
                    break
                except OSError:
                    connection.close()
                servers.add(self._server())
                if len(servers) > 2:  # one that was closing, one started for us: a third means it cannot start
                    raise RuntimeError("tests/zygote.py ended before listening, again; its stderr is above")
                time.sleep(0.05)
        self.connection, self.answered = connection, 0
        self.lines = (connection.makefile("w", encoding="utf-8"),
                      connection.makefile("r", encoding="utf-8"))

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float | None) -> tuple[int, bool]:
        request = {"argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout,
                   "stdout": str(self.scratch / "out"), "stderr": str(self.scratch / "err")}
        while True:
            if self.connection is None:
                self._connect()
            try:
                self.lines[0].write(json.dumps(request) + "\n")
                self.lines[0].flush()
                line = self.lines[1].readline()
            except OSError:
                line = ""
            if line:
                self.answered += 1
                reply = json.loads(line)
                return reply["returncode"], reply["timed_out"]
            fresh = self.answered == 0
            self.close()
            if not fresh:
                raise RuntimeError("the tests/zygote.py session ended mid-run; its stderr is above")
            # a new connection reset before any answer: the server was closing as it arrived; start another

    def read(self, name: str) -> str:
        return (self.scratch / name).read_bytes().decode("utf-8", errors="replace")

    def close(self) -> None:
        if self.connection is not None:
            for stream in self.lines:
                stream.close()
            self.connection.close()
            self.connection, self.lines = None, ()


_SERVERS: list[subprocess.Popen] = []


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:  # no /proc here (or it just ended): as before, counted as running
        return True


_RUN_DIR = Path(tempfile.gettempdir())
"""Where the zygote sockets live: pytest's temporary folder of this run, which every worker shares."""


@pytest.fixture(scope="session", autouse=True)
def _zygote_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    global _RUN_DIR
    base = tmp_path_factory.getbasetemp()  # under pytest-xdist: <run folder>/popen-gwN
    _RUN_DIR = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":  # import while the first tests run
        _zygote().start()


_ZYGOTES: dict[tuple[tuple[str, ...], bool], _Zygote] = {}


def _zygote(prefix: tuple[str, ...] = (), compressai: bool = True) -> _Zygote:
    key = (prefix, compressai)
    if key not in _ZYGOTES:
        _ZYGOTES[key] = _Zygote(prefix, compressai=compressai)
    return _ZYGOTES[key]


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
    zygote = _zygote(tuple(prefix), compressai)
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
