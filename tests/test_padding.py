"""Padding to a model's multiple (bench.learned.padding): offsets by hand and against compressai's own
``compute_padding`` (what ``eval_model`` uses), tensors padded by replication or zeros."""

from __future__ import annotations

import pytest

from bench.core.errors import CodecError
from bench.learned import bitstream
from bench.learned.padding import MODES, mode_multiple, pad_offsets, pad_tensor, padded_size


def test_offsets_by_hand():
    assert padded_size(512, 768, 64) == (512, 768) and padded_size(500, 700, 64) == (512, 704)
    assert padded_size(1, 1, 16) == (16, 16)
    # model: everything right and bottom
    assert pad_offsets(500, 700, 64, "model") == (0, 4, 0, 12)
    assert pad_offsets(512, 768, 64, "model") == (0, 0, 0, 0)
    # eval_model: centred, the smaller half left and top
    assert pad_offsets(500, 700, 64, "eval_model") == (2, 2, 6, 6)
    assert pad_offsets(509, 701, 64, "eval_model") == (1, 2, 1, 2)
    with pytest.raises(CodecError, match="unknown padding mode 'mirror'"):
        pad_offsets(10, 10, 16, "mirror")


def test_eval_model_offsets_match_compressai():
    from compressai.ops import compute_padding

    for height, width in [(512, 768), (500, 700), (509, 701), (1, 63), (65, 129), (768, 512)]:
        pad, _ = compute_padding(height, width, min_div=64)
        assert pad_offsets(height, width, 64, "eval_model") == pad, (height, width)


def test_mode_multiple_and_bitstream_codes():
    assert mode_multiple("model", 16) == 16 and mode_multiple("eval_model", 16) == 64
    assert MODES == ("model", "eval_model") and bitstream.MODES is MODES  # the mode byte's codes


def test_tensors_padded_by_replication_or_zeros():
    import torch

    x = torch.arange(1, 7, dtype=torch.float32).reshape(1, 1, 2, 3)  # [[1, 2, 3], [4, 5, 6]]
    replicated = pad_tensor(x, 4, "model")
    assert replicated.tolist() == [[[[1, 2, 3, 3], [4, 5, 6, 6], [4, 5, 6, 6], [4, 5, 6, 6]]]]
    zeros = pad_tensor(x, 4, "eval_model")  # left 0, right 1, top 1, bottom 1
    assert zeros.tolist() == [[[[0, 0, 0, 0], [1, 2, 3, 0], [4, 5, 6, 0], [0, 0, 0, 0]]]]
    assert pad_tensor(x, 1, "model") is x  # nothing to pad: the tensor itself
