"""Random-initialised stand-ins for the zoo's models of the study, at the zoo's channel counts.

The model zoo cannot be reached offline, so a full `make bench` of the three learned models runs on
these: one checkpoint per architecture and λ label, each with the channels the zoo uses at that
quality (factorized and hyperprior: N=128/M=192 at qualities 3–5, N=192/M=320 at 6; mbt2018:
N=192/M=192 at 3–4, N=192/M=320 at 5–6), so the networks and the entropy coders do the work the
zoo's models do at the same size. Their rates only roughly imitate trained models' (see
``wavefront_weights.py``), so their RD rows are not results, their times are.

    .venv/bin/python benchmarks/random_zoo_checkpoints.py runs/random-zoo
    make bench KODAK_DIR=../shared/data/kodak CHECKPOINTS=runs/random-zoo RESULTS=runs/random-zoo-results \\
        CODECS=jpeg,bmshj2018-factorized,bmshj2018-hyperprior,mbt2018,mbt2018-wavefront
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from wavefront_weights import save_random

from bench import study
from bench.learned import zoo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the checkpoints go (a --checkpoint-dir / CHECKPOINTS=)")
    parser.add_argument("--archs", default=",".join(study.ARCHITECTURES), help="(default: %(default)s)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    args.folder.mkdir(parents=True, exist_ok=True)
    for arch in args.archs.split(","):
        for label in study.POINTS:
            channels = zoo.channels(zoo.zoo_point(arch, label))
            path = save_random(args.folder, arch, (channels["N"], channels["M"]), label)
            print(f"{arch} {label}: N={channels['N']}, M={channels['M']} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
