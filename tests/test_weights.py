"""bench.learned.zoo and bench.learned.weights: zoo facts, checkpoint formats, mismatches, mirror and cache."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import compressai.models as compressai_models
import compressai.zoo.image as compressai_zoo
import pytest
import torch

from bench.learned import zoo
from bench.core.errors import CodecError
from bench.learned.checkpoint import load_model
from bench.learned.weights import (
    Checkpoint,
    WeightsError,
    WeightsSource,
    WeightsUnavailable,
    options_of_source,
    parse_checkpoint_spec,
    points_for,
    resolve,
    sha256_of,
    source_from_options,
)
from conftest import REPO, closed_port_url

SHARED_CKPT = "bmshj2018-factorized_N128-M192_lambda0.0130.pth"

# --------------------------------------------------------------------------- helpers

SMALL = {
    "bmshj2018-factorized": lambda: compressai_models.FactorizedPrior(N=16, M=24),
    "bmshj2018-hyperprior": lambda: compressai_models.ScaleHyperprior(16, 24),
    "mbt2018-mean": lambda: compressai_models.MeanScaleHyperprior(16, 24),
    "mbt2018": lambda: compressai_models.JointAutoregressiveHierarchicalPriors(16, 24),
}


@pytest.fixture(scope="module")
def small_models() -> dict:
    """Small random-initialised models, updated, with their bitstreams for one 64×64 input."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    out = {}
    for arch, make in SMALL.items():
        model = make().eval()
        model.update(force=True)
        with torch.no_grad():
            coded = model.compress(x)
        out[arch] = (model, coded)
    return {"x": x, **out}


def compress(model, x):
    with torch.no_grad():
        return model.compress(x)


def offline(tmp_path: Path, *checkpoints: Checkpoint, **kw) -> WeightsSource:
    return WeightsSource(cache_dir=tmp_path / "cache", checkpoints=checkpoints, offline=True, **kw)


def fake_zoo(monkeypatch, names: dict[int, str], base: str | None = None) -> None:
    """Point bench.learned.zoo's URL table (and so the canonical file names) at our own files."""
    base = base or closed_port_url()

    def zoo_url(point: zoo.ZooPoint) -> str:
        return f"{base.rstrip('/')}/{names[point.quality]}"

    monkeypatch.setattr(zoo, "zoo_url", zoo_url)


def one_line(text: str) -> bool:
    return "\n" not in text and "\r" not in text


# --------------------------------------------------------------------------- zoo facts


def test_labels_lambdas_and_qualities_match_compressai_docs():
    mse = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]
    msssim = [2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00]
    for q, lam in enumerate(mse, start=1):
        point = zoo.zoo_point("bmshj2018-hyperprior", f"lambda{lam:.4f}")
        assert (point.metric, point.quality, point.lam) == ("mse", q, lam)
    for q, lam in enumerate(msssim, start=1):
        point = zoo.zoo_point("mbt2018", f"msssim-lambda{lam:.2f}")
        assert (point.metric, point.quality, point.lam) == ("ms-ssim", q, lam)
    assert zoo.zoo_point("mbt2018", "lambda0.0130").label == "lambda0.0130"
    assert zoo.zoo_point("mbt2018", "msssim-lambda2.40").label == "msssim-lambda2.40"
    assert zoo.all_points("mbt2018") == [f"lambda{lam:.4f}" for lam in mse]
    assert zoo.all_points("mbt2018", "ms-ssim")[0] == "msssim-lambda2.40"


def test_default_points_are_zoo_qualities_3_to_6():
    assert zoo.DEFAULT_POINTS == ("lambda0.0067", "lambda0.0130", "lambda0.0250", "lambda0.0483")
    assert [zoo.zoo_point("bmshj2018-factorized", p).quality for p in zoo.DEFAULT_POINTS] == [3, 4, 5, 6]


