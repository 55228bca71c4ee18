"""Loading plug-in files by path: the one loader of the codec and metric registries.

A plug-in folder's ``*.py`` files (not those starting with ``_``) are executed as modules under a private
name, never imported as a package (``codecs`` is a standard-library module). A file that fails is
reported to the caller, which decides what it leaves out.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.core.errors import BenchError

__all__ = ["plugin_dirs", "plugin_files", "run_plugin"]


def plugin_dirs(builtin: Path, variable: str) -> list[Path]:
    """The built-in folder, then every folder of the ``os.pathsep``-separated environment ``variable``."""
    extra = [Path(p) for p in os.environ.get(variable, "").split(os.pathsep) if p]
    return [builtin, *extra]


def plugin_files(folders: list[Path], variable: str, kind: str) -> Iterator[Path]:
    """The plug-in files of ``folders`` in order; a missing folder is an error naming ``variable``."""
    for folder in folders:
        if not folder.is_dir():
            raise BenchError(f"{kind} plug-in folder {folder} does not exist; fix {variable}")
        yield from (path for path in sorted(folder.glob("*.py")) if not path.name.startswith("_"))


def run_plugin(path: Path, module_name: str) -> None:
    """Execute the file ``path`` as the module ``module_name``; on any failure the module is forgotten and
    the exception raised."""
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise BenchError("not a loadable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
