"""BD-rate on plug-in metrics, each against an independent computation: the `bjontegaard` package on mean points
computed here with pandas (on the negated values for a lower-is-better metric), JPEG AI's average as a hand mean
of such BD-rates; result sets without plug-in metrics give the tables they gave before."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis.bdcompare import comparisons
from bench.analysis.bdformat import table_markdown
from bench.analysis.bdimages import per_image_bd
from bench.analysis.bdmetrics import JPEG_AI_AVERAGED, jpeg_ai_averages, metrics_markdown
from bench.analysis.bdrate import ms_ssim_db
from bench.analysis.bdreport import bd_files, bd_tables
from bench.analysis.bdtable import bd_table
from bench.analysis.curves import CurveError, measured_curves
from bench.analysis.plots import PlotError, rd_figure
from bench.core.metric import Metric
from bench.core.metric_registry import register_metric
from bench.core.schema import Column
from bench.core.store import load_rows
from clitools import bench, fresh_registry
from test_bdrate import _bjontegaard, _reference, _relevant

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "kodak" / "rows.csv"
TEST = "bmshj2018-factorized"
#: Synthetic plug-in metrics: name → (column, higher is better, unit, value as a function of the row's PSNR).
#: Each is monotone in PSNR (so in rate, per image) and not affine in it, so its BD-rate differs from PSNR's.
SYNTHETIC = {
    "iw-ssim": ("iw_ssim", True, "", lambda p: 1.0 - np.exp(-p / 9.0)),
    "vif": ("vif", True, "", lambda p: np.tanh(p / 40.0)),
    "fsim": ("fsim", True, "", lambda p: 1.0 - 2.0 / p),
    "nlpd": ("nlpd", False, "", lambda p: 3.0 * np.exp(-p / 12.0)),
    "vmaf": ("vmaf", True, "", lambda p: 100.0 / (1.0 + np.exp(-(p - 28.0) / 3.0))),
    "psnr-hvs-m": ("psnr_hvs_m", True, "dB", lambda p: 1.1 * p + 0.02 * (p - 30.0) ** 2),
    "butteraugli": ("butteraugli", False, "", lambda p: 40.0 / p),
}


def _metric_class(name: str) -> type[Metric]:
    column, higher, unit, _ = SYNTHETIC[name]

    class Synthetic(Metric):
        version = 1
        columns = (Column(column, "float", f"synthetic {name} for BD tests"),)
        primary = column
        higher_is_better = higher

        def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
            raise NotImplementedError  # the rows carry the values; nothing is scored here

    Synthetic.name = name
    Synthetic.unit = unit
    return Synthetic


@pytest.fixture
def registered() -> Iterator[None]:
    """Every synthetic metric registered, in a registry restored afterwards."""
    from bench.core import metric_registry

    with fresh_registry():
        metric_registry._loaded = True  # the synthetic metrics stand in for metrics/' plug-ins of the same names
        for name in SYNTHETIC:
            register_metric(_metric_class(name))
        yield


def scored(names: tuple[str, ...]) -> pd.DataFrame:
    """The fixture's rows scored by ``names``: each image gets its own offset, so images differ."""
    rows = load_rows(FIXTURE)
    offset = rows["image"].map({"kodim01.png": -0.4, "kodim02.png": 0.0, "kodim03.png": 0.7}).to_numpy()
    psnr = rows["psnr"].to_numpy(np.float64) + offset
    for name in names:
        column, _, _, value = SYNTHETIC[name]
        rows[column] = value(psnr)
    rows["metrics"] = ",".join(f"{name}:1" for name in sorted(names))
    return rows


