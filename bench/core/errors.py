"""Exceptions raised by the harness; the CLI turns them into one-line messages."""


class BenchError(Exception):
    """Base class: a problem the user can fix; its message says how."""


class ImageError(BenchError):
    """An input image cannot be used (unreadable, unsupported mode, …)."""


class DatasetError(BenchError):
    """A dataset cannot be found, downloaded or verified."""


class CodecError(BenchError):
    """An unknown codec or operating point, or a codec that cannot run."""


class CodecUnavailable(CodecError):
    """A codec that cannot run here (e.g. no weights can be had); a run skips it with one line."""


class MetricError(BenchError):
    """A metric cannot be computed for these inputs (e.g. image too small)."""


class StoreError(BenchError):
    """A results file (rows or run metadata) that cannot be read or extended."""


class WorkerError(BenchError):
    """A process of the run's pool ended while the run waited on it (killed, out of memory, crashed)."""


def one_line(exc: BaseException | str) -> str:
    """An exception's message (or a text) on one line, whitespace collapsed; an exception without a message
    gives its type's name."""
    if isinstance(exc, str):
        return " ".join(exc.split())
    return " ".join(str(exc).split()) or type(exc).__name__


#: errno → (what went wrong, how to fix it) for a write that failed on the file system's side.
_WRITE_FAILURES: dict[str, tuple[str, str]] = {
    "ENOSPC": ("the disk is full (ENOSPC)", "free space on its disk or pass another --results"),
    "EDQUOT": ("the disk quota is exceeded (EDQUOT)", "free space in your quota or pass another --results"),
    "EFBIG": ("the file size limit is reached (EFBIG; see ulimit -f)",
              "raise the limit (ulimit -f unlimited) or pass another --results"),
    "EROFS": ("the file system is read-only (EROFS)", "remount it read-write or pass another --results"),
    "EACCES": ("permission denied (EACCES)", "fix its permissions or pass another --results"),
    "EPERM": ("operation not permitted (EPERM)", "fix its permissions or pass another --results"),
    "EIO": ("an I/O error (EIO)", "check the disk, then pass another --results"),
}


def write_failure(exc: OSError) -> tuple[str, str] | None:
    """What a failed write's ``OSError`` means and how to fix it, for the errors a full or locked-down disk
    gives (disk full, quota, file size limit, read-only, permissions, I/O); ``None`` for any other error."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return _WRITE_FAILURES.get(name)


class PluginError(BenchError):
    """A plug-in (codec or metric) that breaks its contract; the message names the plug-in and the fix."""
