"""Named models, checkpoint folders of every architecture, and complexity of what was loaded.

* ``--checkpoint NAME@ARCH:LABEL=PATH`` makes NAME a codec of its own (registry variants): two
  ablations of one architecture give two curves, a BD row against ``--anchor NAME``, and ``verify``
  rebuilds them from the run's recorded options;
* ``--checkpoint-dir`` takes a model of any registered architecture named ``<arch>_…lambda<λ>….pth``
  (channel counts read from the tensors) and names a file it cannot place;
* parameters, MACs and memory are counted on the configuration loaded from a checkpoint, not on the
  zoo's configuration of its label.

References are independent: the shared weights README's parameter count, CompressAI's zoo table,
sha256 of the files, and the factorized prior's structure (its rate does not depend on ``g_s``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from bench.cli import main
from bench.core import registry
from bench.core.errors import CodecError
from bench.learned import zoo
from bench.learned.train.errors import TrainError
from bench.learned.train.export import checkpoint_specs
from bench.learned.weights import (
    Checkpoint,
    WeightsError,
    WeightsSource,
    options_of_source,
    parse_checkpoint_spec,
    points_for,
    source_from_options,
)
from conftest import natural_image

FACTORIZED = "bmshj2018-factorized"
STUDY_LAMBDAS = ("0.0067", "0.0130", "0.0250", "0.0483")
SHARED = "weights/bmshj2018-factorized_N128-M192_lambda{}.pth"


@pytest.fixture
def clean_registry(monkeypatch):
    """Variants registered by a test are forgotten after it."""
    registry.names()
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.delenv("BENCH_WEIGHTS_MIRROR", raising=False)
    return ["--weights-cache", str(tmp_path / "empty-cache"), "--device", "cpu", "--no-progress"]


def images(folder: Path, n: int = 2, size: int = 64) -> Path:
    folder.mkdir()
    for i in range(n):
        Image.fromarray(natural_image(size, size, seed=i)).save(folder / f"im{i}.png")
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def random_checkpoint(path: Path, arch: str, seed: int = 0, **channels: int) -> Path:
    """A random-initialised model saved as a trained one is (state dict after update)."""
    import torch

    from bench.learned import zoo

    torch.manual_seed(seed)
    model = zoo.model_class(arch)(**channels).eval()
    with torch.no_grad():
        model.g_a[-1].weight.mul_(30)  # latents not all zero
        model(torch.rand(1, 3, 64, 64))
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


# --- specs and weights ---------------------------------------------------------------------------


def test_named_spec_parses_and_round_trips():
    ckpt = parse_checkpoint_spec(f"ablationA@{FACTORIZED}:lambda0.0130=/w/a=1.pth")
    assert ckpt == Checkpoint(FACTORIZED, "lambda0.0130", Path("/w/a=1.pth"), "ablationA")
    assert parse_checkpoint_spec(f"{FACTORIZED}:lambda0.0130=/w/f.pth").name == FACTORIZED  # today's spelling
    assert Checkpoint("mbt2018", "x", Path("p")) == Checkpoint("mbt2018", "x", Path("p"), "mbt2018")
    source = WeightsSource(checkpoints=(ckpt, Checkpoint("mbt2018", "x", Path("/p"))))
    options = options_of_source(source)
    assert options["checkpoint"] == [f"ablationA@{FACTORIZED}:lambda0.0130=/w/a=1.pth", "mbt2018:x=/p"]
    assert source_from_options(options).checkpoints == source.checkpoints
    for bad in (f"@{FACTORIZED}:l=/p", f"a b@{FACTORIZED}:l=/p", f".x@{FACTORIZED}:l=/p"):
        with pytest.raises(WeightsError, match=r"\[NAME@\]ARCH:LABEL=PATH"):
            parse_checkpoint_spec(bad)


def test_one_label_twice_is_fine_under_two_names_and_a_name_has_one_architecture():
    a = Checkpoint(FACTORIZED, "lambda0.0130", Path("a"), "ablationA")
    b = Checkpoint(FACTORIZED, "lambda0.0130", Path("b"), "ablationB")
    base = Checkpoint(FACTORIZED, "lambda0.0130", Path("c"))
    source = WeightsSource(checkpoints=(a, b, base))
    assert points_for(FACTORIZED, source, None, name="ablationA") == ["lambda0.0130"]
    assert points_for(FACTORIZED, source, None) == ["lambda0.0130"]
    assert points_for(FACTORIZED, WeightsSource(checkpoints=(a,)), None) == list(zoo.DEFAULT_POINTS)  # not A's
    assert points_for(FACTORIZED, WeightsSource(), None, name="ablationC") == []  # no zoo points for a name
    with pytest.raises(WeightsError, match="two checkpoints for ablationA@"):
        WeightsSource(checkpoints=(a, Checkpoint(FACTORIZED, "lambda0.0130", Path("z"), "ablationA")))
    with pytest.raises(WeightsError, match="'ablationA' is given as bmshj2018-factorized and as mbt2018"):
        WeightsSource(checkpoints=(a, Checkpoint("mbt2018", "q", Path("z"), "ablationA")))


# --- the registry's variants ----------------------------------------------------------------------


def test_options_define_variants_and_a_taken_name_is_refused(clean_registry):
    spec = f"ablationA@{FACTORIZED}:lambda0.0130=/w/a.pth"
    assert registry.expand({FACTORIZED: {"checkpoint": [spec, f"{FACTORIZED}:lambda0.0130=/w/f.pth"]}}) == {
        "ablationA": FACTORIZED}
    variant = registry.entry("ablationA")
    assert variant.base == FACTORIZED and variant.options == registry.entry(FACTORIZED).options
    assert "ablationA" in registry.names()
    # a name not registered in this process (as verify meets it): its recorded options define it
    assert registry.expand({"ablationC": {"checkpoint": ["ablationC@mbt2018:q=/w/c.pth"], "device": "cpu"}}) == {
        "ablationC": "mbt2018"}
    assert registry.expand({"jpeg": {}}) == {}  # a family without a variants hook
    for taken in ("jpeg", "mbt2018"):
        with pytest.raises(CodecError, match=f"the name '{taken}' is taken by a codec of .*; it cannot also name"):
            registry.expand({FACTORIZED: {"checkpoint": [f"{taken}@{FACTORIZED}:lambda0.0130=/w/a.pth"]}})
    with pytest.raises(CodecError, match="given as bmshj2018-factorized and as mbt2018"):
        registry.expand({FACTORIZED: {"checkpoint": [spec, "ablationA@mbt2018:q=/w/b.pth"]}})


def test_two_checkpoints_of_one_architecture_are_two_codecs(clean_registry, tmp_path):
    a = random_checkpoint(tmp_path / "a.pth", FACTORIZED, seed=0, N=16, M=24)
    b = random_checkpoint(tmp_path / "b.pth", FACTORIZED, seed=1, N=16, M=24)
    options = {"device": "cpu", "checkpoint": [f"ablationA@{FACTORIZED}:lambda0.0130={a}",
                                               f"ablationB@{FACTORIZED}:lambda0.0130={b}"],
               "weights_cache": str(tmp_path / "cache")}
    registry.expand({FACTORIZED: options})
    codec = registry.create("ablationA", options)
    other = registry.create("ablationB", options)
    assert (codec.name, codec.arch, other.name, other.arch) == ("ablationA", FACTORIZED, "ablationB", FACTORIZED)
    assert codec.default_points() == other.default_points() == ["lambda0.0130"]
    assert codec.coder("lambda0.0130").row_fields()["weights_sha256"] == sha256(a)
    assert other.coder("lambda0.0130").row_fields()["weights_sha256"] == sha256(b)
    image = natural_image(64, 64)
    assert codec.coder("lambda0.0130").encode(image) != other.coder("lambda0.0130").encode(image)
    with pytest.raises(WeightsError, match=r"model ablationA \(bmshj2018-factorized\) has no checkpoint for "
                                           r"lambda0.0067 \(its points: lambda0.0130\)"):
        codec.coder("lambda0.0067")  # never the zoo's weights under its name
    # the architecture's own codec does not take ablationA's checkpoint
    assert registry.create(FACTORIZED, options).default_points() == list(zoo.DEFAULT_POINTS)


# --- the command line: two ablations of one architecture ------------------------------------------


def test_two_ablations_are_two_curves_a_bd_row_and_verify(shared_dir, kodak_dir, tmp_path, offline, clean_registry,
                                                          capsys, verify_in_process):
    """ablationA and ablationB: the four shared trained checkpoints each, under two names (copies for B).
    Two codecs, two 4-point curves (not one of 8), equal point by point; so B's BD-rate against A is 0
    by definition. Two 128×128 Kodak crops."""
    import shutil

    ckpts = []
    for lam in STUDY_LAMBDAS:
        path = shared_dir / SHARED.format(lam)
        if not path.is_file():
            pytest.skip(f"{path} not available")
        copy = shutil.copyfile(path, tmp_path / f"b_{lam}.pth")
        ckpts += ["--checkpoint", f"ablationA@{FACTORIZED}:lambda{lam}={path}",
                  "--checkpoint", f"ablationB@{FACTORIZED}:lambda{lam}={copy}"]
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate(("kodim05.png", "kodim23.png")):
        with Image.open(kodak_dir / name) as kodak:
            kodak.convert("RGB").crop((256, 128, 384, 256)).save(folder / f"im{i}.png")
    results, bits = tmp_path / "r", tmp_path / "bits"
    status = main(["run", "--data", str(folder), "--codecs", "ablationA,ablationB", *ckpts, "--repeats", "1", "--results",
                   str(results), "--bitstreams", str(bits), *offline])
    assert status == 0, capsys.readouterr().err
    rows = read_csv(results / "imgs" / "rows.csv")
    assert len(rows) == 2 * 4 * 2 and all(row["status"] == "ok" for row in rows)
    by = {(row["codec"], row["point"], row["image"]): row for row in rows}
    for lam in STUDY_LAMBDAS:
        point = f"lambda{lam}"
        for image in ("im0.png", "im1.png"):
            a, b = by["ablationA", point, image], by["ablationB", point, image]
            assert a["weights_sha256"] == b["weights_sha256"] == sha256(shared_dir / SHARED.format(lam))
            assert (a["bpp"], a["psnr"]) == (b["bpp"], b["psnr"]) and a["codec_hash"] != b["codec_hash"]
    summary = read_csv(results / "imgs" / "summary.csv")
    assert sorted({row["codec"] for row in summary}) == ["ablationA", "ablationB"]
    (meta_path,) = (results / "imgs" / "runs").glob("*.json")
    recorded = json.loads(meta_path.read_text())["codecs"]
    assert set(recorded) == {"ablationA", "ablationB"}
    assert f"ablationB@{FACTORIZED}:lambda0.0130={tmp_path / 'b_0.0130.pth'}" in recorded["ablationB"]["options"][
        "checkpoint"]

    capsys.readouterr()
    status = main(["bd-rate", "--results", str(results), "--dataset", "imgs", "--anchor", "ablationA",
                   "--reports", str(tmp_path / "reports"), "--method", "cubic", "--bootstrap", "20"])
    assert status == 0, capsys.readouterr().err
    bd = [row for row in read_csv(tmp_path / "reports" / "bd-rate.csv") if row["metric"] == "psnr"]
    assert [(row["anchor"], row["codec"]) for row in bd] == [("ablationA", "ablationB")]
    assert abs(float(bd[0]["bd_rate"])) < 1e-9 and abs(float(bd[0]["bd_quality"])) < 1e-9

    # verify rebuilds both named models from the recorded options alone, here and in a fresh registry
    before = set(registry._entries)
    for name in ("ablationA", "ablationB"):
        del registry._entries[name]
    status = main(["verify", "--data", str(folder), "--bitstreams", str(bits), "--results", str(results),
                   "--device", "cpu", "--threads", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "16 bitstreams decoded twice: 16 identical, 0 with problems" in out
    assert set(registry._entries) == before


def test_a_named_model_that_takes_a_codecs_name_is_one_line(tmp_path, offline, clean_registry, capsys):
    folder = images(tmp_path / "imgs", n=1)
    status = main(["run", "--data", str(folder), "--codecs", "jpeg", "--checkpoint",
                   f"jpeg@{FACTORIZED}:lambda0.0130={tmp_path / 'a.pth'}", "--results", str(tmp_path / "r"), *offline])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "the name 'jpeg' is taken" in err
    assert not (tmp_path / "r").exists()


# --- checkpoint folders of every architecture ------------------------------------------------------


def test_checkpoint_dir_names(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    names = {
        "cheng2020-anchor_lambda0.013.pth": ("cheng2020-anchor", "lambda0.0130"),  # the zoo's spelling
        "mbt2018-mean_ablation-2_lambda0.0067_final.pth.tar": ("mbt2018-mean", "lambda0.0067"),
        "bmshj2018-factorized_N128-M192_lambda0.0483.pth": (FACTORIZED, "lambda0.0483"),  # `make train`'s
        "bmshj2018-factorized-relu_msssim-lambda2.4.pth": ("bmshj2018-factorized-relu", "msssim-lambda2.40"),
        "mbt2018_lambda0.00675.pth": ("mbt2018", "lambda0.00675"),  # not a 4-decimal number: as written
    }
    for name in names:
        (folder / name).write_bytes(b"")  # names are read, not contents
    (folder / ".hidden_lambda0.1.pth").write_bytes(b"")
    (folder / "README.md").write_text("not a model")
    specs = checkpoint_specs(folder)
    assert sorted(specs) == sorted(f"{arch}:{label}={(folder / name).resolve()}" for name, (arch, label) in names.items())

    (folder / "notes_lambda0.1.pth").write_bytes(b"")
    with pytest.raises(TrainError, match=r"notes_lambda0.1.pth: no sidecar .*does not start with a CompressAI "
                                         r"architecture") as info:
        checkpoint_specs(folder)
    assert "\n" not in str(info.value)
    (folder / "notes_lambda0.1.pth").unlink()
    (folder / "mbt2018_final.pth").write_bytes(b"")
    with pytest.raises(TrainError, match="mbt2018_final.pth: no lambda"):
        checkpoint_specs(folder)
    (folder / "mbt2018_final.pth").unlink()
    (folder / "mbt2018_x_lambda0.00675.pth").write_bytes(b"")
    with pytest.raises(TrainError, match="two exports for mbt2018:lambda0.00675"):
        checkpoint_specs(folder)


def test_checkpoint_dir_of_mbt2018_mean_and_cheng2020_runs_through_the_cli(tmp_path, offline, capsys):
    """Names without N/M; the channels are read from the tensors (mbt2018-mean N=16/M=24, cheng2020 N=16).
    Offline with an empty cache: a zoo fallback would skip the codec instead of running the file."""
    models = tmp_path / "models"
    models.mkdir()
    files = {"mbt2018-mean": random_checkpoint(models / "mbt2018-mean_lambda0.0130.pth", "mbt2018-mean", N=16, M=24),
             "cheng2020-anchor": random_checkpoint(models / "cheng2020-anchor_lambda0.0130.pth", "cheng2020-anchor",
                                                   N=16)}
    folder = images(tmp_path / "imgs", n=1)
    status = main(["run", "--data", str(folder), "--codecs", "mbt2018-mean,cheng2020-anchor", "--checkpoint-dir",
                   str(models), "--results", str(tmp_path / "r"), *offline])
    assert status == 0, capsys.readouterr().err
    rows = read_csv(tmp_path / "r" / "imgs" / "rows.csv")
    assert sorted((row["codec"], row["point"], row["status"]) for row in rows) == [
        ("cheng2020-anchor", "lambda0.0130", "ok"), ("mbt2018-mean", "lambda0.0130", "ok")]
    for row in rows:
        assert row["weights_sha256"] == sha256(files[row["codec"]])
    (meta_path,) = (tmp_path / "r" / "imgs" / "runs").glob("*.json")
    details = json.loads(meta_path.read_text())["codecs"]
    assert details["cheng2020-anchor"]["point_details"]["lambda0.0130"]["config"] == {"N": 16}
    assert details["mbt2018-mean"]["point_details"]["lambda0.0130"]["config"] == {"N": 16, "M": 24}


# --- complexity of what was loaded ----------------------------------------------------------------


def test_complexity_counts_the_checkpoints_configuration(shared_dir, tmp_path, monkeypatch):
    """The shared λ0.0483 factorized checkpoint is N=128/M=192, 2,998,147 parameters (its README); the
    zoo's λ0.0483 (quality 6) is N=192/M=320, 7,030,531 (the published 7.03 M)."""
    from bench.learned.complexity import run as complexity_run
    from bench.learned.macs import configurations, count_model
    from bench.learned.memory import MemoryResult, _main

    path = shared_dir / SHARED.format("0.0483")
    if not path.is_file():
        pytest.skip(f"{path} not available")
    point = "lambda0.0483"
    source = WeightsSource(checkpoints=(Checkpoint(FACTORIZED, point, path),), offline=True,
                           cache_dir=tmp_path / "cache")
    assert configurations(FACTORIZED, [point]) == {(("N", 192), ("M", 320)): [point]}
    assert configurations(FACTORIZED, [point], source) == {(("N", 128), ("M", 192)): [point]}
    assert count_model(FACTORIZED, {"N": 192, "M": 320}, height=64, width=64).params_total == 7_030_531

    calls = []

    def memory_here(arch, config=None, *, image=None, checkpoint=None, point=None, device="cpu", threads=1, **_):
        """measure_memory's child, run in this process (the fresh process is tested in test_complexity)."""
        calls.append((arch, dict(config or {}), checkpoint, point))
        spec = {"arch": arch, "config": dict(config or {}), "checkpoint": str(checkpoint) if checkpoint else None,
                "point": point, "image": str(image), "size": None, "device": device, "threads": threads,
                "phase": "encode", "write": str(tmp_path / "stream.bin")}
        return {"encode": MemoryResult(**_main(spec))}

    monkeypatch.setattr(complexity_run, "measure_memory", memory_here)
    image = tmp_path / "im.png"
    Image.fromarray(natural_image(64, 64)).save(image)
    out = tmp_path / "out"
    import torch

    caller = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        complexity_run.run_complexity(out, archs=[FACTORIZED], points=[point], source=source, images=[image],
                                      repeats=1, jpeg_points=(), size=(64, 64))  # threads=1
        assert torch.get_num_threads() == 3  # the caller's count, as it was
    finally:
        torch.set_num_threads(caller)
    macs = read_csv(out / "complexity-macs.csv")
    (model,) = [row for row in macs if row["part"] == "model"]
    assert (model["config"], model["points"], int(model["params"])) == ("N=128, M=192", point, 2_998_147)
    assert {row["config"] for row in macs} == {"N=128, M=192"}
    assert calls == [(FACTORIZED, {"N": 128, "M": 192}, path, point)]
    (memory,) = read_csv(out / "complexity-memory.csv")
    assert (memory["config"], memory["weights"], memory["points"]) == ("N=128, M=192", path.name, point)
    steps = read_csv(out / "complexity-time-steps.csv")
    assert steps and {(row["config"], row["weights"]) for row in steps} == {("N=128, M=192", path.name)}


def test_a_named_checkpoint_that_no_codec_uses_is_an_error_naming_it(tmp_path: Path, capsys) -> None:
    """`--checkpoint NAME@ARCH:…` with NAME not in --codecs: refused in one line before any work."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (32, 32)).save(folder / "a.png")
    status = main(["run", "--data", str(folder), "--codecs", "jpeg", "--checkpoint",
                   f"mine@bmshj2018-factorized:lambda0.0130={tmp_path / 'never-read.pth'}", "--results",
                   str(tmp_path / "results"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "error: the options define mine (e.g. --checkpoint mine@…), but --codecs does not name it" in err
    assert not (tmp_path / "results").exists()
