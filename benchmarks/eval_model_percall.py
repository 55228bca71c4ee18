"""Per-call encode and decode times of the harness against CompressAI's ``eval_model``, like for like.

Both tools code the same Kodak images with the same Factorized Prior checkpoints (``../shared/weights``), on
the CPU, one torch thread, under the same heap (glibc's default: the harness's ``--allocator system``), one
encode and one decode per image and checkpoint (the harness: ``--repeats 1 --jobs 1``). Compared per call:

* wall time as each tool reports it: eval_model's per-image ``encoding_time``/``decoding_time`` (``--per-image``;
  ``time.time()`` around ``compress``/``decompress``) against the harness's ``encode_s``/``decode_s`` in
  ``rows.csv`` (its timed call of the codec's ``encode``/``decode``, bitstream container included);
* CPU time (user + system of the process) of the same calls: measured here around eval_model's
  ``compress``/``decompress`` and around the harness's timed call.

The two run in turn, ``--pairs`` times (at least 5), in an order that alternates from pair to pair; per pair
the ratio harness / eval_model of each call, then its median over the calls; the result is the median of the
pairs' medians with their range. Beside it, each tool's time outside its model calls: imports, its metrics, and
the rest (for the harness: warm-ups' forward passes, image loading and hashing, latent check, rate estimate,
rows and run file; for eval_model: image loading, padding, JSON), from the same instrumented runs (the
timers add a few microseconds a call to both). The whole-run ratio is not the target: the two tools do unequal
work (the harness warms up and checks what eval_model does not), so per call is what compares.

    .venv/bin/python benchmarks/eval_model_percall.py --kodak-dir ../shared/data/kodak   # 24 images, 4 λ, 5 pairs
    .venv/bin/python benchmarks/eval_model_percall.py --images 2 --labels lambda0.0130   # a check of the script
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learned_vs_eval_model import REPO, SHARED, quietly, timers  # noqa: E402  (the same plumbing)

ARCH = "bmshj2018-factorized"
LABELS = ("lambda0.0067", "lambda0.0130", "lambda0.0250", "lambda0.0483")
SIDES = (("encode", "compress"), ("decode", "decompress"))


def checkpoint(label: str) -> Path:
    return SHARED / "weights" / f"{ARCH}_N128-M192_{label}.pth"


def minor_faults() -> int:
    """This process's minor page faults so far (each a page of memory the kernel had to map and zero)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def recorder(calls: list[dict], context: dict):
    """``record(side, function)``: ``function`` wrapped to append its wall and CPU seconds and its minor page
    faults to ``calls``, with ``context``'s current labels (copied at the call)."""
    def record(side, function):
        def wrapper(*args, **kwargs):
            wall, cpu, faults = time.perf_counter(), time.process_time(), minor_faults()
            try:
                return function(*args, **kwargs)
            finally:
                calls.append({**context, "side": side, "wall_s": time.perf_counter() - wall,
                              "cpu_s": time.process_time() - cpu, "faults": minor_faults() - faults})
        return wrapper
    return record


def use_heap(mode: str) -> None:
    """Put this child under the heap policy ``mode`` before anything is imported or allocated: the very same
    ``mallopt`` calls for both tools (``bench.core.allocator``), so neither's history decides its heap."""
    sys.path.insert(0, str(REPO))
    from bench.core import allocator

    if mode != "system" and allocator.apply(mode) != mode:
        raise SystemExit(f"heap policy {mode!r} needs glibc's mallopt")


