"""The wavefront coder of ŷ (bench.learned.wavefront, codecs/compressai_wavefront.py).

References are independent of the code under test: CompressAI's own ``compress``/``decompress``
(the position-by-position loop) on the same random-initialised weights, the context model's own mask
for the dependency check, ``GaussianConditional.build_indexes``, fvcore's MAC count, hand-computed
schedules and header sizes. Random-initialised models stand in for trained ones (no mbt2018 weights
offline); the analysis transform's last layer is scaled up so that ŷ is not all zeros. The exhaustive
Kodak check is ``benchmarks/wavefront_check.py``.
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, natural_image
from PIL import Image

from bench.core import registry
from bench.core.errors import CodecError
from bench.core.images import pixel_sha256
from bench.core.measure import measure_row, reference_of
from bench.core.screening import PreparedImage
from bench.learned import bitstream
from bench.learned.bitstream import BitstreamError, header_size, pack, parse

LABEL = "lambda0.0130"
torch = pytest.importorskip("torch")


def save_model(folder: Path, arch: str, *, seed: int = 0, scale: float = 8.0, **config) -> Path:
    """A random-initialised model saved as a trained one is (state dict after update)."""
    from bench.learned import zoo

    torch.manual_seed(seed)
    model = zoo.model_class(arch)(**config).eval()
    with torch.no_grad():
        model.g_a[-1].weight.mul_(scale)
        model(torch.rand(1, 3, 64, 64))  # as after training: masked context weights
    model.update(force=True)
    path = folder / f"{arch}-{'-'.join(f'{k}{v}' for k, v in config.items())}.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wavefront-weights")
    return {
        "mbt2018": save_model(folder, "mbt2018", N=128, M=192),
        "mbt2018-small": save_model(folder, "mbt2018", scale=30.0, N=16, M=24),
        "cheng2020-anchor": save_model(folder, "cheng2020-anchor", scale=30.0, N=16),
    }


def coders(arch: str, path: Path, *, padding: str = "model", **options):
    """(reference coder, wavefront coder) of the same weights."""
    from bench.learned.weights import Checkpoint, WeightsSource

    source = WeightsSource(checkpoints=(Checkpoint(arch, LABEL, path),), offline=True)
    common = {"device": "cpu", "weights": source, "padding": padding}
    reference = registry.create(arch, common).coder(LABEL)
    wavefront = registry.create(f"{arch}-wavefront", {**common, **options}).coder(LABEL)
    return reference, wavefront


def prepared(image: np.ndarray) -> PreparedImage:
    return PreparedImage("x.png", Path("x.png"), image, pixel_sha256(image))


# --- the schedule ---------------------------------------------------------------------------------


def test_wavefronts_by_hand():
    from bench.learned.wavefront import wavefronts

    assert wavefronts(2, 3) == [[(0, 0)], [(0, 1)], [(0, 2)], [(1, 0)], [(1, 1)], [(1, 2)]]
    assert wavefronts(3, 4)[3:6] == [[(0, 3), (1, 0)], [(1, 1)], [(1, 2)]]
    assert wavefronts(1, 4) == [[(0, 0)], [(0, 1)], [(0, 2)], [(0, 3)]]
    assert wavefronts(4, 1) == [[(0, 0)], [(1, 0)], [(2, 0)], [(3, 0)]]  # t = 1, 2, 4, 5 … hold no position
    kodak = wavefronts(32, 48)
    assert len(kodak) == 3 * 31 + 48 == 141 and max(len(f) for f in kodak) == 16
    assert sum(len(f) for f in kodak) == 32 * 48


@pytest.mark.parametrize("height, width", [(4, 4), (1, 7), (7, 1), (2, 2), (6, 11), (11, 6)])
def test_every_context_tap_is_coded_in_an_earlier_wavefront(height, width):
    """Checked against the context model's own type-A mask, not against t = 3h + w."""
    from compressai.layers import MaskedConv2d

    from bench.learned.wavefront import wavefronts

    mask = MaskedConv2d(1, 1, kernel_size=5, padding=2).mask[0, 0]
    taps = [(dy - 2, dx - 2) for dy in range(5) for dx in range(5) if mask[dy, dx]]
    assert len(taps) == 12
    front_of = {pos: i for i, front in enumerate(wavefronts(height, width)) for pos in front}
    assert sorted(front_of) == [(h, w) for h in range(height) for w in range(width)]
    for (h, w), i in front_of.items():
        for dy, dx in taps:
            neighbour = (h + dy, w + dx)
            if neighbour in front_of:
                assert front_of[neighbour] < i, ((h, w), neighbour)


