"""The scheduler spends both cores without changing a number or disturbing a timed call.

- Every CPU codec gives the same rows with two processes (the probe, then a pool or one process) as
  with one process, every RD column compared.
- In a real two-process run, no timed call overlaps another process's work: a plug-in codec logs
  each encode and decode call with its process and CLOCK_MONOTONIC start and end (one clock for all
  processes), and the calls made in the run's own process (the probe, warm-ups and the timing pass)
  never overlap a call made in a pool worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.core.datasets import folder_dataset
from bench.pipeline import CodecRun, Settings, evaluate
from bench.core import registry
from conftest import image_files

REPO = Path(__file__).resolve().parents[1]

RD_COLUMNS = ["key", "status", "width", "height", "bytes", "payload_bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db",
              "psnr_y", "psnr_u", "psnr_v", "psnr_yuv", "note"]

CPU_CODECS = ["jpeg", "webp", "jpeg2000", "avif", "avif-444", "heic", "heic-444"]


@pytest.fixture(scope="module")
def two_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landscape and a portrait image, large enough for MS-SSIM's five scales."""
    return image_files(tmp_path_factory.mktemp("scheduler") / "pair", [(168, 184), (184, 168)])


@pytest.mark.parametrize("name", CPU_CODECS)
def test_two_processes_give_the_rows_of_one(name: str, two_images: Path, tmp_path: Path) -> None:
    codec = registry.create(name)
    if not codec.parallel_safe:
        pytest.skip(f"{name} is measured in one process whatever --jobs says")
    points = codec.default_points()
    points = (points[0], points[len(points) // 2], points[-1])
    dataset = folder_dataset(two_images)
    one = evaluate(dataset, [CodecRun(registry.create(name), points)], tmp_path / "one",
                   Settings(jobs=1, progress=False))
    two = evaluate(dataset, [CodecRun(registry.create(name), points)], tmp_path / "two",
                   Settings(jobs=2, progress=False))
    assert len(one.rows) == len(two.rows) == 6 and (one.rows.status == "ok").all()
    a = one.rows.sort_values("key")[RD_COLUMNS].reset_index(drop=True)
    b = two.rows.sort_values("key")[RD_COLUMNS].reset_index(drop=True)
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
        parallel_safe = True

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
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "BENCH_CODEC_PATH": str(plugins), "TRACE_FILE": str(trace)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--data", str(images), "--codecs", "traced-jpeg", "--jobs", "2",
         "--results", str(tmp_path / "results"), "--no-progress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    calls = [line.split() for line in trace.read_text().splitlines()]
    main = str(proc.pid)
    own = [(float(a), float(b)) for pid, _, a, b in calls if pid == main]
    workers = [(float(a), float(b)) for pid, _, a, b in calls if pid != main]
    # the pool measured the RD rows, the run's own process the probe row and the timing pass (loops of calls)
    assert len({pid for pid, *_ in calls}) >= 2 and len(workers) >= 2 * 11
    assert len(own) > len(workers)
    overlapping = [(a, b, c, d) for a, b in own for c, d in workers if max(a, c) < min(b, d)]
    assert not overlapping, f"{len(overlapping)} calls of the run's process overlap a worker's call"

