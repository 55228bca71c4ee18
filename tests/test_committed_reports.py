"""The committed reports are what `make report` makes of the committed results.

The report is regenerated from ``results/kodak`` into a temporary folder (with the measured artifacts
it only reads: the complexity tables and the visual comparison) and compared byte for byte with
``reports/``. A change that moves a reported number, a table or a figure fails here until the
committed reports are regenerated with it, in the same commit.
"""

from __future__ import annotations

import shutil

import pytest

from bench.analysis.provenance import WRITTEN_BY
from clitools import bench
from conftest import REPO

REPORTS = REPO / "reports"
#: Files `make report` writes whose bytes do not depend on the last bit of a float (the CSVs carry
#: full-precision BD values that may differ by an ulp between BLAS builds; their rounded values are in bd-rate.md).
COMPARED = ("REPORT.md", "bd-rate.md", "rd-psnr.svg", "rd-ms-ssim.svg", "jpeg-vs-published.svg")
#: Artifacts the report reads without rebuilding them (measured by `make complexity` / `make visual`).
READ_ONLY_ARTIFACTS = ("complexity*", "visual-*")


@pytest.mark.skipif(not (REPO / "results" / "kodak" / "rows.csv").exists(), reason="no committed results")
def test_make_report_reproduces_the_committed_reports(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    for pattern in READ_ONLY_ARTIFACTS:
        for path in REPORTS.glob(pattern):
            shutil.copy2(path, out / path.name)
    bench("report", "--results", "results", "--dataset", "kodak", "--reports", out, "--anchor", "jpeg",
          "--pairs").check()  # as make report
    different = [name for name in COMPARED if _checkout_free(out / name) != _checkout_free(REPORTS / name)]
    assert not different, f"regenerate the committed reports (make report): {different} differ"


def _checkout_free(path) -> bytes:
    """The file's bytes without REPORT.md's line naming its own command and commit (the output folder and the
    checkout's HEAD differ here from those that wrote the committed reports)."""
    lines = path.read_bytes().splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(WRITTEN_BY.encode()))