def test_indexes_equal_build_indexes():
    from compressai.entropy_models import GaussianConditional
    from compressai.models import JointAutoregressiveHierarchicalPriors

    from bench.learned.wavefront import _indexes

    model = JointAutoregressiveHierarchicalPriors(N=8, M=12)
    model.update(force=True)
    gc = model.gaussian_conditional
    assert isinstance(gc, GaussianConditional)
    table = gc.scale_table
    scales = torch.cat([table, torch.nextafter(table, table + 1), torch.nextafter(table, table - 1),
                        torch.rand(4998) * 300, torch.tensor([0.0, -1.0, 1e-9, 1e9])]).reshape(-1, 7)
    assert torch.equal(_indexes(gc, scales), gc.build_indexes(scales))


def test_models_without_a_type_a_context_are_refused():
    from compressai.layers import MaskedConv2d
    from compressai.models import JointAutoregressiveHierarchicalPriors, ScaleHyperprior

    from bench.learned.wavefront import WavefrontError, check_model

    with pytest.raises(WavefrontError, match="joint autoregressive"):
        check_model(ScaleHyperprior(N=8, M=12))
    model = JointAutoregressiveHierarchicalPriors(N=8, M=12)
    assert check_model(model) == 5
    model.context_prediction = MaskedConv2d(12, 24, kernel_size=5, padding=2, stride=1, mask_type="B")
    with pytest.raises(WavefrontError, match="type A"):
        check_model(model)


# --- the same ŷ and pixels as CompressAI's own loop -------------------------------------------------


@pytest.mark.parametrize("size", [(64, 64), (128, 192)])
def test_exact_wavefronts_reproduce_compressai_bit_for_bit(weights, size):
    """N=128/M=192: the decoder's ŷ and the pixels equal those of CompressAI's own loop (the reference
    codec runs ``model.compress``/``model.decompress``), the payload within 0.1 % (+ rANS's 4-byte words)."""
    reference, coder = coders("mbt2018", weights["mbt2018"])
    image = natural_image(*size, seed=size[0])
    data_ref, data = reference.encode(image), coder.encode(image)
    pixels_ref, pixels = reference.decode(data_ref), coder.decode(data)
    assert np.array_equal(pixels, pixels_ref)
    y_ref, y = reference.capture.data["decode"]["y_hat"], coder.capture.data["decode"]["y_hat"]
    assert torch.equal(y, y_ref) and int(y.abs().sum()) > 0
    assert torch.equal(coder.capture.data["decode"]["x_hat"], reference.capture.data["decode"]["x_hat"])
    assert coder.latent_problem() is None
    stream_ref, stream = parse(data_ref), parse(data)
    assert stream.coder == "wavefront" and stream_ref.coder == "reference"
    assert stream.strings[1] == stream_ref.strings[1]  # ẑ: the same entropy-bottleneck call
    ref_y, ours_y = len(stream_ref.strings[0][0]), len(stream.strings[0][0])
    assert abs(ours_y - ref_y) <= 0.001 * ref_y + 4, (ours_y, ref_y)  # only the symbol order differs
    assert len(data) - len(data_ref) == 1 + ours_y - ref_y  # the coder byte


@pytest.mark.parametrize("size, padding", [((133, 70), "model"), ((64, 300), "model"), ((300, 64), "model"),
                                           ((100, 70), "eval_model")])
