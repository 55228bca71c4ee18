"""Padding an image to a model's multiple: the one definition that coding, counting, timing, memory and
training use.

A CompressAI model downsamples by its ``downsampling_factor`` (16 for the factorized prior, 64 for the
hyperprior models), so an image is padded to a multiple of it before coding and cropped back after.
Two modes (their order is the bitstream's mode byte, :data:`bench.learned.bitstream.MODES`: never reorder):

* ``model``: all of the padding right and bottom, to the model's own multiple, by replicating the last
  row and column (it continues the image: cheap to code, no artificial edge);
* ``eval_model``: as ``compressai.utils.eval_model``: centred zero padding (the smaller half left and
  top, as ``compressai.ops.compute_padding``) to a multiple of :data:`EVAL_MODEL_MULTIPLE`.

torch is imported only by :func:`pad_tensor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.errors import CodecError

if TYPE_CHECKING:
    import torch

__all__ = ["EVAL_MODEL", "EVAL_MODEL_MULTIPLE", "MODEL", "MODES", "mode_multiple", "pad_offsets", "pad_tensor",
           "padded_size"]

MODEL = "model"
EVAL_MODEL = "eval_model"
MODES: tuple[str, ...] = (MODEL, EVAL_MODEL)
"""The padding modes, in the order of their code in the bitstream's mode byte."""
EVAL_MODEL_MULTIPLE = 64
"""``eval_model`` pads every model's input to this multiple."""
_TORCH_MODE = {MODEL: "replicate", EVAL_MODEL: "constant"}


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise CodecError(f"unknown padding mode {mode!r}; use one of {', '.join(MODES)}")
    return mode


def mode_multiple(mode: str, model_multiple: int) -> int:
    """The multiple ``mode`` pads to for a model that downsamples by ``model_multiple``."""
    return EVAL_MODEL_MULTIPLE if _check_mode(mode) == EVAL_MODEL else int(model_multiple)


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """``(height, width)`` rounded up to multiples of ``multiple``."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def pad_offsets(height: int, width: int, multiple: int, mode: str) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` padding of an H×W image in ``mode`` to a multiple of ``multiple``.

    ``model``: all of it right and bottom. ``eval_model``: centred as ``compressai.ops.compute_padding``
    (the smaller half left/top).
    """
    out_h, out_w = padded_size(height, width, multiple)
    if _check_mode(mode) == MODEL:
        return 0, out_w - width, 0, out_h - height
    left, top = (out_w - width) // 2, (out_h - height) // 2
    return left, out_w - width - left, top, out_h - height - top


def pad_tensor(x: torch.Tensor, multiple: int, mode: str = MODEL) -> torch.Tensor:
    """``x`` (…×H×W) padded in ``mode`` to multiples of ``multiple``: replicated edges (``model``) or
    zeros (``eval_model``); ``x`` itself when it needs no padding."""
    import torch.nn.functional as F

    left, right, top, bottom = pad_offsets(int(x.size(-2)), int(x.size(-1)), multiple, mode)
    if not (left or right or top or bottom):
        return x
    return F.pad(x, (left, right, top, bottom), mode=_TORCH_MODE[mode])
