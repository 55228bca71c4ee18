"""``complexity`` of models that are not CompressAI's architectures by name: docs/plugins.md's tiny network
(a ``CompressionModelCodec`` plug-in on ``BENCH_CODEC_PATH``), a plug-in network without ``g_a``/``g_s``,
a named model (``--checkpoint NAME@ARCH:…``) and a codec without a torch module, in one run from another
folder with a relative ``--data`` and checkpoint.

References are independent of the measurement: ``sum(p.numel())`` of the same modules, fvcore run here
on each part at the input shape coding gives it, and the convolutions' MACs by hand.
"""

from __future__ import annotations

import csv
import json
import runpy
import sys
from pathlib import Path

import pytest
from PIL import Image

from clitools import bench
from conftest import natural_image
from test_plugins_doc import doc_files

KODAK = (512, 768)  # the size complexity counts MACs at
RENAMED = '''
"""The docs' tiny network with its parts renamed: no g_a/g_s, so only forward() can be counted."""
from bench.core.registry import register
from bench.learned.adapter import OPTIONS, CompressionModelCodec


def renamed_network(n: int = 8):
    from compressai.entropy_models import EntropyBottleneck
    from compressai.layers import GDN
    from compressai.models import CompressionModel
    from torch import nn

    class Renamed(CompressionModel):
        downsampling_factor = 4

        def __init__(self):
            super().__init__()
            self.entropy_bottleneck = EntropyBottleneck(n)
            self.encoder = nn.Sequential(nn.Conv2d(3, n, 5, 2, 2), GDN(n), nn.Conv2d(n, n, 5, 2, 2))
            self.decoder = nn.Sequential(nn.ConvTranspose2d(n, n, 5, 2, 2, 1), GDN(n, inverse=True),
                                         nn.ConvTranspose2d(n, 3, 5, 2, 2, 1))

        def forward(self, x):
            y_hat, likelihoods = self.entropy_bottleneck(self.encoder(x))
            return {"x_hat": self.decoder(y_hat), "likelihoods": {"y": likelihoods}}

        def compress(self, x):
            y = self.encoder(x)
            return {"strings": [self.entropy_bottleneck.compress(y)], "shape": y.shape[-2:]}

        def decompress(self, strings, shape):
            return {"x_hat": self.decoder(self.entropy_bottleneck.decompress(strings[0], shape)).clamp_(0, 1)}

    return Renamed()


class RenamedCodec(CompressionModelCodec):
    def default_points(self):
        return ["seed0"]

    def load(self, point):
        import torch

        torch.manual_seed(0)
        return renamed_network()


register("tiny-renamed", "the docs' tiny network, parts renamed", options=OPTIONS)(
    lambda options: RenamedCodec("tiny-renamed", options))
'''


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fvcore_macs(module, shape) -> int:
    import torch
    from fvcore.nn import FlopCountAnalysis

    with torch.no_grad():
        analysis = FlopCountAnalysis(module, (torch.zeros(shape),))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(analysis.total())


def conv_macs(h_out: int, w_out: int, c_out: int, c_in: int, k: int) -> int:
    return h_out * w_out * c_out * c_in * k * k


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One `complexity` run from a folder of its own: (that folder, the reports folder)."""
    import torch

    from bench.learned import zoo

    work = tmp_path_factory.mktemp("complexity-models")
    plugins = work / "my-codecs"
    plugins.mkdir()
    for name, code in doc_files().items():
        (plugins / name).write_text(code, encoding="utf-8")
    (plugins / "tiny_renamed.py").write_text(RENAMED, encoding="utf-8")
    (work / "photos").mkdir()
    Image.fromarray(natural_image(64, 64)).save(work / "photos" / "a.png")
    load_plugin(plugins / "_untrained_weights.py", "__main__", argv=[work / "weights"])  # the docs' script
    torch.manual_seed(1)
    named = zoo.model_class("bmshj2018-factorized")(N=8, M=12).eval()
    named.update(force=True)
    torch.save(named.state_dict(), work / "mine.pth")
    env = {"BENCH_CODEC_PATH": str(plugins), "BENCH_OFFLINE": "1"}
    done = bench("complexity", "--archs", "tiny-factorized,tiny-renamed,mine,png-palette",
                 "--codec-args", "tiny-factorized:weights_dir=weights",
                 "--checkpoint", "mine@bmshj2018-factorized:lambda0.0130=mine.pth",
                 "--data", "photos", "--images", "1", "--repeats", "1", "--no-memory", "--reports", "out",
                 "--results", "none", "--bd-rate", "none.csv", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    return work, work / "out"


def load_plugin(path: Path, run_name: str = "plugin", argv: list[Path] = ()) -> dict:
    """A plug-in file's namespace, run here with its folder on sys.path, registering nothing in this process."""
    from bench.core import registry

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "register", lambda *args, **kwargs: (lambda factory: factory))
        patch.syspath_prepend(str(path.parent))
        patch.setattr(sys, "argv", [str(path), *map(str, argv)])
        return runpy.run_path(str(path), run_name=run_name)


