"""How the C heap treats large blocks in the timing process: glibc's default, or kept for reuse.

glibc serves every block above its mmap threshold (dynamic, at most 32 MiB by default) with a fresh
``mmap`` and hands it back to the kernel on ``free``. A learned codec on a Kodak-size image allocates
activations of 12–50 MiB per layer, so every call maps them again and page-faults through zeroed
memory: about a quarter of a CPU encode or decode here (factorized prior, 768×512, one thread:
0.61 → 0.43 s encode, 0.78 → 0.57 s decode). That is the allocator, not the codec, and it is what
PyTorch's caching allocator already avoids on CUDA. ``caching`` raises the mmap and trim thresholds
so that freed blocks stay in the heap and the next call reuses them (after the warm-up, a timed call
faults no new memory); ``system`` leaves glibc as it is (the conditions of ``compressai.utils.eval_model``).

The setting is process-wide and cannot be undone, so only entry points (the CLI) apply it; the
evaluator records the mode it was told in every row's ``allocator`` column.
"""

from __future__ import annotations

import ctypes
import platform

MODES = ("caching", "system")
#: Blocks up to this size come from the heap, and up to this much free memory stays there.
KEEP_BYTES = 1 << 30
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def apply(mode: str) -> str:
    """Set the heap policy ``mode`` for this process; returns the mode in effect.

    ``caching`` needs glibc's ``mallopt``; elsewhere (macOS, musl) the heap stays as it is and
    ``system`` is returned, so the caller records what really ran.
    """
    if mode not in MODES:
        raise ValueError(f"unknown allocator mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "system":
        return "system"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return "system"
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return "system"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 when glibc refuses the value.
    if mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES) != 1 or mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) != 1:
        return "system"
    return "caching"
