"""The one registry of codecs.

Plug-ins are the Python files of the repository's ``codecs/`` folder (and of any
folder listed in ``BENCH_CODEC_PATH``). ``codecs`` is also a standard-library
module, so the folder is never imported as a package: each file is loaded by path
under the private name ``bench_plugins.<stem>``. A plug-in registers factories
with :func:`register`; heavy imports (torch, compressai) belong inside the
factory, so asking for JPEG never imports torch.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.codec import Codec
from bench.core.errors import CodecError

CODECS_DIR = Path(__file__).resolve().parents[2] / "codecs"

Factory = Callable[[Mapping[str, Any]], Codec]


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Factory
    summary: str
    plugin: str


_entries: dict[str, Entry] = {}
_loaded = False
_loading_plugin = "<python>"


def register(name: str, summary: str = "") -> Callable[[Factory], Factory]:
    """Decorator registering ``factory(options) -> Codec`` under ``name``."""

    def decorate(factory: Factory) -> Factory:
        if name in _entries:
            raise CodecError(
                f"codec {name!r} registered twice ({_entries[name].plugin} and {_loading_plugin}); rename one"
            )
        _entries[name] = Entry(name, factory, summary, _loading_plugin)
        return factory

    return decorate


def _plugin_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("BENCH_CODEC_PATH", "").split(os.pathsep) if p]
    return [CODECS_DIR, *extra]


def _load_plugins() -> None:
    global _loaded, _loading_plugin
    if _loaded:
        return
    _loaded = True
    for folder in _plugin_dirs():
        if not folder.is_dir():
            raise CodecError(f"codec plug-in folder {folder} does not exist; fix BENCH_CODEC_PATH")
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module_name = f"bench_plugins.{path.stem}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise CodecError(f"cannot load codec plug-in {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            _loading_plugin = str(path)
            try:
                spec.loader.exec_module(module)
            finally:
                _loading_plugin = "<python>"


def names() -> list[str]:
    """All registered codec names, sorted."""
    _load_plugins()
    return sorted(_entries)


def entry(name: str) -> Entry:
    """The registry entry for ``name``; an unknown name lists the known ones."""
    _load_plugins()
    try:
        return _entries[name]
    except KeyError:
        raise CodecError(f"unknown codec {name!r}; known codecs: {', '.join(names())}") from None


def create(name: str, options: Mapping[str, Any] | None = None) -> Codec:
    """Build the codec ``name`` with run options (device, weights, …)."""
    return entry(name).factory(dict(options or {}))
