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

Some codecs exist only because of an option value: a family may register a
``variants`` hook that reads its option values and names the *variants* they
define, ``{name: base}`` (e.g. ``--checkpoint ablationA@mbt2018:…`` defines the
codec ``ablationA`` built as ``mbt2018``). :func:`expand` offers option values to
the hooks and registers what they define; a variant has its base's options and is
built by its base's factory, which receives the variant's name under the extra
:data:`VARIANT_NAME`. A variant never takes the name of a codec a plug-in registered.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.codec import Codec
from bench.core.errors import BenchError, CodecError, one_line
from bench.core.options import Option, resolve
from bench.core.plugins import plugin_dirs, plugin_files, run_plugin
from bench.core.targets import SUFFIX, targeted_factory, targets_option

CODECS_DIR = Path(__file__).resolve().parents[2] / "codecs"

Factory = Callable[[Mapping[str, Any]], Codec]
Variants = Callable[[Mapping[str, Any]], Mapping[str, str]]
"""A family's hook: its resolved option values → the variant codecs they define, ``{name: base}``."""

VARIANT_NAME = "name"
"""The extra under which a variant's factory receives the variant's name (its codec must carry it)."""


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
    variants: Variants | None = None
    """The family's hook naming the variants its option values define (see :func:`expand`)."""
    base: str | None = None
    """For a variant: the registered codec it is built as; None for a plug-in's own codec."""


class DuplicateCodec(CodecError):
    """Two plug-ins register the same codec name."""


_entries: dict[str, Entry] = {}
_load_errors: list[str] = []
_loaded = False
_loading_plugin = "<python>"


def register(name: str, summary: str = "", *, options: Sequence[Option] = (),
             extras: Sequence[str] = (), variants: Variants | None = None) -> Callable[[Factory], Factory]:
    """Decorator registering ``factory(options) -> Codec`` under ``name``, with its declared options.

    The factory receives every declared option resolved (defaults filled in), plus any ``extras``.
    With a ``variants`` hook the factory also builds this codec's variants (:func:`expand`): it then
    receives :data:`VARIANT_NAME` among the extras, absent for the codec itself.
    """
    options = tuple(options)
    extras = tuple(extras) + ((VARIANT_NAME,) if variants is not None and VARIANT_NAME not in extras else ())
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
        _entries[name] = Entry(name, factory, summary, _loading_plugin, options, tuple(extras), variants)
        return factory

    return decorate


def _load_plugins() -> None:
    global _loaded, _loading_plugin
    if _loaded:
        return
    _loaded = True
    folders = plugin_dirs(CODECS_DIR, "BENCH_CODEC_PATH")
    try:
        paths = list(plugin_files(folders, "BENCH_CODEC_PATH", "codec"))
    except BenchError as exc:
        raise CodecError(str(exc)) from None
    for path in paths:
        module_name = f"bench_plugins.{path.stem}"
        _loading_plugin = str(path)
        try:
            run_plugin(path, module_name)
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
    if name not in _entries and name.endswith(SUFFIX) and name[: -len(SUFFIX)] in _entries:
        base = _entries[name[: -len(SUFFIX)]]
        _entries[name] = Entry(name, targeted_factory(base.factory), f"{base.summary}, at rate targets per image",
                               base.plugin, (*base.options, targets_option()), base.extras, None, None)
    try:
        return _entries[name]
    except KeyError:
        failed = f" ({len(_load_errors)} plug-in(s) failed to load; see `python -m bench codecs`)" if _load_errors else ""
        close = difflib.get_close_matches(name, names(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CodecError(f"unknown codec {name!r}{hint}; known codecs: {', '.join(names())}{failed}") from None


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
    if found.base is not None and codec.name != name:
        raise CodecError(f"the variant {name!r} of {found.base!r} was built as {codec.name!r}; its factory "
                         f"({found.plugin}) must name the codec after the extra {VARIANT_NAME!r}")
    if not codec.options:
        codec.options = values
    return codec


def expand(values: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Register the variants that option values define and return them, ``{name: base}``.

    ``values`` maps a codec name to option values given for it (unresolved: the hook sees them with
    defaults filled in). A registered codec's values go to its family's hook; the values of a name
    not registered yet (a variant recorded by an earlier run) go to every hook whose options accept
    them. A name defined as two different bases, or taken by a plug-in's codec, is a CodecError.
    Registering again replaces a variant (the latest options define it).
    """
    _load_plugins()
    owners = {id(e.variants): e for e in _entries.values() if e.variants is not None and e.base is None}
    found: dict[str, str] = {}
    for name, given in values.items():
        known = _entries.get(name)
        if known is not None:
            owner = _entries[known.base] if known.base is not None else known
            candidates = [owner] if owner.variants is not None else []
        else:
            candidates = list(owners.values())
        for owner in candidates:
            try:
                resolved = resolve(owner.options, given, codec=name)
            except CodecError:
                if known is None:
                    continue  # the options of another family
                raise
            for variant, base in owner.variants(resolved).items():
                if variant == base:
                    continue
                if found.get(variant, base) != base:
                    raise CodecError(f"codec {variant!r} is defined twice, as a variant of {found[variant]!r} and "
                                     f"of {base!r}; give each variant its own name")
                found[variant] = base
    for variant, base in found.items():
        _register_variant(variant, base)
    return found


def _register_variant(name: str, base: str) -> None:
    existing = _entries.get(name)
    if existing is not None and existing.base is None:
        raise CodecError(f"the name {name!r} is taken by a codec of {existing.plugin}; it cannot also name a variant "
                         f"of {base!r} (e.g. a named model): choose another name")
    origin = entry(base)
    if origin.base is not None or origin.variants is None:
        raise CodecError(f"{name!r}: {base!r} has no variants (only a plug-in's codec with a variants hook does)")

    def factory(options: Mapping[str, Any]) -> Codec:
        return origin.factory({**options, VARIANT_NAME: name})

    factory.__name__ = f"variant_{base}"
    _entries[name] = Entry(name, factory, f"{origin.summary} ({name}, a variant of {base})", origin.plugin,
                           origin.options, origin.extras, None, base)