def harness_child(argv: list[str]) -> int:
    """The harness's ``run`` in this process: every model call and every timed call recorded; JSON out."""
    start, start_cpu = time.perf_counter(), time.process_time()
    use_heap(argv[argv.index("--allocator") + 1])
    from bench.cli import main
    from bench.core import evaluator, measure, registry
    from bench.learned import zoo

    registry.names()
    model_class = zoo.model_class(ARCH)  # imports compressai, as eval_model does before any work
    imports = time.perf_counter() - start
    model_calls: list[dict] = []
    timed_calls: list[dict] = []
    context: dict = {"point": None, "image": None, "timed": False, "n": 0}
    record = recorder(model_calls, context)
    model_class.compress = record("encode", model_class.compress)
    model_class.decompress = record("decode", model_class.decompress)
    spent = {"metrics": 0.0, "forward": 0.0}
    timer = timers(spent)
    model_class.forward = timer("forward", model_class.forward)  # the warm-ups' pass over every network, per shape
    evaluator.quality = timer("metrics", evaluator.quality)
    evaluator.reference_of = timer("metrics", evaluator.reference_of)

    def row_of(original):
        def coded_row(coder, image, *args, **kwargs):
            context.update(point=getattr(coder, "point", None), image=image.name, n=0)  # encode, then decode
            return original(coder, image, *args, **kwargs)
        return coded_row

    evaluator.code_row = row_of(evaluator.code_row)
    time_call = measure.time_call

    def timed_call(fn, *args, **kwargs):
        side = SIDES[min(context["n"], 1)][0]
        context.update(timed=True, n=context["n"] + 1)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return time_call(fn, *args, **kwargs)
        finally:
            timed_calls.append({"point": context["point"], "image": context["image"], "side": side,
                                "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})
            context["timed"] = False

    measure.time_call = timed_call
    status = quietly(main, argv)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    results = Path(argv[argv.index("--results") + 1])
    print(json.dumps({"status": status, "total_s": total, "total_cpu_s": total_cpu, "imports_s": imports,
                      "metrics_s": spent["metrics"], "forward_s": spent["forward"], "model_calls": model_calls,
                      "timed_calls": timed_calls,
                      "rows": str(next(results.glob("*/rows.csv")))}))
    return 0


def eval_model_child(argv: list[str]) -> int:
    """eval_model's main() in this process (under the heap policy of its first argument): every model call
    recorded; JSON out."""
    start, start_cpu = time.perf_counter(), time.process_time()
    use_heap(argv.pop(0))
    import compressai.utils.eval_model.__main__ as eval_model
    from compressai.zoo.image import model_architectures

    model_class = model_architectures[ARCH]
    imports = time.perf_counter() - start
    model_calls: list[dict] = []
    context: dict = {"timed": True}
    record = recorder(model_calls, context)
    model_class.compress = record("encode", model_class.compress)
    model_class.decompress = record("decode", model_class.decompress)
    spent = {"metrics": 0.0}
    eval_model.compute_metrics = timers(spent)("metrics", eval_model.compute_metrics)
    quietly(eval_model.main, argv)
    # eval_model goes checkpoint by checkpoint, image by image (sorted), compress then decompress
    images = [p.name for p in eval_model.collect_images(argv[1])]
    labels = [Path(p).name.removesuffix(".tar.pth") for p in argv[argv.index("-p") + 1:argv.index("-d")]]
    order = [(label, image) for label in labels for image in images]
    for i, call in enumerate(model_calls):
        call["point"], call["image"] = order[i // 2]
    print(json.dumps({"total_s": time.perf_counter() - start, "total_cpu_s": time.process_time() - start_cpu,
                      "imports_s": imports, "metrics_s": spent["metrics"], "model_calls": model_calls}))
    return 0


def child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], cwd=REPO, env=env, check=True, capture_output=True,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_call(harness: dict, theirs: dict, reported: dict) -> dict[tuple[str, str], list[float]]:
    """(side, clock) → the ratio harness / eval_model of each call, over the (point, image, side) both have."""
    import pandas as pd

    rows = pd.read_csv(harness["rows"])
    ours_wall = {(r.point, r.image, side): getattr(r, f"{side}_s") for r in rows.itertuples() for side, _ in SIDES}
    ours_cpu = {(c["point"], c["image"], c["side"]): c["cpu_s"] for c in harness["timed_calls"]}
    their_cpu = {(c["point"], c["image"], c["side"]): c["cpu_s"] for c in theirs["model_calls"]}
    ratios: dict[tuple[str, str], list[float]] = {}
    for key, their_wall in reported.items():
        side = key[2]
        if key in ours_wall:
            ratios.setdefault((side, "wall"), []).append(ours_wall[key] / their_wall)
        if key in ours_cpu and key in their_cpu:
            ratios.setdefault((side, "CPU"), []).append(ours_cpu[key] / their_cpu[key])
    return ratios


def reported_times(folder: Path) -> dict[tuple[str, str, str], float]:
    """eval_model's own per-image times (``--per-image`` files ``<image>-<label>-ans.json``)."""
    out = {}
    for path in folder.rglob("*.json"):
        data = json.loads(path.read_text())
        if "source" not in data:  # the averages' file
            continue
        label = path.stem.removeprefix(f"{data['source']}-").rsplit("-", 1)[0]
        for side, _ in SIDES:
            out[(label, f"{data['source']}.png", side)] = data["results"][f"{side.removesuffix('e')}ing_time"]
    return out


def outside(tool: dict) -> dict[str, float]:
    """A run's wall time: its model calls (those it times, the others), and outside them: imports, metrics,
    warm-ups' forward passes (the harness's only), the rest."""
    model = sum(c["wall_s"] for c in tool["model_calls"])
    timed = sum(c["wall_s"] for c in tool["model_calls"] if c.get("timed"))
    parts = {"imports": tool["imports_s"], "metrics": tool["metrics_s"], "warm-up forward": tool.get("forward_s", 0.0)}
    return {"total": tool["total_s"], "timed model calls": timed, "other model calls": model - timed, **parts,
            "rest": tool["total_s"] - model - sum(parts.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kodak-dir", type=Path, default=SHARED / "data" / "kodak")
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images (default: all 24)")
    parser.add_argument("--labels", default=",".join(LABELS), help="λ labels of ../shared/weights (default: all four)")
    parser.add_argument("--pairs", type=int, default=5, help="interleaved harness / eval_model pairs (at least 5)")
    parser.add_argument("--heap", choices=("system", "caching"), default="system",
                        help="the heap policy of both tools (bench.core.allocator), applied before either imports "
                             "anything (default: system, glibc as it is, eval_model's own conditions)")
    parser.add_argument("--out", type=Path, help="also write every call's times here (JSON)")
    parser.add_argument("--harness-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--eval-model-child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.harness_child is not None:
        return harness_child(args.harness_child)
    if args.eval_model_child is not None:
        return eval_model_child(args.eval_model_child)
    if args.pairs < 5:
        parser.error("--pairs must be at least 5: a median ratio with its range needs several interleaved pairs")
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    missing = [str(checkpoint(label)) for label in labels if not checkpoint(label).is_file()]
    if missing:
        parser.error(f"no checkpoint {', '.join(missing)}; --labels takes the λ labels of ../shared/weights")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    pairs = []
    with tempfile.TemporaryDirectory(prefix="eval-model-percall-") as tmp:
        tmp_path = Path(tmp)
        images, links = tmp_path / "images", tmp_path / "checkpoints"
        images.mkdir()
        links.mkdir()
        for path in sorted(args.kodak_dir.glob("kodim*.png"))[: args.images]:
            (images / path.name).symlink_to(path.resolve())
        for label in labels:  # eval_model names a checkpoint by its file name less ".tar.pth"
            (links / f"{label}.tar.pth").symlink_to(checkpoint(label))
        count = len(list(images.iterdir()))
        print(f"{ARCH} on {count} Kodak images × {len(labels)} λ ({', '.join(labels)}), CPU, 1 thread, "
              f"{args.heap} heap for both, {args.pairs} interleaved pairs", flush=True)
        for pair in range(args.pairs):
            out = Path(tempfile.mkdtemp(dir=tmp))
            harness = ["--harness-child", "run", "--data", str(images), "--codecs", ARCH,
                       *(a for label in labels for a in ("--checkpoint", f"{ARCH}:{label}={checkpoint(label)}")),
                       "--padding", "eval_model", "--device", "cpu", "--threads", "1", "--repeats", "1", "--jobs",
                       "1", "--allocator", args.heap, "--results", str(out / "results"), "--no-progress"]
            theirs = ["--eval-model-child", args.heap, "checkpoint", str(images), "-a", ARCH, "-p",
                      *(str(links / f"{label}.tar.pth") for label in labels), "-d", str(out / "eval_model"),
                      "--per-image"]
            order = [("harness", harness), ("eval_model", theirs)][:: 1 if pair % 2 == 0 else -1]
            done = {name: child(command, env) for name, command in order}
            ratios = per_call(done["harness"], done["eval_model"], reported_times(out / "eval_model"))
            pairs.append({"first": order[0][0], "ratios": ratios, "harness": done["harness"],
                          "eval_model": done["eval_model"]})
            print(f"  pair {pair + 1} ({order[0][0]} first): " + "; ".join(
                f"{side} {clock} {statistics.median(v):.3f} ({min(v):.3f}–{max(v):.3f}, {len(v)} calls)"
                for (side, clock), v in sorted(ratios.items())), flush=True)
    print("median over pairs of each pair's median ratio harness / eval_model per call (range over pairs):")
    for side, _ in SIDES:
        for clock in ("wall", "CPU"):
            medians = [statistics.median(p["ratios"][(side, clock)]) for p in pairs if (side, clock) in p["ratios"]]
            print(f"  {side} {clock:4}: {statistics.median(medians):.3f} ({min(medians):.3f}–{max(medians):.3f})")
    print("minor page faults per timed model call, median (range) over every call of every pair:")
    for tool in ("harness", "eval_model"):
        print(f"  {tool:10}: " + "; ".join(
            f"{side} {statistics.median(f):,.0f} ({min(f):,}–{max(f):,})" for side, _ in SIDES
            if (f := [c["faults"] for p in pairs for c in p[tool]["model_calls"] if c.get("timed")
                      and c["side"] == side])))
    print("each tool's run, median over pairs [s]:")
    for tool in ("harness", "eval_model"):
        parts = [outside(p[tool]) for p in pairs]
        beyond = statistics.median(x["total"] - x["timed model calls"] - x["other model calls"] for x in parts)
        print(f"  {tool:10}: " + ", ".join(f"{k} {statistics.median(x[k] for x in parts):.2f}" for k in parts[0])
              + f"; outside model calls {beyond:.2f}")
    if args.out:
        args.out.write_text(json.dumps([{**p, "ratios": {f"{s} {c}": v for (s, c), v in p["ratios"].items()}}
                                        for p in pairs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
