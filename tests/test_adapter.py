"""bench.learned.adapter.CompressionModelCodec, the base class of learned codecs, on a model of its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from compressai.models import FactorizedPrior

from bench.core.errors import CodecError
from bench.learned import bitstream
from bench.learned.adapter import CompressionModelCodec, weights_sha256
from conftest import natural_image


def seeded_prior(seed: int = 0) -> FactorizedPrior:
    torch.manual_seed(seed)
    return FactorizedPrior(8, 12)


class SmallCodec(CompressionModelCodec):
    def __init__(self, options, make=seeded_prior):
        super().__init__("small", options)
        self.make = make

    def default_points(self):
        return ["a"]

    def load(self, point):
        return self.make()


def test_the_stream_is_the_models_own_compress_with_the_header():
    coder = SmallCodec({"device": "cpu"}).coder("a")
    image = natural_image(50, 70)
    data = coder.encode(image)
    # the reference: the same model, prepared as the base class says (update, eval), run by hand
    model = seeded_prior().eval()
    model.update(force=True)
    x = torch.from_numpy(image).permute(2, 0, 1).float().div(255).unsqueeze(0)
    x = F.pad(x, (0, 80 - 70, 0, 64 - 50), mode="replicate")  # right/bottom to a multiple of 16
    with torch.no_grad():
        out = model.compress(x)
        x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
    stream = bitstream.parse(data)
    assert stream.strings == out["strings"] and stream.shape == tuple(out["shape"])
    assert (stream.height, stream.width, stream.mode) == (50, 70, "model")
    expected = x_hat[0, :, :50, :70].mul(255).clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(coder.decode(data), expected)
    checks = coder.verify(image, data, expected)
    assert "note" not in checks and checks["payload_bytes"] == sum(len(s) for g in out["strings"] for s in g)
    assert coder.row_fields() == {"device": "cpu", "padding": "replicate-16",
                                  "weights_sha256": weights_sha256(coder.model)}


def test_weights_hash_follows_the_weights():
    a, b = seeded_prior(0), seeded_prior(0)
    assert weights_sha256(a) == weights_sha256(b)
    with torch.no_grad():
        b.g_a[0].weight[0, 0, 0, 0] += 1e-6
    assert weights_sha256(a) != weights_sha256(b)
    assert weights_sha256(seeded_prior(1)) != weights_sha256(a)


def test_a_model_without_downsampling_factor_is_refused_with_the_fix():
    class NoFactor(torch.nn.Module):
        def update(self, force=False):
            return True

    with pytest.raises(CodecError, match="downsampling_factor"):
        SmallCodec({"device": "cpu"}, make=NoFactor).coder("a")


def test_options_of_the_subclass_are_kept_and_the_adapters_resolved():
    codec = SmallCodec({"weights_dir": "w"})
    assert codec.options == {"weights_dir": "w", "device": "auto", "padding": "model", "update": True}
    with pytest.raises(CodecError):
        SmallCodec({"padding": "zeros"})
