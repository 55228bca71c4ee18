"""One writer at a time per results folder: an advisory lock (``flock``) on ``<folder>/.lock``.

The lock file holds the PID and purpose of the holder (``1234 run``), so a second writer can say
whom it waits for. It is never deleted (deleting a lock file races with the next taker). The lock is
re-entrant within a process: nested :func:`folder_lock` calls on the same folder share it. The
kernel drops it when the holder dies, so a killed run never leaves a stale lock behind. The lock
file is opened without following a symbolic link and must be a regular file with no other hard link,
so taking the lock never truncates or writes another file.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import StoreError

__all__ = ["LOCK_FILE", "folder_lock", "holder"]

log = logging.getLogger(__name__)

#: Name of the lock file in a results folder (``<results>/<dataset>/.lock``).
LOCK_FILE = ".lock"
_POLL_S = 0.1


@dataclass
class _Held:
    fd: int
    pid: int  #: the process that took it (a forked child does not hold its parent's lock)
    depth: int = 1


_held: dict[Path, _Held] = {}


def holder(folder: str | Path) -> str:
    """Who holds (or last held) the lock of ``folder``: ``"the run of PID 1234"``, or ``"another process"``."""
    try:
        pid, _, purpose = (Path(folder) / LOCK_FILE).read_text(encoding="utf-8").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        pid, purpose = "", ""
    if not pid.isdigit():
        return "another process"
    return f"the {purpose or 'run'} of PID {pid}"


def _open(path: Path) -> int:
    """A descriptor of the lock file ``path``, a regular file of its own (:class:`StoreError` otherwise)."""
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
        except PermissionError:
            # a lock file another user created: flock works on a read-only descriptor too
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{path} is a symbolic link; the lock file must be a regular file of the results "
                             f"folder: remove the link (rm {path}) and rerun") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        what = "not a regular file" if not stat.S_ISREG(info.st_mode) else "hard-linked to another file"
        raise StoreError(f"{path} is {what}; the lock file must be a file of its own: remove it (rm {path}) "
                         "and rerun")
    return fd


@contextmanager
def folder_lock(folder: str | Path, *, timeout: float | None = None, purpose: str = "run",
                on_wait: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold the lock of ``folder`` (which must exist) for the ``with`` block.

    Waits while another process holds it: ``on_wait`` gets one line saying for whom (default: logged
    at INFO), once; ``timeout`` seconds at most (``None``: as long as it takes; ``0``: not at all),
    then :class:`StoreError`. Yields whether this call took the lock (``False`` when this process
    already held it).
    """
    path = Path(folder).resolve() / LOCK_FILE
    held = _held.get(path)
    if held is not None and held.pid == os.getpid():
        held.depth += 1
        try:
            yield False
        finally:
            held.depth -= 1
        return
    fd, owner = _open(path), os.getpid()
    try:
        _acquire(fd, path.parent, timeout, on_wait)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{owner} {purpose}\n".encode(), 0)
        except OSError:
            pass  # a read-only lock file: the lock holds, only the holder's name is not recorded
        _held[path] = _Held(fd, owner)
        try:
            yield True
        finally:
            _held.pop(path, None)
    finally:
        if os.getpid() == owner:  # a forked child closed its copy at fork (_forget_in_child)
            os.close(fd)  # closing the descriptor releases the lock


def _forget_in_child() -> None:
    """A forked child (a worker process) closes its copies of the held locks' descriptors.

    The lock stays with the parent; without this, a worker that outlived a killed parent would keep
    the folder locked.
    """
    for held in _held.values():
        try:
            os.close(held.fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _acquire(fd: int, folder: Path, timeout: float | None, on_wait: Callable[[str], None] | None) -> None:
    deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            raise StoreError(f"results folder {folder} is in use by {holder(folder)}; wait for it to finish "
                             "(or wait longer: --wait SECONDS) or pass another --results")
        if not told:
            message = f"waiting for {holder(folder)} to finish ({folder / LOCK_FILE})"
            (on_wait or log.info)(message)
            told = True
        time.sleep(_POLL_S)
