"""Every registered codec keeps the plug-in contract, and codes a small image and back.

Codecs that need no weights (the Pillow ones) run as registered. Learned codecs get random-initialised
small models (N=16, M=24, as tests/test_learned.py) saved as checkpoints in a temporary folder and
handed over through their ``checkpoint`` option, as a user's would be.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core import registry
from bench.core.codec import Codec, Coder
from bench.core.metrics import psnr
from bench.core.options import TYPES
from conftest import natural_image

NAMES = registry.names()
LABEL = "lambda0.0130"
#: PSNR a codec without weights must reach at its best default point on the test image; a
#: sanity floor (JPEG q100 gives about 45 dB here), not a quality claim.
FLOOR_DB = 25.0


def is_learned(name: str) -> bool:
    """Codecs whose weights come through a ``checkpoint`` option."""
    return any(option.name == "checkpoint" for option in registry.entry(name).options)


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("conformance-weights")


def architecture(name: str) -> str:
    """The CompressAI architecture whose weights the learned codec ``name`` loads: its own name, or the
    architecture a wavefront codec codes (``mbt2018`` for ``mbt2018-wavefront``)."""
    registry.names()  # loads the plug-ins
    wavefront = sys.modules.get("bench_plugins.compressai_wavefront")
    return getattr(wavefront, "ARCHITECTURES", {}).get(name, name)


def random_checkpoint(arch: str, folder: Path) -> Path:
    """A random-initialised model of ``arch``, saved as a trained one is (state dict after update)."""
    import torch

    from bench.learned import zoo

    path = folder / f"{arch}.pth"
    if not path.exists():
        torch.manual_seed(0)
        cls = zoo.model_class(arch)
        model = (cls(N=16) if arch.startswith("cheng2020") else cls(N=16, M=24)).eval()
        with torch.no_grad():
            model(torch.rand(1, 3, 64, 64))
        model.update(force=True)
        torch.save(model.state_dict(), path)
    return path


def build(name: str, folder: Path) -> Codec:
    if is_learned(name):
        arch = architecture(name)
        spec = f"{arch}:{LABEL}={random_checkpoint(arch, folder)}"
        return registry.create(name, {"device": "cpu", "checkpoint": [spec], "weights_cache": str(folder)})
    return registry.create(name)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, checkpoint_dir):
    entry = registry.entry(name)
    for option in entry.options:
        assert option.type in TYPES and option.help
        assert option.default is None or isinstance(option.default, option.type)
        json.dumps(option.default)
    codec = build(name, checkpoint_dir)
    assert isinstance(codec, Codec) and codec.name == name
    points = codec.default_points()
    assert points and all(isinstance(point, str) and point for point in points)
    coder = codec.coder(points[0])
    assert isinstance(coder, Coder) and coder.point == points[0]
    json.dumps([codec.identity(), coder.identity(), coder.provenance(), coder.row_fields()])
    assert set(codec.options) == {option.name for option in entry.options}
    json.dumps(dict(codec.options))
    again = registry.create(name, codec.options)  # the recorded options rebuild the same codec
    assert again.identity() == codec.identity()


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name, checkpoint_dir):
    codec = build(name, checkpoint_dir)
    image = natural_image(64, 64, seed=2)
    point = codec.default_points()[-1]  # the highest rate
    coder = codec.coder(point)
    data = coder.encode(image)
    assert isinstance(data, bytes) and data
    recon = coder.decode(data)
    assert isinstance(recon, np.ndarray) and recon.dtype == np.uint8 and recon.shape == image.shape
    assert np.array_equal(coder.decode(data), recon)  # decoding needs nothing but the bytes
    quality = psnr(image, recon)
    assert not math.isnan(quality)
    if not is_learned(name):
        assert quality >= FLOOR_DB, f"{name} {point}: {quality:.2f} dB"
