"""Every learned codec on CUDA: synchronised timings, reference vs wavefront, and a cross-device probe.

Run through ``benchmarks/gpu_check.sh OUTDIR`` (a time limit around this script). Without a CUDA
device it writes ``OUTDIR/gpu_check.json`` with ``"status": "no-cuda"`` and exits with status 2.

1. **Timings**: every registered learned codec (the CompressAI architectures and the wavefront codecs,
   both numerics) with random-initialised weights (N=128, M=192; cheng2020 N=128), on ``--images``
   images (Kodak when ``BENCH_KODAK_DIR`` is set, else synthetic 768×512 ones), device ``cuda``:
   warm-up per image shape, then encode and decode timed with ``torch.cuda.synchronize()`` before
   starting and before stopping the clock (the codec's own ``synchronize``), median of ``--repeats``.
   The harness's latent check (encoder ŷ = decoder ŷ on the GPU) is recorded for each.
2. **Reference vs wavefront on CUDA**: the decoders' ŷ and pixels compared for mbt2018 and cheng2020
   (bit-identity with the reference is a CPU property of the ``exact`` numerics; on CUDA a mismatch is
   expected and recorded, not an error).
3. **Cross-device probe**: encode on CUDA, decode the same bytes on the CPU with the same weights
   (on a crop, ``--probe-size``): ŷ and pixels compared, a decoding error recorded. Mismatches are
   expected for the hyperprior models (the scales come from h_s on another device) and are what this
   probe documents.

Work is done cheapest first and stops at ``--budget-s``; what was left is listed as skipped.
Results: ``gpu_check.json`` (everything), ``gpu_check.csv`` (one row per codec × image × step).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wavefront_weights as ww

LABEL = "lambda0.0130"
CONFIG = (128, 192)
AR_ARCHS = ("mbt2018", "cheng2020-anchor", "cheng2020-attn")


def synthetic_images(count: int) -> list[tuple[str, np.ndarray]]:
    """Smooth images with edges and noise, 512×768 (Kodak's landscape size)."""
    out = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:512, 0:768].astype(np.float64)
        base = 128 + 60 * np.sin(xx / 17.0 + seed) * np.cos(yy / 23.0)
        image = np.stack([base, np.roll(base, 7, axis=1), 255 - base], axis=-1) + rng.normal(0, 6, (512, 768, 3))
        out.append((f"synthetic{seed}", np.clip(np.rint(image), 0, 255).astype(np.uint8)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--probe-size", type=int, default=256, help="side of the crop of the cross-device probe")
    parser.add_argument("--budget-s", type=float, default=420.0, help="stop starting new work after this long")
    parser.add_argument("--size", type=int, default=None, help="crop the images to SIZE×SIZE (default: whole)")
    parser.add_argument("--device", default="cuda", help="cuda (default); cpu runs the same steps on the CPU, "
                        "to try the script on a machine without a GPU")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {"status": "ok", "python": platform.python_version(), "rows": [], "skipped": [],
                              "errors": []}

    import torch

    report["torch"] = torch.__version__
    if args.device == "cuda" and not torch.cuda.is_available():
        report["status"] = "no-cuda"
        (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1) + "\n")
        print("gpu_check: torch sees no CUDA device; nothing measured (run it on a machine with a GPU)")
        return 2
    if args.device == "cuda":
        report.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version())
    report["device"] = args.device

    import compressai

    from bench.core import registry
    from bench.learned import zoo

    report["compressai"] = compressai.__version__
    kodak = os.environ.get("BENCH_KODAK_DIR")
    images = (ww.kodak_images(kodak, args.images) if kodak and Path(kodak).is_dir()
              else synthetic_images(args.images))
    if args.size:
        images = [(name, image[:args.size, :args.size].copy()) for name, image in images]
    report["images"] = [name for name, _ in images]
    wavefront_names = [n for n in registry.names() if n.endswith("-wavefront")]
    rows: list[dict[str, Any]] = report["rows"]

    def over_budget(what: str) -> bool:
        if time.perf_counter() - started > args.budget_s:
            report["skipped"].append(what)
            return True
        return False

    def record(**row: Any) -> None:
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        archs = tuple(zoo.ARCHITECTURES)
        source = ww.source(folder, archs, CONFIG, (LABEL,))

        def coder(name: str, device: str, **options: Any):
            return registry.create(name, {"device": device, "weights": source, **options}).coder(LABEL)

        plan = [(name, {}) for name in archs if name not in AR_ARCHS]
        plan += [(name, {"numerics": numerics}) for name in wavefront_names for numerics in ("exact", "fast")]
        plan += [(name, {}) for name in AR_ARCHS]  # the per-position loops last: the slowest
        gpu_decoded: dict[tuple[str, str, str], Any] = {}
        # 1 + 2: timings and latent checks on CUDA
        for name, options in plan:
            label = name + (f":{options['numerics']}" if options else "")
            if over_budget(f"timing {label}"):
                continue
            try:
                c = coder(name, args.device, **options)
                sync = c.codec.synchronize() or (lambda: None)
                for image_name, image in images:
                    c.warm_up(image)
                    enc, dec = [], []
                    data = b""
                    for _ in range(args.repeats):
                        sync()
                        start = time.perf_counter()
                        data = c.encode(image)
                        sync()
                        enc.append(time.perf_counter() - start)
                        start = time.perf_counter()
                        pixels = c.decode(data)
                        sync()
                        dec.append(time.perf_counter() - start)
                    problem = c.latent_problem()
                    y = c.capture.data["decode"].get("y_hat")
                    gpu_decoded[(label, image_name, "pixels")] = pixels
                    gpu_decoded[(label, image_name, "y")] = None if y is None else y.detach().cpu()
                    record(step="cuda", codec=label, image=image_name, bytes=len(data),
                           encode_s=round(statistics.median(enc), 4), decode_s=round(statistics.median(dec), 4),
                           latent_check="ok" if problem is None else problem)
                    if over_budget(f"timing {label}: images after {image_name}"):
                        break
            except Exception as exc:  # noqa: BLE001 — record and go on with the next codec
                report["errors"].append(f"{label}: {type(exc).__name__}: {exc}")
                traceback.print_exc()
        for arch in AR_ARCHS:
            for image_name, _ in images:
                ref = (arch, image_name)
                for numerics in ("exact", "fast"):
                    ours = (f"{arch}-wavefront:{numerics}", image_name)
                    if (*ref, "pixels") not in gpu_decoded or (*ours, "pixels") not in gpu_decoded:
                        continue
                    a, b = gpu_decoded[(*ref, "pixels")], gpu_decoded[(*ours, "pixels")]
                    ya, yb = gpu_decoded[(*ref, "y")], gpu_decoded[(*ours, "y")]
                    record(step="cuda-reference-vs-wavefront", codec=f"{arch}-wavefront:{numerics}", image=image_name,
                           y_identical=bool(ya is not None and yb is not None and torch.equal(ya, yb)),
                           pixels_identical=bool(np.array_equal(a, b)),
                           max_abs_pixel_diff=int(np.abs(a.astype(int) - b).max()))
        # 3: encode on CUDA, decode on the CPU
        size = args.probe_size
        crop = images[0][1][:size, :size]
        for name, options in plan:
            label = name + (f":{options['numerics']}" if options else "")
            if over_budget(f"cross-device {label}"):
                continue
            try:
                gpu, cpu = coder(name, args.device, **options), coder(name, "cpu", **options)
                data = gpu.encode(crop)
                y_enc = gpu.encoder_latents()["y_hat"].detach().cpu()
                try:
                    pixels_cpu = cpu.decode(data)
                except Exception as exc:  # noqa: BLE001 — a refusal or a crash is the finding
                    record(step="cuda-encode-cpu-decode", codec=label, image=f"{images[0][0]}[:{size},:{size}]",
                           result=f"decode failed: {type(exc).__name__}: {exc}")
                    continue
                pixels_gpu = gpu.decode(data)
                y_cpu = cpu.capture.data["decode"]["y_hat"].detach().cpu()
                differ = int((y_enc != y_cpu).sum()) if y_enc.shape == y_cpu.shape else -1
                record(step="cuda-encode-cpu-decode", codec=label, image=f"{images[0][0]}[:{size},:{size}]",
                       result="identical" if differ == 0 and np.array_equal(pixels_cpu, pixels_gpu) else "mismatch",
                       y_elements_differing=differ, y_elements=int(y_enc.numel()),
                       max_abs_pixel_diff=int(np.abs(pixels_cpu.astype(int) - pixels_gpu).max()))
            except Exception as exc:  # noqa: BLE001
                report["errors"].append(f"cross-device {label}: {type(exc).__name__}: {exc}")
                traceback.print_exc()

    report["seconds"] = round(time.perf_counter() - started, 1)
    if report["errors"]:
        report["status"] = "errors"
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    fields = sorted({k for row in rows for k in row}, key=lambda k: (k not in ("step", "codec", "image"), k))
    with (args.out / "gpu_check.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"gpu_check: {len(rows)} rows, {len(report['errors'])} errors, {len(report['skipped'])} skipped, "
          f"{report['seconds']} s; results in {args.out}")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
