"""An engine's clock offset: the minimum apparent age once the last arrivals agree."""

from __future__ import annotations

import pytest

from otgate.core.clock_offset import (
    MIN_SAMPLES,
    SAMPLES,
    ClockOffset,
    applied_offset,
    estimate_offset,
    is_skewed,
    observe_arrival,
)


def arrivals(ages: list[float]) -> ClockOffset:
    state = ClockOffset()
    for k, age in enumerate(ages):
        state = observe_arrival(state, 1000.0 + k - age, 1000.0 + k)
    return state


def test_estimate_offset_needs_min_samples():
    assert estimate_offset(arrivals([90.0] * (MIN_SAMPLES - 1)), 30.0) is None
    assert estimate_offset(arrivals([90.0] * MIN_SAMPLES), 30.0) == pytest.approx(90.0)


def test_estimate_offset_minimum_age_wins_over_slow_arrivals():
    assert estimate_offset(arrivals([-91.0, -89.5, -90.2, -88.0]), 30.0) == pytest.approx(-91.0)


def test_estimate_offset_jumping_clock_not_steady_none():
    assert estimate_offset(arrivals([0.0, 300.0, -300.0]), 30.0) is None


def test_observe_arrival_keeps_the_last_samples_only():
    assert len(arrivals([5.0] * (SAMPLES + 10)).ages) == SAMPLES


def test_observe_arrival_ignores_non_finite_times():
    assert observe_arrival(ClockOffset(), float("nan"), 1000.0) == ClockOffset()


@pytest.mark.parametrize(
    ("offset", "applied"),
    [(None, 0.0), (1.5, 0.0), (-1.5, 0.0), (90.0, 90.0), (-90.0, -90.0), (120.0, 120.0), (600.0, 0.0)],
)
def test_applied_offset_only_between_skew_and_tolerance(offset: float | None, applied: float):
    assert applied_offset(offset, 2.0, 120.0) == applied
    assert is_skewed(offset, 2.0) is (offset is not None and abs(offset) > 2.0)
