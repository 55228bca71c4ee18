"""bench.core.download against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.core.download import download, sha256_file
from bench.core.errors import DatasetError
from conftest import closed_port_url

PAYLOAD = bytes(range(256)) * 1000  # 256 kB: several read chunks


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def assert_one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(PAYLOAD)
    assert sha256_file(path) == hashlib.sha256(PAYLOAD).hexdigest()


def test_download_writes_file_and_leaves_no_temp(server: SimpleNamespace, tmp_path: Path) -> None:
    (server.root / "f.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "out" / "sub" / "f.bin"  # folders are created
    assert download(server.url + "f.bin", dest) == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["f.bin"]


def test_download_checks_expected_sha256(server: SimpleNamespace, tmp_path: Path) -> None:
    (server.root / "f.bin").write_bytes(PAYLOAD)
    good = hashlib.sha256(PAYLOAD).hexdigest()
    dest = tmp_path / "f.bin"
    download(server.url + "f.bin", dest, expected_sha256=good.upper())
    assert dest.read_bytes() == PAYLOAD


def test_hash_mismatch_keeps_old_file_and_leaves_no_temp(
    server: SimpleNamespace, tmp_path: Path
) -> None:
    (server.root / "f.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "f.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old content")
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(DatasetError) as error:
        download(server.url + "f.bin", dest, expected_sha256=wrong)
    assert_one_line(error, server.url + "f.bin", wrong, hashlib.sha256(PAYLOAD).hexdigest())
    assert dest.read_bytes() == b"old content"
    assert leftovers(dest.parent) == ["f.bin"]


def test_http_404(server: SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        download(server.url + "absent.bin", tmp_path / "absent.bin")
    assert_one_line(error, server.url + "absent.bin", "HTTP 404")
    assert leftovers(tmp_path) == ["www"]


def test_server_down(tmp_path: Path) -> None:
    url = closed_port_url("file.bin")
    with pytest.raises(DatasetError) as error:
        download(url, tmp_path / "file.bin", timeout=5)
    assert_one_line(error, url, "refused")
    assert leftovers(tmp_path) == []


def test_timeout(tmp_path: Path) -> None:
    # A socket that listens but never answers: the kernel completes the TCP handshake.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/slow.bin"
        with pytest.raises(DatasetError) as error:
            download(url, tmp_path / "slow.bin", timeout=0.3)
    assert_one_line(error, url, "timed out")
    assert leftovers(tmp_path) == []


def test_body_shorter_than_content_length(tmp_path: Path) -> None:
    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)  # then the connection closes

        def log_message(self, *args) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Short) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/short.bin"
        try:
            with pytest.raises(DatasetError) as error:
                download(url, tmp_path / "short.bin", timeout=5)
        finally:
            httpd.shutdown()
            thread.join()
    assert_one_line(error, url, "990 bytes missing")
    assert leftovers(tmp_path) == []


def test_bad_url(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as error:
        download("nonsense://x/y", tmp_path / "y")
    assert_one_line(error, "nonsense://x/y")
    assert leftovers(tmp_path) == []
