"""The scheduler spends every core without changing a number or disturbing a timed call.

- Every codec gives the same rows with two processes (calls timed in the run's process, batches of
  reconstructions scored in two scoring processes) as with one process (each row scored where it was
  coded), every RD column compared: the classic codecs, and the learned ones on small random checkpoints.
- In a real two-process run, no timed call overlaps another process's work: the run's ``--trace`` records
  each scoring task's span in the scoring processes, and a plug-in codec logs each encode and decode call
  with its process and CLOCK_MONOTONIC start and end (one clock for all processes); every call is made
  in the run's own process and none overlaps a scoring task.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.core import registry
from bench.core.datasets import folder_dataset
from bench.core.trace import read_spans
from bench.pipeline import CodecRun, Settings, evaluate
from conftest import image_files
from test_conformance import architecture, random_checkpoint

REPO = Path(__file__).resolve().parents[1]

RD_COLUMNS = ["key", "status", "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db",
              "psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "bpp_estimated", "note"]

CPU_CODECS = ["jpeg", "webp", "jpeg2000", "avif", "avif-444", "heic", "heic-444", "jpegxl", "mozjpeg", "jpegli"]
LEARNED = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018", "mbt2018-wavefront"]
LABEL = "lambda0.0130"


@pytest.fixture(scope="module")
def two_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landscape and a portrait image, large enough for MS-SSIM's five scales."""
    return image_files(tmp_path_factory.mktemp("scheduler") / "pair", [(168, 184), (184, 168)])


