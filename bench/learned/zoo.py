"""Facts about CompressAI's image model zoo: architectures, operating points, files.

An operating point is named by its training λ, the same label whether the weights come from
the zoo or from a user's checkpoint:

* MSE-trained zoo qualities 1…8 ↔ λ = 0.0018 … 0.1800, labels ``lambda0.0018`` … ``lambda0.1800``;
* MS-SSIM-trained qualities 1…8 ↔ λ = 2.40 … 220.00, labels ``msssim-lambda2.40`` …

The zoo's URLs, file names and channel counts are CompressAI's own tables (``model_urls`` and
``cfgs`` in ``compressai/zoo/image.py``). That module is used when it has been imported; otherwise its
source is read without being run (:func:`_read_zoo_tables`), since importing CompressAI costs seconds
(torch, torch_geometric) and a report only needs the file names. CompressAI's zoo file names end in
``-<first 8 hex digits of the file's sha256>.pth.tar``; :func:`hash_prefix` extracts them.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from bench import study
from bench.core.errors import CodecError

__all__ = [
    "ARCHITECTURES", "DEFAULT_POINTS", "LAMBDAS", "METRICS", "ZooPoint",
    "all_points", "channels", "check_arch", "hash_prefix", "is_zoo_label", "label",
    "model_class", "zoo_filename", "zoo_point", "zoo_url",
]

ARCHITECTURES: dict[str, str] = {
    "bmshj2018-factorized": "FactorizedPrior",
    "bmshj2018-factorized-relu": "FactorizedPriorReLU",
    "bmshj2018-hyperprior": "ScaleHyperprior",
    "mbt2018-mean": "MeanScaleHyperprior",
    "mbt2018": "JointAutoregressiveHierarchicalPriors",
    "cheng2020-anchor": "Cheng2020Anchor",
    "cheng2020-attn": "Cheng2020Attention",
}
"""CompressAI image architectures: zoo name → class name in ``compressai.models``."""

Metric = Literal["mse", "ms-ssim"]
METRICS: tuple[str, ...] = ("mse", "ms-ssim")

LAMBDAS: dict[str, tuple[float, ...]] = {
    "mse": (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800),
    "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00),
}
"""Training λ of zoo qualities 1…8, per distortion metric."""

DEFAULT_POINTS: tuple[str, ...] = study.POINTS
"""Labels benchmarked by default: MSE zoo qualities 3–6, the λ of the study."""

_HASH_IN_NAME = re.compile(r"-([0-9a-fA-F]{8,64})(?:\.[A-Za-z0-9]+)+$")


def label(metric: str, quality: int) -> str:
    """The operating-point label of zoo ``quality`` (1…8) trained for ``metric``."""
    if metric not in LAMBDAS:
        raise CodecError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not 1 <= quality <= len(LAMBDAS[metric]):
        raise CodecError(f"zoo quality {quality} out of range; use 1…{len(LAMBDAS[metric])}")
    lam = LAMBDAS[metric][quality - 1]
    return f"lambda{lam:.4f}" if metric == "mse" else f"msssim-lambda{lam:.2f}"


_LABELS: dict[str, tuple[str, int]] = {
    label(metric, q): (metric, q) for metric in METRICS for q in range(1, len(LAMBDAS[metric]) + 1)
}


@dataclass(frozen=True)
class ZooPoint:
    """One zoo model: architecture, training metric, zoo quality, λ and our label."""

    arch: str
    metric: str
    quality: int
    lam: float
    label: str


def check_arch(arch: str) -> str:
    """Return ``arch`` if it is a known architecture; else raise CodecError listing them."""
    if arch not in ARCHITECTURES:
        close = difflib.get_close_matches(arch, ARCHITECTURES, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CodecError(
            f"unknown CompressAI architecture {arch!r}{hint}; known: {', '.join(ARCHITECTURES)}; a model of your own "
            "is a codec plug-in: put its file in a folder on BENCH_CODEC_PATH (docs/plugins.md)"
        )
    return arch


def model_class(arch: str) -> type:
    """The ``compressai.models`` class of ``arch`` (imports compressai)."""
    check_arch(arch)
    models = importlib.import_module("compressai.models")
    return getattr(models, ARCHITECTURES[arch])


def is_zoo_label(point: str) -> bool:
    """Whether ``point`` has the form of a zoo label (for some architecture)."""
    return point in _LABELS


def _zoo_tables() -> Any:
    """``model_urls`` and ``cfgs`` of CompressAI's zoo: the imported module's, else read from its source."""
    module = sys.modules.get("compressai.zoo.image")
    return module if module is not None else _read_zoo_tables()


@functools.cache
def _read_zoo_tables() -> SimpleNamespace:
    """Evaluate the literal tables of ``compressai/zoo/image.py`` without importing CompressAI.

    Only dicts, tuples, constants and f-strings over earlier module-level strings (``root_url``) are
    evaluated; anything else in those assignments raises ImportError, as a failed import would.
    """
    spec = importlib.util.find_spec("compressai")  # a top-level package: located, not run
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("CompressAI is not installed: pip install -r requirements.txt")
    source = Path(next(iter(spec.submodule_search_locations))) / "zoo" / "image.py"
    names: dict[str, Any] = {}
    for node in ast.parse(source.read_text(encoding="utf-8"), filename=str(source)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("root_url", "model_urls", "cfgs"):
                names[name] = _literal(node.value, names, source)
    missing = {"model_urls", "cfgs"} - set(names)
    if missing:
        raise ImportError(f"{source} no longer defines {', '.join(sorted(missing))}")
    return SimpleNamespace(model_urls=names["model_urls"], cfgs=names["cfgs"])


def _literal(node: ast.expr, names: dict[str, Any], source: Path) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item, names, source) for item in node.elts)
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_literal(k, names, source): _literal(v, names, source) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal(part, names, source) for part in node.values)
    if isinstance(node, ast.FormattedValue) and node.format_spec is None and node.conversion == -1:
        return str(_literal(node.value, names, source))
    if isinstance(node, ast.Name) and isinstance(names.get(node.id), str):
        return names[node.id]
    raise ImportError(f"cannot read CompressAI's zoo tables from {source}: unexpected {ast.dump(node)[:60]}")


def _qualities(arch: str) -> list[int]:
    return sorted(_zoo_tables().cfgs[arch])


def all_points(arch: str, metric: str = "mse") -> list[str]:
    """The zoo labels of ``arch`` for ``metric``, lowest rate first."""
    check_arch(arch)
    return [label(metric, q) for q in _qualities(arch)]


def zoo_point(arch: str, point: str) -> ZooPoint:
    """Parse a zoo label for ``arch``; unknown or out-of-range labels raise CodecError."""
    check_arch(arch)
    if point not in _LABELS:
        raise CodecError(
            f"{arch} has no zoo operating point {point!r}; zoo labels: "
            f"{', '.join(all_points(arch, 'mse'))} (MSE) and "
            f"{', '.join(all_points(arch, 'ms-ssim'))} (MS-SSIM)"
        )
    metric, quality = _LABELS[point]
    qualities = _qualities(arch)
    if quality not in qualities:
        raise CodecError(
            f"{arch} {point}: quality out of range: the CompressAI zoo has qualities "
            f"{qualities[0]}-{qualities[-1]} for {arch}, not {quality}; use one of "
            f"{', '.join(all_points(arch, metric))}"
        )
    return ZooPoint(arch, metric, quality, LAMBDAS[metric][quality - 1], point)


def zoo_url(point: ZooPoint) -> str:
    """The URL of the zoo's weights for ``point``; CodecError if the zoo has none."""
    urls = _zoo_tables().model_urls
    try:
        return urls[point.arch][point.metric][point.quality]
    except KeyError:
        raise CodecError(
            f"the CompressAI zoo has no pretrained {point.metric} weights for {point.arch} "
            f"quality {point.quality} ({point.label}); give --checkpoint {point.arch}:{point.label}=PATH"
        ) from None


def zoo_filename(point: ZooPoint) -> str:
    """The canonical file name of ``point``'s zoo weights, e.g. ``mbt2018-3-22901978.pth.tar``."""
    return zoo_url(point).rstrip("/").rsplit("/", 1)[-1]


def channels(point: ZooPoint) -> dict[str, int]:
    """The zoo model's constructor channel counts, e.g. ``{"N": 192, "M": 320}``."""
    cfg = _zoo_tables().cfgs[point.arch][point.quality]
    return {name: int(c) for name, c in zip(("N", "M"), cfg, strict=False)}


def hash_prefix(filename: str) -> str:
    """The hex digits after the last ``-`` of a zoo file name: the start of its sha256."""
    match = _HASH_IN_NAME.search(filename)
    if match is None:
        raise CodecError(
            f"file name {filename!r} carries no hash prefix (expected NAME-<8 hex digits>.pth.tar)"
        )
    return match.group(1).lower()
