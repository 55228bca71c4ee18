"""The wrapper every command-line entry point runs its command in (``python -m bench``,
``python -m bench.learned.train``): library errors become one line and an exit status; SIGTERM stops a
command the way Ctrl-C does."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from bench.core.errors import BenchError, write_failure

__all__ = ["Terminated", "interrupted_status", "run_main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises :class:`KeyboardInterrupt`, so that a command
    stops the same way: every ``finally`` runs (a run's file is marked ``interrupted``) and the exit status
    is 143 (128 + SIGTERM)."""


def _terminate(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The exit status of a command stopped by ``exc``: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def run_main(command: Callable[[], int], *, interrupted: str = "interrupted") -> int:
    """Run a command-line ``command`` (the one wrapper of the project's CLIs).

    A :class:`BenchError` becomes one line ``error: …`` on stderr and exit status 2, as does an
    ``OSError`` of a file that cannot be written (permissions, read-only, disk full, file size limit);
    Ctrl-C prints ``interrupted`` and gives 130; SIGTERM stops the command the same way (143).
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file this user may not write (or read), a full disk: one line, no traceback
        failure = write_failure(exc)
        if failure is None or not exc.filename:
            raise
        cause, fix = failure
        print(f"error: {exc.filename}: {cause}; {fix.replace('pass another --results', 'write elsewhere')}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"\n{interrupted}{' (SIGTERM)' if isinstance(exc, Terminated) else ''}", file=sys.stderr)
        return interrupted_status(exc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
