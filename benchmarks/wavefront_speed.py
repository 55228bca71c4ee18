"""Encode and decode time of mbt2018: CompressAI's loop vs the wavefront coder vs the scale hyperprior.

On the CPU, one thread (``--threads``), under one heap policy (``--allocator``, as the harness's
``bench.core.allocator``; the policy is process-wide, so run the script once per policy), the
harness's coders of the same random-initialised weights (``wavefront_weights.py``; one λ label,
``--label``) code the first ``--images`` Kodak images:

* ``reference``: ``mbt2018`` (CompressAI's ``compress``/``decompress``, one position at a time);
* ``wavefront-exact`` / ``wavefront-fast``: ``mbt2018-wavefront`` with either numerics;
* ``hyperprior``: ``bmshj2018-hyperprior`` of the same N, M — the decode time an autoregressive
  model would have without its context model (what the wavefront decoder is compared with).

Each coder is warmed up once per image shape (``Coder.warm_up``), then each image is encoded and
decoded ``--repeats`` times (median); the coders take turns image by image, so a change of load
hits all of them. Ratios are per image, then their median, of wall time and of CPU time (user +
system of this one-thread process, which a busy machine disturbs less); the targets of issue 16 are
shown next to them. The executed and effective MACs of the context model and entropy-parameter network are
printed for both coders (fvcore's count of the dense layer; the wavefront coder's gathered crops).

    .venv/bin/python benchmarks/wavefront_speed.py --images 4 --allocator caching
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wavefront_weights as ww

CODERS = ("reference", "wavefront-exact", "wavefront-fast", "hyperprior")
TARGETS = (
    ("decode: reference / wavefront", "reference", "decode", "/", "≥ 5"),
    ("decode: wavefront / hyperprior", "hyperprior", "decode", "*", "≤ 1.3"),
    ("encode: reference / wavefront", "reference", "encode", "/", "≥ 2.5"),
)


def timed(function, repeats: int) -> tuple[float, float]:
    """Median wall and CPU (user + system of this process) seconds of ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def macs_table(config: tuple[int, int], height: int = 512, width: int = 768) -> list[str]:
    """Context model and entropy-parameter MACs per image: the reference's executed/effective, the wavefront's."""
    from compressai.models import JointAutoregressiveHierarchicalPriors

    from bench.learned.macs import count_model
    from bench.learned.wavefront import executed_macs

    count = count_model("mbt2018", {"N": config[0], "M": config[1]}, height=height, width=width)
    model = JointAutoregressiveHierarchicalPriors(N=config[0], M=config[1])
    latent = (-(-height // 64) * 4, -(-width // 64) * 4)
    lines = [f"MACs per {width}×{height} image, N={config[0]}, M={config[1]} (G = 10⁹):",
             f"{'coder':<22}{'context executed':>18}{'effective':>12}{'entropy params':>16}"]
    ctx, ep = count.parts["context_prediction"], count.parts["entropy_parameters"]
    lines.append(f"{'reference (per pos.)':<22}{ctx.macs / 1e9:>17.3f}G{ctx.effective_macs / 1e9:>11.3f}G"
                 f"{ep.macs / 1e9:>15.3f}G")
    for numerics in ("exact", "fast"):
        ours = executed_macs(model, *latent, numerics=numerics)
        lines.append(f"{'wavefront-' + numerics:<22}{ours['context_prediction'] / 1e9:>17.3f}G"
                     f"{ctx.effective_macs / 1e9:>11.3f}G{ours['entropy_parameters'] / 1e9:>15.3f}G")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", help="the Kodak PNGs (default $BENCH_KODAK_DIR)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--label", default="lambda0.0130", choices=ww.LABELS)
    parser.add_argument("--config", default="128x192", help="N×M (default 128x192)")
    parser.add_argument("--allocator", default="caching", choices=("caching", "system"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per image and direction (median)")
    parser.add_argument("--reference-repeats", type=int, default=1, help="the same for CompressAI's loop (~20× "
                        "slower: its spread is small next to its time)")
    parser.add_argument("--skip-reference", action="store_true", help="time only the wavefront and hyperprior "
                        "coders (the reference loop takes ~10–30 s per image and direction)")
    parser.add_argument("--weights-dir", type=Path, default=Path("/tmp/wavefront-weights"))
    args = parser.parse_args()

    from bench.core.allocator import apply

    allocator = apply(args.allocator)
    import torch

    from bench.core import registry

    torch.set_num_threads(args.threads)
    config = ww.parse_config(args.config)
    source = ww.source(args.weights_dir / args.config, ("mbt2018", "bmshj2018-hyperprior"), config, (args.label,))
    common = {"device": "cpu", "weights": source}
    coders = {
        "reference": registry.create("mbt2018", common).coder(args.label),
        "wavefront-exact": registry.create("mbt2018-wavefront", {**common, "numerics": "exact"}).coder(args.label),
        "wavefront-fast": registry.create("mbt2018-wavefront", {**common, "numerics": "fast"}).coder(args.label),
        "hyperprior": registry.create("bmshj2018-hyperprior", common).coder(args.label),
    }
    if args.skip_reference:
        del coders["reference"]
    images = ww.kodak_images(args.kodak_dir, args.images)
    print(f"{len(images)} Kodak images, N={config[0]} M={config[1]} random init ({args.label}), CPU, "
          f"{args.threads} thread(s), heap {allocator}, median of {args.repeats} ({args.reference_repeats} for the "
          "reference)", flush=True)
    warm: set[tuple[str, tuple[int, ...]]] = set()
    times: dict[str, dict[str, list[tuple[float, float]]]] = {c: {"encode": [], "decode": []} for c in coders}
    for name, image in images:
        line = [f"{name}:"]
        for label, coder in coders.items():
            if (label, image.shape) not in warm:
                coder.warm_up(image)
                warm.add((label, image.shape))
            holder = {}
            repeats = args.reference_repeats if label == "reference" else args.repeats
            encode = timed(lambda c=coder, i=image, h=holder: h.__setitem__("data", c.encode(i)), repeats)
            decode = timed(lambda c=coder, h=holder: c.decode(h["data"]), repeats)
            times[label]["encode"].append(encode)
            times[label]["decode"].append(decode)
            line.append(f"{label} {encode[0]:.2f}/{decode[0]:.2f} s")
        print("  ".join(line) + "  (encode/decode, wall)", flush=True)

    print("\nmean s            encode wall   cpu    decode wall   cpu")
    for label in coders:
        enc, dec = times[label]["encode"], times[label]["decode"]
        print(f"{label:<16}{statistics.mean(t[0] for t in enc):>12.3f}{statistics.mean(t[1] for t in enc):>7.3f}"
              f"{statistics.mean(t[0] for t in dec):>13.3f}{statistics.mean(t[1] for t in dec):>7.3f}")
    print("\nratio (median over images)        wall: exact   fast    cpu: exact   fast   target")
    for title, other, side, how, target in TARGETS:
        if other not in coders:
            continue
        values = []
        for clock in (0, 1):
            for numerics in ("exact", "fast"):
                ours = [t[clock] for t in times[f"wavefront-{numerics}"][side]]
                theirs = [t[clock] for t in times[other][side]]
                ratios = [t / o if how == "/" else o / t for o, t in zip(ours, theirs)]
                values.append(statistics.median(ratios))
        print(f"{title:<36}{values[0]:>10.2f}{values[1]:>7.2f}{values[2]:>12.2f}{values[3]:>7.2f}   {target}")
    print()
    print("\n".join(macs_table(config)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