def test_odd_sizes_and_thin_latents(weights, size, padding):
    """N=16/M=24 (the reference loop costs ~1 ms a position even so): odd sizes, 4-row and 4-column
    latents, eval_model's centred zeros. 517×333 and Kodak: benchmarks/wavefront_check.py."""
    reference, coder = coders("mbt2018", weights["mbt2018-small"], padding=padding)
    image = natural_image(*size, seed=7)
    data_ref, data = reference.encode(image), coder.encode(image)
    assert np.array_equal(coder.decode(data), reference.decode(data_ref))
    assert torch.equal(coder.capture.data["decode"]["y_hat"], reference.capture.data["decode"]["y_hat"])
    assert coder.latent_problem() is None
    payload_ref, payload = parse(data_ref).payload_bytes, parse(data).payload_bytes
    assert abs(payload - payload_ref) <= 0.001 * payload_ref + 4


def test_cheng2020_anchor_wavefront_matches_its_reference(weights):
    reference, coder = coders("cheng2020-anchor", weights["cheng2020-anchor"])
    image = natural_image(128, 128, seed=2)
    data_ref, data = reference.encode(image), coder.encode(image)
    assert np.array_equal(coder.decode(data), reference.decode(data_ref))
    assert coder.latent_problem() is None


def test_fast_numerics_code_consistently_and_near_the_reference(weights):
    reference, coder = coders("mbt2018", weights["mbt2018"], numerics="fast")
    image = natural_image(64, 128, seed=4)
    data_ref, data = reference.encode(image), coder.encode(image)
    pixels_ref, pixels = reference.decode(data_ref), coder.decode(data)
    assert coder.latent_problem() is None and parse(data).coder == "wavefront-fast"
    y_ref, y = reference.capture.data["decode"]["y_hat"], coder.capture.data["decode"]["y_hat"]
    # means differ in the last bits; a symbol flips only where y − mean is within those bits of ½
    assert float((y - y_ref).abs().max()) <= 1.0 + 1e-3
    assert int(((y - y_ref).abs() > 1e-3).sum()) <= 0.001 * y.numel() + 1
    assert np.abs(pixels.astype(int) - pixels_ref).mean() < 0.05
    with pytest.raises(CodecError, match="numerics=fast"):
        coders("mbt2018", weights["mbt2018"])[1].decode(data)


# --- the integrity check --------------------------------------------------------------------------


def test_a_decoder_visiting_one_wavefront_out_of_order_fails_the_row(weights, monkeypatch):
    from bench.learned import wavefront

    _, coder = coders("mbt2018", weights["mbt2018-small"])
    image = prepared(natural_image(128, 128, seed=1))
    row = measure_row(coder, image, reference_of(image.pixels), timed=False)
    assert row["status"] == "ok" and "latent" not in row.get("note", ""), row

    fronts = wavefront.wavefronts(8, 8)
    fronts[5], fronts[6] = fronts[6], fronts[5]  # both still cover every position once
    monkeypatch.setattr(coder, "decompress_model", lambda strings, shape: wavefront.decompress(
        coder.model, strings, shape, fronts=fronts))
    row = measure_row(coder, image, reference_of(image.pixels), timed=False)
    assert row["status"] == "failed"
    assert "latent mismatch: ŷ differs in " in row["note"], row["note"]


