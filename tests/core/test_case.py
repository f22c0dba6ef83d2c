"""The facts a validation case carries: the change-budget window's base found by bisection."""

from __future__ import annotations

import math
from collections import deque

from hypothesis import given
from hypothesis import strategies as st

from otgate.core.case import window_start
from otgate.core.proposal import WriteEvent

NOW = 10_000.0


def _linear_window_start(writes: list[WriteEvent], readback: float, window_s: float, now: float) -> float:
    """The definition: the working setpoint before the oldest write inside the window, else the read-back."""
    for event in writes:
        if now - event.at <= window_s:
            return event.previous
    return readback


@given(
    st.lists(st.floats(min_value=0.0, max_value=NOW), max_size=60),
    st.floats(min_value=0.0, max_value=2 * NOW),
)
def test_window_start_any_history_equals_oldest_write_in_window(ages: list[float], window_s: float):
    writes = [WriteEvent(at, at + 1.0, at - 1.0) for at in sorted(ages)]
    expected = _linear_window_start(writes, -7.0, window_s, NOW)
    assert window_start(writes, -7.0, window_s, NOW) == expected
    assert window_start(deque(writes), -7.0, window_s, NOW) == expected  # the gateway keeps a deque


def test_window_start_no_write_in_window_is_readback():
    writes = [WriteEvent(NOW - 900.0, 1.0, 0.0), WriteEvent(NOW - 700.0, 2.0, 1.0)]
    assert window_start(writes, 5.0, 600.0, NOW) == 5.0


def test_window_start_long_history_takes_first_write_inside():
    writes = [WriteEvent(NOW - 7_200.0 + i, float(i), float(i - 1)) for i in range(7_200)]
    assert window_start(writes, -1.0, 600.0, NOW) == writes[6_600].previous


def _ulps(x: float, k: int) -> float:
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


@given(
    st.lists(st.integers(min_value=-4, max_value=4), max_size=12),
    st.floats(min_value=1e-3, max_value=NOW),
    st.floats(min_value=1.0, max_value=1e9),
)
def test_window_start_writes_on_the_window_edge_equal_the_definition(
    steps: list[int], window_s: float, now: float
):
    # Times a few rounding steps either side of `now - window_s`, where `at >= now - window_s` and the
    # rule's `now - at <= window_s` can disagree: the bisection must still give the definition's answer.
    times = sorted(_ulps(now - window_s, k) for k in steps)
    writes = [WriteEvent(at, 1.0, float(i)) for i, at in enumerate(times)]
    expected = _linear_window_start(writes, -7.0, window_s, now)
    assert window_start(writes, -7.0, window_s, now) == expected
    assert window_start(deque(writes), -7.0, window_s, now) == expected