def _tiny_module(work: Path, point: str):
    import torch

    model = load_plugin(work / "my-codecs" / "tiny_factorized.py")["tiny_network"]()
    model.load_state_dict(torch.load(work / "weights" / f"tiny-{point}.pth", weights_only=True))
    return model.eval()


def _rows(macs: list[dict[str, str]], arch: str) -> dict[str, dict[str, str]]:
    """``arch``'s rows by part name; totals as ``total:NAME`` (a child may be called ``encoder`` too)."""
    return {("total:" if row["row"] == "total" else "") + row["part"]: row for row in macs if row["arch"] == arch}


def test_the_docs_tiny_network_is_counted_per_part(measured):
    work, out = measured
    model = _tiny_module(work, "lambda0.0067")
    rows = _rows(read_csv(out / "complexity-macs.csv"), "tiny-factorized")
    assert rows["total:model"]["points"] == "lambda0.0067 lambda0.0130 lambda0.0250 lambda0.0483"  # one structure
    assert int(rows["total:model"]["params"]) == sum(p.numel() for p in model.parameters()) == 60_163
    for child, module in model.named_children():
        assert int(rows[child]["params"]) == sum(p.numel() for p in module.parameters())
    x = (1, 3, *KODAK)
    y = (1, 32, KODAK[0] // 4, KODAK[1] // 4)
    assert int(rows["g_a"]["macs"]) == fvcore_macs(model.g_a, x) == int(rows["total:encoder"]["macs"])
    assert int(rows["g_s"]["macs"]) == fvcore_macs(model.g_s, y) == int(rows["total:decoder"]["macs"])
    # by hand: two 5×5 stride-2 convolutions and the GDN's 1×1 convolution of x² (32×32 per position)
    n, (h, w) = 32, KODAK
    assert int(rows["g_a"]["macs"]) == (conv_macs(h // 2, w // 2, n, 3, 5) + n * n * (h // 2) * (w // 2)
                                        + conv_macs(h // 4, w // 4, n, n, 5))
    assert (rows["g_a"]["sides"], rows["g_s"]["sides"], rows["entropy_bottleneck"]["macs"]) == ("enc", "dec", "")
    steps = read_csv(out / "complexity-time-steps.csv")
    tiny = [row for row in steps if row["codec"] == "tiny-factorized"]
    assert {row["point"] for row in tiny} == {"lambda0.0067", "lambda0.0130", "lambda0.0250", "lambda0.0483"}
    assert {(row["side"], row["step"]) for row in tiny} == {
        ("encode", "g_a"), ("encode", "entropy: code ŷ"), ("encode", "total"),
        ("decode", "entropy: decode ŷ"), ("decode", "g_s"), ("decode", "total")}
    assert all(float(row["median_s"]) > 0 for row in tiny)


def test_a_network_without_g_a_and_g_s_is_counted_on_its_forward(measured):
    import torch

    work, out = measured
    namespace = load_plugin(work / "my-codecs" / "tiny_renamed.py")
    torch.manual_seed(0)
    model = namespace["renamed_network"]().eval()
    rows = _rows(read_csv(out / "complexity-macs.csv"), "tiny-renamed")
    assert set(rows) == {"entropy_bottleneck", "encoder", "decoder", "total:forward", "total:model"}
    assert int(rows["total:model"]["params"]) == sum(p.numel() for p in model.parameters())
    n, (h, w) = 8, KODAK
    encoder = conv_macs(h // 2, w // 2, n, 3, 5) + n * n * (h // 2) * (w // 2) + conv_macs(h // 4, w // 4, n, n, 5)
    assert int(rows["encoder"]["macs"]) == fvcore_macs(model.encoder, (1, 3, h, w)) == encoder
    assert int(rows["decoder"]["macs"]) == fvcore_macs(model.decoder, (1, n, h // 4, w // 4))
    assert {rows[p]["sides"] for p in ("encoder", "decoder", "entropy_bottleneck")} == {"fwd"}
    assert int(rows["total:forward"]["macs"]) == fvcore_macs(model, (1, 3, h, w))  # the likelihoods' few MACs included
    for child, module in model.named_children():
        assert int(rows[child]["params"]) == sum(p.numel() for p in module.parameters())
    steps = read_csv(out / "complexity-time-steps.csv")
    assert {row["step"] for row in steps if row["codec"] == "tiny-renamed"} == {"total"}
    text = (out / "complexity.md").read_text()  # the child `encoder` is a part, not the encoder side's total
    assert "| tiny-renamed | Renamed | seed0 | 0.01 M | — | — | — | — |" in text
    assert "| tiny-renamed | Renamed | encoder | fwd | 3×512×768 |" in text


def test_a_named_model_is_counted_as_its_checkpoint(measured):
    import torch

    from bench.learned import zoo

    work, out = measured
    model = zoo.model_class("bmshj2018-factorized")(N=8, M=12).eval()
    model.load_state_dict(torch.load(work / "mine.pth", weights_only=True), strict=False)
    rows = _rows(read_csv(out / "complexity-macs.csv"), "mine")
    assert (rows["total:model"]["config"], rows["total:model"]["points"]) == ("N=8, M=12", "lambda0.0130")
    assert int(rows["total:model"]["params"]) == sum(p.numel() for p in model.parameters())
    assert int(rows["g_a"]["macs"]) == fvcore_macs(model.g_a, (1, 3, *KODAK))
    assert int(rows["g_s"]["macs"]) == fvcore_macs(model.g_s, (1, 12, KODAK[0] // 16, KODAK[1] // 16))
    steps = read_csv(out / "complexity-time-steps.csv")
    assert {(row["weights"], row["config"]) for row in steps if row["codec"] == "mine"} == {("mine.pth", "N=8, M=12")}


def test_a_codec_without_a_module_gets_whole_calls_and_the_reason(measured):
    work, out = measured
    assert not [row for row in read_csv(out / "complexity-macs.csv") if row["arch"] == "png-palette"]
    steps = [row for row in read_csv(out / "complexity-time-steps.csv") if row["codec"] == "png-palette"]
    assert sorted((row["point"], row["side"], row["step"]) for row in steps) == sorted(
        (point, side, "total") for point in ("c8", "c32", "c128") for side in ("encode", "decode"))
    run = json.loads((out / "complexity-run.json").read_text())
    assert set(run["absent"]) == {"png-palette", "tiny-renamed"}
    text = (out / "complexity.md").read_text()
    assert "- png-palette: no torch module" in text
    assert run["images"] == ["a.png"]  # the relative --data was read from the caller's folder


def test_an_unknown_name_and_a_missing_checkpoint_are_one_line_each(tmp_path, monkeypatch, capsys):
    from bench.cli import main

    (tmp_path / "photos").mkdir()
    Image.fromarray(natural_image(32, 32)).save(tmp_path / "photos" / "a.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    assert main(["complexity", "--archs", "my-model", "--data", "photos", "--reports", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown codec 'my-model'" in err and "BENCH_CODEC_PATH" in err
    assert main(["complexity", "--archs", "gone", "--checkpoint", "gone@bmshj2018-factorized:lambda0.0130=gone.pth",
                 "--data", "photos", "--reports", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gone.pth" in err
    assert not (tmp_path / "out").exists()


def test_the_memory_child_builds_the_codec_in_the_callers_folder(tmp_path, monkeypatch):
    """The child's work, in this process (the fresh process is the same code): the codec is built from its
    options in the caller's folder (a relative checkpoint), encodes the image, and decodes what it wrote."""
    import torch

    from bench.core import registry
    from bench.learned import zoo
    from bench.learned.memory import _main

    registry.names()  # plug-ins loaded first, so that only the variant is forgotten afterwards
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    torch.manual_seed(1)
    model = zoo.model_class("bmshj2018-factorized")(N=8, M=12).eval()
    model.update(force=True)
    torch.save(model.state_dict(), tmp_path / "mine.pth")
    Image.fromarray(natural_image(40, 56)).save(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path.parent)  # the child moves to the folder the spec names
    options = {"checkpoint": ["mine@bmshj2018-factorized:lambda0.0130=mine.pth"], "device": "cpu"}
    for codec, point, opts, weights, config in (("mine", "lambda0.0130", options, "mine.pth", {"N": 8, "M": 12}),
                                                ("jpeg", "q75", {}, "-", {})):
        spec = {"codec": codec, "arch": codec, "options": opts, "point": point, "cwd": str(tmp_path),
                "image": str(tmp_path / "a.png"), "device": "cpu", "threads": 1}
        stream = tmp_path / f"{codec}.bin"
        encoded = _main({**spec, "phase": "encode", "write": str(stream)})
        decoded = _main({**spec, "phase": "decode", "read": str(stream)})
        assert Path.cwd() == tmp_path
        for result in (encoded, decoded):
            assert (result["arch"], result["weights"], result["config"]) == (codec, weights, config)
            assert (result["height"], result["width"]) == (40, 56)
            assert result["peak_bytes"] >= result["baseline_bytes"] > 0
        assert (encoded["phase"], decoded["phase"]) == ("encode", "decode")
        assert stream.stat().st_size > 0
