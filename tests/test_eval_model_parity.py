"""The harness against CompressAI's own evaluation, ``python -m compressai.utils.eval_model``.

Both run the shared factorized-prior checkpoint (λ = 0.0130) on two Kodak crops (kodim01's top-left
380×250, kodim04's 250×380: a landscape and a portrait, neither a multiple of 64, saved as PNGs in a
folder of their own), in the configuration where they must agree:

* padding: eval_model pads centred with zeros to a multiple of 64 → the harness runs with
  ``--padding eval_model``;
* threads: eval_model calls ``torch.set_num_threads(1)`` at import → the harness runs with
  ``--threads 1`` (the thread count changes the float sums of the synthesis transform, and with them
  an occasional pixel; ``python -m bench verify`` reports exactly that);
* 8-bit reconstructions: CompressAI 1.2.8's ``compute_metrics`` rounds both images,
  ``(x·255).clamp(0, 255).round()``, before scoring (older versions scored float reconstructions);
  the harness makes its uint8 reconstruction with the same arithmetic.

Then the payload strings and the reconstructed pixels must be identical, and what remains differs
by design only:

* bpp: eval_model counts the payload strings; the harness counts the whole bitstream, so the
  difference is exactly 8·(header bytes)/(H·W) (16 header bytes at these sizes; 17 at Kodak size, where
  the string lengths take one more byte);
* PSNR and MS-SSIM: eval_model computes them in float32 (a float32 MSE and ``torch.log10``;
  ``pytorch_msssim``), the harness in float64. eval_model's own metric code applied to the
  harness's reconstruction reproduces eval_model's numbers to 1e-6 (bit for bit, in fact); the
  harness's float64 PSNR is within two float32 steps of eval_model's (4e-6 dB at 30 dB), its MS-SSIM
  within 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.learned.bitstream import header_size, parse
from bench.cli import main

ARCH = "bmshj2018-factorized"
LABEL = "lambda0.0130"
IMAGES = {"kodim01.png": (380, 250), "kodim04.png": (250, 380)}  # name: (width, height) of the crop


def test_harness_matches_eval_model(shared_dir, kodak_dir, tmp_path, eval_model_module, capsys, monkeypatch):
    import torch
    import torch.nn.functional as F

    checkpoint = shared_dir / "weights" / f"{ARCH}_N128-M192_{LABEL}.pth"
    folder = tmp_path / "kodak2"
    folder.mkdir()
    for name, (width, height) in IMAGES.items():
        with Image.open(kodak_dir / name) as kodak:
            kodak.convert("RGB").crop((0, 0, width, height)).save(folder / name)

    out_dir = tmp_path / "eval_model"
    monkeypatch.chdir(tmp_path)
    eval_model_module.main(["checkpoint", str(folder), "-a", ARCH, "-p", str(checkpoint), "--per-image", "-d",
                            str(out_dir)])
    capsys.readouterr()
    theirs = {}
    for name in IMAGES:
        (path,) = out_dir.glob(f"{Path(name).stem}-*.json")
        theirs[name] = json.loads(path.read_text())["results"]

    status = main(["run", "--data", str(folder), "--codecs", ARCH, "--checkpoint", f"{ARCH}:{LABEL}={checkpoint}",
                   "--padding", "eval_model", "--threads", "1", "--device", "cpu", "--repeats", "1", "--results", str(tmp_path / "r"),
                   "--bitstreams", str(tmp_path / "bits"), "--reco-dir", str(tmp_path / "reco"), "--no-progress"])
    assert status == 0, capsys.readouterr().err
    rows = pd.read_csv(tmp_path / "r" / "kodak2" / "rows.csv").set_index("image")

    torch.set_num_threads(1)
    net = eval_model_module.load_checkpoint(ARCH, False, str(checkpoint))
    for name in IMAGES:
        row, ref = rows.loc[name], theirs[name]
        height, width = int(row.height), int(row.width)
        assert row.status == "ok" and row.padding == "zeros-centred-64" and row.threads == 1

        # identical payload strings: CompressAI's compress() on eval_model's own padded input
        x = eval_model_module.read_image(folder / name).unsqueeze(0)
        pad, unpad = eval_model_module.compute_padding(height, width, min_div=64)
        with torch.no_grad():
            out_enc = net.compress(F.pad(x, pad, mode="constant", value=0))
            x_hat = F.pad(net.decompress(out_enc["strings"], out_enc["shape"])["x_hat"], unpad)
        data = (tmp_path / "bits" / ARCH / LABEL / f"{name}.bin").read_bytes()
        stream = parse(data)
        assert stream.strings == out_enc["strings"] and stream.shape == tuple(out_enc["shape"])

        # identical pixels: eval_model's 8-bit rounding of its own reconstruction
        ours = np.array(Image.open(tmp_path / "reco" / ARCH / LABEL / f"{name}.png"))
        rounded = (x_hat * 255).clamp(0, 255).round()[0].permute(1, 2, 0).to(torch.uint8).numpy()
        assert np.array_equal(ours, rounded)

        # bpp: exactly the header apart
        header = header_size([[len(s) for s in g] for g in stream.strings], stream.shape, height, width)
        assert header == 16 and row.bytes == len(data) == stream.payload_bytes + header
        assert row.payload_bytes == stream.payload_bytes  # the row records the strings' length
        assert ref["bpp"] == 8.0 * stream.payload_bytes / (height * width)
        assert row.bpp - ref["bpp"] == pytest.approx(8.0 * header / (height * width), rel=1e-9)

        # metrics: eval_model's code on our reconstruction gives eval_model's numbers
        rec = torch.from_numpy(ours).permute(2, 0, 1).unsqueeze(0).float() / 255
        again = eval_model_module.compute_metrics(x, rec, 255)
        assert again["psnr-rgb"] == pytest.approx(ref["psnr-rgb"], abs=1e-6)
        assert again["ms-ssim-rgb"] == pytest.approx(ref["ms-ssim-rgb"], abs=1e-6)
        # … and the harness's float64 metrics are within float32 resolution of them
        assert row.psnr == pytest.approx(ref["psnr-rgb"], abs=4e-6)
        assert row.ms_ssim == pytest.approx(ref["ms-ssim-rgb"], abs=1e-6)
