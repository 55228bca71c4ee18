"""The README stays a front page that tells the truth: at most 150 lines; every relative link of it and of
docs/*.md reaches a file (and a heading, for a ``#anchor``); every command of its shell blocks and every
make target it names runs as written (``make -n``) or parses (the CLI's own argparse parser); its codec
example runs through the harness and writes the bytes Pillow writes; its BD table, and the BD tables of
docs/bd-rate.md, print the numbers of reports/bd-rate.csv, read here with the csv module."""

from __future__ import annotations

import argparse
import csv
import io
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import study
from bench.cli_options import build_parser
from clitools import bench
from conftest import natural_image

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
BD_CSV = REPO / "reports" / "bd-rate.csv"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PYTHON_BENCH = (("python", "-m", "bench"), (".venv/bin/python", "-m", "bench"), ("lic-bench",), (".venv/bin/lic-bench",))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _blocks(text: str, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(text) if lang == language]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    prose = FENCE.sub("", _text(path))
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", prose, re.M)}


def test_the_readme_is_at_most_150_lines():
    assert len(_text(README).splitlines()) <= 150


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    links = LINK.findall(FENCE.sub("", _text(page)))
    assert links or page != README, "the README has no links: the pattern is broken"
    broken = []
    for target in links:
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def _commands() -> list[list[str]]:
    """Every command line of the README's ``sh`` blocks, as words, environment assignments removed."""
    commands = []
    for block in _blocks(_text(README), "sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if words:
                commands.append(words)
    return commands


def _make_dry_run(args: list[str]) -> None:
    done = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"make -n {' '.join(args)}: {done.stderr}"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _parses(args: list[str]) -> None:
    """``python -m bench ARGS`` parses, every flag spelled out in full (argparse would take a prefix)."""
    parser = build_parser()
    try:
        parsed, extra = parser.parse_known_args(args)  # as bench.cli does: `train` passes the rest on
        if parsed.command == "train":
            from bench.learned.train.__main__ import build_parser as train_parser
            train_parser().parse_args(extra)
            return
        assert not extra, f"python -m bench {' '.join(args)}: unknown arguments {extra}"
    except SystemExit as exc:  # argparse's answer to an unknown command or flag
        pytest.fail(f"python -m bench {' '.join(args)} does not parse (exit {exc.code})")
    known = _subcommands(parser)[args[0]]._option_string_actions
    flags = [word.split("=", 1)[0] for word in args if word.startswith("-")]
    assert all(flag in known for flag in flags), f"python -m bench {' '.join(args)}: abbreviated flag"


def _check(words: list[str]) -> None:
    if words[0] == "make":
        _make_dry_run(words[1:])
        return
    for prefix in PYTHON_BENCH:
        if tuple(words[:len(prefix)]) == prefix:
            _parses(words[len(prefix):])
            return
    pytest.fail(f"{shlex.join(words)}: not a command this test can check; add a rule for it")


def test_the_readme_commands_exist_as_written():
    commands = _commands()
    assert commands[:2] == [["make", "bench", "KODAK_DIR=../shared/data/kodak"], ["make", "test"]]
    assert any(c[0] != "make" for c in commands)  # the third: the user's own folder
    for words in commands:
        _check(words)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_the_docs_commands_exist_as_written(page):
    """In docs/*.md, the make and bench commands of shell blocks are checked as the README's (lines that
    expand a shell array are left out), and the benchmark scripts they run exist."""
    prefixes = (("make",), *PYTHON_BENCH)
    for block in _blocks(_text(page), "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if any(tuple(words[:len(p)]) == p for p in prefixes) and "${" not in line:
                _check(words)
            for word in words:
                if re.fullmatch(r"benchmarks/\S+\.(py|sh)", word):
                    assert (REPO / word).is_file(), f"{page.name}: {word} does not exist"


def test_the_codec_example_command_parses():
    example = _blocks(_text(README), "python")[0]
    command = re.search(r"then: (.+)$", example.splitlines()[0]).group(1)
    words = shlex.split(command)
    assert words[0].startswith("BENCH_CODEC_PATH=")
    _check(words[1:])


def test_every_make_target_and_command_the_readme_names_exists():
    text = FENCE.sub("", _text(README))
    targets = set(re.findall(r"`make ([a-z-]+)`", text))
    assert {"bench", "test", "install", "report"} <= targets
    _make_dry_run(sorted(targets))  # one make: each call evaluates the Makefile's $(shell …) again
    help_text = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert targets == set(re.findall(r"^  make (\S+)", help_text, re.M)), "the table and `make help` differ"
    commands = set(re.findall(r"^\|[^|]*\| `([a-z-]+)` \|", text, re.M))
    assert {"run", "codecs", "verify"} <= commands
    subcommands = _subcommands(build_parser())
    assert commands <= set(subcommands), commands - set(subcommands)
    variables = set(re.findall(r"`([A-Z_]+)`", text.split("Make variables:", 1)[1].split("\n\n", 1)[0]))
    makefile = _text(REPO / "Makefile")
    assert variables and all(re.search(rf"^{v} \?=", makefile, re.M) for v in variables), variables


def test_the_codec_example_runs_and_writes_pillows_bytes(tmp_path):
    example = _blocks(_text(README), "python")[0]
    assert len(example.splitlines()) <= 30
    plugins = tmp_path / "my-codecs"
    plugins.mkdir()
    (plugins / "jpeg444.py").write_text(example, encoding="utf-8")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(natural_image(168, 176, seed=3)).save(photos / "a.png")
    done = bench("run", "--data", photos, "--codecs", "jpeg-444", "--results", tmp_path / "results", "--repeats", "1",
                 "--jobs", "1", "--no-progress", env={"BENCH_CODEC_PATH": str(plugins)})
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "results" / "photos" / "rows.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["point"] for r in rows) == ["q50", "q75", "q90"]
    original = np.asarray(Image.open(photos / "a.png").convert("RGB"))
    for row in rows:
        assert row["status"] == "ok", row["note"]
        buffer = io.BytesIO()
        Image.fromarray(original).save(buffer, "JPEG", quality=int(row["point"][1:]), subsampling=0)
        assert int(row["bytes"]) == len(buffer.getvalue())


# The BD tables against reports/bd-rate.csv.

def _bd_rows() -> dict[tuple[str, str], dict[str, str]]:
    """``{(metric, codec): row}`` of the cubic method against JPEG on Kodak."""
    with open(BD_CSV, newline="", encoding="utf-8") as f:
        return {(r["metric"], r["codec"]): r for r in csv.DictReader(f)
                if (r["dataset"], r["anchor"], r["method"]) == ("kodak", "jpeg", "cubic")}


def _signed(value: str, digits: int) -> str:
    return f"{float(value):+.{digits}f}".replace("-", "−")


def _ci(row: dict[str, str]) -> str:
    return f"[{_signed(row['ci_low'], 1)}, {_signed(row['ci_high'], 1)}]"


def _table(lines: list[str], start: int) -> tuple[list[str], list[list[str]]]:
    """The header cells and body rows of the Markdown table whose header is ``lines[start]``."""
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]
    body = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        body.append(cells(line))
    return cells(lines[start]), body


def test_the_readme_bd_table_prints_the_csv():
    lines = _text(README).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| codec | PSNR BD-rate [%]"))
    header, body = _table(lines, start)
    assert header == ["codec", "PSNR BD-rate [%]", "95% CI [%]", "MS-SSIM BD-rate [%]", "95% CI [%]",
                      "JPEG AI avg [%]"]
    bd = _bd_rows()
    assert [row[0] for row in body] == [*study.ARCHITECTURES, *study.ANCHORS, *study.EXTRA_ANCHORS]  # learned, anchors, opt-in anchors
    for codec, psnr, psnr_ci, msssim, msssim_ci, average in body:
        if (("psnr", codec) in bd) or (("ms_ssim_db", codec) in bd):
            p, m = bd[("psnr", codec)], bd[("ms_ssim_db", codec)]
            assert [psnr, psnr_ci, msssim, msssim_ci] == [_signed(p["bd_rate"], 2), _ci(p),
                                                          _signed(m["bd_rate"], 2), _ci(m)], codec
            mean = bd.get(("jpeg_ai_avg", codec), {}).get("bd_rate") or ""
            assert average == (_signed(mean, 2) if mean else "n/a"), codec
        else:
            assert [psnr, psnr_ci, msssim, msssim_ci, average] == ["not run", "", "not run", "", ""], codec


METRICS = {"**PSNR (RGB), dB**": "psnr", "**MS-SSIM (RGB), dB**": "ms_ssim_db", "**PSNR-Y (BT.709 Y′), dB**": "psnr_y"}
COLUMNS = {"points": lambda r: str(len(r["points"].split())), "images": lambda r: r["images"],
           "BD-rate [%]": lambda r: _signed(r["bd_rate"], 2), "95% CI [%]": _ci,
           "all points [%]": lambda r: _signed(r["bd_rate_all_points"], 2),
           "payload [%]": lambda r: _signed(r["bd_rate_payload"], 2),
           "PSNR of mean MSE [%]": lambda r: _signed(r["bd_rate_psnr_of_mean_mse"], 2)}


def test_the_bd_tables_of_the_docs_print_the_csv():
    lines = _text(REPO / "docs" / "bd-rate.md").splitlines()
    bd = _bd_rows()
    seen = set()
    for i, line in enumerate(lines):
        if line not in METRICS:
            continue
        metric = METRICS[line]
        header, body = _table(lines, i + 2)
        assert header[0] == "codec" and {"BD-rate [%]", "95% CI [%]"} <= set(header), header
        for cells in body:
            row = bd[(metric, cells[0])]
            for name, cell in zip(header, cells):
                if name in COLUMNS:
                    assert cell == COLUMNS[name](row), (metric, cells[0], name)
                elif name.startswith("BD-") and name.endswith("[dB]"):
                    assert cell == _signed(row["bd_quality"], 3), (metric, cells[0], name)
            seen.add((metric, cells[0]))
    built_in = {key for key in bd if key[0] in METRICS.values()}  # plug-in metrics: reports/bd-rate.md's table
    assert seen == built_in, "docs/bd-rate.md lacks rows of the CSV"
