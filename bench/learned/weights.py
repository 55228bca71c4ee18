"""Model weights for the CompressAI codecs: one loading path for three sources.

For an architecture and an operating-point label, :func:`resolve` finds a local file:

1. a user checkpoint mapped to exactly that (model name, architecture, label) —
   ``--checkpoint [NAME@]ARCH:LABEL=PATH``; NAME (default: the architecture) names a model of its own,
   e.g. two ablations of one architecture, and a named model's weights come from its checkpoints only;
2. else, for a zoo label of the architecture itself, the zoo file under its canonical name in the cache folder
   (torch hub's ``checkpoints`` folder by default), then in the mirror (a folder, copied into
   the cache, or a base URL, downloaded into the cache), then at the zoo's own URL.

CompressAI's zoo file names end in the first 8 hex digits of the file's sha256; every file
taken from the cache, a mirror or the zoo is checked against them (CompressAI's own loader
does not), and a copy or download that fails the check is never left in the cache.

Loading the file into a model is :mod:`bench.learned.checkpoint`; torch is imported only when needed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.learned import zoo
from bench.core.download import download, sha256_file
from bench.core.errors import BenchError, CodecError, CodecUnavailable, one_line

__all__ = [
    "Checkpoint", "WeightsError", "WeightsSource", "WeightsUnavailable",
    "named_models", "options_of_source", "parse_checkpoint_spec", "points_for",
    "resolve", "resolve_with_origin", "sha256_of", "source_from_options", "user_checkpoint",
]

log = logging.getLogger(__name__)

SUPPLY_HINT = "--weights-mirror DIR|URL, BENCH_WEIGHTS_MIRROR, or --checkpoint [NAME@]ARCH:LABEL=PATH"
"""How a user supplies weights; ends every :class:`WeightsUnavailable` message."""

_LABEL = r"[A-Za-z0-9._-]+"
_MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_SPEC = re.compile(rf"(?:(?P<name>{_MODEL_NAME})@)?(?P<arch>[A-Za-z0-9._-]+):(?P<label>{_LABEL})=(?P<path>.+)")


class WeightsError(CodecError):
    """Weights cannot be found, verified or loaded; the message names the file."""


class WeightsUnavailable(WeightsError, CodecUnavailable):
    """No source could supply the weights; the message says what was tried and how to supply them."""


@dataclass(frozen=True)
class Checkpoint:
    """A user's own checkpoint mapped to an architecture and an operating-point label.

    ``name`` is the model (codec) the checkpoint belongs to: the architecture itself by default,
    or a name of its own (``ablationA@mbt2018:…``) that makes it a separate codec.
    """

    arch: str
    point: str
    path: Path
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "name", self.name or self.arch)

    @property
    def target(self) -> str:
        """``[NAME@]ARCH:LABEL``: the model and point the checkpoint is for."""
        named = f"{self.name}@" if self.name != self.arch else ""
        return f"{named}{self.arch}:{self.point}"

    @property
    def spec(self) -> str:
        """The ``--checkpoint`` text that gives this checkpoint."""
        return f"{self.target}={self.path}"


@dataclass(frozen=True)
class WeightsSource:
    """Where weights may come from.

    ``mirror`` is a folder or an http(s) base URL holding zoo files under their canonical
    names; ``cache_dir`` defaults to ``torch.hub.get_dir()/checkpoints``; ``offline`` skips the
    zoo's public URL (an explicitly given mirror is still used).
    """

    mirror: str | None = None
    cache_dir: Path | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    offline: bool = False

    def __post_init__(self) -> None:
        if self.mirror is not None:
            object.__setattr__(self, "mirror", str(self.mirror))
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
        seen: dict[tuple[str, str], Path] = {}
        archs: dict[str, str] = {}
        for ckpt in self.checkpoints:
            if archs.setdefault(ckpt.name, ckpt.arch) != ckpt.arch:
                raise WeightsError(f"model {ckpt.name!r} is given as {archs[ckpt.name]} and as {ckpt.arch}; "
                                   "one name, one architecture: rename one")
            key = (ckpt.name, ckpt.point)
            if key in seen and seen[key] != ckpt.path:
                raise WeightsError(f"two checkpoints for {ckpt.target} ({seen[key]} and {ckpt.path}); give one")
            seen[key] = ckpt.path

    @classmethod
    def from_env(cls, **overrides: Any) -> WeightsSource:
        """A source configured from ``BENCH_WEIGHTS_MIRROR`` and ``BENCH_OFFLINE=1``.

        Keyword arguments override the environment; those whose value is None do not.
        """
        settings: dict[str, Any] = {
            "mirror": os.environ.get("BENCH_WEIGHTS_MIRROR") or None,
            "offline": os.environ.get("BENCH_OFFLINE", "").strip().lower() in ("1", "true", "yes"),
        }
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)

    def resolved_cache_dir(self) -> Path:
        """``cache_dir``, or torch hub's checkpoint folder (where CompressAI's zoo caches too)."""
        if self.cache_dir is not None:
            return self.cache_dir
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints"


def source_from_options(options: Mapping[str, Any]) -> WeightsSource:
    """The source the learned codecs' options describe (missing keys: not set).

    ``checkpoint`` (``[NAME@]ARCH:LABEL=PATH`` strings) and the exports of ``checkpoint_dir`` (see
    :func:`bench.learned.exports.checkpoint_specs`) are the user's checkpoints;
    ``weights_mirror`` and ``weights_cache`` override ``BENCH_WEIGHTS_MIRROR`` and the default
    cache; ``BENCH_OFFLINE=1`` skips the zoo's URL (:meth:`WeightsSource.from_env`).
    """
    specs = list(options.get("checkpoint") or ())
    if options.get("checkpoint_dir"):
        from bench.learned.exports import checkpoint_specs

        specs += checkpoint_specs(options["checkpoint_dir"])
    checkpoints = tuple(parse_checkpoint_spec(spec) for spec in specs)
    return WeightsSource.from_env(mirror=options.get("weights_mirror") or None,
                                  cache_dir=options.get("weights_cache") or None, checkpoints=checkpoints or None)


def options_of_source(source: WeightsSource) -> dict[str, Any]:
    """The options that describe ``source`` (the inverse of :func:`source_from_options`, as plain values;
    ``offline`` is left to ``BENCH_OFFLINE``)."""
    return {
        "weights_mirror": source.mirror,
        "weights_cache": None if source.cache_dir is None else str(source.cache_dir),
        "checkpoint": [c.spec for c in source.checkpoints],
        "checkpoint_dir": None,
    }


def sha256_of(path: str | Path) -> str:
    """SHA-256 (hex) of a file."""
    return sha256_file(path)


def parse_checkpoint_spec(spec: str) -> Checkpoint:
    """Parse ``[NAME@]ARCH:LABEL=PATH`` (``--checkpoint``), e.g. ``bmshj2018-factorized:lambda0.0130=/w/f.pth``
    or ``ablationA@bmshj2018-factorized:lambda0.0130=/w/a.pth``."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise WeightsError(
            f"bad checkpoint {spec!r}: expected [NAME@]ARCH:LABEL=PATH, e.g. "
            f"bmshj2018-factorized:lambda0.0130=/path/to/weights.pth (NAME, LABEL: letters, digits, '.', '_', '-')"
        )
    arch = match["arch"]
    if arch not in zoo.ARCHITECTURES:
        raise WeightsError(
            f"bad checkpoint {spec!r}: unknown architecture {arch!r}; known: {', '.join(zoo.ARCHITECTURES)}"
        )
    return Checkpoint(arch, match["label"], Path(match["path"]).expanduser(), match["name"] or arch)


