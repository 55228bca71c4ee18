"""The training package's exception."""

from __future__ import annotations

from bench.core.errors import BenchError

__all__ = ["TrainError"]


class TrainError(BenchError):
    """Training cannot start or continue; the one-line message says why and how to fix it."""
