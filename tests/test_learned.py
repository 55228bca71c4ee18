"""The CompressAI codecs: container, padding, round trips, integrity checks, CLI paths.

Small random-initialised models (N=16, M=24, saved as user checkpoints) on small crops keep this
fast on a CPU; the real shared factorized-prior checkpoint is used where trained weights matter.
The references are independent: hand-computed header sizes, ``compressai.ops.compute_padding``,
CompressAI's own ``compress``/``decompress``, and decodes in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.learned import bitstream
from bench.core import registry
from bench.learned.bitstream import BitstreamError, header_size, pack, parse, unpack
from bench.cli import main
from bench.core.errors import CodecError
from bench.core.measure import Reference, measure_row, reference_of as _reference
from bench.core.timing import TimingPolicy
from bench.core.screening import PreparedImage
from bench.core.images import pixel_sha256
from clitools import python
from conftest import REPO, natural_image

ARCHS = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018")
LABEL = "lambda0.0130"
SHARED_CHECKPOINT = "weights/bmshj2018-factorized_N128-M192_lambda0.0130.pth"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Random-initialised N=16/M=24 models saved like trained ones (state dict after update).

    The analysis transform's last layer is scaled up so that the latents are not all zero.
    """
    import torch

    from bench.learned import zoo

    folder = tmp_path_factory.mktemp("weights")
    paths = {}
    for arch in ARCHS:
        torch.manual_seed(0)
        model = zoo.model_class(arch)(N=16, M=24).eval()
        with torch.no_grad():
            model.g_a[-1].weight.mul_(30)
            model(torch.rand(1, 3, 64, 64))  # as after training: masked context weights
        model.update(force=True)
        paths[arch] = folder / f"{arch}.pth"
        torch.save(model.state_dict(), paths[arch])
    return paths


def codec_for(arch: str, checkpoint: Path, **options):
    from bench.learned.weights import Checkpoint, WeightsSource

    source = WeightsSource(checkpoints=(Checkpoint(arch, LABEL, checkpoint),), offline=True)
    return registry.create(arch, {"device": "cpu", "weights": source, **options})


# --- the container -------------------------------------------------------------------------------


