"""Download a file atomically, optionally checking its SHA-256.

Generic on purpose (datasets now, model weights later): it knows URLs and files, nothing
about what they contain. The destination either keeps its old content or receives the
complete, verified new file; a failed or interrupted download leaves no partial file.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from bench.core.errors import DatasetError, one_line

__all__ = ["download", "sha256_file"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_USER_AGENT = "lic-bench (image-compression benchmark)"


def sha256_file(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def download(
    url: str,
    dest: Path,
    *,
    timeout: float = 60.0,
    expected_sha256: str | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` and return ``dest``.

    The body is streamed to a temporary file in ``dest``'s folder, flushed to disk, checked
    against ``expected_sha256`` (when given), then moved onto ``dest`` with ``os.replace``.

    Parameters
    ----------
    url
        Anything ``urllib.request`` opens (http, https, file).
    dest
        Final path; its folder is created if needed.
    timeout
        Seconds to wait for the connection and for each read.
    expected_sha256
        Hex digest the downloaded bytes must have; None skips the check.

    Raises
    ------
    DatasetError
        Network or HTTP failure, a body shorter than announced, or a hash mismatch;
        the one-line message names the URL and the reason.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.NamedTemporaryFile(
            dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
        )
    except OSError as exc:
        raise DatasetError(
            f"cannot write into {dest.parent} to download {url}: {one_line(exc)}"
        ) from None

    tmp_path = Path(tmp.name)
    try:
        try:
            with tmp:
                digest = _fetch(url, tmp, timeout)
                tmp.flush()
                os.fsync(tmp.fileno())
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            raise DatasetError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise DatasetError(f"download of {url} failed: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise DatasetError(f"download of {url} failed: timed out after {timeout:g} s") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DatasetError(f"download of {url} failed: {_reason(exc)}") from None

        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise DatasetError(
                f"download of {url} has the wrong content: sha256 {digest}, "
                f"expected {expected_sha256.lower()}"
            )
        try:
            os.replace(tmp_path, dest)
        except OSError as exc:
            raise DatasetError(
                f"cannot move the download of {url} onto {dest}: {one_line(exc)}"
            ) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    log.info("downloaded %s to %s", url, dest)
    return dest


def _fetch(url: str, out: BinaryIO, timeout: float) -> str:
    """Stream ``url`` into the open binary file ``out``; return the body's sha256."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(request, timeout=timeout) as response:
        announced = response.headers.get("Content-Length")
        encoded = response.headers.get("Content-Encoding", "identity") != "identity"
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
    # http.client does not raise when the connection closes early on read(n): check here.
    if announced is not None and announced.isdigit() and not encoded and received != int(announced):
        raise http.client.IncompleteRead(b"", int(announced) - received)
    return digest.hexdigest()


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, http.client.IncompleteRead):
        return f"connection closed early ({reason.expected} bytes missing)"
    if isinstance(reason, BaseException):
        return one_line(reason)
    return " ".join(str(reason).split())