def test_cheng2020_quality_out_of_range_is_refused():
    assert len(zoo.all_points("cheng2020-anchor")) == 6
    assert zoo.zoo_point("cheng2020-attn", "lambda0.0483").quality == 6
    with pytest.raises(CodecError, match="quality out of range") as err:
        zoo.zoo_point("cheng2020-anchor", "lambda0.0932")
    assert "1-6" in str(err.value)


def test_unknown_label_and_architecture_list_the_known_ones():
    with pytest.raises(CodecError, match="lambda0.0018.*lambda0.1800"):
        zoo.zoo_point("mbt2018", "lambda0.013")
    with pytest.raises(CodecError, match="known: bmshj2018-factorized, "):
        zoo.zoo_point("bmshj2019", "lambda0.0130")
    with pytest.raises(CodecError, match="cheng2020-attn"):
        zoo.model_class("nope")


def test_zoo_tables_read_from_source_equal_compressais_imported_ones():
    """The report reads the zoo's file names without importing CompressAI: same tables as the import."""
    read = zoo._read_zoo_tables()
    assert read.model_urls == compressai_zoo.model_urls and read.cfgs == compressai_zoo.cfgs
    assert read.model_urls["mbt2018"]["mse"][3].endswith("/mbt2018-3-22901978.pth.tar")


def test_urls_file_names_hash_prefixes_and_channels():
    point = zoo.zoo_point("mbt2018", "lambda0.0067")
    assert zoo.zoo_url(point) == compressai_zoo.model_urls["mbt2018"]["mse"][3]
    assert zoo.zoo_filename(point) == "mbt2018-3-22901978.pth.tar"
    assert zoo.hash_prefix(zoo.zoo_filename(point)) == "22901978"
    assert zoo.hash_prefix("bmshj2018-factorized-prior-3-5c6f152b.pth.tar") == "5c6f152b"
    with pytest.raises(CodecError, match="hash prefix"):
        zoo.hash_prefix("weights.pth")
    assert zoo.channels(point) == {"N": 192, "M": 192}
    assert zoo.channels(zoo.zoo_point("bmshj2018-factorized", "lambda0.0483")) == {"N": 192, "M": 320}
    assert zoo.channels(zoo.zoo_point("cheng2020-anchor", "lambda0.0130")) == {"N": 192}
    with pytest.raises(CodecError, match="no pretrained"):
        zoo.zoo_url(zoo.zoo_point("bmshj2018-factorized-relu", "lambda0.0130"))


def test_model_classes():
    assert zoo.model_class("mbt2018") is compressai_models.JointAutoregressiveHierarchicalPriors
    assert zoo.model_class("cheng2020-attn") is compressai_models.Cheng2020Attention
    assert set(zoo.ARCHITECTURES) == {
        "bmshj2018-factorized", "bmshj2018-factorized-relu", "bmshj2018-hyperprior",
        "mbt2018-mean", "mbt2018", "cheng2020-anchor", "cheng2020-attn",
    }


def test_importing_zoo_and_weights_does_not_import_torch():
    code = "import sys, bench.learned.zoo, bench.learned.weights; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- sources, specs


def test_parse_checkpoint_spec():
    ckpt = parse_checkpoint_spec("bmshj2018-factorized:lambda0.0130=/w/f=1.pth")
    assert ckpt == Checkpoint("bmshj2018-factorized", "lambda0.0130", Path("/w/f=1.pth"))
    assert parse_checkpoint_spec("mbt2018:my_run-3.b=rel/x.pth.tar").point == "my_run-3.b"
    for bad in ("bmshj2018-factorized=/w/f.pth", "mbt2018:lam bda=/x", "mbt2018:=/x", "mbt2018:l="):
        with pytest.raises(WeightsError, match="ARCH:LABEL=PATH"):
            parse_checkpoint_spec(bad)
    with pytest.raises(WeightsError, match="unknown architecture 'bmshj'.*cheng2020-anchor"):
        parse_checkpoint_spec("bmshj:lambda0.0130=/w/f.pth")


