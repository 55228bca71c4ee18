"""The metric plug-in contract.

A metric scores a reconstruction against its original: both H×W×3 uint8 RGB arrays of one shape, the
images every codec's row is scored on. It declares the row columns it fills (:class:`Column` objects,
appended to ``rows.csv`` after the schema's own), which of them ranks reconstructions (``primary``: the
column of RD curves and BD-rates) and in which direction. A metric that cannot score an image (too small,
a library missing) raises :class:`bench.core.errors.MetricError`: the row keeps its cells empty and its
note says why. Heavy imports (torch, piq …) belong inside :meth:`Metric.prepare` or :meth:`Metric.score`,
so that listing metrics imports none of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from bench.core.schema import Column

__all__ = ["COST_CLASSES", "Cost", "Metric", "Scorer", "check_rgb8", "check_same_shape"]

Scorer = Callable[[np.ndarray], dict[str, float]]
"""Scores one reconstruction against a reference fixed beforehand: {column: value}."""

Cost = Literal["cheap", "moderate", "expensive"]
#: What a cost class means, for one 768×512 image on one CPU core.
COST_CLASSES: dict[str, str] = {
    "cheap": "under 0.1 s per image",
    "moderate": "0.1 to 1 s per image",
    "expensive": "over 1 s per image",
}


def check_rgb8(metric: str, image: Any, role: str, min_side: int, need: str = "") -> None:
    """Raise MetricError unless ``image`` (the ``role`` image: reference or test) is an H×W×3 uint8 array whose
    sides are both at least ``min_side``; ``need`` says what needs them (default: the metric)."""
    from bench.core.errors import MetricError

    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise MetricError(f"{metric}: the {role} image must be an H×W×3 uint8 array, got "
                          f"{getattr(image, 'dtype', type(image).__name__)} of shape {getattr(image, 'shape', '?')}")
    if min(image.shape[:2]) < min_side:
        raise MetricError(f"{metric}: the {role} image is {image.shape[1]}×{image.shape[0]}; {need or metric} needs "
                          f"both sides at least {min_side} pixels (score a larger image)")


def check_same_shape(metric: str, reference: np.ndarray, test: np.ndarray) -> None:
    """Raise MetricError unless ``test`` has ``reference``'s shape."""
    from bench.core.errors import MetricError

    if test.shape != reference.shape:
        raise MetricError(f"{metric}: the test image's shape {test.shape} differs from the reference's {reference.shape}")


class Metric(ABC):
    """A named image-quality metric, registered in :mod:`bench.core.metric_registry`."""

    name: str
    #: Bump when a change of this metric's code changes its values: stored cells of another version are
    #: scored again.
    version: int = 1
    #: The row columns it fills, each a :class:`Column` of kind ``float`` whose name the schema does not use.
    columns: tuple[Column, ...] = ()
    #: The column that ranks reconstructions: its RD curves and BD-rates.
    primary: str = ""
    #: Whether a larger ``primary`` value means a better reconstruction (False: a distance such as NLPD).
    higher_is_better: bool = True
    #: Unit of ``primary`` as a figure's axis shows it ("dB", or "" for a unitless score).
    unit: str = ""
    #: How long one 768×512 image takes (:data:`COST_CLASSES`).
    cost: Cost = "cheap"
    #: What it computes on, in words: "Y′ (BT.601) of 8-bit RGB", "8-bit RGB in float" …
    needs: str = "8-bit RGB"
    #: The smallest image side it scores; smaller images get an empty cell and a note.
    min_side: int = 1

    def identity(self) -> dict[str, Any]:
        """Library versions and settings that determine the values; recorded with the run."""
        return {}

    def prepare(self, reference: np.ndarray) -> Scorer:
        """A scorer of reconstructions of ``reference`` (override to do the reference's own work once)."""
        return lambda test: self.score(reference, test)

    @abstractmethod
    def score(self, reference: np.ndarray, test: np.ndarray) -> dict[str, float]:
        """This metric's columns for ``test`` against ``reference`` (both H×W×3 uint8): {column: value}."""

    def describe(self) -> str:
        """One line for ``python -m bench metrics``."""
        return self.name
