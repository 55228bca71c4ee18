"""Decode stored bitstreams twice — here and in a separate process — and compare the results.

``python -m bench run --bitstreams DIR`` keeps every bitstream as ``DIR/<codec>/<point>/<image>.bin``,
``<image>`` the full relative file name (``img.png.bin``; older runs wrote ``<image stem>.bin``).
:func:`verify_bitstreams` finds the result row each file belongs to and

1. decodes every file in this process with the run's own thread count and device (the *first*
   decode): its PSNR against the original must be the row's PSNR, bit for bit; the reconstruction's
   pixel sha256 is written to a sidecar ``<image>.recon.json`` next to the ``.bin``;
2. decodes every file again in a fresh interpreter (``python -m bench.core.verify JOB OUT``) with another
   thread count and, when CPU and CUDA both exist, on the other device (the *second* decode);
3. reports, per file, any error and any difference of reconstruction (pixel sha256, PSNR).

Learned codecs are deterministic on one machine, but not necessarily across thread counts or
devices: a different summation order in the synthesis transform moves a few pixels by one level,
and in hyperprior models a different scale can change the entropy decoding itself. This is what
the check is for. Nothing here prints; the CLI reports.

Each codec is rebuilt with ``registry.create(name, options)`` from the options the run recorded in
its metadata; ``overrides`` (options given on the ``verify`` command line, e.g. weights that have
moved) replace recorded values, and the device is the pass's own. Runs recorded before options
existed are rebuilt as before: padding and update from the codec's identity, the rest from the
command line.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.datasets import Dataset, ImageItem
from bench.core.environment import REPO_DIR
from bench.core.errors import BenchError, StoreError
from bench.core.manifest import load_current_rows
from bench.core.schema import read_runs
from bench.core.store import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LEGACY_OPTION_KEYS", "Decoded", "FileCheck", "Pass", "StoredBitstream", "VerifyReport",
           "decode_items", "find_bitstreams", "rebuild_options", "verify_bitstreams"]


@dataclass(frozen=True)
class StoredBitstream:
    """A stored bitstream, with what is needed to decode it and check the result."""

    path: Path
    codec: str
    point: str
    image: str
    image_path: Path
    image_sha256: str
    options: dict[str, Any]  # codec options recorded by the run that wrote it
    weights_sha256: str = ""
    row_psnr: float | None = None
    row_bytes: int | None = None


@dataclass(frozen=True)
class Pass:
    """Where one decode ran."""

    threads: int
    device: str
    process: str

    def __str__(self) -> str:
        return f"{self.threads} thread(s), {self.device}, {self.process}"


@dataclass(frozen=True)
class Decoded:
    """The outcome of decoding one file."""

    recon_sha256: str | None = None
    psnr: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class FileCheck:
    stream: StoredBitstream
    first: Decoded
    second: Decoded
    problems: tuple[str, ...]


@dataclass
class VerifyReport:
    first: Pass
    second: Pass
    checks: list[FileCheck] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(check.problems for check in self.checks)


# --- finding the files --------------------------------------------------------------------------


#: Options that runs recorded before options existed are rebuilt with, read from the codec's identity.
LEGACY_OPTION_KEYS = ("padding", "update")


def _run_options(results_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """``run_id → codec → options`` from the run metadata files (see :data:`LEGACY_OPTION_KEYS`)."""
    return {run_id: {name: _recorded_options(info) for name, info in meta["codecs"].items()}
            for run_id, meta in read_runs(results_dir).items()}


def _recorded_options(info: Mapping[str, Any]) -> dict[str, Any]:
    if "options" in info:
        return dict(info["options"])
    identity = info.get("identity", {})
    return {key: identity[key] for key in LEGACY_OPTION_KEYS if key in identity}


def _stored_files(bitstream_dir: Path, dataset: Dataset,
                  codecs: Sequence[str] = ()) -> tuple[list[tuple[Path, str, str, Any]], list[str]]:
    """``(file, codec, point, dataset item)`` of each ``.bin`` under ``bitstream_dir`` (of ``codecs``, when
    given), and why others were left out.

    Files are ``<codec>/<point>/<relative image name>.bin`` (:func:`bench.core.tasks.artifact_path`).
    Files of the older naming, ``<image stem>.bin``, are matched by stem when one image has it and no file
    of the current naming stands for it; a stem two images share cannot be told apart and is left out.
    """
    items = {item.name: item for item in dataset.items}
    stems: dict[str, list[ImageItem]] = {}
    for item in dataset.items:
        stems.setdefault(Path(item.name).stem, []).append(item)
    files = sorted(path for path in bitstream_dir.rglob("*.bin") if len(path.relative_to(bitstream_dir).parts) >= 3)
    named = {path.relative_to(bitstream_dir).as_posix() for path in files}
    found, skipped = [], []
    for path in files:
        codec, point, *rest = path.relative_to(bitstream_dir).parts
        if codecs and codec not in codecs:
            continue
        name = "/".join(rest)[: -len(".bin")]
        item = items.get(name)
        if item is None:  # the older naming: <stem>.bin
            matches = stems.get(name, [])
            if len(matches) > 1:
                skipped.append(f"{path}: older naming (<image stem>.bin), which "
                               f"{', '.join(m.name for m in matches)} share; rerun with --bitstreams to store "
                               "them as <file name>.bin")
                continue
            if not matches:
                skipped.append(f"{path}: no image {name!r} in dataset {dataset.name}")
                continue
            item = matches[0]
            if f"{codec}/{point}/{item.name}.bin" in named:
                skipped.append(f"{path}: older naming, superseded by {item.name}.bin beside it")
                continue
        found.append((path, codec, point, item))
    return found, skipped


def find_bitstreams(bitstream_dir: Path, results_dir: Path, dataset: Dataset,
                    codecs: Sequence[str] = ()) -> tuple[list[StoredBitstream], list[str], list[pd.Series]]:
    """The files under ``bitstream_dir`` that a current row of ``results_dir/<dataset>`` accounts for
    (:mod:`bench.core.manifest`: rows of images replaced since are not).

    Returns the files, one line for each file that was left out, and the rows used.
    """
    bitstream_dir = Path(bitstream_dir)
    if not bitstream_dir.is_dir():
        raise BenchError(f"no bitstreams at {bitstream_dir}; run `python -m bench run --bitstreams "
                         f"{bitstream_dir}` first")
    folder = Path(results_dir) / dataset.name
    rows = load_current_rows(folder).rows
    recorded = _run_options(folder)
    files, skipped = _stored_files(bitstream_dir, dataset, codecs)
    streams, used = [], []
    for path, codec, point, item in files:
        match = rows[(rows["codec"] == codec) & (rows["point"] == point) & (rows["image"] == item.name)]
        if match.empty:
            skipped.append(f"{path}: no row for {codec} {point} {item.name} in {folder / 'rows.csv'}")
            continue
        row = match.sort_values("run_id").iloc[-1]  # the latest run wrote the file
        run = recorded.get(row["run_id"], {})
        if run and codec not in run:  # a run that recorded its codecs records each one its rows name
            raise StoreError(f"{folder / 'runs' / (str(row['run_id']) + '.json')}: run metadata records codec(s) "
                             f"{', '.join(sorted(run))} but not {codec}, whose rows this run wrote; restore the "
                             "file or move it out of the runs folder")
        options = run.get(codec, {})
        streams.append(StoredBitstream(
            path=path, codec=codec, point=point, image=item.name, image_path=Path(item.path),
            image_sha256=str(row["image_sha256"]), options=options,
            weights_sha256=str(row["weights_sha256"] or ""),
            row_psnr=None if math.isnan(row["psnr"]) else float(row["psnr"]),
            row_bytes=None if math.isnan(row["bytes"]) else int(row["bytes"]),
        ))
        used.append(row)
    return streams, skipped, used


# --- decoding -----------------------------------------------------------------------------------


def rebuild_options(codec: str, recorded: Mapping[str, Any], overrides: Mapping[str, Any],
                    device: str) -> dict[str, Any]:
    """The options ``codec`` is rebuilt with: the recorded ones, then ``overrides``, then ``device``
    (where the codec has a ``device`` option). A codec that options define (a named model) is
    registered again from them."""
    from bench.core import registry

    options = {**recorded, **overrides}
    registry.expand({codec: options})
    if any(option.name == "device" for option in registry.entry(codec).options):
        options["device"] = device
    return options


def decode_items(items: Sequence[dict[str, Any]], *, threads: int, device: str,
                 overrides: Mapping[str, Mapping[str, Any]] | None = None,
                 save_dir: Path | None = None) -> list[Decoded]:
    """Decode each item (a dict of :class:`StoredBitstream` fields) with this thread count and device.

    ``overrides`` maps a codec name to option values that replace the recorded ones. Never raises
    for one file's fault: the error goes into that file's :class:`Decoded`. With ``save_dir``, the
    i-th reconstruction is also saved there as ``<i>.npy``.
    """
    import numpy as np

    from bench.core import registry
    from bench.core.images import load_rgb, pixel_sha256
    from bench.core.metrics import psnr

    torch_threads = _TorchThreads(threads)
    codecs: dict[tuple[str, str], Any] = {}
    results = []
    try:
        for index, item in enumerate(items):
            try:
                options = rebuild_options(item["codec"], item["options"], (overrides or {}).get(item["codec"], {}),
                                          device)
                key = (item["codec"], json.dumps(options, sort_keys=True))
                if key not in codecs:
                    codecs[key] = registry.create(item["codec"], options)
                coder = codecs[key].coder(item["point"])
                weights = coder.row_fields().get("weights_sha256", "")
                if item["weights_sha256"] and weights != item["weights_sha256"]:
                    raise BenchError(f"the weights loaded for {item['codec']} {item['point']} (sha256 "
                                     f"{weights[:12]}…) are not the run's ({item['weights_sha256'][:12]}…); "
                                     "pass the run's --checkpoint / --weights-mirror")
                torch_threads.apply()
                recon = coder.decode(Path(item["path"]).read_bytes())
                original = load_rgb(item["image_path"]).pixels
                if pixel_sha256(original) != item["image_sha256"]:
                    raise BenchError(f"{item['image_path']} is not the image the run measured (pixel sha256 differs)")
                results.append(Decoded(pixel_sha256(recon), psnr(original, recon)))
                if save_dir is not None:
                    np.save(Path(save_dir) / f"{index}.npy", recon)
            except Exception as exc:  # noqa: BLE001 — one bad file must not stop the others
                results.append(Decoded(error=f"{type(exc).__name__}: {exc}"))
    finally:
        torch_threads.restore()
    return results


class _TorchThreads:
    """torch's thread count for the decodes, set once torch is loaded (a codec that uses it loads it
    when built), restored at the end. A codec that never imports torch costs no torch import."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.previous: int | None = None

    def apply(self) -> None:
        torch = sys.modules.get("torch")
        if torch is not None and self.previous is None:
            self.previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)

    def restore(self) -> None:
        if self.previous is not None:
            sys.modules["torch"].set_num_threads(self.previous)
            self.previous = None


