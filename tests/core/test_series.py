"""The array-backed time series of the look-ahead's memory."""

from __future__ import annotations

import pytest

from otgate.core.series import Series


def test_series_window_since_reads_a_slice():
    series = Series()
    for t in range(200):  # past the initial capacity: grows
        series.append(float(t), float(t) * 2.0)
    times, values = series.since(150.0)
    assert times.tolist() == [float(t) for t in range(150, 200)]
    assert values.tolist() == [2.0 * t for t in range(150, 200)]
    assert not times.flags.writeable


def test_series_drop_before_forgets_the_old_end_and_keeps_order():
    series = Series()
    for t in range(1000):
        series.append(float(t), 1.0)
        series.drop_before(t - 99.0)  # a sliding window: storage compacts instead of growing
    assert len(series) == 100
    assert series[0] == (900.0, 1.0) and series[-1] == (999.0, 1.0)
    assert list(series)[:2] == [(900.0, 1.0), (901.0, 1.0)]
    assert next(reversed(series)) == (999.0, 1.0)


def test_series_index_out_of_range_raises():
    with pytest.raises(IndexError):
        Series()[0]
