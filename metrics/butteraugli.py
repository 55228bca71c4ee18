"""Butteraugli (J. Alakuijala et al., Google), libjxl's version, through libjxl's ``butteraugli_main`` tool.

Butteraugli is the psychovisual distance that JPEG XL's encoder targets (``cjxl -d``): both images are read
as sRGB, linearised, scaled to an intensity target of 80 nits, converted to an opsin-like colour space and
split into frequency bands; per pixel, masked differences of the bands give a distance map in units of
"just noticeable differences" (about 1.0: barely visible at 1:1 viewing). Two numbers pool that map, and
lower is better for both:

- ``butteraugli``: its maximum, the first number ``butteraugli_main`` prints (the tool's "distance");
- ``butteraugli_3norm``: its 3-norm, which libjxl's ``benchmark_xl`` reports as "pnorm" and multiplies by
  the bit rate (bpp × pnorm) to rank encoders.

The 3-norm is the primary column: a maximum is set by a single worst pixel neighbourhood, so along a codec's
rate–distortion curve it jumps with wherever one artefact lands and is not even monotonic in the rate, while
the 3-norm pools the whole map and still weights the worst areas more than a mean does.

No Python package implements libjxl's butteraugli (``imagecodecs`` has none; PyPI has no binding), so the
plug-in runs the tool: the ``BENCH_BUTTERAUGLI`` environment variable names it, else ``butteraugli_main`` is
looked up on ``PATH`` (Debian and Ubuntu: ``apt-get install libjxl-devtools``). Each score writes the two
images as untagged 8-bit PNGs (read as sRGB by the tool) and runs ``butteraugli_main REF TEST
--intensity_target 80 --pnorm 3`` (the tool's defaults, given explicitly); it uses its own thread pool (4
threads in libjxl 0.7), which the harness's thread setting does not reach. The tool returns a zero distance
for an image with a side under 8 pixels, so such images are refused instead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import MetricError, one_line
from bench.core.metric import Metric, check_rgb8, check_same_shape
from bench.core.metric_registry import register_metric
from bench.core.schema import Column

__all__ = ["DEBIAN_PACKAGE", "ENV_VARIABLE", "INTENSITY_TARGET", "MIN_SIDE", "PNORM", "TOOL", "Butteraugli",
           "find_tool", "parse_output", "tool_identity"]

TOOL = "butteraugli_main"
ENV_VARIABLE = "BENCH_BUTTERAUGLI"
DEBIAN_PACKAGE = "libjxl-devtools"
#: Display luminance in nits of an sRGB value of 1.0 (the tool's default).
INTENSITY_TARGET = 80
#: The norm of the second column (the tool's and benchmark_xl's default).
PNORM = 3
#: libjxl's butteraugli gives 0 for images with a side under 8 pixels.
MIN_SIDE = 8
_TIMEOUT_S = 600

_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:inf|nan)"
_NORM_LINE = re.compile(rf"^\s*(?P<p>{_FLOAT})-norm:\s*(?P<value>{_FLOAT})\s*$", re.IGNORECASE)


def find_tool() -> str:
    """The ``butteraugli_main`` executable: ``$BENCH_BUTTERAUGLI``, else the one on ``PATH``; MetricError when
    there is none, naming how to install it."""
    named = os.environ.get(ENV_VARIABLE)
    if named:
        path = shutil.which(named)
        if path is None:
            raise MetricError(f"butteraugli: {ENV_VARIABLE}={named!r} is not an executable file; point it at "
                              f"libjxl's {TOOL} or unset it to use the one on PATH")
        return path
    path = shutil.which(TOOL)
    if path is None:
        raise MetricError(f"butteraugli needs libjxl's {TOOL} tool, which is not on PATH: install it (Debian/Ubuntu: "
                          f"apt-get install {DEBIAN_PACKAGE}) or set {ENV_VARIABLE} to its path")
    return path


def parse_output(text: str, pnorm: float = PNORM) -> tuple[float, float]:
    """The maximum distance and the ``pnorm``-norm from ``butteraugli_main``'s standard output: the first line
    is the maximum, a later line ``<p>-norm: <value>`` the norm. MetricError when either is missing."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        maximum = float(lines[0])
    except (IndexError, ValueError):
        raise MetricError(f"butteraugli: cannot read a distance from {TOOL}'s output {one_line(text)[:200]!r}") \
            from None
    for line in lines[1:]:
        match = _NORM_LINE.match(line)
        if match and float(match["p"]) == pnorm:
            return maximum, float(match["value"])
    raise MetricError(f"butteraugli: {TOOL}'s output {one_line(text)[:200]!r} has no '{pnorm:g}-norm:' line")


