"""Where a result's inputs came from, in words: the weights behind a learned codec's rows (the CompressAI
zoo's files or other checkpoints), the build of a codec as its run recorded it, the commands and commit
behind a report (:func:`provenance_lines`), and the git tree a report is written from (:func:`tree_state`,
:func:`check_tree`: committed reports are not rewritten from a tree with uncommitted changes unless allowed,
and then every page says so)."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError

__all__ = ["DIRTY_STAMP", "ProvenanceError", "TreeState", "WRITTEN_BY", "artifact_lines", "check_tree",
           "codec_description", "codec_records", "command_text", "dirty_line", "non_zoo_codecs", "provenance_lines",
           "scoring_lines", "stamp_pages", "study_caveats", "timing_spread", "tree_state", "weights_origin"]

DIRTY_STAMP = "written from a dirty tree"
WRITTEN_BY = "- Written by: "
"""The start of the report's line naming its own command and commit (the one line that depends on the checkout)."""

ZOO_PREFIX = "CompressAI zoo"


def weights_origin(codec: str, point: str, sha256: str) -> str:
    """Whether a weights hash is the CompressAI zoo's file for this point (zoo file names carry the
    first hex digits of their SHA-256), or other weights (a user checkpoint)."""
    from bench.core.errors import CodecError
    from bench.learned import zoo

    if codec not in zoo.ARCHITECTURES or not zoo.is_zoo_label(point):
        return "user checkpoint (no zoo model for this codec and point)"
    try:
        filename = zoo.zoo_filename(zoo.zoo_point(codec, point))
        prefix = zoo.hash_prefix(filename)
    except (CodecError, ImportError) as exc:
        return f"unknown ({exc})"
    if sha256.lower().startswith(prefix):
        return f"{ZOO_PREFIX}, `{filename}`"
    return f"not the CompressAI zoo's `{filename}`: a user checkpoint"


def _origins(rows: pd.DataFrame) -> dict[str, set[bool]]:
    """Codec → whether each of its (point, weights) pairs is the zoo's file."""
    weighted = rows[rows["weights_sha256"].fillna("").astype(str) != ""]
    found: dict[str, set[bool]] = {}
    for codec, point, sha in weighted[["codec", "point", "weights_sha256"]].drop_duplicates().itertuples(index=False):
        found.setdefault(codec, set()).add(weights_origin(codec, point, str(sha)).startswith(ZOO_PREFIX))
    return found


def non_zoo_codecs(rows: pd.DataFrame) -> list[str]:
    """The codecs with at least one point whose weights are not the CompressAI zoo's file."""
    return sorted(codec for codec, zoo in _origins(rows).items() if False in zoo)


def codec_records(runs: Iterable[Mapping[str, Any] | None], codec: str) -> list[Mapping[str, Any]]:
    """What each run that ran ``codec`` recorded of it (``runs/<id>.json`` → ``codecs``), in the runs' order."""
    return [m["codecs"][codec] for m in runs
            if m is not None and isinstance(m.get("codecs"), Mapping) and codec in m["codecs"]]


def codec_description(runs: Iterable[Mapping[str, Any] | None], codec: str) -> str | None:
    """The codec's description (build, options) as the last run that recorded it wrote it."""
    found = [d for d in (record.get("description") for record in codec_records(runs, codec)) if d]
    return found[-1] if found else None


def study_caveats(rows: pd.DataFrame, runs: Iterable[Mapping[str, Any] | None], codecs: Iterable[str],
                  anchor: str) -> dict[str, str]:
    """Codec → what the harness's BD-rate of that codec rests on: its weights and the anchor's build."""
    origins = _origins(rows)
    runs = list(runs)
    build = codec_description(runs, anchor) or "build not recorded"
    out = {}
    for codec in codecs:
        zoo = origins.get(codec)
        if not zoo:
            weights = "no weights in these rows"
        elif zoo == {True}:
            weights = "CompressAI zoo weights"
        elif zoo == {False}:
            weights = "not the zoo's weights (user checkpoints)"
        else:
            weights = "zoo weights at some points, user checkpoints at others"
        out[codec] = f"{weights}; {anchor}: {build}"
    return out


# --- commands, commit and timing spread of a report ---------------------------------------------


def command_text(argv: Sequence[str]) -> str:
    """A recorded command line as one could type it again: ``python -m bench …`` for the harness's own entry
    point (``bench/__main__.py``), else its program's name; arguments shell-quoted."""
    if not argv:
        return "(empty command)"
    program = Path(str(argv[0]))
    head = "python -m bench" if program.name == "__main__.py" and program.parent.name == "bench" else program.name
    return " ".join([head, *(shlex.quote(str(a)) for a in argv[1:])])


