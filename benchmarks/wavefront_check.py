"""The wavefront coder against CompressAI's own loop on Kodak: ŷ, pixels and size, every image × λ × layout.

For each (N, M) layout and λ label (random-initialised stand-ins, ``wavefront_weights.py``) and each
image, the reference codec (``mbt2018``: CompressAI's ``compress``/``decompress``) and
``mbt2018-wavefront`` (``--numerics``, default exact) code the image through the harness's coders:

* ``enc=dec``: the wavefront decoder's ŷ equals its encoder's (the harness's latent check);
* ``ŷ=ref``: the wavefront decoder's ŷ equals the reference decoder's, bit for bit;
* ``pixels``: the decoded images are identical (and with ``max|Δ|`` when not);
* ``Δbytes``: wavefront − reference bitstream bytes (the coder byte included), and the payloads'
  difference in % (must be within 0.1 %).

CompressAI's loop takes ~10–40 s per image and direction on one CPU thread, so the full run
(24 images × 4 labels × 2 layouts) takes hours: run it in the background, or on a subset
(``--images 3``). Exit status 1 if any check fails.

    nohup nice -n 10 .venv/bin/python benchmarks/wavefront_check.py --images 3 > wavefront_check.log &
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wavefront_weights as ww

TOLERANCE = 0.001


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", help="the Kodak PNGs (default $BENCH_KODAK_DIR)")
    parser.add_argument("--images", type=int, default=None, help="N images (default all 24)")
    parser.add_argument("--start", type=int, default=0, help="skip the first START images (default 0)")
    parser.add_argument("--crop", help="code the top-left HxW of each image instead (e.g. 517x333, which pads "
                        "to 576×384)")
    parser.add_argument("--labels", default=",".join(ww.LABELS), help="λ labels (default the study's four)")
    parser.add_argument("--configs", default="128x192,192x320", help="N×M layouts (default 128x192,192x320)")
    parser.add_argument("--arch", default="mbt2018", help="mbt2018 (default), cheng2020-anchor, cheng2020-attn "
                        "(for cheng2020 the layout's N is used, M = N)")
    parser.add_argument("--numerics", default="exact", choices=("exact", "fast"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights-dir", type=Path, help="keep the random checkpoints here (default: a temporary folder)")
    parser.add_argument("--csv", type=Path, help="also write the rows here")
    args = parser.parse_args()

    import torch

    from bench.core import registry
    from bench.learned.bitstream import parse

    torch.set_num_threads(args.threads)
    images = ww.kodak_images(args.kodak_dir, None)[args.start:]
    images = images[:args.images] if args.images else images
    if args.crop:
        height, width = ww.parse_config(args.crop)
        images = [(f"{name}[:{height},:{width}]", image[:height, :width].copy()) for name, image in images]
    labels = tuple(args.labels.split(","))
    rows = []
    header = ("config", "label", "image", "bpp", "ref_bytes", "wf_bytes", "d_bytes", "d_payload_pct", "enc=dec",
              "y=ref", "pixels", "max_abs_diff", "ref_s", "wf_s")
    print(" ".join(f"{h:>13}" for h in header), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.weights_dir or Path(tmp)
        for config in map(ww.parse_config, args.configs.split(",")):
            if args.arch.startswith("cheng2020"):
                config = (config[0], config[0])
            source = ww.source(folder / f"{config[0]}x{config[1]}", (args.arch,), config, labels)
            for label in labels:
                common = {"device": "cpu", "weights": source}
                reference = registry.create(args.arch, common).coder(label)
                coder = registry.create(f"{args.arch}-wavefront", {**common, "numerics": args.numerics}).coder(label)
                for name, image in images:
                    start = time.perf_counter()
                    data_ref = reference.encode(image)
                    pixels_ref = reference.decode(data_ref)
                    ref_s = time.perf_counter() - start
                    start = time.perf_counter()
                    data = coder.encode(image)
                    pixels = coder.decode(data)
                    wf_s = time.perf_counter() - start
                    y_ref, y = reference.capture.data["decode"]["y_hat"], coder.capture.data["decode"]["y_hat"]
                    payload_ref, payload = parse(data_ref).payload_bytes, parse(data).payload_bytes
                    same = bool(np.array_equal(pixels, pixels_ref))
                    row = {
                        "config": f"{config[0]}x{config[1]}", "label": label, "image": name,
                        "bpp": round(8 * len(data) / (image.shape[0] * image.shape[1]), 4),
                        "ref_bytes": len(data_ref), "wf_bytes": len(data), "d_bytes": len(data) - len(data_ref),
                        "d_payload_pct": round(100 * (payload - payload_ref) / payload_ref, 4),
                        "enc=dec": coder.latent_problem() is None, "y=ref": bool(torch.equal(y, y_ref)),
                        "pixels": same,
                        "max_abs_diff": 0 if same else int(np.abs(pixels.astype(int) - pixels_ref).max()),
                        "ref_s": round(ref_s, 2), "wf_s": round(wf_s, 2),
                    }
                    rows.append(row)
                    print(" ".join(f"{row[h]!s:>13}" for h in header), flush=True)
    failed = [r for r in rows if not (r["enc=dec"] and r["y=ref"] and r["pixels"]
                                      and abs(r["d_payload_pct"]) <= 100 * TOLERANCE)]
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    worst = max(abs(r["d_payload_pct"]) for r in rows)
    speed = sum(r["ref_s"] for r in rows) / max(sum(r["wf_s"] for r in rows), 1e-9)
    print(f"\n{len(rows)} image × label × layout cases ({args.arch}, {args.numerics} numerics): "
          f"{sum(r['enc=dec'] for r in rows)} enc=dec, {sum(r['y=ref'] for r in rows)} ŷ=reference, "
          f"{sum(r['pixels'] for r in rows)} pixel-identical; largest payload difference {worst:.4f} % "
          f"(tolerance {100 * TOLERANCE:.1f} %); round trip {speed:.1f}× faster than the reference")
    print("ALL CHECKS PASSED" if not failed else f"{len(failed)} CASES FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