def mean_points(rows: pd.DataFrame, codec: str, column: str, sign: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A codec's mean curve by pandas groupby (MS-SSIM: dB of the mean MS-SSIM), times ``sign``."""
    part = rows[(rows["codec"] == codec) & (rows["status"] == "ok")]
    mean = part.groupby("point")[["bpp", column]].mean().sort_values("bpp")
    quality = mean[column].to_numpy()
    if column == "ms_ssim":
        quality = ms_ssim_db(quality)
    return mean["bpp"].to_numpy(), sign * quality


def bjontegaard(kind: str, anchor, test) -> float:
    """The `bjontegaard` package's cubic BD value, fed each curve's points that the fit-range rule keeps."""
    bd = _bjontegaard()
    return _reference(bd, kind, *_relevant(*anchor, *test, kind), *_relevant(*test, *anchor, kind), "cubic")


def test_higher_is_better_metric_matches_bjontegaard(registered: None) -> None:
    rows = scored(("iw-ssim",))
    table = bd_table(rows, methods=("cubic",), n_boot=200)
    assert list(table.axes) == ["psnr", "ms_ssim_db", "iw_ssim"]
    entry = table.entry(TEST, "iw_ssim", "cubic")
    anchor, test = mean_points(rows, "jpeg", "iw_ssim"), mean_points(rows, TEST, "iw_ssim")
    # tolerance: two least-squares cubic fits over a narrow quality range (IW-SSIM spans ≈0.05), an
    # ill-conditioned system whose solvers agree to ≈1e-7 % here (test_bdcompare allows 1e-6 on PSNR too)
    assert entry.rate.value == pytest.approx(bjontegaard("rate", anchor, test), abs=1e-6)
    assert entry.quality.value == pytest.approx(bjontegaard("quality", anchor, test), abs=1e-12)
    assert entry.rate.value != pytest.approx(table.entry(TEST, "psnr", "cubic").rate.value, abs=0.1)
    assert entry.ci is not None and entry.ci.low <= entry.rate.value <= entry.ci.high


def test_lower_is_better_metric_is_integrated_negated(registered: None) -> None:
    rows = scored(("nlpd",))
    table = bd_table(rows, methods=("cubic",), n_boot=200)
    entry = table.entry(TEST, "nlpd", "cubic")
    anchor, test = mean_points(rows, "jpeg", "nlpd", -1.0), mean_points(rows, TEST, "nlpd", -1.0)
    assert entry.rate.value == pytest.approx(bjontegaard("rate", anchor, test), abs=1e-6)
    # BD-quality in NLPD's own direction: the negation of the BD value of −NLPD
    assert entry.quality.value == pytest.approx(-bjontegaard("quality", anchor, test), abs=1e-12)
    # the quality overlap in NLPD's own values: inside both curves' NLPD ranges
    low, high = entry.rate.overlap
    own = [-anchor[1], -test[1]]
    assert 0 < low < high and all(c.min() - 1e-12 <= low and high <= c.max() + 1e-12 for c in own)
    # the same rate on the metric's raw values would have the opposite meaning: this one is PSNR's sign
    assert np.sign(entry.rate.value) == np.sign(table.entry(TEST, "psnr", "cubic").rate.value)
    assert entry.ci is not None and entry.ci.low <= entry.rate.value <= entry.ci.high
    text = table_markdown(table)
    assert "**nlpd**" in text and "| BD-nlpd |" in text and "Lower is better for nlpd" in text


def test_per_image_bd_rates_of_a_lower_is_better_metric(registered: None) -> None:
    rows = scored(("butteraugli",))
    table = bd_table(rows, methods=("cubic",), n_boot=100)
    found = {i.metric: i for i in per_image_bd(rows, table)}
    item = found["butteraugli"]
    for image, value in zip(item.images, item.values):
        a = rows[(rows["codec"] == "jpeg") & (rows["image"] == image)].sort_values("bpp")
        t = rows[(rows["codec"] == TEST) & (rows["image"] == image)].sort_values("bpp")
        direct = bjontegaard("rate", (a["bpp"].to_numpy(), -a["butteraugli"].to_numpy()),
                             (t["bpp"].to_numpy(), -t["butteraugli"].to_numpy()))
        assert value == pytest.approx(direct, abs=1e-6)


def test_jpeg_ai_average_is_the_mean_of_seven_bd_rates(registered: None) -> None:
    names = tuple(n for n in JPEG_AI_AVERAGED if n != "ms-ssim")
    rows = scored(names)
    table, _ = bd_tables(rows, methods=("cubic",), n_boot=100)
    columns = {"ms-ssim": "ms_ssim", **{n: SYNTHETIC[n][0] for n in names}}
    rates = []
    for name, column in columns.items():
        sign = 1.0 if name == "ms-ssim" else (1.0 if SYNTHETIC[name][1] else -1.0)
        rates.append(bjontegaard("rate", mean_points(rows, "jpeg", column, sign), mean_points(rows, TEST, column, sign)))
    by_hand = sum(rates) / 7.0
    (average,) = jpeg_ai_averages(table)
    assert average.value == pytest.approx(by_hand, abs=1e-6)
    text = metrics_markdown(table)
    assert "BD-rate per metric" in text and f"| {by_hand:+.2f} |".replace("-", "−") in text
    records = list(csv.DictReader(io.StringIO(bd_files(table, None)["bd-rate.csv"])))
    line = next(r for r in records if r["metric"] == "jpeg_ai_avg")
    assert float(line["bd_rate"]) == pytest.approx(by_hand, abs=1e-6)


def test_jpeg_ai_average_names_the_missing_metrics(registered: None) -> None:
    rows = scored(("iw-ssim", "nlpd", "vmaf"))
    table = bd_table(rows, methods=("cubic",), n_boot=50)
    (average,) = jpeg_ai_averages(table)
    assert average.value is None and average.reason == "missing vif, fsim, psnr-hvs-m"
    assert "n/a: missing vif, fsim, psnr-hvs-m" in metrics_markdown(table)


def test_results_without_plugin_metrics_are_unchanged(registered: None) -> None:
    """Rows without a metrics column and rows whose metrics cells are empty give the same files, with no
    per-metric section; a plug-in column that is all empty adds no axis."""
    plain = load_rows(FIXTURE)
    empty = plain.assign(metrics="", iw_ssim=np.nan)
    files = [bd_files(*bd_tables(rows, methods=("cubic",), n_boot=100)) for rows in (plain, empty)]
    assert files[0] == files[1]
    assert "per metric" not in files[0]["bd-rate.md"] and "jpeg_ai_avg" not in files[0]["bd-rate.csv"]
    unscored = plain.assign(metrics="iw-ssim:1", iw_ssim=np.nan)
    assert list(bd_table(unscored, methods=("cubic",), n_boot=10).axes) == ["psnr", "ms_ssim_db"]


def test_rows_of_an_unloaded_metric_are_refused() -> None:
    rows = load_rows(FIXTURE).assign(metrics="no-such-metric:1")
    with fresh_registry(), pytest.raises(CurveError, match="'no-such-metric'.*BENCH_METRIC_PATH"):
        measured_curves(rows)


def test_pairs_and_common_interval_on_a_lower_is_better_metric(registered: None) -> None:
    rows = scored(("nlpd",))
    table = bd_table(rows, methods=("cubic",), n_boot=100)
    found = comparisons(rows, table, pairs=True)
    pair = next(p for p in found.pairs if (p.metric, p.test, p.anchor) == ("nlpd", TEST, "jpeg"))
    assert pair.rate.value == pytest.approx(table.entry(TEST, "nlpd", "cubic").rate.value, abs=1e-9)
    common = next(c for c in found.common if c.metric == "nlpd")
    assert common.interval is not None and common.interval[1] < 0  # negated NLPD, as integrated


def test_rd_figure_on_a_plugin_metric(registered: None) -> None:
    rows = scored(("nlpd", "psnr-hvs-m"))
    curves = list(measured_curves(rows).values())
    figure = rd_figure(curves, "nlpd")
    axes = figure.axes[0]
    assert axes.get_ylabel() == "nlpd (lower is better)"
    line = next(line for line in axes.get_lines() if line.get_label() == "jpeg")
    anchor = mean_points(rows, "jpeg", "nlpd")
    np.testing.assert_allclose(line.get_ydata(), anchor[1], rtol=1e-12)  # the metric's own values
    assert rd_figure(curves, "psnr_hvs_m").axes[0].get_ylabel() == "psnr-hvs-m [dB]"
    with pytest.raises(PlotError, match="no curve has the quality axis 'vif'"):
        rd_figure(curves, "vif")


PLUGIN = '''
import numpy as np

from bench.core.metric import Metric
from bench.core.metric_registry import register_metric
from bench.core.schema import Column


@register_metric
class ToyDistance(Metric):
    name = "toy-distance"
    columns = (Column("toy_distance", "float", "a synthetic distance for the BD tests"),)
    primary = "toy_distance"
    higher_is_better = False

    def score(self, reference, test):
        return {"toy_distance": float(np.mean(np.abs(reference.astype(float) - test)))}
'''


def test_cli_bd_rate_and_plot_on_a_plugin_metric(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_distance.py").write_text(PLUGIN, encoding="utf-8")
    folder = tmp_path / "results" / "kodak"
    folder.mkdir(parents=True)
    rows = scored(("nlpd",)).rename(columns={"nlpd": "toy_distance"})
    rows["metrics"] = "toy-distance:1"
    rows.to_csv(folder / "rows.csv", index=False)
    env = {"BENCH_METRIC_PATH": str(plugins)}
    done = bench("bd-rate", "--results", tmp_path / "results", "--dataset", "kodak", "--reports", tmp_path / "out",
                 "--anchor", "jpeg", "--method", "cubic", "--bootstrap", "100", env=env)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "out" / "bd-rate.md").read_text(encoding="utf-8")
    assert "**toy-distance**" in text and "BD-rate per metric" in text and "n/a: missing ms-ssim" not in text
    assert "n/a: missing iw-ssim, vif, fsim, nlpd, vmaf, psnr-hvs-m" in text
    plotted = bench("plot", "--results", tmp_path / "results", "--dataset", "kodak", "--metric", "toy-distance",
                    "-o", tmp_path / "toy.svg", env=env)
    assert plotted.returncode == 0, plotted.stderr
    assert "toy-distance (lower is better)" in (tmp_path / "toy.svg").read_text(encoding="utf-8")
    unknown = bench("plot", "--results", tmp_path / "results", "--dataset", "kodak", "--metric", "vif",
                    "-o", tmp_path / "vif.svg", env=env)
    assert unknown.returncode != 0 and "no curve has the quality axis 'vif'" in unknown.stderr and "toy_distance" in unknown.stderr
