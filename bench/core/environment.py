"""What a result depends on besides the code: versions, hardware, threads, commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[2]
PACKAGES = ("numpy", "pillow", "torch", "torchvision", "compressai", "pytorch-msssim", "scipy", "pandas")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """HEAD of the repository, with ``+dirty`` when tracked files have changes.

    Reads only: ``git status`` is told not to refresh the index (``--no-optional-locks``), which would
    write ``.git/index.lock`` and, were git killed meanwhile (a file size limit), leave it behind.
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_DIR, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def gpu_model() -> str | None:
    """Name of the first CUDA device when torch is installed and sees one."""
    if "torch" not in sys.modules and _version("torch") is None:
        return None
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return None


def machine() -> dict[str, Any]:
    """The hardware part of a host fingerprint: CPU model, logical cores, GPU model (``None``: none seen)."""
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpu": gpu_model()}


def fingerprint(*, device: str, threads: int, allocator: str,
                hardware: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a timing depends on besides the code: the machine (:func:`machine`, or ``hardware`` when
    given) and the run's settings: the device the codec ran on, torch threads and heap policy."""
    facts = dict(machine() if hardware is None else hardware)
    return {"cpu": facts.get("cpu"), "cpu_count": facts.get("cpu_count"), "gpu": facts.get("gpu"),
            "device": device, "threads": int(threads), "allocator": allocator}


def host_id(fingerprint_: Mapping[str, Any]) -> str:
    """A short hash of a fingerprint (the rows' ``host`` column; ``""`` is an unknown host)."""
    blob = json.dumps(dict(fingerprint_), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def collect() -> dict[str, Any]:
    """A JSON-ready description of the machine and software a run used."""
    threads = None
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {
        "date": utc_now(),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu_model(),
        "torch_threads": threads,
        "versions": {p: _version(p) for p in PACKAGES},
    }
