"""The installable package: every CLI option documented, the ``lic-bench`` script, and a real editable
install of a copy of the project into a throwaway virtual environment, used from another folder."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import cli
from bench.learned.train import __main__ as train_cli

REPO = Path(__file__).resolve().parents[1]


def _undocumented(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
    """``"COMMAND … OPTION"`` for every option, positional or subcommand of ``parser`` without help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            described = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not (described.get(name) or "").strip():
                    yield f"{path} {name} (the command itself)"
                yield from _undocumented(sub, f"{path} {name}")
        elif not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def _options(parser: argparse.ArgumentParser) -> int:
    count = 0
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            count += sum(_options(sub) for sub in action.choices.values())
        else:
            count += 1
    return count


@pytest.mark.parametrize("parser", [cli.build_parser(), train_cli.build_parser()], ids=["bench", "train"])
def test_every_option_of_every_command_has_help(parser):
    assert _options(parser) > 30 if parser.prog == cli.PROG else _options(parser) > 10  # the walk reaches them
    assert list(_undocumented(parser, parser.prog)) == []


def test_the_walk_finds_an_option_without_help():
    parser = argparse.ArgumentParser(prog="p")
    sub = parser.add_subparsers().add_parser("go", help="documented")
    sub.add_argument("--quiet", help="documented")
    sub.add_argument("--silent")
    assert list(_undocumented(parser, "p")) == ["p go --silent"]


def test_the_console_script_is_main_under_its_own_name(monkeypatch, capsys):
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["lic-bench"].partition(":")
    entry = getattr(importlib.import_module(module), function)
    monkeypatch.setattr(sys, "argv", ["lic-bench", "--help"])
    with pytest.raises(SystemExit) as exc:
        entry()
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("usage: lic-bench [-h]")
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"], prog="lic-bench")
    assert capsys.readouterr().out.startswith("usage: lic-bench train [-h]")


def test_the_dependencies_are_requirements_txt():
    """The package declares requirements.txt's pins (read by setuptools), not a second list."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A copy of the project's installable files, ``pip install -e``'d into a fresh venv; its bin folder.

    The venv sees this interpreter's packages through a ``.pth`` file (the pinned dependencies are not
    downloaded again: ``--no-deps``, ``--no-index``, ``--no-build-isolation`` with this interpreter's
    setuptools), so the test is offline and takes seconds.
    """
    if importlib.util.find_spec("pip") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("pip and setuptools are needed for the install test")
    root = tmp_path_factory.mktemp("install")
    clone = root / "lic-bench"
    clone.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy2(REPO / name, clone / name)
    for name in ("bench", "codecs"):
        shutil.copytree(REPO / name, clone / name, ignore=ignore)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    (_site_packages(python) / "_lic_bench_test_deps.pth").write_text(
        "\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--no-build-isolation", "-e", str(clone)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def _outside(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``import bench`` can only come from the install."""
    return {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BENCH_CODEC_PATH")},
            "PATH": os.pathsep.join([str(tmp_path), os.environ.get("PATH", "")])}


def test_installed_lic_bench_works_outside_the_repository(installed, tmp_path):
    env = _outside(tmp_path)
    where = subprocess.run([str(installed / "python"), "-c", "import bench; print(bench.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    assert Path(where.stdout.strip()).parent.parent.name == "lic-bench"  # the installed copy, not this checkout
    usage = subprocess.run([str(installed / "lic-bench"), "--help"], cwd=tmp_path, capture_output=True, text=True,
                           env=env, check=True)
    assert usage.stdout.startswith("usage: lic-bench")
    for command in ("run", "summary", "train"):
        assert command in usage.stdout
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 56, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    run = subprocess.run([str(installed / "lic-bench"), "run", "--data", "photos", "--points", "q50,q90",
                          "--repeats", "1", "--jobs", "1", "--no-progress"], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = pd.read_csv(tmp_path / "results" / "photos" / "rows.csv")
    assert sorted(zip(rows["image"], rows["point"])) == [("p0.png", "q50"), ("p0.png", "q90"),
                                                          ("p1.png", "q50"), ("p1.png", "q90")]
    assert (rows["status"] == "ok").all()
    sizes = {name: Image.open(folder / name).size for name in ("p0.png", "p1.png")}
    expected_bpp = [8 * b / (sizes[i][0] * sizes[i][1]) for i, b in zip(rows["image"], rows["bytes"])]
    assert np.allclose(rows["bpp"], expected_bpp)
    assert sorted(os.listdir(tmp_path)) == ["photos", "results"]  # nothing else written outside