def named_models(specs: Sequence[str]) -> dict[str, str]:
    """``{NAME: ARCH}`` of the named models among ``--checkpoint`` specs (NAME other than ARCH).

    Raises WeightsError for a bad spec, or one NAME given with two architectures.
    """
    models: dict[str, str] = {}
    for spec in specs:
        ckpt = parse_checkpoint_spec(spec)
        if ckpt.name == ckpt.arch:
            continue
        if models.setdefault(ckpt.name, ckpt.arch) != ckpt.arch:
            raise WeightsError(f"model {ckpt.name!r} is given as {models[ckpt.name]} and as {ckpt.arch}; "
                               "one name, one architecture: rename one")
    return models


def _mine(source: WeightsSource, arch: str, name: str | None) -> list[Checkpoint]:
    """The checkpoints of model ``name`` (default: the architecture itself) of ``arch``."""
    return [c for c in source.checkpoints if c.arch == arch and c.name == (name or arch)]


def points_for(arch: str, source: WeightsSource, requested: Sequence[str] | None, *,
               name: str | None = None) -> list[str]:
    """Labels to benchmark for model ``name`` (default: ``arch`` itself): ``requested`` if given; else
    the labels of its checkpoints if there are any; else the zoo's :data:`bench.learned.zoo.DEFAULT_POINTS`
    (a named model has no zoo points: none)."""
    zoo.check_arch(arch)
    if requested:
        return list(dict.fromkeys(requested))
    mine = [c.point for c in _mine(source, arch, name)]
    if mine or (name or arch) != arch:
        return list(dict.fromkeys(mine))
    return list(zoo.DEFAULT_POINTS)


def resolve(arch: str, point: str, source: WeightsSource, *, name: str | None = None) -> Path:
    """The local weights file for (``arch``, ``point``) of model ``name`` (default: ``arch``); see the
    module docstring for the order.

    Raises WeightsError for a missing checkpoint file, an unknown label, a point a named model has
    no checkpoint for, or a file whose sha256 does not start with the prefix in its name;
    WeightsUnavailable when no source has it.
    """
    return resolve_with_origin(arch, point, source, name=name)[0]


def user_checkpoint(arch: str, point: str, source: WeightsSource, *, name: str | None = None) -> Checkpoint | None:
    """The user's checkpoint for (``arch``, ``point``) of model ``name`` (default: ``arch``), if one was given."""
    return next((c for c in _mine(source, arch, name) if c.point == point), None)


