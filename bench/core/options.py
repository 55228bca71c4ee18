"""Options a codec family declares: typed, defaulted, documented, plain JSON values.

A plug-in declares its options when it registers (``register(name, summary, options=(Option(...), …))``),
so the command line can offer them before any codec is built. Values reach a codec in three layers,
each overriding the one before: the declared defaults, the convenience flags (``Option.flag``, e.g.
``--device cpu``), and ``--codec-args NAME:KEY=VALUE,KEY=VALUE``. The resolved values are plain
``str``/``int``/``float``/``bool``/``list[str]`` (or None for "not set"), so they pickle into worker
processes and are recorded in the run metadata, from which ``verify`` rebuilds the codec.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.core.errors import CodecError

__all__ = ["TYPES", "Option", "flag_options", "layered", "parse_codec_args", "resolve"]

#: The types an option may have; ``list`` is a list of strings (a repeatable flag).
TYPES: tuple[type, ...] = (str, int, float, bool, list)

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FLAG = re.compile(r"--[a-z][a-z0-9-]*")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One option of a codec family.

    ``default`` is a value of ``type``, or None for "not set" (the codec decides, e.g. from the
    environment). ``flag`` is the convenience command-line alias: for a ``bool`` option the flag
    sets the opposite of the default (``--no-update`` sets ``update`` to False); for a ``list``
    option it is repeatable and each use adds one item; otherwise it takes one value.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    flag: str | None = None
    metavar: str | None = None

    def __post_init__(self) -> None:
        where = f"option {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise CodecError(f"{where}: a name is lower-case letters, digits and '_' (e.g. 'device')")
        if self.type not in TYPES:
            raise CodecError(f"{where}: type must be one of {', '.join(t.__name__ for t in TYPES)}")
        if not self.help:
            raise CodecError(f"{where}: give a help text")
        if self.flag is not None and not _FLAG.fullmatch(self.flag):
            raise CodecError(f"{where}: flag {self.flag!r} must look like '--lower-case'")
        if self.type is bool and self.default is None and self.flag is not None:
            raise CodecError(f"{where}: a bool flag sets the opposite of the default, so give a default")
        object.__setattr__(self, "choices", tuple(self.choices))
        for choice in self.choices:
            self._check_type(choice, "choice")
        if self.default is not None:
            self._check_type(self.default, "default")
            if self.type is list:
                object.__setattr__(self, "default", list(self.default))
            if self.choices and self.default not in self.choices:
                raise CodecError(f"{where}: default {self.default!r} is not one of its choices")

    def _check_type(self, value: Any, what: str) -> None:
        if not _is_type(value, self.type):
            raise CodecError(f"option {self.name!r}: {what} {value!r} is not a {_type_name(self.type)}")

    def describe_type(self) -> str:
        """``{auto,cpu,cuda}``, ``int``, ``list of str`` …, for help texts."""
        if self.choices:
            return "{" + ",".join(str(c) for c in self.choices) + "}"
        return _type_name(self.type)

    def coerce(self, value: Any, *, codec: str) -> Any:
        """``value`` as this option's type: text from the command line is converted, plain values
        checked; a ``list`` option also takes one string (one item). CodecError when it does not fit."""
        if value is None:
            return None
        converted = _convert(value, self.type)
        if converted is _BAD:
            raise CodecError(f"codec {codec!r}: option {self.name}={value!r} is not a {_type_name(self.type)}"
                             f"{self._allowed()}")
        if self.choices and converted not in self.choices:
            raise CodecError(f"codec {codec!r}: option {self.name}={value!r} is not one of "
                             f"{', '.join(map(str, self.choices))}")
        return converted

    def _allowed(self) -> str:
        if self.type is bool:
            return f" (use one of {', '.join(_TRUE + _FALSE)})"
        return ""


_BAD = object()


def _is_type(value: Any, kind: type) -> bool:
    if kind is list:
        return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _type_name(kind: type) -> str:
    return "list of str" if kind is list else kind.__name__


def _convert(value: Any, kind: type) -> Any:
    """``value`` as ``kind``, or ``_BAD``."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is list:
            return [value]
        if kind is bool:
            lowered = text.lower()
            return True if lowered in _TRUE else False if lowered in _FALSE else _BAD
        try:
            return kind(text)
        except ValueError:
            return _BAD
    if not _is_type(value, kind):
        return _BAD
    if kind is list:
        return list(value)
    return float(value) if kind is float else value