def test_points_for():
    ckpts = (Checkpoint("mbt2018", "mine-b", Path("b")), Checkpoint("mbt2018", "mine-a", Path("a")))
    source = WeightsSource(checkpoints=ckpts)
    assert points_for("mbt2018", source, None) == ["mine-b", "mine-a"]
    assert points_for("bmshj2018-factorized", source, None) == list(zoo.DEFAULT_POINTS)
    assert points_for("mbt2018", source, ["lambda0.0018"]) == ["lambda0.0018"]
    with pytest.raises(CodecError):
        points_for("nope", source, None)


def test_source_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_WEIGHTS_MIRROR", "http://mirror.example/zoo/")
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    source = WeightsSource.from_env(cache_dir=tmp_path, mirror=None)
    assert (source.mirror, source.offline, source.cache_dir) == ("http://mirror.example/zoo/", True, tmp_path)
    assert WeightsSource.from_env(mirror="/m", offline=False).mirror == "/m"
    monkeypatch.delenv("BENCH_WEIGHTS_MIRROR")
    monkeypatch.delenv("BENCH_OFFLINE")
    assert WeightsSource.from_env() == WeightsSource()
    with pytest.raises(WeightsError, match="two checkpoints"):
        WeightsSource(checkpoints=(Checkpoint("mbt2018", "a", Path("x")), Checkpoint("mbt2018", "a", Path("y"))))


