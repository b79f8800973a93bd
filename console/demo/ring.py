"""Bounded history of metric samples, stored flat.

A 200-rollout demo keeps 30 minutes of samples for ~12 series each; tuples of
Python floats would cost ~100 bytes a point, one flat `array('d')` costs 8 and
lets a column be cut out with a strided slice, in C.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence


class SampleRing:
    """Fixed-capacity ring of rows (t, v0, v1, ...); the oldest row is overwritten."""

    def __init__(self, capacity: int, width: int) -> None:
        if capacity <= 0 or width <= 0:
            raise ValueError("capacity and width must be positive")
        self.capacity = capacity
        self.width = width
        self._stride = width + 1
        self._data = array("d", bytes(8 * self._stride * capacity))
        self._head = 0  # next row to write
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, t: float, values: Sequence[float]) -> None:
        stride = self._stride
        start = self._head * stride
        self._data[start : start + stride] = array("d", (t, *values))
        self._head = (self._head + 1) % self.capacity
        if self._count < self.capacity:
            self._count += 1

    def _column(self, index: int) -> array[float]:
        """Column `index` (0 = time) of every row, oldest first."""
        stride = self._stride
        first = (self._head - self._count) % self.capacity
        if first + self._count <= self.capacity:
            return self._data[first * stride + index : (first + self._count) * stride : stride]
        older = self._data[first * stride + index :: stride]
        return older + self._data[index : self._head * stride : stride]

    def since(self, t: float) -> tuple[array[float], list[array[float]]]:
        """Times and columns of the rows with time >= t, oldest first."""
        times = self._column(0)
        first = bisect_left(times, t)
        return times[first:], [self._column(i)[first:] for i in range(1, self._stride)]
