"""REPORT.md's provenance: its own command and commit, each run's command and commit, the timing rows above the
spread thresholds per codec; committed reports are not rewritten from a dirty tree unless --allow-dirty, which
stamps every page. Each git case in a temporary repository, never this checkout's state."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.analysis.provenance import (DIRTY_STAMP, WRITTEN_BY, ProvenanceError, artifact_lines, command_text,
                                       tree_state)
from bench.analysis.report import write_report
from bench.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak"
REPO = Path(__file__).resolve().parents[1]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="no git")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


def project(tmp_path: Path) -> Path:
    """A git repository with committed results and committed reports, its tree clean."""
    repo = tmp_path / "project"
    shutil.copytree(FIXTURE, repo / "results" / "kodak")
    (repo / "code.py").write_text("x = 1\n")
    (repo / "reports").mkdir()
    (repo / "reports" / "REPORT.md").write_text("old\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    return repo


def pages(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.iterdir() if p.suffix in (".md", ".tex")}


@needs_git
def test_committed_reports_are_not_rewritten_from_a_dirty_tree_unless_allowed_and_then_every_page_says_so(
        tmp_path: Path) -> None:
    repo = project(tmp_path)
    results, reports = repo / "results", repo / "reports"
    write_report(results, "kodak", reports, n_boot=10, formats=("png",), latex=True)  # clean tree: written
    assert not any(DIRTY_STAMP in text for text in pages(reports).values())
    # the reports it just rewrote are its own output, not a change that makes the tree dirty
    assert tree_state(reports).changed == ()
    (repo / "code.py").write_text("x = 2\n")
    before = pages(reports)
    with pytest.raises(ProvenanceError) as refused:
        write_report(results, "kodak", reports, n_boot=10, formats=("png",))
    message = str(refused.value)
    assert "\n" not in message and "code.py" in message and "--allow-dirty" in message
    assert pages(reports) == before  # nothing written
    write_report(results, "kodak", reports, n_boot=10, formats=("png",), latex=True, allow_dirty=True)
    stamped = pages(reports)
    assert set(stamped) == {"REPORT.md", "bd-rate.md", "bd-rate.tex"}
    assert [name for name, text in stamped.items() if DIRTY_STAMP not in text] == []
    assert "code.py" in stamped["REPORT.md"].split("## Provenance")[0]
    head = git(repo, "rev-parse", "HEAD").strip()  # the commit of the tree holding the reports
    assert f"at commit `{head}+dirty`" in stamped["REPORT.md"]
    git(repo, "commit", "-qam", "code and reports")
    write_report(results, "kodak", reports, n_boot=10, formats=("png",))  # clean again, its own output aside
    assert f"at commit `{git(repo, 'rev-parse', 'HEAD').strip()}`\n" in (reports / "REPORT.md").read_text()


@needs_git
def test_the_command_line_refuses_in_one_line_and_a_fresh_folder_is_written_but_stamped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = project(tmp_path)
    (repo / "code.py").write_text("x = 3\n")
    arguments = ["report", "--results", str(repo / "results"), "--bootstrap", "10"]
    assert main([*arguments, "--reports", str(repo / "reports")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and "--allow-dirty" in err
    assert (repo / "reports" / "REPORT.md").read_text() == "old\n"
    assert main([*arguments, "--reports", str(repo / "reports"), "--allow-dirty"]) == 0
    assert DIRTY_STAMP in (repo / "reports" / "REPORT.md").read_text()
    # a folder git does not track holds no committed reports: written, and still says where it came from
    assert main([*arguments, "--reports", str(repo / "scratch")]) == 0
    assert DIRTY_STAMP in (repo / "scratch" / "REPORT.md").read_text()


def test_outside_a_git_tree_nothing_is_refused_or_stamped(tmp_path: Path) -> None:
    if subprocess.run(["git", "-C", str(tmp_path), "rev-parse"], capture_output=True).returncode == 0:
        pytest.skip(f"{tmp_path} lies in a git work tree")
    assert tree_state(tmp_path / "reports") is None
    write_report(FIXTURE.parent, "kodak", tmp_path / "reports", n_boot=10, formats=("png",))
    assert DIRTY_STAMP not in (tmp_path / "reports" / "REPORT.md").read_text()


def test_report_opens_with_its_command_the_runs_commands_and_commits(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    assert main(["report", "--results", str(FIXTURE.parent), "--reports", str(out), "--bootstrap", "10",
                 "--method", "cubic"]) == 0
    text = (out / "REPORT.md").read_text()
    head = text.split("## Test conditions")[0]
    assert "## Provenance" in head
    own = [line for line in head.splitlines() if line.startswith(WRITTEN_BY)]
    assert len(own) == 1
    assert (f"`python -m bench report --results {FIXTURE.parent} --reports {out} --bootstrap 10 --method cubic`"
            in own[0])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if commit.returncode == 0 and tree_state(out) is None:  # outside a git tree: the harness's HEAD
        assert f"commit `{commit.stdout.strip()}" in own[0]
    run = json.loads(next((FIXTURE / "runs").glob("*.json")).read_text())
    assert (f"`{' '.join(run['command'])}` (run `{run['run_id']}`, complete, commit "
            f"`{run['environment']['git_commit']}`, 27 rows)") in head


def test_command_text_names_the_harness_entry_point_and_quotes_arguments() -> None:
    recorded = ["/somewhere/lic-bench/bench/__main__.py", "run", "--images", "kodim0*.png", "--codecs", "jpeg"]
    assert command_text(recorded) == "python -m bench run --images 'kodim0*.png' --codecs jpeg"
    assert command_text(["/usr/bin/lic-bench", "report"]) == "lic-bench report"


def test_timing_spread_per_codec_against_a_hand_count(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results / "kodak")
    rows = pd.read_csv(results / "kodak" / "rows.csv", dtype=str, keep_default_na=False)
    jpeg = rows.index[rows["codec"] == "jpeg"]
    # two jpeg rows with a spread of 30 % and 10 % (at the threshold: not above) of their encode median
    for i, share in zip(jpeg[:2], (0.3, 0.1)):
        rows.loc[i, "encode_spread_s"] = repr(share * float(rows.loc[i, "encode_s"]))
    rows.to_csv(results / "kodak" / "rows.csv", index=False)
    write_report(results, "kodak", tmp_path / "reports", n_boot=10, formats=("png",))
    text = (tmp_path / "reports" / "REPORT.md").read_text()
    table = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in text.split("Timing spread per codec")[1].split("## Test conditions")[0].splitlines()
             if line.startswith("| ") and not line.startswith("| codec")}
    numbers = pd.read_csv(results / "kodak" / "rows.csv")
    for codec, part in numbers.groupby("codec"):
        several = part[part["encode_spread_s"].notna()]
        noisy = int(((several["encode_spread_s"] / several["encode_s"] > 0.1 + 1e-12)
                     | (several["decode_spread_s"] / several["decode_s"] > 0.1 + 1e-12)).sum())
        wide = 0
        for _, point in part.groupby("point"):
            for side in ("encode_s", "decode_s"):
                values = point[side].to_numpy()
                half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
                if half > 0.05 * values.mean():
                    wide += 1
                    break
        assert table[codec][0] == str(len(several))
        assert table[codec][1].startswith(f"{noisy} ("), (codec, table[codec])
        assert table[codec][2:] == [str(part["point"].nunique()), str(wide)]
    assert table["jpeg"][1] == f"1 ({100 / 15:.1f} %)"


def test_the_report_names_who_made_its_complexity_tables_and_visual_comparisons(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    complexity = {"format": 1, "command": ["/x/bench/__main__.py", "complexity", "--images", "4"],
                  "environment": {"git_commit": "abc123", "date": "2026-12-03T10:00:00+00:00"}}
    (out / "complexity-run.json").write_text(json.dumps(complexity))
    (out / "visual-kodim19.json").write_text(json.dumps({"image": "kodim19.png", "choices": []}))  # an older record
    (out / "visual-kodim23.json").write_text("{not json")
    assert artifact_lines(out) == [
        "- Complexity tables (`complexity.md`) made by: `python -m bench complexity --images 4`, at commit `abc123`, "
        "2026-12-03T10:00:00+00:00",
        "- Visual comparison (`visual-kodim19.png`) made by: a command not recorded (made before commands were), "
        "at commit `unknown`, unknown",
        "- Visual comparison (`visual-kodim23.png`): `visual-kodim23.json` unreadable",
    ]
    written = tmp_path / "written"
    written.mkdir()
    (written / "visual-kodim19.json").write_text(json.dumps({"command": ["/x/bench/__main__.py", "visual"],
                                                              "git_commit": "def456", "date": "2026-12-03"}))
    assert main(["report", "--results", str(FIXTURE.parent), "--reports", str(written), "--bootstrap", "10",
                 "--method", "cubic"]) == 0
    head = (written / "REPORT.md").read_text().split("## Test conditions")[0]
    assert ("- Visual comparison (`visual-kodim19.png`) made by: `python -m bench visual`, at commit `def456`, "
            "2026-12-03") in head


def test_runs_that_added_metric_scores_are_named():
    from bench.analysis.provenance import scoring_lines

    runs = {
        "r1": {"command": ["python", "-m", "bench", "run", "--codecs", "jpeg"], "status": "complete",
               "rows": {"measured": 40, "scored": 0}, "settings": {"metrics": {}}},
        "r2": {"command": ["python", "-m", "bench", "run", "--metrics", "jpeg-ai"], "status": "complete",
               "rows": {"measured": 0, "scored": 40}, "settings": {"metrics": {"vmaf": {"version": 1},
                                                                              "iw-ssim": {"version": 1}}},
               "environment": {"git_commit": "abc123"}},
        "r3": None,
    }
    assert scoring_lines(runs) == [
        "- Metric scores added to stored rows by:",
        "  - `python -m bench run --metrics jpeg-ai` (run `r2`, complete, commit `abc123`, 40 rows given iw-ssim, vmaf)"]
    assert scoring_lines({"r1": runs["r1"]}) == []
