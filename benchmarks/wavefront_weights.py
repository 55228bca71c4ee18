"""Random-initialised stand-ins for trained weights, shared by the wavefront benchmarks.

There are no mbt2018 (or hyperprior) weights offline, so ``wavefront_check.py`` and
``wavefront_speed.py`` code with random-initialised models saved as checkpoints, one per λ label of
the study. The analysis transform's last layer is scaled by a gain per label so that the four labels
span about 0.4–4 bpp on Kodak (a fresh model's ŷ rounds to almost all zeros); the gain and the seed
differ per label, so the four "operating points" are four different models. The network costs depend
only on the layout (N, M) and the image size; the entropy coder's cost depends on the rate, which
these models only roughly imitate.

Not a test or a module of the package: imported by the two scripts next to it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import study

LABELS: tuple[str, ...] = study.POINTS
"""The four λ labels of the study (zoo qualities 3–6)."""
GAINS: dict[tuple[int, int], tuple[float, ...]] = {(128, 192): (5.0, 6.0, 8.0, 12.0), (192, 320): (3.0, 4.0, 5.0, 6.0)}
"""Gain on g_a's last layer per label, for each (N, M): about 0.4, 0.8, 1.9, 4.3 bpp (N=128/M=192) and
0.6, 1.1, 2.4, 3.6 bpp (N=192/M=320) on a Kodak crop."""


def parse_config(text: str) -> tuple[int, int]:
    """``"128x192"`` → (128, 192)."""
    n, m = text.lower().split("x")
    return int(n), int(m)


def save_random(folder: Path, arch: str, config: tuple[int, int], label: str) -> Path:
    """A random-initialised ``arch`` (N, M) for ``label``, saved as a trained model is (state dict after update)."""
    import torch

    from bench.learned import zoo

    path = folder / f"{arch}_N{config[0]}-M{config[1]}_{label}.pth"
    if path.exists():
        return path
    index = LABELS.index(label)
    gains = GAINS.get(config, (5.0, 6.0, 8.0, 12.0))
    torch.manual_seed(1000 + index)
    channels = {"N": config[0]} if arch.startswith("cheng2020") else {"N": config[0], "M": config[1]}
    model = zoo.model_class(arch)(**channels).eval()
    # the last convolution among g_a's layers (cheng2020-attn ends with an attention block, whose
    # identity path carries that convolution's output)
    last = [layer for layer in model.g_a.children() if isinstance(layer, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.mul_(gains[index])
        model(torch.rand(1, 3, 64, 64))  # masks the context weights, as training does
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


def source(folder: Path, archs: tuple[str, ...], config: tuple[int, int], labels: tuple[str, ...] = LABELS) -> Any:
    """A WeightsSource with a random checkpoint of every arch × label."""
    from bench.learned.weights import Checkpoint, WeightsSource

    folder.mkdir(parents=True, exist_ok=True)
    checkpoints = tuple(Checkpoint(arch, label, save_random(folder, arch, config, label))
                        for arch in archs for label in labels)
    return WeightsSource(checkpoints=checkpoints, offline=True)


def kodak_images(folder: str | None, count: int | None) -> list[tuple[str, Any]]:
    """(name, H×W×3 uint8) of the first ``count`` Kodak images in ``folder`` (default $BENCH_KODAK_DIR)."""
    import numpy as np
    from PIL import Image

    folder = folder or os.environ.get("BENCH_KODAK_DIR")
    if not folder or not Path(folder).is_dir():
        raise SystemExit("give --kodak-dir or set BENCH_KODAK_DIR (the 24 Kodak PNGs)")
    paths = sorted(Path(folder).glob("kodim*.png"))[:count]
    if not paths:
        raise SystemExit(f"no kodim*.png in {folder}")
    return [(p.stem, np.asarray(Image.open(p).convert("RGB")).copy()) for p in paths]
