"""The loop-response monitor on a loop whose step response is a sum of terms (issue 15): the PV is judged
against the whole sum, not against one of its terms."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from otgate.core.loop_response import check_loop_response, terms_window_s
from otgate.core.monitors import AnomalyCode
from otgate.core.step_response import StepModel, step
from tests.core.plants import CSTR

pytestmark = pytest.mark.requirement("R-42")

# Inverse response: the PV first moves against the setpoint (fast negative term), then follows it.
TERMS = (
    StepModel("TIC-101.RSP", "TT-101", gain=-1.0, tau_s=20.0, dead_time_s=0.0),
    StepModel("TIC-101.RSP", "TT-101", gain=2.0, tau_s=100.0, dead_time_s=10.0),
)
PLANT = replace(CSTR, models=TERMS)
MOVE_AT = 100.0


def samples(follows: bool, until: float) -> dict[str, list[tuple[float, float]]]:
    times = np.arange(-400.0, until + 0.5, 1.0)
    pv = 325.0 + np.random.default_rng(3).normal(0.0, 0.02, times.size)
    if follows:
        pv += sum(step(m, times - MOVE_AT) for m in TERMS)
    sp = np.where(times >= MOVE_AT, 326.0, 325.0)
    return {"TIC-101.RSP": list(zip(times, sp, strict=True)), "TT-101": list(zip(times, pv, strict=True))}


def test_loop_response_window_is_the_slowest_terms():
    assert terms_window_s(TERMS) == 310.0


def test_loop_response_pv_following_the_sum_of_terms_raises_nothing():
    # Judged against its first term alone (-1 K over 60 s), the PV would look stuck a minute after the
    # move (it made -0.16 K); against the sum it does what the model expects at every second.
    end = MOVE_AT + terms_window_s(TERMS)
    recorded = samples(True, end)
    for now in np.arange(MOVE_AT, end + 0.5, 5.0):
        seen = {name: [(t, v) for t, v in s if t <= now] for name, s in recorded.items()}
        assert check_loop_response(PLANT, seen, ["TIC-101"], float(now)) == [], now


def test_loop_response_flat_pv_after_a_multi_term_move_is_loop_not_responding():
    end = MOVE_AT + terms_window_s(TERMS)
    (anomaly,) = check_loop_response(PLANT, samples(False, end), ["TIC-101"], end)
    assert anomaly.code is AnomalyCode.LOOP_NOT_RESPONDING
    assert "expects +0.9" in anomaly.detail  # the sum at the window's end: -1 + 2 * (1 - e^-3)