def test_run_then_verify_in_another_process(weights, tmp_path, capsys, verify_in_process):
    """``python -m bench verify``: the second decode, from the bitstream alone, gives the same pixels."""
    from bench.cli import main
    from bench.core.datasets import folder_dataset
    from bench.pipeline import CodecRun, Settings, evaluate

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(natural_image(64, 96, seed=5)).save(folder / "im.png")
    _, coder = coders("mbt2018", weights["mbt2018-small"])
    evaluate(folder_dataset(folder), [CodecRun(coder.codec, (LABEL,))], tmp_path / "r",
             Settings(threads=1, bitstream_dir=tmp_path / "bits", progress=False))
    rows = (tmp_path / "r" / "imgs" / "rows.csv").read_text().splitlines()
    assert len(rows) == 2 and ",mbt2018-wavefront," in rows[1] and ",ok," in rows[1], rows
    status = main(["verify", "--data", str(folder), "--bitstreams", str(tmp_path / "bits"), "--results",
                   str(tmp_path / "r"), "--threads", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "1 bitstreams decoded twice: 1 identical, 0 with problems" in out


# --- the container --------------------------------------------------------------------------------


def test_coder_byte_by_hand_and_damage_is_detected():
    strings = [[b"y" * 300], [b"z" * 20]]
    v1 = pack(strings, (2, 3), 100, 150)
    v2 = pack(strings, (2, 3), 100, 150, coder="wavefront")
    # tag, crc, mode, coder, then v1's fields: H 1, W 2, h 1, w 1, G 1, n 1 1, L 2 1
    assert header_size([[300], [20]], (2, 3), 100, 150, coder="wavefront") == 1 + 4 + 1 + 1 + 11 == len(v2) - 320
    assert len(v2) == len(v1) + 1 and v1[0] == 0xB1 and v2[0] == 0xB2 and v2[6] == 1
    assert v2[7:] == v1[6:] and v2[5] == v1[5]
    stream = parse(v2)
    assert stream.coder == "wavefront" and stream.strings == strings and parse(v1).coder == "reference"
    for i in range(len(v2)):
        damaged = bytearray(v2)
        damaged[i] ^= 0x10
        with pytest.raises(BitstreamError):
            parse(bytes(damaged))
    unknown = bytearray(v2)
    unknown[6] = len(bitstream.CODERS)
    unknown[1:5] = zlib.crc32(bytes(unknown[5:])).to_bytes(4, "big")
    with pytest.raises(BitstreamError, match="unknown coder"):
        parse(bytes(unknown))
    with pytest.raises(BitstreamError, match="unknown coder"):
        pack(strings, (2, 3), 100, 150, coder="checkerboard")


def test_reference_and_wavefront_refuse_each_other(weights):
    reference, coder = coders("mbt2018", weights["mbt2018-small"])
    image = natural_image(64, 64)
    with pytest.raises(CodecError, match="made by the wavefront coder.*mbt2018-wavefront"):
        reference.decode(coder.encode(image))
    with pytest.raises(CodecError, match="made by the reference coder.*own codec"):
        coder.decode(reference.encode(image))


def test_plugin_registers_the_wavefront_codecs_without_importing_torch():
    code = ("import sys; from bench.core import registry; names = registry.names(); "
            "print([n for n in names if n.endswith('-wavefront')], registry.load_errors(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True)
    assert out.stdout.split("\n")[0] == ("['cheng2020-anchor-wavefront', 'cheng2020-attn-wavefront', "
                                         "'mbt2018-wavefront'] [] False"), out.stderr
    from bench.learned.wavefront import NUMERICS

    registry.names()
    plugin = sys.modules["bench_plugins.compressai_wavefront"]
    assert plugin.NUMERICS == NUMERICS and set(plugin.CODER_OF.values()) <= set(bitstream.CODERS)


# --- counting -------------------------------------------------------------------------------------


def test_executed_macs_are_fvcores_dense_count():
    """The gathered crops × weights are the dense context layer's MACs (fvcore), position for position."""
    from compressai.models import JointAutoregressiveHierarchicalPriors

    from bench.learned.macs import count_parts
    from bench.learned.wavefront import executed_macs

    model = JointAutoregressiveHierarchicalPriors(N=16, M=24).eval()
    counts = count_parts(model, (1, 3, 128, 192))
    executed = executed_macs(model, 8, 12)
    assert executed["context_prediction"] == counts["context_prediction"].macs == 8 * 12 * 25 * 24 * 48
    assert executed["entropy_parameters"] == counts["entropy_parameters"].macs
    fast = executed_macs(model, 8, 12, numerics="fast")  # the gathered unmasked taps: the effective count
    assert fast["context_prediction"] == counts["context_prediction"].effective_macs == 8 * 12 * 12 * 24 * 48
    assert fast["entropy_parameters"] == executed["entropy_parameters"]