def resolve(options: Sequence[Option], values: Mapping[str, Any], *, codec: str) -> dict[str, Any]:
    """Every option of ``options``: its value from ``values`` (converted, checked), else its default.

    An unknown key raises a one-line CodecError naming the codec, the key and the known keys.
    """
    declared = {option.name: option for option in options}
    for key in values:
        if key not in declared:
            raise CodecError(_unknown_key(codec, key, declared))
    return {name: option.coerce(values[name], codec=codec) if name in values else copy.deepcopy(option.default)
            for name, option in declared.items()}


def _unknown_key(codec: str, key: str, declared: Iterable[str]) -> str:
    known = ", ".join(declared) or "none (it takes no options)"
    return f"codec {codec!r} has no option {key!r}; its options: {known}"


def parse_codec_args(specs: Sequence[str], declared: Mapping[str, Sequence[Option]]) -> dict[str, dict[str, Any]]:
    """``--codec-args NAME:KEY=VALUE,KEY=VALUE`` (repeatable) → ``{codec: {key: value}}``.

    ``declared`` maps every registered codec name to its options. Values are converted to each
    option's type. A ``list`` option collects one item per ``KEY=VALUE`` (repeat the key for more);
    for other options a later value replaces an earlier one. Values cannot contain ','.
    Raises a one-line CodecError for an unknown codec, an unknown key or a bad value.
    """
    parsed: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, colon, body = spec.partition(":")
        name = name.strip()
        if not colon or not name:
            raise CodecError(f"--codec-args {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE…], "
                             "e.g. bmshj2018-factorized:device=cpu,padding=eval_model")
        if name not in declared:
            raise CodecError(f"--codec-args {spec!r}: unknown codec {name!r}; known codecs: {', '.join(sorted(declared))}")
        options = {option.name: option for option in declared[name]}
        values = parsed.setdefault(name, {})
        for part in body.split(","):
            key, equals, text = part.partition("=")
            key = key.strip()
            if not equals or not key:
                raise CodecError(f"--codec-args {spec!r}: {part!r} is not KEY=VALUE; {name} options: "
                                 f"{', '.join(options) or 'none'}")
            if key not in options:
                raise CodecError(_unknown_key(name, key, options))
            value = options[key].coerce(text, codec=name)
            if options[key].type is list:
                values[key] = values.get(key, []) + value
            else:
                values[key] = value
    return parsed


def flag_options(declared: Mapping[str, Sequence[Option]]) -> dict[str, tuple[Option, tuple[str, ...]]]:
    """``flag → (option, codecs declaring it)`` over every codec of ``declared``.

    Codecs that declare the same flag must declare the same option (name, type, default, help,
    choices); otherwise a CodecError says which two disagree.
    """
    found: dict[str, tuple[Option, list[str]]] = {}
    for codec in sorted(declared):
        own: dict[str, str] = {}
        for option in declared[codec]:
            if option.flag is None:
                continue
            if option.flag in own:
                raise CodecError(f"codec {codec!r} gives the flag {option.flag} to two options "
                                 f"({own[option.flag]} and {option.name}); give each its own flag")
            own[option.flag] = option.name
            if option.flag in found and found[option.flag][0] != option:
                first = found[option.flag][1][0]
                raise CodecError(f"codecs {first!r} and {codec!r} declare the flag {option.flag} differently; "
                                 "declare one shared Option, or give one of them another flag")
            found.setdefault(option.flag, (option, []))[1].append(codec)
    return {flag: (option, tuple(codecs)) for flag, (option, codecs) in found.items()}


def layered(options: Sequence[Option], flags: Mapping[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """The values a user gave for ``options``: convenience ``flags`` (``{"--device": "cpu"}``, only
    those given) overridden by ``args`` (one codec's parsed ``--codec-args``). Defaults are not
    filled in (see :func:`resolve`), so the result also serves as overrides of recorded options."""
    given = {option.name: flags[option.flag] for option in options if option.flag in flags}
    given.update(args)
    return given
