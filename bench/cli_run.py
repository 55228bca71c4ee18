"""The wrapper every command-line entry point runs its command in (``python -m bench``,
``python -m bench.learned.train``): library errors become one line and an exit status."""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable

from bench.core.errors import BenchError

__all__ = ["run_main"]


def run_main(command: Callable[[], int], *, interrupted: str = "interrupted") -> int:
    """Run a command-line ``command`` (the one wrapper of the project's CLIs).

    A :class:`BenchError` becomes one line ``error: …`` on stderr and exit status 2; Ctrl-C prints
    ``interrupted`` and gives 130.
    """
    try:
        return command()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder or file this user may not write (or read): one line, no traceback
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not exc.filename:
            raise
        print(f"error: {exc.filename}: {(exc.strerror or 'not permitted').lower()}; fix its permissions or "
              "write elsewhere", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{interrupted}", file=sys.stderr)
        return 130
