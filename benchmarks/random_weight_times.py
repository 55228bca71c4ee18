"""The times-only table of the full-study script's random-weight models, from their run's summary.

    python benchmarks/random_weight_times.py runs/full-study/random-weights/kodak/summary.csv OUT.csv

Keeps each codec × point's mean encode and decode times (95 % CI half-widths over the timed images, the
repeatability sample's median relative spread) and labels every row: random weights do the zoo models'
work at the zoo's sizes, so their times are real, but their rates and distortions are not results.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

LABEL = "random-initialised at the zoo's channel counts: times only"
COLUMNS = ["codec", "point", "weights", "timed_images", "encode_s", "encode_ci_s", "decode_s", "decode_ci_s",
           "repeated_rows", "encode_repeat", "decode_repeat", "derived_images", "host"]


def main(summary: Path, out: Path) -> int:
    table = pd.read_csv(summary)
    table["weights"] = LABEL
    table[COLUMNS].to_csv(out, index=False)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
