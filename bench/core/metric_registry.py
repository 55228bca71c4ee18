"""The one registry of metrics, and the named sets a run asks for with ``--metrics``.

Plug-ins are the Python files of the repository's ``metrics/`` folder and of any folder listed in
``BENCH_METRIC_PATH`` (loaded by path, :mod:`bench.core.plugins`). A plug-in registers a factory with
:func:`register_metric`: a class deriving from :class:`bench.core.metric.Metric`, or any callable that
returns one. A file that fails to load is left out with one line in :func:`load_errors`.

Every run scores the *built-in* columns (PSNR, PSNR per Y′CbCr channel, MS-SSIM: :mod:`bench.core.metrics`);
the names here are the built-in ones (listed, never plug-ins) and the plug-ins' metrics. A *set* names several
metrics at once: ``jpeg-ai`` is the JPEG AI common test conditions' list.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path

from bench.core.errors import BenchError, MetricError, one_line
from bench.core.metric import Metric
from bench.core.plugins import plugin_dirs, plugin_files, run_plugin
from bench.core.schema import COLUMNS, Column

__all__ = ["BUILTIN", "METRICS_DIR", "SETS", "create_metric", "load_errors", "metric_names", "register_metric",
           "resolve_metrics"]

METRICS_DIR = Path(__file__).resolve().parents[2] / "metrics"
VARIABLE = "BENCH_METRIC_PATH"

#: Metrics every run scores, with the row columns they fill (:mod:`bench.core.metrics`).
BUILTIN: dict[str, tuple[str, ...]] = {
    "psnr": ("psnr",),
    "psnr-ycbcr": ("psnr_y", "psnr_u", "psnr_v", "psnr_yuv"),
    "ms-ssim": ("ms_ssim", "ms_ssim_db"),
}
#: Named sets of metrics. ``jpeg-ai``: the objective metrics of JPEG AI's common test conditions
#: (MS-SSIM, IW-SSIM, VIF, FSIM, NLPD, VMAF, PSNR-HVS-M, PSNR per Y′CbCr channel).
SETS: dict[str, tuple[str, ...]] = {
    "jpeg-ai": ("ms-ssim", "iw-ssim", "vif", "fsim", "nlpd", "vmaf", "psnr-hvs-m", "psnr-ycbcr"),
}

Factory = Callable[[], Metric]

_factories: dict[str, tuple[Factory, str]] = {}
_load_errors: list[str] = []
_loaded = False
_loading_plugin = "<python>"


class DuplicateMetric(MetricError):
    """Two plug-ins register the same metric name."""


def register_metric(factory: Factory) -> Factory:
    """Register a metric class (or a callable returning a :class:`Metric`) under its ``name``; usable as a
    class decorator. A name taken by another plug-in or by a built-in metric is an error."""
    name = getattr(factory, "name", None)
    if not isinstance(name, str) or not name:
        raise MetricError(f"{_loading_plugin}: register_metric needs a class with a `name` attribute, got {factory!r}")
    if name in BUILTIN or name in SETS:
        raise DuplicateMetric(f"{_loading_plugin}: metric {name!r} is a built-in metric or set; choose another name")
    if name in _factories:
        raise DuplicateMetric(f"metric {name!r} registered twice ({_factories[name][1]} and {_loading_plugin}); "
                              "rename one")
    _factories[name] = (factory, _loading_plugin)
    return factory


def _load_plugins() -> None:
    global _loaded, _loading_plugin
    if _loaded:
        return
    _loaded = True
    try:
        paths = list(plugin_files(plugin_dirs(METRICS_DIR, "BENCH_METRIC_PATH"), VARIABLE, "metric"))
    except BenchError as exc:
        raise MetricError(str(exc)) from None
    for path in paths:
        _loading_plugin = str(path)
        try:
            run_plugin(path, f"bench_metric_plugins.{path.stem}")
        except DuplicateMetric:
            raise
        except Exception as exc:  # noqa: BLE001 — one broken plug-in must not hide the others
            for name in [name for name, (_, plugin) in _factories.items() if plugin == str(path)]:
                del _factories[name]
            _load_errors.append(f"metric plug-in {path} failed to load, its metrics are left out: "
                                f"{type(exc).__name__}: {one_line(exc)}")
        finally:
            _loading_plugin = "<python>"


def load_errors() -> list[str]:
    """One line per metric plug-in file that failed to load; empty when all loaded."""
    _load_plugins()
    return list(_load_errors)


def metric_names() -> list[str]:
    """The plug-ins' metric names, sorted (the built-in ones are :data:`BUILTIN`)."""
    _load_plugins()
    return sorted(_factories)


def plugin_of(name: str) -> str:
    """The file that registered the plug-in metric ``name``."""
    _load_plugins()
    return _factories[name][1]


def create_metric(name: str) -> Metric:
    """Build the plug-in metric ``name`` and check its declaration; an unknown name lists the known ones."""
    _load_plugins()
    if name not in _factories:
        known = [*BUILTIN, *metric_names()]
        close = difflib.get_close_matches(name, [*known, *SETS], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        failed = f"; {len(_load_errors)} metric plug-in(s) failed to load (python -m bench metrics)" if _load_errors else ""
        raise MetricError(f"unknown metric {name!r}{hint}; known metrics: {', '.join(known)}; "
                          f"sets: {', '.join(SETS)}{failed}")
    factory, plugin = _factories[name]
    metric = factory()
    _check(metric, plugin)
    return metric


def _check(metric: Metric, plugin: str) -> None:
    """Raise MetricError naming ``plugin`` unless ``metric`` declares float columns the schema does not use,
    with its primary column among them."""
    if not isinstance(metric, Metric):
        raise MetricError(f"{plugin}: the factory of {metric!r} did not return a bench.core.metric.Metric")
    columns = metric.columns
    if not columns or not all(isinstance(column, Column) and column.kind == "float" for column in columns):
        raise MetricError(f"{plugin}: metric {metric.name!r} must declare its columns as Column(name, 'float', …)")
    taken = [column.name for column in columns if column.name in COLUMNS]
    if taken:
        raise MetricError(f"{plugin}: metric {metric.name!r} declares {', '.join(taken)}, a column the schema "
                          "already has; give its columns their own names")
    if metric.primary not in [column.name for column in columns]:
        raise MetricError(f"{plugin}: metric {metric.name!r}: primary column {metric.primary!r} is not one of "
                          "its columns")


def resolve_metrics(requested: Iterable[str]) -> list[Metric]:
    """The plug-in metrics that ``requested`` names (metric names and sets; built-in names add nothing, as
    every run scores them), each once, in order; two metrics filling one column is an error."""
    names: list[str] = []
    for item in requested:
        for name in SETS.get(item, (item,)):
            if name not in BUILTIN and name not in names:
                names.append(name)
    metrics = [create_metric(name) for name in names]
    owners: dict[str, str] = {}
    for metric in metrics:
        for column in metric.columns:
            if column.name in owners:
                raise MetricError(f"metrics {owners[column.name]!r} and {metric.name!r} both fill the column "
                                  f"{column.name!r}; ask for one of them")
            owners[column.name] = metric.name
    return metrics
