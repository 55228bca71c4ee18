"""Training the study's models, reproducibly, into checkpoints the benchmark reads.

``python -m bench.learned.train run`` runs the whole recipe (pre-training, then one fine-tuning stage per λ),
resuming where it stopped; ``python -m bench.learned.train --help`` lists the other commands.

Library entry points (torch is imported only by those that need it):

* :class:`TrainConfig`, :func:`load_config`, :func:`schedule` — the recipe (:mod:`bench.learned.train.recipe`);
* :func:`run_schedule`, :func:`train_stage` — training, checkpoints, resume (:mod:`bench.learned.train.loop`);
* :func:`open_data` — datasets and sampling (:mod:`bench.learned.train.data`);
* :func:`export_model`, :func:`checkpoint_specs` — exports for ``--checkpoint`` (:mod:`bench.learned.train.export`);
* :func:`write_curves`, :func:`write_all_curves`, :func:`read_log` — the CSV log and its figures.
"""

from __future__ import annotations

import importlib
from typing import Any

from bench.learned.train.errors import TrainError
from bench.learned.train.recipe import STUDY_LAMBDAS, Stage, TrainConfig, load_config, schedule

__all__ = [
    "STUDY_LAMBDAS", "Stage", "StageResult", "TrainConfig", "TrainError", "checkpoint_specs", "export_model",
    "load_config", "open_data", "read_log", "run_schedule", "schedule", "train_stage", "write_all_curves",
    "write_curves",
]

_LAZY = {
    "StageResult": "loop", "run_schedule": "loop", "train_stage": "loop",
    "open_data": "data",
    "checkpoint_specs": "export", "export_model": "export",
    "read_log": "curves", "write_curves": "curves", "write_all_curves": "curves",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"bench.learned.train.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'bench.learned.train' has no attribute {name!r}")