@functools.lru_cache(maxsize=8)
def tool_identity(path: str) -> dict[str, str]:
    """What identifies the tool at ``path``: the Debian package and version that installed it, else the
    SHA-256 of the file (libjxl 0.7's tool has no ``--version``)."""
    identity = {"tool": path}
    for candidate in dict.fromkeys([path, os.path.realpath(path)]):
        try:
            owner = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            break
        if owner.returncode == 0 and ":" in owner.stdout:
            package = owner.stdout.split(":", 1)[0].strip()
            version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                                     text=True, timeout=30)
            if version.returncode == 0 and version.stdout.strip():
                identity[package] = version.stdout.strip()
                return identity
    identity["sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return identity


def _check(image: np.ndarray, name: str) -> None:
    check_rgb8("butteraugli", image, name, MIN_SIDE)


@register_metric
class Butteraugli(Metric):
    """libjxl's butteraugli distance (maximum and 3-norm) through butteraugli_main; lower is better."""

    name = "butteraugli"
    version = 1
    columns = (
        Column("butteraugli", "float",
               "Butteraugli distance, maximum of the distance map (lower is better; about 1 = just noticeable) of "
               "the 8-bit RGB images read as sRGB at 80 nits, hf_asymmetry 0.8: the first number of libjxl's "
               "butteraugli_main"),
        Column("butteraugli_3norm", "float",
               "Butteraugli 3-norm of the distance map (lower is better), same conversion: the '3-norm' line of "
               "libjxl's butteraugli_main (benchmark_xl's pnorm), printed to 6 decimals"),
    )
    primary = "butteraugli_3norm"
    higher_is_better = False
    unit = ""
    cost = "moderate"
    needs = "8-bit sRGB RGB (linearised, 80 nits), written as PNG for libjxl's butteraugli_main"
    min_side = MIN_SIDE

    def identity(self) -> dict[str, Any]:
        return {**tool_identity(find_tool()), "intensity_target": INTENSITY_TARGET, "pnorm": PNORM,
                "input": "untagged 8-bit PNG (read as sRGB)"}

    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        _check(reference, "reference")
        _check(test, "test")
        check_same_shape("butteraugli", reference, test)
        tool = find_tool()
        from PIL import Image

        with tempfile.TemporaryDirectory(prefix="bench-butteraugli-") as folder:
            paths = [os.path.join(folder, name) for name in ("reference.png", "test.png")]
            for image, path in zip((reference, test), paths):
                Image.fromarray(image, "RGB").save(path, compress_level=1)
            command = [tool, *paths, "--intensity_target", str(INTENSITY_TARGET), "--pnorm", str(PNORM)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise MetricError(f"butteraugli: {tool} did not finish within {_TIMEOUT_S} s") from None
            except OSError as exc:
                raise MetricError(f"butteraugli: cannot run {tool}: {one_line(exc)}") from None
        if done.returncode != 0:
            raise MetricError(f"butteraugli: {tool} failed (exit status {done.returncode}): "
                              f"{one_line(done.stderr or done.stdout)[-300:]}")
        maximum, norm = parse_output(done.stdout)
        return {"butteraugli": maximum, "butteraugli_3norm": norm}

    def describe(self) -> str:
        return "butteraugli: libjxl's butteraugli distance (max and 3-norm; lower is better) via butteraugli_main"
