"""A least-recently-used cache bounded by bytes: the last values of an expensive function within a memory budget.

A worker that scores rows of several images in turn (a Dask worker, whose tasks arrive in the
scheduler's order) keeps the images and MS-SSIM references it used last instead of building them
again at every switch; the budget bounds its memory on large images (the last value is always kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SizedLru"]

V = TypeVar("V")


class SizedLru(Generic[V]):
    """Values by key, the least recently used dropped once their sizes exceed ``budget`` bytes."""

    def __init__(self, budget: int, size: Callable[[V], int]) -> None:
        self.budget = budget
        self._size = size
        self._values: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._total = 0
        self.built = 0  #: how many values :meth:`get` had to build

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of ``key``, built by ``build()`` if it is not kept."""
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key][0]
        value = build()
        self.built += 1
        nbytes = self._size(value)
        self._values[key] = (value, nbytes)
        self._total += nbytes
        while self._total > self.budget and len(self._values) > 1:
            _, (_, dropped) = self._values.popitem(last=False)
            self._total -= dropped
        return value

    def __len__(self) -> int:
        return len(self._values)