def test_header_size_is_hand_computed():
    strings = [[b"y" * 300], [b"z" * 20]]
    # tag 1 + crc 4 + mode 1 + H=512 (2) + W=768 (2) + h=8 (1) + w=12 (1) + G (1) + n1, n2 (2) + 300 (2) + 20 (1)
    assert header_size([[300], [20]], (8, 12), 512, 768) == 18
    data = pack(strings, (8, 12), 512, 768)
    assert len(data) == 18 + 320
    assert data[0] == 0xB1 and data[5] == 0
    assert int.from_bytes(data[1:5], "big") == zlib.crc32(data[5:])
    assert data[6:10] == bytes([0x80, 0x04, 0x80, 0x06])  # LEB128 of 512 and 768
    assert data[-320:] == b"y" * 300 + b"z" * 20
    # factorized at Kodak size, one string of 40,000 bytes: 17 bytes
    assert header_size([[40_000]], (32, 48), 512, 768) == 17


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16383, 16384, 2**21, 2**35])
def test_round_trip_and_varint_edges(value):
    strings = [[b"a" * 3, b""], [bytes(range(256))]]
    data = pack(strings, (value, 5), value + 1, 7, mode="eval_model")
    stream = parse(data)
    assert stream.strings == strings and stream.shape == (value, 5) and stream.mode == "eval_model"
    assert unpack(data) == (strings, (value, 5), value + 1, 7)
    assert len(data) == header_size([[3, 0], [256]], (value, 5), value + 1, 7) + 259
    assert bitstream.varint_size(value) == max(1, -(-value.bit_length() // 7))


def test_every_flipped_byte_and_every_truncation_is_an_error():
    data = pack([[bytes(range(40))], [b"zz"]], (2, 3), 100, 130)
    for i in range(len(data)):
        corrupt = bytearray(data)
        corrupt[i] ^= 0x10
        with pytest.raises(BitstreamError):
            parse(bytes(corrupt))
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            parse(data[:n])
    with pytest.raises(BitstreamError, match="after the announced end"):
        parse(data + b"\0")
    corrupt = bytearray(data)
    corrupt[-5] ^= 1  # inside the payload
    with pytest.raises(BitstreamError, match="CRC-32"):
        parse(bytes(corrupt))
    assert issubclass(BitstreamError, CodecError)


# --- plug-in, padding, round trips ----------------------------------------------------------------


def test_plugin_registers_every_architecture_without_importing_torch():
    code = ("import sys; from bench.core import registry; from bench.learned import zoo; names = registry.names(); "
            "print(all(a in names for a in zoo.ARCHITECTURES), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True)
    assert out.stdout.split() == ["True", "False"], out.stderr


@pytest.mark.parametrize("arch, multiple", [("bmshj2018-factorized", 16), ("bmshj2018-hyperprior", 64)])
def test_model_padding_replicates_right_and_bottom(checkpoints, arch, multiple):
    coder = codec_for(arch, checkpoints[arch]).coder(LABEL)
    image = natural_image(65, 97)
    x = coder.padded_input(image)
    up = -(-65 // multiple) * multiple, -(-97 // multiple) * multiple
    assert tuple(x.shape) == (1, 3, *up)
    pixels = x[0].permute(1, 2, 0).numpy()
    assert np.array_equal(pixels[:65, :97], image.astype(np.float32) / 255)
    assert (pixels[65:, :97] == pixels[64:65, :97]).all() and (pixels[:, 97:] == pixels[:, 96:97]).all()
    assert coder.row_fields()["padding"] == f"replicate-{multiple}"
    data = coder.encode(image)
    assert parse(data).shape == (up[0] // coder.latent_factor, up[1] // coder.latent_factor)
    recon = coder.decode(data)
    assert recon.shape == image.shape and recon.dtype == np.uint8


@pytest.mark.parametrize("arch", ["bmshj2018-factorized", "bmshj2018-hyperprior"])
def test_eval_model_padding_is_compressais(checkpoints, arch):
    import torch
    import torch.nn.functional as F
    from compressai.ops import compute_padding
    from torchvision import transforms

    coder = codec_for(arch, checkpoints[arch], padding="eval_model").coder(LABEL)
    image = natural_image(65, 97)
    pad, unpad = compute_padding(65, 97, min_div=64)
    assert pad == (15, 16, 31, 32)  # by hand: 128 − 97 = 31 = 15 + 16, 128 − 65 = 63 = 31 + 32
    expected = F.pad(transforms.ToTensor()(Image.fromarray(image)).unsqueeze(0), pad, mode="constant", value=0)
    assert torch.equal(coder.padded_input(image), expected)
    assert coder.row_fields()["padding"] == "zeros-centred-64"
    with torch.no_grad():
        reference = coder.model.compress(expected)
    data = coder.encode(image)
    assert unpack(data)[0] == reference["strings"]
    with torch.no_grad():
        x_hat = F.pad(coder.model.decompress(reference["strings"], reference["shape"])["x_hat"], unpad)
    recon = (x_hat * 255).clamp(0, 255).round()[0].permute(1, 2, 0).to(torch.uint8).numpy()
    assert np.array_equal(coder.decode(data), recon)


def module_shapes(model):
    """Record (module name, input shape) of every submodule call while the context is open."""
    seen: set[tuple[str, tuple[int, ...]]] = set()
    handles = [module.register_forward_pre_hook(
        lambda m, inputs, name=name: seen.add((name, tuple(inputs[0].shape))) if inputs else None)
        for name, module in model.named_modules() if name]
    return seen, handles


@pytest.mark.parametrize("arch", ARCHS)
def test_warm_up_runs_every_module_at_every_shape_the_timed_calls_use(checkpoints, arch):
    import torch.nn.functional as F

    coder = codec_for(arch, checkpoints[arch]).coder(LABEL)
    image = natural_image(150, 200, seed=7)  # padded to 192×256 (hyperprior models) or 160×208
    warm, handles = module_shapes(coder.model)
    convs = []
    original = F.conv2d
    F.conv2d = lambda x, w, *a, **k: convs.append(("F.conv2d", tuple(x.shape), tuple(w.shape))) or original(
        x, w, *a, **k)  # mbt2018's per-position loop calls the masked convolution functionally
    try:
        coder.warm_up(image)
        warm_convs = set(convs)
        for handle in handles:
            handle.remove()
        timed, handles = module_shapes(coder.model)
        convs.clear()
        coder.decode(coder.encode(image))
        timed_convs = set(convs)
    finally:
        F.conv2d = original
        for handle in handles:
            handle.remove()
    assert timed and timed <= warm, sorted(timed - warm)
    assert timed_convs <= warm_convs, sorted(timed_convs - warm_convs)


def test_round_trip_from_bytes_alone_in_a_fresh_process(checkpoints, tmp_path):
    image = natural_image(64, 96, seed=3)
    expected = {}
    for arch in ARCHS:
        coder = codec_for(arch, checkpoints[arch]).coder(LABEL)
        (tmp_path / f"{arch}.bin").write_bytes(coder.encode(image))
        expected[arch] = coder.decode((tmp_path / f"{arch}.bin").read_bytes())
    script = f"""
import sys, numpy as np
from pathlib import Path
from bench.core import registry
from bench.learned.weights import WeightsSource, parse_checkpoint_spec
for arch, path in {[(a, str(p)) for a, p in checkpoints.items()]!r}:
    source = WeightsSource(checkpoints=(parse_checkpoint_spec(f"{{arch}}:{LABEL}={{path}}"),), offline=True)
    coder = registry.create(arch, {{"weights": source, "device": "cpu"}}).coder("{LABEL}")
    np.save(Path(r"{tmp_path}") / (arch + ".npy"), coder.decode((Path(r"{tmp_path}") / (arch + ".bin")).read_bytes()))
"""
    done = python("-c", script)
    assert done.returncode == 0, done.stderr
    for arch in ARCHS:
        assert np.array_equal(np.load(tmp_path / f"{arch}.npy"), expected[arch]), arch


def test_flipped_byte_in_a_stored_bitstream_is_detected(checkpoints, tmp_path):
    coder = codec_for("mbt2018", checkpoints["mbt2018"]).coder(LABEL)
    path = tmp_path / "x.bin"
    path.write_bytes(coder.encode(natural_image(64, 64)))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside ŷ's rANS string
    path.write_bytes(bytes(data))
    with pytest.raises(CodecError, match="CRC-32 mismatch"):
        coder.decode(path.read_bytes())


def test_bitstream_of_another_padding_or_codec_is_refused(checkpoints):
    image = natural_image(64, 64)
    data = codec_for("bmshj2018-factorized", checkpoints["bmshj2018-factorized"]).coder(LABEL).encode(image)
    with pytest.raises(CodecError, match="--padding model"):
        codec_for("bmshj2018-factorized", checkpoints["bmshj2018-factorized"], padding="eval_model").coder(
            LABEL).decode(data)
    with pytest.raises(CodecError, match="another codec"):
        codec_for("bmshj2018-hyperprior", checkpoints["bmshj2018-hyperprior"]).coder(LABEL).decode(data)


# --- integrity check ------------------------------------------------------------------------------


def prepared(image: np.ndarray) -> PreparedImage:
    return PreparedImage("x.png", Path("x.png"), image, pixel_sha256(image))


def perturb_factorized(coder, monkeypatch):
    original = coder.model.entropy_bottleneck.decompress

    def decompress(strings, size):
        y_hat = original(strings, size)
        y_hat[0, 0, 0, 0] += 1
        return y_hat

    monkeypatch.setattr(coder.model.entropy_bottleneck, "decompress", decompress)


def perturb_hyperprior(coder, monkeypatch):
    original = coder.model.gaussian_conditional.decompress

    def decompress(strings, indexes, *args, **kwargs):
        y_hat = original(strings, indexes, *args, **kwargs)
        y_hat[0, 3, 1, 2] -= 2
        return y_hat

    monkeypatch.setattr(coder.model.gaussian_conditional, "decompress", decompress)


def perturb_autoregressive(coder, monkeypatch):
    original = coder.model.gaussian_conditional.dequantize
    calls = []

    def dequantize(values, means=None, dtype=None):
        calls.append(1)
        out = original(values, means) if dtype is None else original(values, means, dtype)
        return out + 1 if len(calls) == 5 else out  # one decoded position of ŷ is off by one

    monkeypatch.setattr(coder.model.gaussian_conditional, "dequantize", dequantize)


@pytest.mark.parametrize("arch, perturb", [("bmshj2018-factorized", perturb_factorized),
                                           ("bmshj2018-hyperprior", perturb_hyperprior),
                                           ("mbt2018", perturb_autoregressive)])
def test_latent_mismatch_fails_the_row(checkpoints, monkeypatch, arch, perturb):
    import torch

    coder = codec_for(arch, checkpoints[arch]).coder(LABEL)
    image = prepared(natural_image(64, 64, seed=1))
    row = measure_row(coder, image, _reference(image.pixels), timed=True)
    assert row["status"] == "ok" and "latent" not in row["note"], row
    data = coder.encode(image.pixels)
    stream = parse(data)
    assert row["bpp_estimated"] > 0 and row["bytes"] == len(data)
    x = coder.padded_input(image.pixels)
    with torch.no_grad():  # the estimate is model.forward's, even where it is computed from the captures
        forward = coder.model(x)["likelihoods"]
    assert row["bpp_estimated"] == sum(float(-torch.log2(lk).sum()) for lk in forward.values()) / (64 * 64)
    assert row["bytes"] - stream.payload_bytes == header_size(
        [[len(s) for s in g] for g in stream.strings], stream.shape, 64, 64)

    perturb(coder, monkeypatch)  # at the 5th call: one timed call of each, as the perturbation counts them
    row = measure_row(coder, image, _reference(image.pixels), timed=True, policy=TimingPolicy(repeats=1))
    assert row["status"] == "failed"
    assert "latent mismatch: ŷ differs in " in row["note"], row["note"]


def test_nan_latent_fails_the_row(checkpoints, monkeypatch):
    coder = codec_for("bmshj2018-factorized", checkpoints["bmshj2018-factorized"]).coder(LABEL)
    original = coder.model.entropy_bottleneck.decompress
    monkeypatch.setattr(coder.model.entropy_bottleneck, "decompress",
                        lambda strings, size: original(strings, size) * float("nan"))
    image = prepared(natural_image(64, 64))
    row = measure_row(coder, image, _reference(image.pixels), timed=False)
    assert row["status"] == "failed" and "ŷ contains NaN" in row["note"]


# --- real weights ---------------------------------------------------------------------------------


def test_shared_factorized_checkpoint_on_kodak(shared_dir, kodak_dir, tmp_path):
    codec = codec_for("bmshj2018-factorized", shared_dir / SHARED_CHECKPOINT)
    coder = codec.coder(LABEL)
    assert codec.identity()["update"] is True and codec.identity()["entropy_coder"] == "ans"
    assert coder.identity()["config"] == {"N": 128, "M": 192}
    assert coder.provenance()["weights_origin"].startswith("checkpoint:")
    whole = np.asarray(Image.open(kodak_dir / "kodim01.png").convert("RGB"))
    crop = np.asarray(Image.open(kodak_dir / "kodim04.png").convert("RGB"))[101:302, 33:366]  # 201×333
    for image, header in ((whole, 17), (crop, 16)):  # by hand: H, W take 2 bytes each; 3 or 2 for the length
        path = tmp_path / f"{image.shape[0]}.bin"
        row = measure_row(coder, prepared(image), Reference(None, "not needed here"), timed=False, bitstream_path=path)
        height, width = image.shape[:2]
        assert row["status"] == "ok" and row["note"] == "ms_ssim missing: not needed here", row
        assert 0.4 < row["bpp"] < 1.5 and row["psnr"] > 28
        assert path.stat().st_size - parse(path.read_bytes()).payload_bytes == header
        payload_bpp = row["bpp"] - 8 * header / (height * width)
        assert row["bpp_estimated"] == pytest.approx(payload_bpp, rel=0.03)


# --- command line ---------------------------------------------------------------------------------


def test_unavailable_weights_skip_the_codec_with_one_line(tmp_path, monkeypatch, capsys):
    """``python -m bench run`` (its main(), in this process: the interpreter start costs seconds)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    Image.fromarray(natural_image(40, 56)).save(folder / "a.png")
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.delenv("BENCH_WEIGHTS_MIRROR", raising=False)
    status = main(["run", "--data", str(folder), "--codecs", "jpeg,bmshj2018-factorized", "--results",
                   str(tmp_path / "r"), "--weights-cache", str(tmp_path / "cache"), "--no-progress",
                   "--repeats", "1"])  # one timed call a row: the skip is the point
    err = capsys.readouterr().err
    assert status == 0, err
    skipped = [line for line in err.splitlines() if line.startswith("skipping")]
    assert len(skipped) == 1 and skipped[0].startswith("skipping bmshj2018-factorized: no weights for")
    assert "--checkpoint" in skipped[0] and "Traceback" not in err
    rows = (tmp_path / "r" / "tiny" / "rows.csv").read_text().splitlines()
    assert len(rows) == 1 + 20 and all(",jpeg," in row and ",ok," in row for row in rows[1:])


def test_run_then_verify_in_another_process(checkpoints, tmp_path, capsys):
    """``python -m bench verify`` (main() here; its second decode is a separate process)."""
    from bench.core.datasets import folder_dataset
    from bench.pipeline import CodecRun, Settings, evaluate

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, (h, w) in enumerate([(64, 96), (65, 97)]):
        Image.fromarray(natural_image(h, w, seed=i)).save(folder / f"im{i}.png")
    codec = codec_for("bmshj2018-hyperprior", checkpoints["bmshj2018-hyperprior"])
    evaluate(folder_dataset(folder), [CodecRun(codec, (LABEL,))], tmp_path / "r",
             Settings(threads=1, bitstream_dir=tmp_path / "bits", progress=False))
    weights = ["--checkpoint", f"bmshj2018-hyperprior:{LABEL}={checkpoints['bmshj2018-hyperprior']}"]
    row = (tmp_path / "r" / "imgs" / "rows.csv").read_text().splitlines()[1]
    assert ",cpu,replicate-64," in row and ",ok," in row
    bins = sorted((tmp_path / "bits" / "bmshj2018-hyperprior" / LABEL).glob("*.bin"))
    assert [p.name for p in bins] == ["im0.png.bin", "im1.png.bin"]  # the full file name
    corrupt = bytearray(bins[1].read_bytes())
    corrupt[-3] ^= 0x40
    bins[1].write_bytes(bytes(corrupt))

    status = main(["verify", "--data", str(folder), "--bitstreams", str(tmp_path / "bits"), "--results",
                   str(tmp_path / "r"), "--threads", "1", "--device", "cpu", *weights])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "second decode: 1 thread(s), cpu, separate process" in out
    mismatches = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert len(mismatches) == 1 and "im1.png.bin" in mismatches[0] and "CRC-32 mismatch" in mismatches[0]
    assert "decoding failed in both processes" in mismatches[0]
    assert "2 bitstreams decoded twice: 1 identical, 1 with problems" in out
    sidecar = json.loads((bins[0].with_suffix(".recon.json")).read_text())
    assert sidecar["threads"] == 1 and len(sidecar["recon_sha256"]) == 64


def test_run_records_its_options_and_verify_needs_no_weights_flags(checkpoints, tmp_path, capsys,
                                                                    verify_in_process):
    """The options of ``run`` (padding, checkpoint …) are in the run metadata; ``verify`` rebuilds from them."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(natural_image(48, 80, seed=5)).save(folder / "im.png")
    spec = f"bmshj2018-factorized:{LABEL}={checkpoints['bmshj2018-factorized']}"
    status = main(["run", "--data", str(folder), "--codecs", "bmshj2018-factorized", "--checkpoint", spec,
                   "--device", "cpu", "--codec-args", "bmshj2018-factorized:padding=eval_model", "--results",
                   str(tmp_path / "r"), "--bitstreams", str(tmp_path / "bits"), "--weights-cache",
                   str(tmp_path / "cache"), "--no-progress"])
    assert status == 0, capsys.readouterr().err
    (meta_path,) = (tmp_path / "r" / "imgs" / "runs").glob("*.json")
    recorded = json.loads(meta_path.read_text())["codecs"]["bmshj2018-factorized"]["options"]
    assert recorded == {"device": "cpu", "padding": "eval_model", "update": True, "weights_mirror": None,
                        "checkpoint": [spec], "checkpoint_dir": None, "weights_cache": str(tmp_path / "cache")}
    capsys.readouterr()
    status = main(["verify", "--data", str(folder), "--bitstreams", str(tmp_path / "bits"), "--results",
                   str(tmp_path / "r"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "1 bitstreams decoded twice: 1 identical, 0 with problems" in out


def test_an_unknown_architecture_says_the_close_one_and_how_to_add_ones_own():
    from bench.learned.zoo import check_arch

    with pytest.raises(CodecError) as info:
        check_arch("mbt2018-means")
    message = str(info.value)
    assert "(did you mean 'mbt2018-mean'?)" in message and "BENCH_CODEC_PATH" in message and "\n" not in message
    with pytest.raises(CodecError) as info:
        check_arch("my-model")
    assert "did you mean" not in str(info.value) and "BENCH_CODEC_PATH" in str(info.value)