def timing_spread(rows: pd.DataFrame) -> pd.DataFrame:
    """Per codec, the timed rows with several values and how many of them have a spread (max − min) above
    :data:`bench.core.timing.NOISY_SPREAD` of their median (encode or decode), and the operating points whose
    mean time has a 95 % CI over images wider than :data:`bench.analysis.summary.CI_TARGET` of it."""
    from bench.analysis.summary import imprecise_times, summarize
    from bench.core.timing import NOISY_SPREAD

    ok = rows[rows["status"] == "ok"]
    summary = summarize(rows)
    timed = summary[summary["timed_images"] > 1]
    wide = imprecise_times(timed)  # "codec point"
    out = []
    for codec in sorted(set(ok["codec"])):
        part = ok[ok["codec"] == codec]
        several = part[part["encode_spread_s"].notna() | part["decode_spread_s"].notna()]
        noisy = ((several["encode_spread_s"] > NOISY_SPREAD * several["encode_s"])
                 | (several["decode_spread_s"] > NOISY_SPREAD * several["decode_s"]))
        points = timed[timed["codec"] == codec]
        out.append({"codec": codec, "several": len(several), "noisy": int(noisy.sum()), "points": len(points),
                    "wide": sum(1 for line in wide if line.startswith(f"{codec} "))})
    return pd.DataFrame(out, columns=["codec", "several", "noisy", "points", "wide"])


def dirty_line(state: TreeState) -> str:
    """The stamp of a page written from a tree with uncommitted changes."""
    listed = ", ".join(f"`{p}`" for p in state.changed[:5]) + (", …" if len(state.changed) > 5 else "")
    return (f"**Warning: {DIRTY_STAMP}** (`--allow-dirty`; uncommitted changes in {listed}): commit "
            f"`{state.commit or 'none'}` alone may not reproduce this page.")


def artifact_lines(reports: Path) -> list[str]:
    """Who made the measured artifacts a report includes: the complexity tables (``complexity-run.json``) and each
    visual comparison (``visual-*.json``), with their command, commit and date where they recorded them."""
    import json

    found: list[tuple[str, Path]] = [("Complexity tables (`complexity.md`)", reports / "complexity-run.json")]
    found += [(f"Visual comparison (`{record.with_suffix('.png').name}`)", record)
              for record in sorted(reports.glob("visual-*.json"))]
    lines = []
    for what, path in found:
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lines.append(f"- {what}: `{path.name}` unreadable")
            continue
        environment = data.get("environment") if isinstance(data.get("environment"), Mapping) else {}
        commit = data.get("git_commit") or environment.get("git_commit") or "unknown"
        date = data.get("date") or environment.get("date") or "unknown"
        made = (f"`{command_text(data['command'])}`" if data.get("command")
                else "a command not recorded (made before commands were)")
        lines.append(f"- {what} made by: {made}, at commit `{commit}`, {date}")
    return lines


