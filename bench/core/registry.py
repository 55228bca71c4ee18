"""The one registry of codecs.

Plug-ins are the Python files of the repository's ``codecs/`` folder (and of any
folder listed in ``BENCH_CODEC_PATH``). ``codecs`` is also a standard-library
module, so the folder is never imported as a package: each file is loaded by path
under the private name ``bench_plugins.<stem>``. A plug-in registers factories
with :func:`register`, declaring its options (:class:`bench.core.options.Option`)
there, so they are known before any codec is built; heavy imports (torch,
compressai) belong inside the factory, so asking for JPEG never imports torch.

Plug-ins load in isolation: a file that fails to import (syntax error, missing
module, exception) is left out with one line in :func:`load_errors`, and every
other codec still works. Two plug-ins registering one name stay an error.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.codec import Codec
from bench.core.errors import CodecError, one_line
from bench.core.options import Option, resolve

CODECS_DIR = Path(__file__).resolve().parents[2] / "codecs"

Factory = Callable[[Mapping[str, Any]], Codec]


@dataclass(frozen=True)
class Entry:
    """A registered codec: its factory, one line for listings, the file it came from, its options.

    ``extras`` are keys a Python caller may pass to :func:`create` with objects that are not
    options (e.g. a ready ``WeightsSource`` under ``weights``): handed to the factory as they are,
    never parsed, checked or recorded.
    """

    name: str
    factory: Factory
    summary: str
    plugin: str
    options: tuple[Option, ...] = ()
    extras: tuple[str, ...] = ()


class DuplicateCodec(CodecError):
    """Two plug-ins register the same codec name."""


_entries: dict[str, Entry] = {}
_load_errors: list[str] = []
_loaded = False
_loading_plugin = "<python>"


def register(name: str, summary: str = "", *, options: Sequence[Option] = (),
             extras: Sequence[str] = ()) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory(options) -> Codec`` under ``name``, with its declared options.

    The factory receives every declared option resolved (defaults filled in), plus any ``extras``.
    """
    options = tuple(options)
    names = [option.name for option in options]
    if not all(isinstance(option, Option) for option in options) or len(set(names)) != len(names):
        raise CodecError(f"codec {name!r}: options must be Option objects with distinct names ({', '.join(names)})")
    if set(extras) & set(names):
        raise CodecError(f"codec {name!r}: {', '.join(sorted(set(extras) & set(names)))} is both an option and an extra")

    def decorate(factory: Factory) -> Factory:
        if name in _entries:
            raise DuplicateCodec(
                f"codec {name!r} registered twice ({_entries[name].plugin} and {_loading_plugin}); rename one"
            )
        _entries[name] = Entry(name, factory, summary, _loading_plugin, options, tuple(extras))
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
            _loading_plugin = str(path)
            try:
                spec = importlib.util.spec_from_file_location(module_name, path)
                if spec is None or spec.loader is None:
                    raise CodecError("not a loadable Python file")
                module = importlib.util.module_from_spec(spec)
                sys.modules[module_name] = module
                spec.loader.exec_module(module)
            except DuplicateCodec:
                raise
            except Exception as exc:  # noqa: BLE001 — one broken plug-in must not hide the others
                _forget_plugin(module_name, str(path))
                _load_errors.append(f"codec plug-in {path} failed to load, its codecs are left out: "
                                    f"{type(exc).__name__}: {one_line(exc)}")
            finally:
                _loading_plugin = "<python>"


def _forget_plugin(module_name: str, plugin: str) -> None:
    """Drop what a plug-in that failed half-way registered (its factories may need what never ran)."""
    sys.modules.pop(module_name, None)
    for name in [name for name, entry_ in _entries.items() if entry_.plugin == plugin]:
        del _entries[name]


def load_errors() -> list[str]:
    """One line per plug-in file that failed to load (file, exception); empty when all loaded."""
    _load_plugins()
    return list(_load_errors)


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
        failed = f" ({len(_load_errors)} plug-in(s) failed to load; see `python -m bench codecs`)" if _load_errors else ""
        raise CodecError(f"unknown codec {name!r}; known codecs: {', '.join(names())}{failed}") from None


def declared() -> dict[str, tuple[Option, ...]]:
    """Every registered codec's declared options, by name (no codec is built)."""
    _load_plugins()
    return {name: _entries[name].options for name in sorted(_entries)}


def create(name: str, options: Mapping[str, Any] | None = None) -> Codec:
    """Build the codec ``name`` with option values (``{"device": "cpu"}``; missing ones take their defaults).

    An undeclared key raises CodecError (unless it is one of the entry's ``extras``). The codec's
    ``options`` attribute holds the resolved values afterwards, unless the codec set its own.
    """
    found = entry(name)
    given = dict(options or {})
    objects = {key: given.pop(key) for key in found.extras if key in given}
    values = resolve(found.options, given, codec=name)
    codec = found.factory({**values, **objects})
    if not codec.options:
        codec.options = values
    return codec