def _codec_run(name: str, folder: Path) -> CodecRun:
    if name in LEARNED:
        arch = architecture(name)
        spec = f"{arch}:{LABEL}={random_checkpoint(arch, folder)}"
        codec = registry.create(name, {"device": "cpu", "checkpoint": [spec], "weights_cache": str(folder)})
        return CodecRun(codec, (LABEL,))
    codec = registry.create(name)
    points = codec.default_points()
    return CodecRun(codec, (points[0], points[len(points) // 2], points[-1]))


@pytest.mark.parametrize("name", CPU_CODECS + LEARNED)
def test_two_processes_give_the_rows_of_one(name: str, two_images: Path, tmp_path: Path) -> None:
    dataset = folder_dataset(two_images)
    # --derive off: mbt2018's rows by CompressAI's own loop in both runs (the derivation has tests of its own)
    one = evaluate(dataset, [_codec_run(name, tmp_path)], tmp_path / "one", Settings(jobs=1, progress=False,
                                                                                     derive=False))
    two = evaluate(dataset, [_codec_run(name, tmp_path)], tmp_path / "two", Settings(jobs=2, progress=False,
                                                                                     derive=False))
    rows = 2 * len(_codec_run(name, tmp_path).points)
    assert len(one.rows) == len(two.rows) == rows and (one.rows.status == "ok").all()
    columns = [column for column in RD_COLUMNS if column in one.rows]
    a = one.rows.sort_values("key")[columns].reset_index(drop=True)
    b = two.rows.sort_values("key")[columns].reset_index(drop=True)
    assert a.equals(b)
    assert two.rows.encode_s.notna().all() and two.rows.decode_s.notna().all()


TRACE_PLUGIN = textwrap.dedent('''
    """JPEG through Pillow whose every call is logged: process id, call, CLOCK_MONOTONIC start and end."""
    import io
    import os
    import time

    import numpy as np
    from PIL import Image

    from bench.core.codec import Codec, Coder
    from bench.core.registry import register


    def _log(call, began):
        ended = time.clock_gettime(time.CLOCK_MONOTONIC)
        with open(os.environ["TRACE_FILE"], "a") as fh:
            fh.write(f"{os.getpid()} {call} {began!r} {ended!r}\\n")


    class TracedCoder(Coder):
        def __init__(self, point):
            self.point = point

        def encode(self, image):
            began = time.clock_gettime(time.CLOCK_MONOTONIC)
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, "JPEG", quality=int(self.point[1:]), subsampling=2)
            _log("encode", began)
            return buffer.getvalue()

        def decode(self, data):
            began = time.clock_gettime(time.CLOCK_MONOTONIC)
            with Image.open(io.BytesIO(data)) as img:
                pixels = np.asarray(img.convert("RGB"))
            _log("decode", began)
            return pixels


    class TracedCodec(Codec):
        name = "traced-jpeg"

        def default_points(self):
            return ["q30", "q60", "q90"]

        def coder(self, point):
            return TracedCoder(point)

        def identity(self):
            return {"library": "Pillow", "traced": True}


    @register("traced-jpeg", "JPEG whose calls are logged (tests/test_scheduler.py)")
    def _factory(options):
        return TracedCodec()
''')


def test_no_timed_call_overlaps_another_process(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "traced_jpeg.py").write_text(TRACE_PLUGIN)
    images = image_files(tmp_path / "images", [(168, 184), (184, 168), (176, 176), (200, 168)])
    calls_file, spans_file = tmp_path / "calls.txt", tmp_path / "spans.txt"
    env = {**os.environ, "BENCH_CODEC_PATH": str(plugins), "TRACE_FILE": str(calls_file)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--data", str(images), "--codecs", "traced-jpeg", "--jobs", "2",
         "--results", str(tmp_path / "results"), "--no-progress", "--trace", str(spans_file)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    calls = [line.split() for line in calls_file.read_text().splitlines()]
    spans = read_spans(spans_file)
    # every call (warm-ups, calibration and looped values) in the run's own process
    assert {int(pid) for pid, *_ in calls} == {proc.pid} and len(calls) > 4 * 3 * 2
    timed = [(a, b) for pid, kind, a, b in spans if kind == "timed"]
    untimed = [(pid, a, b) for pid, kind, a, b in spans if kind == "untimed"]
    assert len(timed) == 4 * 3 and {pid for pid, kind, *_ in spans if kind == "timed"} == {proc.pid}
    # two batches of two images, each image's rows one scoring task, in two scoring processes
    assert len(untimed) == 4 and len({pid for pid, *_ in untimed}) == 2 and proc.pid not in {p for p, *_ in untimed}
    own = [(float(a), float(b)) for *_, a, b in calls] + timed
    overlapping = [(a, b, c, d) for a, b in own for _, c, d in untimed if max(a, c) < min(b, d)]
    assert not overlapping, f"{len(overlapping)} timed calls or rows overlap a scoring task"


def test_a_run_stopped_by_an_error_ends_its_scoring_processes_at_once() -> None:
    # an error however soon after the pool started: every process ends (signalled until gone, even those waiting
    # on the task queue's lock, where one SIGTERM can be lost), within seconds, never hanging
    import multiprocessing
    import time

    from bench.core.scoring import ScoringPool

    for _ in range(10):
        start = time.monotonic()
        with pytest.raises(RuntimeError):
            with ScoringPool(2):
                workers = multiprocessing.active_children()
                raise RuntimeError("a codec fault before any scoring")
        assert time.monotonic() - start < 30
        assert len(workers) >= 2 and all(p.exitcode is not None and not p.is_alive() for p in workers)


def test_a_scoring_process_killed_while_the_run_waits_ends_the_run_with_why() -> None:
    # the out-of-memory killer takes a scoring process while it scores: Pool would fork another and wait forever
    # for the lost task; the run stops within seconds, naming the process and its signal
    import signal
    import threading
    import time

    import numpy as np

    from bench.core.errors import WorkerError
    from bench.core.scoring import ScoreTask, ScoringPool
    from conftest import natural_image

    pixels = natural_image(512, 768, seed=1)
    recons = [np.clip(pixels.astype(np.int16) + k % 50, 0, 255).astype(np.uint8) for k in range(1, 201)]
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"ended, killed by SIGKILL .*out-of-memory.*fewer --jobs") as raised:
        with ScoringPool(2) as pool:  # the error leaves the pool terminated, as in a run
            victim = pool._workers[0].pid
            threading.Timer(0.5, os.kill, (victim, signal.SIGKILL)).start()
            pool.score([ScoreTask("a" * 64, pixels, [recon]) for recon in recons])
    assert f"pid {victim})" in str(raised.value)
    assert time.monotonic() - start < 30
