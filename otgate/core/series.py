"""A time series kept in numpy arrays: appended at the new end, dropped at the old end, and read by time
window without a Python loop over the samples.

The look-ahead and the model-based monitors read the same few windows of every model variable each scan;
on a plant whose models settle over hours the memory holds tens of thousands of samples and change
points, so reading a window must cost a binary search and a slice, not a walk over everything kept.
Samples are (time, value) with times non-decreasing, as a scan loop produces them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

_INITIAL = 64


class Series:
    __slots__ = ("_end", "_start", "_t", "_v")

    def __init__(self) -> None:
        self._t = np.empty(_INITIAL)
        self._v = np.empty(_INITIAL)
        self._start = 0
        self._end = 0

    def append(self, t: float, v: float) -> None:
        if self._end == len(self._t):
            self._make_room()
        self._t[self._end] = t
        self._v[self._end] = v
        self._end += 1

    def _make_room(self) -> None:
        live = self._end - self._start
        size = len(self._t) if live <= len(self._t) // 2 else 2 * len(self._t)  # amortised O(1) appends
        t, v = np.empty(size), np.empty(size)
        t[:live], v[:live] = self._t[self._start : self._end], self._v[self._start : self._end]
        self._t, self._v, self._start, self._end = t, v, 0, live

    def drop_before(self, cutoff: float) -> None:
        """Forget the samples older than `cutoff`."""
        self._start += int(np.searchsorted(self._t[self._start : self._end], cutoff, side="left"))

    def since(self, cutoff: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Times and values of the samples at `cutoff` or later (read-only views)."""
        first = self._start + int(np.searchsorted(self._t[self._start : self._end], cutoff, side="left"))
        times, values = self._t[first : self._end], self._v[first : self._end]
        times.flags.writeable = values.flags.writeable = False
        return times, values

    def __len__(self) -> int:
        return self._end - self._start

    def __getitem__(self, index: int) -> tuple[float, float]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        k = self._start + index if index >= 0 else self._end + index
        return float(self._t[k]), float(self._v[k])

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(
            self._t[self._start : self._end].tolist(), self._v[self._start : self._end].tolist(), strict=True
        )

    def __reversed__(self) -> Iterator[tuple[float, float]]:
        return reversed(list(self))
