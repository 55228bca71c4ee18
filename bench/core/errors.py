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


def one_line(exc: BaseException | str) -> str:
    """An exception's message (or a text) on one line, whitespace collapsed; an exception without a message
    gives its type's name."""
    if isinstance(exc, str):
        return " ".join(exc.split())
    return " ".join(str(exc).split()) or type(exc).__name__
