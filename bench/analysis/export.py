"""Mean curves written in CompressAI's results-JSON format, so that CompressAI's own plotting tools
(and anyone holding such files) can read the harness's results.

:func:`export_compressai` writes one JSON per codec from the curves of :mod:`bench.analysis.curves`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bench.analysis.curves import CurveError, dataset_of, measured_curves
from bench.analysis.reference import write_reference
from bench.analysis.summary import CONVENTION
from bench.core.identity import check_one_identity
from bench.core.manifest import load_current_rows

__all__ = ["export_compressai", "export_results"]

def export_compressai(rows: pd.DataFrame, out_dir: str | Path, codecs: Sequence[str] | None = None) -> list[Path]:
    """Write each codec's mean curve to ``out_dir/<codec>.json`` in CompressAI's results format.

    Points without a successful row are left out and listed in ``meta.omitted_points``; a quality or
    time list with a missing value is left out whole and named in ``meta.omitted_keys``. Rows that mix a
    codec's identities are refused (:func:`bench.core.identity.check_one_identity`): select one first.
    """
    check_one_identity(rows, "the rows to export")
    curves = measured_curves(rows)
    dataset = dataset_of(rows)
    names = list(curves) if codecs is None else list(codecs)
    for name in names:
        if name not in curves:
            raise CurveError(f"no results for codec {name!r}; codecs in the results: {', '.join(curves)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        curve = curves[name]
        keep = [i for i, n in enumerate(curve.images or ()) if n > 0 and math.isfinite(curve.bpp[i])]
        omitted_points = [p for i, p in enumerate(curve.points) if i not in keep]
        if not keep:
            raise CurveError(f"{name}: no operating point has a successful row; nothing to export")
        lists = {
            "psnr": [curve.psnr[i] for i in keep],
            "ms_ssim": [curve.ms_ssim[i] for i in keep],
            "encoding_time": [curve.encode_s[i] for i in keep],
            "decoding_time": [curve.decode_s[i] for i in keep],
        }
        complete = {k: v for k, v in lists.items() if all(math.isfinite(x) for x in v)}
        omitted_keys = sorted(set(lists) - set(complete))
        images = [curve.images[i] for i in keep] if curve.images else []
        meta = {
            "source": "lic-bench (this harness)",
            "dataset": dataset,
            "codec": name,
            "convention": CONVENTION,
            "points": [curve.points[i] for i in keep],
            "images": images,
            "failed_rows": [curve.failed[i] for i in keep] if curve.failed else [],
            "omitted_points": omitted_points,
            "omitted_keys": omitted_keys,
        }
        description = (
            f"{name} on {dataset} ({max(images)} images), measured by lic-bench; averages: {CONVENTION}"
        )
        path = out / f"{name}.json"
        write_reference(
            path, name, description, [curve.bpp[i] for i in keep], complete.get("psnr"), complete.get("ms_ssim"),
            meta=meta,
            **{k: complete[k] for k in ("encoding_time", "decoding_time") if k in complete},
        )
        written.append(path)
    return written


def export_results(results_dir: str | Path, dataset: str = "kodak", codecs: Sequence[str] | None = None,
                   chosen: Mapping[str, str] | None = None) -> list[Path]:
    """Export the current rows of ``<results>/<dataset>/rows.csv`` (:mod:`bench.core.manifest`; per codec its
    current identity, or the one ``chosen`` names) into ``<results>/<dataset>/compressai/<codec>.json``."""
    folder = Path(results_dir) / dataset
    return export_compressai(load_current_rows(folder, chosen).rows, folder / "compressai", codecs)

