"""Wall time of the harness's learned-codec run against CompressAI's ``eval_model``, side by side.

For each architecture both tools code the same Kodak images with the same checkpoint, one thread,
on the CPU, one encode and one decode per image (the harness: ``--repeats 1``; it also runs one
untimed warm-up per image shape, the latent check and the rate estimate, and scores float64
MS-SSIM), starting from an empty results folder every time. The harness runs once per heap policy
(``--allocator``): ``system``, its default (glibc's, eval_model's conditions), and ``caching``
(opt-in) — so the table shows how much of the difference is the allocator and how much is the
harness. The commands of one pair run in turn, in an order that rotates from pair to pair, so a
change of machine load hits all of them; the ratio per pair is reported, of wall time and of CPU
time (user + system, which a busy machine disturbs less).

Then one harness run is instrumented (in a process of its own): timers around CompressAI's
``compress``/``decompress`` (every call, the warm-ups' crop round trips included), ``forward`` (the
warm-ups' pass over every network, once per image shape), the quality metrics and the integrity
check; the rest — interpreter imports, image loading and hashing, tensor conversion and padding,
bitstream packing and checks, result rows, progress — is the harness's overhead. One eval_model run
is instrumented the same way (its ``compress``/``decompress`` and ``compute_metrics``), so the two
tools' model-call times sit side by side.

Weights: only the factorized prior has real trained weights offline (``../shared/weights``). The
hyperprior and mbt2018 runs use random-initialised models (N=128, M=192, the zoo's quality 1–5
layout) saved as checkpoints. The network's cost depends only on its layout and the image size, not on
the values of the weights; the entropy coder's cost depends on the number of symbols (fixed by the
shape) and mildly on the rate, which random weights do not reproduce — so compare the two tools on
the same weights (the ratio), not these absolute times against trained models.

    .venv/bin/python benchmarks/learned_vs_eval_model.py --kodak-dir ../shared/data/kodak \\
        --archs bmshj2018-factorized --pairs 2
    .venv/bin/python benchmarks/learned_vs_eval_model.py --kodak-dir ../shared/data/kodak \\
        --archs bmshj2018-hyperprior,mbt2018 --images 4 --pairs 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
LABEL = "lambda0.0130"
TRAINED = {"bmshj2018-factorized": SHARED / "weights" / "bmshj2018-factorized_N128-M192_lambda0.0130.pth"}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def random_checkpoint(arch: str, folder: Path) -> Path:
    """A random-initialised N=128/M=192 model of ``arch``, saved like a trained one."""
    import warnings

    import torch

    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated", category=FutureWarning)
    sys.path.insert(0, str(REPO))
    from bench.learned import zoo

    torch.manual_seed(0)
    model = zoo.model_class(arch)(N=128, M=192).eval()
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64))  # masks the context model's weights, as training does
    model.update(force=True)
    path = folder / f"{arch}_N128-M192_random.pth"
    torch.save(model.state_dict(), path)
    return path


def harness_args(arch: str, checkpoint: Path, images: Path, results: str, threads: int, allocator: str
                 ) -> list[str]:
    return ["run", "--data", str(images), "--codecs", arch, "--checkpoint", f"{arch}:{LABEL}={checkpoint}",
            "--padding", "eval_model", "--device", "cpu", "--threads", str(threads), "--repeats", "1",
            "--jobs", "1", "--allocator", allocator, "--results", results, "--no-progress"]


def timers(spent: dict[str, float]):
    """``timer(kind, function)``: ``function`` wrapped to add its wall time to ``spent[kind]``; a call
    inside another timed call (e.g. verify re-encoding) is counted in the outer one only."""
    depth = [0]

    def timer(kind, function):
        def wrapper(*args, **kwargs):
            if depth[0]:
                return function(*args, **kwargs)
            depth[0] += 1
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[kind] += time.perf_counter() - begin
                depth[0] -= 1
        return wrapper
    return timer


def quietly(function, argv: list[str]):
    """``function(argv)`` with its standard output discarded (the JSON line is the child's only output)."""
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            return function(argv)
        finally:
            sys.stdout = stdout


def profile_child(argv: list[str]) -> int:
    """Run the harness's main() in this process with timers; print the breakdown as JSON."""
    start = time.perf_counter()
    sys.path.insert(0, str(REPO))
    from bench.core import evaluator
    from bench.core import registry
    from bench.learned import zoo
    from bench.learned.adapter import CompressionModelCoder
    from bench.cli import main

    arch = argv[argv.index("--codecs") + 1]
    registry.names()  # loads the plug-ins
    model_class = zoo.model_class(arch)  # imports compressai, as eval_model does before any work
    imports = time.perf_counter() - start
    spent = {"model": 0.0, "warm_up": 0.0, "metrics": 0.0, "verify": 0.0}
    timer = timers(spent)
    model_class.compress = timer("model", model_class.compress)
    model_class.decompress = timer("model", model_class.decompress)
    model_class.forward = timer("warm_up", model_class.forward)  # the warm-up's pass over every network, per shape
    evaluator.quality = timer("metrics", evaluator.quality)
    evaluator.reference_of = timer("metrics", evaluator.reference_of)  # the MS-SSIM reference pyramid
    CompressionModelCoder.verify = timer("verify", CompressionModelCoder.verify)
    status = quietly(main, argv)
    total = time.perf_counter() - start
    overhead = total - sum(spent.values())
    print(json.dumps({"status": status, "total_s": total, "imports_s": imports,
                      **{f"{k}_s": v for k, v in spent.items()},
                      "overhead_s": overhead, "overhead_without_imports_s": overhead - imports}))
    return 0


def profile_eval_model_child(argv: list[str]) -> int:
    """Run eval_model's main() in this process with timers around the model's compress/decompress and
    its metrics; print them as JSON (the other side of the instrumented comparison)."""
    start = time.perf_counter()
    import compressai.utils.eval_model.__main__ as eval_model
    from compressai.zoo.image import model_architectures

    model_class = model_architectures[argv[argv.index("-a") + 1]]
    imports = time.perf_counter() - start
    spent = {"model": 0.0, "metrics": 0.0}
    timer = timers(spent)
    model_class.compress = timer("model", model_class.compress)
    model_class.decompress = timer("model", model_class.decompress)
    eval_model.compute_metrics = timer("metrics", eval_model.compute_metrics)
    quietly(eval_model.main, argv)
    total = time.perf_counter() - start
    print(json.dumps({"total_s": total, "imports_s": imports, **{f"{k}_s": v for k, v in spent.items()}}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", type=Path, default=SHARED / "data" / "kodak")
    parser.add_argument("--archs", default="bmshj2018-factorized,bmshj2018-hyperprior,mbt2018")
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images (default: all 24)")
    parser.add_argument("--pairs", type=int, default=2, help="alternating harness / eval_model pairs per arch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of both (eval_model forces 1)")
    parser.add_argument("--allocators", default="system,caching",
                        help="heap policies the harness runs under, each against eval_model (default: %(default)s)")
    parser.add_argument("--no-profile", action="store_true", help="skip the instrumented harness run")
    parser.add_argument("--profile-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--profile-eval-model-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_child is not None:
        return profile_child(args.profile_child)
    if args.profile_eval_model_child is not None:
        return profile_eval_model_child(args.profile_eval_model_child)
    if args.threads != 1:
        parser.error("eval_model always runs with 1 thread; compare at --threads 1")
    allocators = [a.strip() for a in args.allocators.split(",") if a.strip()]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory(prefix="learned-vs-eval-model-") as tmp:
        tmp_path = Path(tmp)
        images = tmp_path / "kodak"
        images.mkdir()
        for path in sorted(args.kodak_dir.glob("kodim*.png"))[: args.images]:
            (images / path.name).symlink_to(path.resolve())
        count = len(list(images.iterdir()))
        for arch in [a.strip() for a in args.archs.split(",") if a.strip()]:
            checkpoint = TRAINED.get(arch) or random_checkpoint(arch, tmp_path)
            weights = "trained" if arch in TRAINED else "random-initialised"
            theirs = [sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(images), "-a", arch,
                      "-p", str(checkpoint)]
            print(f"{arch} ({weights} weights, {count} Kodak images, {args.threads} thread, CPU):", flush=True)
            ratios: dict[str, list[tuple[float, float]]] = {mode: [] for mode in allocators}
            for pair in range(args.pairs):
                commands = [("eval_model", theirs)]
                with tempfile.TemporaryDirectory(dir=tmp) as results:
                    for mode in allocators:
                        out = tempfile.mkdtemp(dir=results)
                        commands.append((mode, [sys.executable, "-m", "bench",
                                                *harness_args(arch, checkpoint, images, out, 1, mode)]))
                    shift = pair % len(commands)  # rotate which one goes first
                    times = {name: timed(command, env) for name, command in commands[shift:] + commands[:shift]}
                base = times["eval_model"]
                line = f"  pair {pair + 1}: eval_model {base[0]:7.2f} s (CPU {base[1]:7.2f} s)"
                for mode in allocators:
                    wall, cpu = times[mode]
                    ratios[mode].append((wall / base[0], cpu / base[1]))
                    line += f" | harness {mode} {wall:7.2f} s, ratio {wall / base[0]:.3f} (CPU {cpu / base[1]:.3f})"
                print(line, flush=True)
            for mode in allocators:
                wall = statistics.median(r[0] for r in ratios[mode])
                cpu = statistics.median(r[1] for r in ratios[mode])
                print(f"  median ratio harness ({mode} heap) / eval_model: {wall:.3f} wall, {cpu:.3f} CPU time",
                      flush=True)
            if args.no_profile:
                continue
            with tempfile.TemporaryDirectory(dir=tmp) as results:
                child = [sys.executable, __file__, "--profile-child",
                         *harness_args(arch, checkpoint, images, results, 1, allocators[0])]
                done = subprocess.run(child, cwd=REPO, env=env, check=True, capture_output=True, text=True)
            p = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  one instrumented harness run ({allocators[0]} heap): {p['total_s']:.2f} s = model calls "
                  f"{p['model_s']:.2f} s + warm-ups' forward passes {p['warm_up_s']:.2f} s + metrics "
                  f"{p['metrics_s']:.2f} s + integrity check {p['verify_s']:.2f} s "
                  f"+ overhead {p['overhead_s']:.2f} s ({100 * p['overhead_s'] / p['total_s']:.1f} %; "
                  f"of which torch + compressai imports, which eval_model pays alike, {p['imports_s']:.2f} s; "
                  "without them "
                  f"{100 * p['overhead_without_imports_s'] / p['total_s']:.1f} %)", flush=True)
            child = [sys.executable, __file__, "--profile-eval-model-child", *theirs[3:]]
            done = subprocess.run(child, cwd=REPO, env=env, check=True, capture_output=True, text=True)
            e = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  one instrumented eval_model run: {e['total_s']:.2f} s = model calls {e['model_s']:.2f} s + "
                  f"metrics {e['metrics_s']:.2f} s + imports {e['imports_s']:.2f} s + the rest "
                  f"{e['total_s'] - e['model_s'] - e['metrics_s'] - e['imports_s']:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
