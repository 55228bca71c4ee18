"""The complexity measurement's files and the labels that its writer and its renderer share.

The measurement (:mod:`bench.learned.complexity.run`) writes four CSV tables and the run file; the report
(:mod:`bench.analysis.complexity_report`) reads them, and nothing else, to write ``complexity.md`` and
the decode-time plot. The run file is JSON: :data:`RUN_FORMAT` under ``format``, a ``source`` note
(what wrote it), the measurement's conditions (``environment``, ``entropy_coder``, ``device``,
``threads``, ``allocator`` and ``allocator_module``, ``images``, ``repeats``, ``results``; ``absent``: codec →
why its counts or step timings are missing) and the counting convention ``gdn_elementwise_ops``. Neither
side imports torch here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.core.store import write_text_atomic
from bench.learned.macs import ComplexityError

__all__ = ["FILES", "KINDS", "RANDOM_INIT", "REFERENCE_CODEC", "RUN_FORMAT", "ComplexityError", "read_run",
           "write_run"]

FILES = {
    "markdown": "complexity.md",
    "macs": "complexity-macs.csv",
    "time": "complexity-time.csv",
    "steps": "complexity-time-steps.csv",
    "memory": "complexity-memory.csv",
    "run": "complexity-run.json",
    "plot": "complexity-decode-vs-bd-rate",
}
RUN_FORMAT = "lic-bench-complexity-run/1"
RANDOM_INIT = "random init"
"""The ``weights`` of a model timed random-initialised (no trained weights were available)."""
REFERENCE_CODEC = "jpeg"
"""Timed beside the learned models and listed first."""
KINDS: tuple[str, ...] = ("network", "entropy", "ar_loop", "total")
"""Step kinds: a network, the entropy coder, mbt2018's autoregressive loop (both, interleaved), a whole call."""


def write_run(path: str | Path, run: Mapping[str, Any]) -> Path:
    """Write the run file (``run`` without ``format``; it is added)."""
    path = Path(path)
    write_text_atomic(path, json.dumps({"format": RUN_FORMAT, **run}, indent=1, ensure_ascii=False) + "\n")
    return path


def read_run(path: str | Path) -> dict[str, Any]:
    """The run file's content; ComplexityError when it is missing, unreadable or of another format."""
    path = Path(path)
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComplexityError(f"{path} is missing; run `python -m bench complexity` to measure") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ComplexityError(f"{path}: unreadable ({exc}); run `python -m bench complexity` again") from None
    if not isinstance(run, dict) or run.get("format") != RUN_FORMAT:
        found = run.get("format") if isinstance(run, dict) else type(run).__name__
        raise ComplexityError(f"{path}: format {found!r}, expected {RUN_FORMAT!r}; run `python -m bench complexity` "
                              "again")
    return run
