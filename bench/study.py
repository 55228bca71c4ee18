"""The study this harness reproduces, in one place: its models, its λ, its JPEG points, its figures.

CLI defaults, the Makefile (``python -m bench.study VAR``), the BD tables, the report, the
complexity tables and the training recipe read these names; nothing else spells them out.
This module imports nothing from the harness, so the Makefile can ask it with any Python.
"""

from __future__ import annotations

import sys

__all__ = [
    "ANCHORS", "ARCHITECTURES", "EXTRA_ANCHORS", "TRAINED_ARCHITECTURE", "JPEG_POINTS", "JPEG_QUALITIES", "LABELS", "LAMBDAS", "POINTS",
    "PRETRAIN_LAMBDA", "STUDY_ANCHOR", "STUDY_BD_RATES", "STUDY_CONTEXT_DECODE_S", "STUDY_PARAMS_CELL", "ZOO_QUALITIES", "lambda_label",
]

ARCHITECTURES: tuple[str, ...] = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018")
"""The three learned models of the study, as CompressAI zoo names, in the study's order."""

TRAINED_ARCHITECTURE = "mbt2018"
"""The architecture the study states its training recipe for (its Context + Hyperprior)."""

LABELS: dict[str, str] = {
    "bmshj2018-factorized": "Factorized",
    "bmshj2018-hyperprior": "Hyperprior",
    "mbt2018": "Context+Hyperprior",
}
"""The study's short name of each architecture."""

LAMBDAS: tuple[float, ...] = (0.0067, 0.0130, 0.0250, 0.0483)
"""Training λ of the study (loss λ·255²·MSE + bpp), lowest rate first."""

ZOO_QUALITIES: tuple[int, ...] = (3, 4, 5, 6)
"""The CompressAI zoo qualities (MSE) trained at :data:`LAMBDAS`."""

PRETRAIN_LAMBDA: float = 0.0483
"""The recipe pre-trains at this λ, then fine-tunes each of :data:`LAMBDAS`."""


def lambda_label(lam: float) -> str:
    """The operating-point label of a training λ: ``lambda0.0130``."""
    return f"lambda{lam:.4f}"


POINTS: tuple[str, ...] = tuple(lambda_label(lam) for lam in LAMBDAS)
"""Operating-point labels of :data:`LAMBDAS`: ``lambda0.0067`` … ``lambda0.0483``."""

JPEG_QUALITIES: tuple[int, ...] = tuple(range(5, 101, 5))
"""JPEG through Pillow at quality 5, 10, …, 100 with 4:2:0 subsampling."""

JPEG_POINTS: tuple[str, ...] = tuple(f"q{q}" for q in JPEG_QUALITIES)

STUDY_ANCHOR = "jpeg"
"""The study's BD-rate anchor."""

ANCHORS: tuple[str, ...] = ("webp", "jpeg2000", "avif", "avif-444", "heic", "heic-444")
"""Further classic codecs benchmarked beside JPEG by ``make bench``; AVIF and HEIC both at 4:2:0 (as JPEG)
and 4:4:4 (as the learned codecs, which code RGB), so what chroma subsampling costs is visible."""

EXTRA_ANCHORS: tuple[str, ...] = ("jpegxl", "mozjpeg", "jpegli")
"""Today's anchors, registered but not in ``make bench``'s default: their Kodak sweep adds about 11 minutes
to the study's 45 (docs/anchors.md). ``make bench CODECS=$(python -m bench.study extra-anchors)`` runs them."""

STUDY_BD_RATES: dict[str, tuple[float, float]] = {
    "bmshj2018-factorized": (-31.78, -44.73),
    "bmshj2018-hyperprior": (-46.98, -54.41),
    "mbt2018": (-56.78, -55.00),
}
"""BD-rate vs JPEG in percent (PSNR, MS-SSIM dB), as the study's text gives them."""

STUDY_PARAMS_CELL = 7.08e10
"""A value of the study's complexity table in its "Params" column: far too large for a parameter count, so an
operation count of a Kodak-size encode + decode, in MACs or in FLOPs (2 · MACs); one cell cannot tell which,
nor which model it belongs to (no configuration measured here matches it under either reading)."""

STUDY_CONTEXT_DECODE_S: tuple[float, float] = (104.0, 252.63)
"""The study's decode time by its Context + Hyperprior on an NVIDIA RTX 3080 Ti, in seconds (the fastest and
slowest of its λ), read here as the time of one Kodak image: an assumption, the table does not say whether it
is per image or for the 24. These two figures are all of the study's complexity table that this project has;
the rest of the table is not shown for that reason."""

_MAKE_VARIABLES = {
    "learned": lambda: ",".join(ARCHITECTURES),
    "anchors": lambda: ",".join(ANCHORS),
    "extra-anchors": lambda: ",".join(EXTRA_ANCHORS),
    "points": lambda: ",".join(POINTS),
    "anchor": lambda: STUDY_ANCHOR,
}


def main(argv: list[str]) -> int:
    """``python -m bench.study NAME``: print one fact for the Makefile."""
    if len(argv) != 1 or argv[0] not in _MAKE_VARIABLES:
        print(f"usage: python -m bench.study {{{'|'.join(_MAKE_VARIABLES)}}}", file=sys.stderr)
        return 2
    print(_MAKE_VARIABLES[argv[0]]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