def scoring_lines(runs: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """Lines naming the runs (of a results folder's ``runs``) that added metric scores to stored rows
    (``run --metrics`` on rows made by other runs, whose ``run_id`` the rows keep): command, commit, rows, metrics."""
    lines = []
    for run_id, meta in sorted(runs.items()):
        scored = int(((meta or {}).get("rows") or {}).get("scored") or 0)
        metrics = ((meta or {}).get("settings") or {}).get("metrics") or {}
        if not scored or not metrics:
            continue
        environment = meta.get("environment") if isinstance(meta.get("environment"), Mapping) else {}
        lines.append(f"  - `{command_text(meta.get('command') or [])}` (run `{run_id}`, {meta.get('status')}, "
                     f"commit `{environment.get('git_commit') or 'unknown'}`, {scored} rows given "
                     f"{', '.join(sorted(metrics))})")
    return ["- Metric scores added to stored rows by:", *lines] if lines else []


def provenance_lines(rows: pd.DataFrame, runs: Mapping[str, Mapping[str, Any] | None], *,
                     command: Sequence[str] | None, commit: str | None,
                     artifacts: Sequence[str] = ()) -> list[str]:
    """The opening section of ``REPORT.md``: the report's own command and commit, each run's command and
    commit with the rows it holds, the ``artifacts`` lines (:func:`artifact_lines`), and per codec the share
    of timing rows above the spread thresholds."""
    from bench.analysis.summary import CI_TARGET
    from bench.core.timing import NOISY_SPREAD

    written = f"`{command_text(command)}`" if command else "`bench.analysis.report.write_report` (no command line)"
    lines = ["## Provenance", "", f"{WRITTEN_BY}{written}, at commit `{commit or 'unknown (not a git checkout)'}`",
             "- From results written by:"]
    for run_id, meta in runs.items():
        count = int((rows["run_id"].astype(str) == run_id).sum())
        if meta is None:
            lines.append(f"  - run `{run_id}` ({count} rows): metadata missing")
            continue
        environment = meta.get("environment") if isinstance(meta.get("environment"), Mapping) else {}
        lines.append(f"  - `{command_text(meta.get('command') or [])}` (run `{run_id}`, {meta.get('status')}, "
                     f"commit `{environment.get('git_commit') or 'unknown'}`, {count} rows)")
    lines += artifacts
    spread = timing_spread(rows)
    lines += ["", (f"Timing spread per codec: of the rows timed with several values, those whose spread (max − min) "
                   f"exceeds {100 * NOISY_SPREAD:g} % of their median (encode or decode; `run` warns of them); of "
                   f"the operating points, those whose mean time's 95 % CI over images is wider than "
                   f"±{100 * CI_TARGET:g} % of it (`run`'s closing line)."), "",
              f"| codec | rows with several values | spread > {100 * NOISY_SPREAD:g} % | points | "
              f"CI wider than ±{100 * CI_TARGET:g} % |", "|---|---:|---:|---:|---:|"]
    for r in spread.itertuples(index=False):
        share = f"{r.noisy} ({100 * r.noisy / r.several:.1f} %)" if r.several else "—"
        lines.append(f"| {r.codec} | {r.several} | {share} | {r.points} | {r.wide} |")
    return [*lines, ""]


# --- the git tree a report is written from ------------------------------------------------------


class ProvenanceError(BenchError):
    """Committed reports that would be rewritten from a tree with uncommitted changes."""


@dataclass(frozen=True)
class TreeState:
    """The git work tree holding a reports folder, as the report found it."""

    commit: str | None
    """HEAD, or None in a repository without commits."""
    changed: tuple[str, ...]
    """Tracked files with uncommitted changes outside the reports folder (what the reports derive from)."""
    committed: bool
    """Whether git tracks files in the reports folder: the reports are committed output."""

    @property
    def dirty(self) -> bool:
        return bool(self.changed)


def _git(cwd: Path, *args: str) -> str | None:
    """Git's output, or None when git is missing or fails; reads only (no index refresh, no lock file)."""
    try:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def tree_state(folder: str | os.PathLike[str]) -> TreeState | None:
    """The state of the git work tree holding ``folder`` (which may not exist yet); None outside one."""
    folder = Path(folder).resolve()
    existing = folder
    while not existing.is_dir():
        existing = existing.parent
    top = _git(existing, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    root = Path(top.strip()).resolve()
    relative = Path(os.path.relpath(folder, root)).as_posix()
    head = (_git(root, "rev-parse", "--verify", "-q", "HEAD") or "").strip() or None
    tracked = bool((_git(root, "ls-files", "--", relative) or "").strip())
    exclude = [f":(exclude){relative}"] if relative != "." else []
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *exclude) or ""
    changed = tuple(line[3:] for line in status.splitlines() if line.strip())
    return TreeState(head, changed, tracked)


def check_tree(state: TreeState | None, folder: str | os.PathLike[str], *, allow_dirty: bool) -> None:
    """Refuse to rewrite committed reports in ``folder`` from a tree with uncommitted changes, unless
    ``allow_dirty``; raises :class:`ProvenanceError` naming the changes and both ways out."""
    if state is None or not state.committed or not state.dirty or allow_dirty:
        return
    listed = ", ".join(state.changed[:3]) + (f" and {len(state.changed) - 3} more" if len(state.changed) > 3 else "")
    raise ProvenanceError(f"{folder} holds committed reports and the tree has uncommitted changes ({listed}): "
                          "commit them first, so that the reports name the commit that reproduces them, or pass "
                          f"--allow-dirty (every page then says '{DIRTY_STAMP}')")


def stamp_pages(paths: Iterable[Path], stamp: str) -> None:
    """Put ``stamp`` at the top of each Markdown and LaTeX page among ``paths`` (figures and CSVs are left)."""
    from bench.core.store import write_text_atomic

    for path in paths:
        prefix = {".md": f"{stamp}\n\n", ".tex": f"% {stamp}\n"}.get(path.suffix)
        if prefix is not None:
            write_text_atomic(path, prefix + path.read_text(encoding="utf-8"))