def test_source_from_options(monkeypatch, tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    for name in ("mbt2018_N16-M24_lambda0.0067.pth", "bmshj2018-factorized_N8-M12_lambda0.0130.pth"):
        (exports / name).write_bytes(b"")  # checkpoint_specs reads names (no sidecar), not contents
    monkeypatch.setenv("BENCH_WEIGHTS_MIRROR", "/env/mirror")
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    source = source_from_options({"checkpoint": ["mbt2018:mine=/w/m.pth"], "checkpoint_dir": str(exports),
                                  "weights_cache": str(tmp_path / "c"), "weights_mirror": None})
    assert source == WeightsSource(mirror="/env/mirror", cache_dir=tmp_path / "c", checkpoints=(
        Checkpoint("mbt2018", "mine", Path("/w/m.pth")),
        Checkpoint("bmshj2018-factorized", "lambda0.0130", exports / "bmshj2018-factorized_N8-M12_lambda0.0130.pth"),
        Checkpoint("mbt2018", "lambda0.0067", exports / "mbt2018_N16-M24_lambda0.0067.pth")))
    assert source_from_options({"weights_mirror": "/m"}).mirror == "/m"  # the option beats the environment
    monkeypatch.delenv("BENCH_WEIGHTS_MIRROR")
    assert source_from_options({}) == WeightsSource()
    with pytest.raises(WeightsError, match="ARCH:LABEL=PATH"):
        source_from_options({"checkpoint": ["no-spec"]})


def test_options_of_source_describe_it_again():
    source = WeightsSource(mirror="http://m/", cache_dir=Path("/c"),
                           checkpoints=(Checkpoint("mbt2018", "a", Path("/w/a.pth")),))
    options = options_of_source(source)
    assert options == {"weights_mirror": "http://m/", "weights_cache": "/c", "checkpoint": ["mbt2018:a=/w/a.pth"],
                       "checkpoint_dir": None}
    assert source_from_options(options) == source


# --------------------------------------------------------------------------- real trained weights


def test_shared_trained_checkpoint(shared_dir, tmp_path):
    path = shared_dir / "weights" / SHARED_CKPT
    if not path.is_file():
        pytest.skip(f"{path} not available")
    sums = dict(
        reversed(line.split()) for line in (path.parent / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    ckpt = parse_checkpoint_spec(f"bmshj2018-factorized:lambda0.0130={path}")
    loaded = load_model("bmshj2018-factorized", "lambda0.0130", offline(tmp_path, ckpt))

    assert loaded.config == {"N": 128, "M": 192}
    assert isinstance(loaded.model, compressai_models.FactorizedPrior)
    assert not loaded.model.training and loaded.updated
    assert loaded.sha256 == sums[SHARED_CKPT] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.origin == f"checkpoint:{path}"
    # Trainable parameters by hand: 3 convs + 3 GDNs each way, and the factorized entropy
    # model's 61 values per channel (matrices 33, biases 13, factors 12, quantiles 3).
    n, m = 128, 192
    g_a = 3 * n * 25 + n + 2 * (n * n * 25 + n) + n * m * 25 + m + 3 * (n + n * n)
    g_s = m * n * 25 + n + 2 * (n * n * 25 + n) + n * 3 * 25 + 3 + 3 * (n + n * n)
    assert sum(p.numel() for p in loaded.model.parameters()) == g_a + g_s + 61 * m == 2_998_147
    # The README's 2,998,175 also counts the 28 scalar buffers (GDN bounds, EB target/bound):
    # every state tensor except the entropy coder's tables.
    tables = ("_quantized_cdf", "_offset", "_cdf_length")
    fixed = sum(t.numel() for k, t in loaded.model.state_dict().items() if not k.endswith(tables))
    assert fixed == 2_998_175

    # Same bitstream as CompressAI's own loader on the same file.
    reference = compressai_models.FactorizedPrior.from_state_dict(torch.load(path, weights_only=True)).eval()
    reference.update(force=True)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert compress(loaded.model, x)["strings"] == compress(reference, x)["strings"]


# --------------------------------------------------------------------------- checkpoint layouts

LAYOUTS = [
    ("bare", ".pth"),
    ("state_dict", ".pth.tar"),
    ("network", ".pth"),
    ("model_state_dict", ".pth.tar"),
    ("module.", ".pth"),
    ("module.+state_dict", ".pth.tar"),
]


def save_layout(state: dict, layout: str, path: Path) -> None:
    if layout.startswith("module."):
        state = {f"module.{k}": v for k, v in state.items()}
        layout = layout.removeprefix("module.").removeprefix("+") or "bare"
    if layout != "bare":
        state = {layout: state, "epoch": 7, "optimizer": {"lr": 1e-4}, "loss": 0.5}
    torch.save(state, path)


@pytest.mark.parametrize("arch", ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018"])
@pytest.mark.parametrize(("layout", "suffix"), LAYOUTS)
def test_checkpoint_layouts_load_and_code_identically(small_models, tmp_path, arch, layout, suffix):
    original, coded = small_models[arch]
    path = tmp_path / f"ckpt{suffix}"
    save_layout(original.state_dict(), layout, path)

    loaded = load_model(arch, "my-run", offline(tmp_path, Checkpoint(arch, "my-run", path)))

    assert loaded.config == {"N": 16, "M": 24}
    assert type(loaded.model) is type(original)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_of(path)
    again = compress(loaded.model, small_models["x"])
    assert again["strings"] == coded["strings"]
    assert tuple(again["shape"]) == tuple(coded["shape"])


def test_cdf_tables_of_any_size_or_missing_are_recomputed(small_models, tmp_path):
    original, coded = small_models["bmshj2018-hyperprior"]
    state = dict(original.state_dict())
    state["entropy_bottleneck._quantized_cdf"] = torch.zeros(3, 5, dtype=torch.int32)  # wrong size
    del state["gaussian_conditional._offset"]
    path = tmp_path / "odd.pth"
    torch.save(state, path)
    loaded = load_model("bmshj2018-hyperprior", "x", offline(tmp_path, Checkpoint("bmshj2018-hyperprior", "x", path)))
    assert compress(loaded.model, small_models["x"])["strings"] == coded["strings"]


# --------------------------------------------------------------------------- mismatches


def load_as(arch: str, path: Path, tmp_path: Path):
    return load_model(arch, "x", offline(tmp_path, Checkpoint(arch, "x", path)))


def test_hyperprior_declared_as_factorized(small_models, tmp_path):
    path = tmp_path / "hyper.pth"
    torch.save(small_models["bmshj2018-hyperprior"][0].state_dict(), path)
    with pytest.raises(WeightsError) as err:
        load_as("bmshj2018-factorized", path, tmp_path)
    message = str(err.value)
    assert one_line(message) and str(path) in message
    assert "19 unexpected keys (gaussian_conditional." in message
    assert "looks like bmshj2018-hyperprior (N=16, M=24)" in message
    assert len(message) < 500  # a few examples, not every key


def test_mean_scale_declared_as_hyperprior_reports_shapes(small_models, tmp_path):
    path = tmp_path / "mean.pth"
    torch.save(small_models["mbt2018-mean"][0].state_dict(), path)
    with pytest.raises(WeightsError, match=r"shapes differ \(h_s\.0\.weight: file \[16, 24, 5, 5\]") as err:
        load_as("bmshj2018-hyperprior", path, tmp_path)
    assert "looks like mbt2018-mean" in str(err.value)


def test_truncated_file(small_models, tmp_path):
    path = tmp_path / "half.pth"
    torch.save(small_models["bmshj2018-factorized"][0].state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match="corrupt or truncated") as err:
        load_as("bmshj2018-factorized", path, tmp_path)
    assert str(path) in str(err.value) and one_line(str(err.value))


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", b"PK\x03\x04garbage"])
def test_non_checkpoint_file(tmp_path, content):
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as err:
        load_as("bmshj2018-factorized", path, tmp_path)
    assert str(path) in str(err.value) and one_line(str(err.value))


def test_tensors_that_are_no_model(tmp_path):
    path = tmp_path / "t.pth"
    torch.save({"a": torch.zeros(3), "b": torch.ones(2)}, path)
    with pytest.raises(WeightsError, match="does not look like any CompressAI image model"):
        load_as("mbt2018", path, tmp_path)
    torch.save(torch.zeros(3), path)
    with pytest.raises(WeightsError, match="holds no state dict"):
        load_as("mbt2018", path, tmp_path)


def test_pickled_objects_beyond_tensors(small_models, tmp_path):
    path = tmp_path / "with_args.pth"
    torch.save({"state_dict": small_models["bmshj2018-factorized"][0].state_dict(),
                "args": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(WeightsError, match=r"beyond tensors \(argparse\.Namespace\)") as err:
        load_as("bmshj2018-factorized", path, tmp_path)
    assert str(path) in str(err.value) and one_line(str(err.value))


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        load_as("mbt2018", tmp_path / "nope.pth", tmp_path)


# --------------------------------------------------------------------------- zoo files: cache, mirror, zoo


@pytest.fixture
def zoo_file(small_models, tmp_path) -> tuple[bytes, str]:
    """A small factorized model's weights and a canonical zoo name whose prefix is its sha256."""
    path = tmp_path / "zoo.pth.tar"
    torch.save(small_models["bmshj2018-factorized"][0].state_dict(), path)
    data = path.read_bytes()
    return data, f"bmshj2018-factorized-prior-3-{hashlib.sha256(data).hexdigest()[:8]}.pth.tar"


def test_mirror_url_downloads_verifies_and_caches(server, zoo_file, small_models, monkeypatch, tmp_path):
    data, name = zoo_file
    fake_zoo(monkeypatch, {3: name})
    (server.root / name).write_bytes(data)
    source = offline(tmp_path, mirror=server.url)

    loaded = load_model("bmshj2018-factorized", "lambda0.0067", source)
    assert loaded.origin == f"mirror:{server.url}"
    assert (tmp_path / "cache" / name).read_bytes() == data
    assert server.requests == [f"/{name}"]
    assert loaded.sha256 == hashlib.sha256(data).hexdigest()
    assert compress(loaded.model, small_models["x"])["strings"] == small_models["bmshj2018-factorized"][1]["strings"]

    again = load_model("bmshj2018-factorized", "lambda0.0067", source)
    assert server.requests == [f"/{name}"]  # served from the cache
    assert again.origin.startswith("zoo:") and again.sha256 == loaded.sha256
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [name]


def test_mirror_file_with_wrong_hash_is_refused_and_not_kept(server, zoo_file, monkeypatch, tmp_path):
    data, _ = zoo_file
    bad = "bmshj2018-factorized-prior-4-deadbeef.pth.tar"
    fake_zoo(monkeypatch, {4: bad})
    (server.root / bad).write_bytes(data)
    with pytest.raises(WeightsError) as err:
        resolve("bmshj2018-factorized", "lambda0.0130", offline(tmp_path, mirror=server.url))
    message = str(err.value)
    assert not isinstance(err.value, WeightsUnavailable) and one_line(message)
    assert f"{server.url}{bad}" in message
    assert hashlib.sha256(data).hexdigest() in message and "deadbeef" in message
    assert list((tmp_path / "cache").iterdir()) == []


def test_mirror_directory(zoo_file, monkeypatch, tmp_path):
    data, name = zoo_file
    fake_zoo(monkeypatch, {3: name})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / name).write_bytes(data)
    (mirror / "bmshj2018-factorized-prior-4-00000000.pth.tar").write_bytes(data)

    loaded = load_model("bmshj2018-factorized", "lambda0.0067", offline(tmp_path, mirror=str(mirror)))
    assert loaded.origin == f"mirror:{mirror}"
    assert (tmp_path / "cache" / name).read_bytes() == data

    fake_zoo(monkeypatch, {4: "bmshj2018-factorized-prior-4-00000000.pth.tar"})
    with pytest.raises(WeightsError, match="00000000"):
        resolve("bmshj2018-factorized", "lambda0.0130", offline(tmp_path, mirror=str(mirror)))
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [name]


def test_zoo_url_download_when_online(server, zoo_file, monkeypatch, tmp_path):
    data, name = zoo_file
    fake_zoo(monkeypatch, {3: name}, base=server.url)
    (server.root / name).write_bytes(data)
    source = WeightsSource(cache_dir=tmp_path / "cache", mirror=closed_port_url())
    loaded = load_model("bmshj2018-factorized", "lambda0.0067", source)
    assert loaded.origin == f"zoo:{server.url}{name}"
    assert server.requests == [f"/{name}"]


def test_cached_file_is_used_offline(zoo_file, monkeypatch, tmp_path):
    data, name = zoo_file
    fake_zoo(monkeypatch, {3: name})
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).write_bytes(data)
    path = resolve("bmshj2018-factorized", "lambda0.0067", offline(tmp_path))
    assert path == tmp_path / "cache" / name


@pytest.mark.parametrize("kind", ["closed port", "missing folder", "no mirror"])
def test_nothing_available(kind, zoo_file, monkeypatch, tmp_path):
    _, name = zoo_file
    fake_zoo(monkeypatch, {3: name})
    mirror = {"closed port": closed_port_url(), "missing folder": str(tmp_path / "absent"), "no mirror": None}[kind]
    with pytest.raises(WeightsUnavailable) as err:
        resolve("bmshj2018-factorized", "lambda0.0067", offline(tmp_path, mirror=mirror))
    message = str(err.value)
    assert one_line(message)
    assert "bmshj2018-factorized lambda0.0067" in message and name in message
    assert "--weights-mirror" in message and "--checkpoint" in message and "BENCH_WEIGHTS_MIRROR" in message
    assert "skipped: offline" in message
    if mirror:
        assert mirror in message


def test_zoo_without_weights_and_unknown_labels(tmp_path):
    with pytest.raises(WeightsUnavailable, match="no pretrained"):
        resolve("bmshj2018-factorized-relu", "lambda0.0130", offline(tmp_path))
    with pytest.raises(WeightsError, match="quality out of range"):
        resolve("cheng2020-anchor", "lambda0.1800", offline(tmp_path))
    source = offline(tmp_path, Checkpoint("mbt2018", "mine", tmp_path / "m.pth"))
    with pytest.raises(WeightsError, match="checkpoints given for mbt2018: mine"):
        resolve("mbt2018", "other", source)
