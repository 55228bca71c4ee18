"""The command line as the tests call it: ``bench.cli.main(argv)`` in this process, or a fresh interpreter.

:func:`bench` runs one command in-process, as a function call: its own working folder and environment, its
stdout and stderr captured, the codec registry as a new process finds it, and everything it set restored
afterwards. It also keeps what the command's library call returned (:class:`Done.report`: the run's
``RunReport``, verify's ``VerifyReport``, merge's ``MergeReport``), so a test reads the counts a command
printed as data.

:func:`python` starts ``python ARGS`` as a real process, for what only a fresh interpreter shows: what
importing a module loads, the heap, signals sent to a process, several processes at once.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

REPORTING = (("bench.pipeline", "evaluate"), ("bench.core.verify", "verify_bitstreams"),
             ("bench.core.merge", "merge_results"))
"""The library calls behind ``run``, ``verify`` and ``merge`` whose returned reports a :class:`Done` keeps."""


@dataclass
class Done:
    """A finished command: exit status, captured output, and the reports its library calls returned."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    reports: list[Any] = field(default_factory=list)

    @property
    def report(self) -> Any:
        """The one report of the command (a run, a verify or a merge); an error when there is not exactly one."""
        if len(self.reports) != 1:
            raise AssertionError(f"{self.args}: {len(self.reports)} reports, expected one; stderr: {self.stderr}")
        return self.reports[0]

    def check(self) -> Done:
        """This result, or an AssertionError with the command's stderr when it did not exit 0."""
        if self.returncode != 0:
            raise AssertionError(f"{self.args} exited {self.returncode}: {self.stderr}")
        return self


def bench(*args: str | os.PathLike, cwd: str | os.PathLike = REPO,
          env: Mapping[str, str | None] | None = None) -> Done:
    """``python -m bench ARGS`` as a call of ``bench.cli.main``, in ``cwd`` with ``env``'s variables set (None
    removes one). argparse's exits become exit statuses, as in a process; any other exception propagates."""
    from bench.cli import main

    argv = [os.fspath(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    reports: list[Any] = []
    with _isolated(cwd, env), _kept(reports), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = _exit_status(exc)
    return Done(argv, code, out.getvalue(), err.getvalue(), reports)


def _exit_status(exc: SystemExit) -> int:
    """The status a process ending on ``exc`` has (a message as its code is printed, status 1)."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _kept(reports: list[Any]) -> Iterator[None]:
    """Append to ``reports`` what each of :data:`REPORTING`'s calls returns while the block runs."""
    originals = []
    for module_name, name in REPORTING:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        originals.append((module, name, original))

        def keep(*args: Any, _call: Any = original, **kwargs: Any) -> Any:
            reports.append(_call(*args, **kwargs))
            return reports[-1]

        setattr(module, name, keep)
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


@contextlib.contextmanager
def _isolated(cwd: str | os.PathLike, env: Mapping[str, str | None] | None) -> Iterator[None]:
    """Run the block in ``cwd`` with ``env`` applied to a copy of the environment, a registry that has
    loaded no plug-in (as a new process has: ``BENCH_CODEC_PATH`` is read again) and no malformed row
    reported yet (the store warns once per process); then put back the folder, the environment, the
    registry, the store's reported lines and torch's thread count as they were."""
    from bench.core import store

    environ, folder, threads, reported = dict(os.environ), os.getcwd(), _torch_threads(), set(store._reported)
    store._reported.clear()
    try:
        os.environ.clear()
        os.environ.update(_environment(environ, env))
        os.chdir(cwd)
        with fresh_registry():
            yield
    finally:
        os.chdir(folder)
        store._reported.clear()
        store._reported.update(reported)
        os.environ.clear()
        os.environ.update(environ)
        if threads is not None:
            sys.modules["torch"].set_num_threads(threads)


def _torch_threads() -> int | None:
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_num_threads()


@contextlib.contextmanager
def fresh_registry() -> Iterator[None]:
    """The codec and metric registries as a new process has them (no plug-in loaded) inside the block, as they
    were after it: their entries, load errors and the plug-in modules they imported."""
    from bench.core import metric_registry, registry

    saved = [(module, dict(entries), list(module._load_errors), module._loaded)
             for module, entries in ((registry, registry._entries), (metric_registry, metric_registry._factories))]
    prefixes = ("bench_plugins.", "bench_metric_plugins.")
    modules = {name: module for name, module in sys.modules.items() if name.startswith(prefixes)}
    for module, entries, _, _ in saved:
        _entries_of(module).clear()
        module._load_errors.clear()
        module._loaded = False
    for name in modules:
        del sys.modules[name]
    try:
        yield
    finally:
        for module, entries, errors, loaded in saved:
            _entries_of(module).clear()
            _entries_of(module).update(entries)
            module._load_errors[:] = errors
            module._loaded = loaded
        for name in [name for name in sys.modules if name.startswith(prefixes)]:
            del sys.modules[name]
        sys.modules.update(modules)


def _entries_of(module: Any) -> dict[str, Any]:
    """A registry module's table of entries."""
    return module._entries if hasattr(module, "_entries") else module._factories


def python(*args: str | os.PathLike, cwd: str | os.PathLike = REPO, env: Mapping[str, str | None] | None = None,
           timeout: float | None = 300) -> subprocess.CompletedProcess:
    """``python ARGS`` in a fresh interpreter (this one's executable), output captured as text; ``env``'s
    variables are set on a copy of this environment (None removes one)."""
    return subprocess.run([sys.executable, *map(os.fspath, args)], cwd=cwd, env=_environment(os.environ, env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _environment(base: Mapping[str, str], changes: Mapping[str, str | None] | None) -> dict[str, str]:
    """``base`` with ``changes`` applied: a value sets its variable, None removes it."""
    environ = dict(base)
    for name, value in (changes or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ
