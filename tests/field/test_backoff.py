"""Reconnect pacing: doubles per failure up to the cap, and only an answered request resets it."""

from __future__ import annotations

import pytest

from otgate.field.backoff import Backoff
from otgate.field.link import LinkDown


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_up_to_cap_then_resets_on_success() -> None:
    clock = Clock()
    backoff = Backoff(0.1, 0.35, clock)
    backoff.check()  # first attempt is immediate
    waits = []
    for _ in range(4):
        backoff.failed()
        start = clock.now
        while True:
            try:
                backoff.check()
                break
            except LinkDown:
                clock.now += 0.01
        waits.append(round(clock.now - start, 2))
    assert waits == [0.1, 0.2, 0.35, 0.35]
    backoff.succeeded()
    backoff.check()
    assert backoff.failures == 0


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_backoff_bad_bounds_raise(lo: float, hi: float) -> None:
    with pytest.raises(ValueError):
        Backoff(lo, hi)