def _item(stream: StoredBitstream) -> dict[str, Any]:
    item = asdict(stream)
    item["path"], item["image_path"] = str(stream.path), str(stream.image_path)
    return item


def _second_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python ARGS`` in a fresh interpreter, output captured (the tests may route it elsewhere)."""
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, cwd=cwd)


def _decode_in_subprocess(items: list[dict[str, Any]], second: Pass, overrides: Mapping[str, Mapping[str, Any]],
                          save_dir: Path) -> list[Decoded]:
    job, out = save_dir / "job.json", save_dir / "out.json"
    job.write_text(json.dumps({"threads": second.threads, "device": second.device, "save_dir": str(save_dir),
                               "overrides": overrides, "items": items}), encoding="utf-8")
    done = _second_process(["-m", "bench.core.verify", str(job), str(out)], REPO_DIR)
    if done.returncode != 0 or not out.exists():
        tail = " ".join(done.stderr.strip().splitlines()[-3:]) or f"exit status {done.returncode}"
        raise BenchError(f"the second decode (python -m bench.core.verify) failed: {tail}")
    return [Decoded(**entry) for entry in json.loads(out.read_text(encoding="utf-8"))]


def _other_device(first: str, asked: str) -> str:
    if asked != "auto":
        return asked
    import torch

    if first == "cpu" and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def verify_bitstreams(bitstream_dir: Path, results_dir: Path, dataset: Dataset, *, threads: int | None = None,
                      device: str = "auto", overrides: Mapping[str, Mapping[str, Any]] | None = None,
                      codecs: Sequence[str] = ()) -> VerifyReport:
    """Decode every stored bitstream here and in a separate process; report differences per file.

    Codecs are rebuilt from the run's recorded options; ``overrides`` (codec → option values)
    replace recorded values, e.g. a checkpoint that has moved.
    """
    overrides = {name: dict(values) for name, values in (overrides or {}).items()}
    streams, skipped, rows = find_bitstreams(bitstream_dir, results_dir, dataset, codecs)
    if not streams:
        raise BenchError(f"no bitstream under {bitstream_dir} matches a row of {Path(results_dir) / dataset.name}; "
                         "check --bitstreams, --results and --dataset")
    run_threads = Counter(int(row["threads"]) for row in rows if not math.isnan(row["threads"]))
    first_threads = run_threads.most_common(1)[0][0] if run_threads else 1
    run_devices = Counter(str(row["device"]).split(":")[0] for row in rows if str(row["device"]) not in ("", "nan"))
    first_device = run_devices.most_common(1)[0][0] if run_devices else "cpu"
    first = Pass(first_threads, first_device, "this process, the run's settings")
    second = Pass(threads or (2 if first_threads == 1 else 1), _other_device(first_device, device),
                  "separate process")
    items = [_item(stream) for stream in streams]
    report = VerifyReport(first, second, skipped=skipped)
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        dirs = Path(tmp) / "first", Path(tmp) / "second"
        for folder in dirs:
            folder.mkdir()
        first_results = decode_items(items, threads=first.threads, device=first.device, overrides=overrides,
                                     save_dir=dirs[0])
        for stream, decoded in zip(streams, first_results):
            if decoded.error is None:
                sidecar = {"bitstream": stream.path.name, "recon_sha256": decoded.recon_sha256,
                           "psnr": decoded.psnr, "threads": first.threads, "device": first.device}
                write_text_atomic(stream.path.with_suffix(".recon.json"), json.dumps(sidecar, indent=2) + "\n")
        second_results = _decode_in_subprocess(items, second, overrides, dirs[1])
        for index, (stream, a, b) in enumerate(zip(streams, first_results, second_results)):
            problems = _problems(stream, a, b, first, second, [d / f"{index}.npy" for d in dirs])
            report.checks.append(FileCheck(stream, a, b, tuple(problems)))
    return report


def _pixel_difference(paths: Sequence[Path]) -> str:
    """"N of M samples differ, max |Δ| D" for two saved reconstructions."""
    import numpy as np

    if not all(path.exists() for path in paths):
        return ""
    a, b = (np.load(path).astype(np.int16) for path in paths)
    diff = np.abs(a - b)
    return f"; {int((diff > 0).sum())} of {diff.size} samples differ, max |Δ| {int(diff.max())}"


def _problems(stream: StoredBitstream, a: Decoded, b: Decoded, first: Pass, second: Pass,
              saved: Sequence[Path]) -> list[str]:
    problems = []
    size = stream.path.stat().st_size
    if stream.row_bytes is not None and size != stream.row_bytes:
        problems.append(f"the file has {size} bytes, the run's row {stream.row_bytes} (a stale or altered file)")
    if a.error and a.error == b.error:
        problems.append(f"decoding failed in both processes: {a.error}")
    else:
        if a.error:
            problems.append(f"first decode failed: {a.error}")
        if b.error:
            problems.append(f"second decode failed: {b.error}")
    if a.error or b.error:
        return problems
    if stream.row_psnr is not None and a.psnr != stream.row_psnr:
        problems.append(f"first decode: PSNR {a.psnr!r} dB, the run measured {stream.row_psnr!r} dB")
    if a.recon_sha256 != b.recon_sha256:
        problems.append(f"reconstructions differ: {first.threads} thread(s) on {first.device} give PSNR "
                        f"{a.psnr:.6f} dB (pixels {a.recon_sha256[:12]}…), {second.threads} thread(s) on "
                        f"{second.device} give {b.psnr:.6f} dB (pixels {b.recon_sha256[:12]}…)"
                        f"{_pixel_difference(saved)}")
    return problems


# --- the second process -------------------------------------------------------------------------


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m bench.core.verify JOB.json OUT.json``: decode the job's items, write the outcomes."""
    if len(argv) != 2:
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    results = decode_items(job["items"], threads=job["threads"], device=job["device"],
                           overrides=job.get("overrides"), save_dir=job.get("save_dir"))
    write_text_atomic(argv[1], json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