# --------------------------------------------------------------------------- resolving


def resolve_with_origin(arch: str, point: str, source: WeightsSource, *, name: str | None = None
                        ) -> tuple[Path, str]:
    """:func:`resolve`'s file and where it came from (``checkpoint:<path>``, the cache, the mirror or the zoo)."""
    zoo.check_arch(arch)
    name = name or arch
    for ckpt in _mine(source, arch, name):
        if ckpt.point == point:
            if not ckpt.path.is_file():
                raise WeightsError(f"checkpoint {ckpt.path} for {ckpt.target} does not exist")
            return ckpt.path, f"checkpoint:{ckpt.path}"
    mine = [c.point for c in _mine(source, arch, name)]
    if name != arch:  # a named model is its checkpoints: never the zoo's weights under its name
        given = ", ".join(mine) or "none"
        raise WeightsError(f"model {name} ({arch}) has no checkpoint for {point} (its points: {given}); "
                           f"give --checkpoint {name}@{arch}:{point}=PATH")

    try:
        zp = zoo.zoo_point(arch, point)
    except CodecError as exc:
        given = f"; checkpoints given for {arch}: {', '.join(mine)}" if mine else ""
        raise WeightsError(f"{exc}{given}; or give --checkpoint {arch}:{point}=PATH") from None
    try:
        url = zoo.zoo_url(zp)
        filename = zoo.zoo_filename(zp)
        prefix = zoo.hash_prefix(filename)
    except CodecError as exc:
        raise WeightsUnavailable(f"no weights for {arch} {point}: {exc}; supply them with {SUPPLY_HINT}") from None

    cache = source.resolved_cache_dir()
    cached = cache / filename
    tried: list[str] = []

    if cached.is_file():
        digest = sha256_of(cached)
        if digest.startswith(prefix):
            log.debug("using cached %s", cached)
            return cached, f"zoo:{url}"
        tried.append(f"cache {cached} (sha256 {digest} does not start with {prefix}; delete it)")
    else:
        tried.append(f"cache {cache} (no {filename})")

    if source.mirror is None:
        tried.append("no mirror given")
    elif "://" in source.mirror:
        mirror_url = f"{source.mirror.rstrip('/')}/{filename}"
        try:
            _download_verified(mirror_url, cached, prefix)
            return cached, f"mirror:{source.mirror}"
        except _FetchFailed as exc:
            tried.append(f"mirror {mirror_url} ({exc})")
    else:
        folder = Path(source.mirror).expanduser()
        candidate = folder / filename
        if not folder.is_dir():
            tried.append(f"mirror folder {folder} (does not exist)")
        elif not candidate.is_file():
            tried.append(f"mirror folder {folder} (no {filename})")
        else:
            _copy_verified(candidate, cached, prefix)
            return cached, f"mirror:{folder}"

    if source.offline:
        tried.append(f"zoo {url} (skipped: offline)")
    else:
        try:
            _download_verified(url, cached, prefix)
            return cached, f"zoo:{url}"
        except _FetchFailed as exc:
            tried.append(f"zoo {url} ({exc})")

    message = f"no weights for {arch} {point} ({filename}): tried {'; '.join(tried)}; supply them with {SUPPLY_HINT}"
    raise WeightsUnavailable(one_line(message))


class _FetchFailed(Exception):
    """A download failed for network reasons (another source may still work)."""


def _download_verified(url: str, dest: Path, prefix: str) -> None:
    """Download ``url`` and move it onto ``dest`` only if its sha256 starts with ``prefix``."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsError(f"cannot create the weights cache {dest.parent}: {one_line(exc)}") from None
    staging = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.unverified")
    try:
        try:
            download(url, staging)
        except BenchError as exc:
            raise _FetchFailed(one_line(str(exc).replace(f"download of {url} failed: ", ""))) from None
        _accept(staging, dest, prefix, what=url)
    finally:
        staging.unlink(missing_ok=True)


def _copy_verified(src: Path, dest: Path, prefix: str) -> None:
    """Copy ``src`` onto ``dest`` (atomically) only if its sha256 starts with ``prefix``."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".copy")
    except OSError as exc:
        raise WeightsError(f"cannot write into the weights cache {dest.parent}: {one_line(exc)}") from None
    staging = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        _accept(staging, dest, prefix, what=str(src))
    except OSError as exc:
        raise WeightsError(f"cannot copy {src} into {dest.parent}: {one_line(exc)}") from None
    finally:
        staging.unlink(missing_ok=True)


def _accept(staging: Path, dest: Path, prefix: str, *, what: str) -> None:
    digest = sha256_of(staging)
    if not digest.startswith(prefix):
        raise WeightsError(
            f"{what} has the wrong content: its sha256 is {digest}, but its name {dest.name} says it "
            f"starts with {prefix}; not kept in {dest.parent}"
        )
    try:
        os.replace(staging, dest)
    except OSError as exc:
        raise WeightsError(f"cannot move {what} into the weights cache as {dest}: {one_line(exc)}") from None
    log.info("stored verified weights %s (from %s)", dest, what)
