"""The envelope guard (issue 15): out for longer than the persistence, or about to leave on its own."""

from __future__ import annotations

import pytest

from otgate.core.envelope_guard import check_envelope, loops_moving
from otgate.core.monitors import AnomalyCode
from otgate.core.prediction import forecast
from tests.core.plants import CSTR

pytestmark = pytest.mark.requirement("R-15", "R-42")


def test_outside_for_the_persistence_is_envelope_exit_and_not_before():
    since: dict[str, float] = {}
    assert check_envelope(CSTR, since, {"TT-101": 336.0}, frozenset(), None, 100.0) == []
    assert check_envelope(CSTR, since, {"TT-101": 336.0}, frozenset(), None, 129.0) == []
    (anomaly,) = check_envelope(CSTR, since, {"TT-101": 336.0}, frozenset(), None, 130.0)
    assert anomaly.code is AnomalyCode.ENVELOPE_EXIT and anomaly.fallback and "for 30 s" in anomaly.detail


def test_back_inside_restarts_the_persistence():
    since: dict[str, float] = {}
    check_envelope(CSTR, since, {"TT-101": 336.0}, frozenset(), None, 100.0)
    check_envelope(CSTR, since, {"TT-101": 334.0}, frozenset(), None, 110.0)
    assert check_envelope(CSTR, since, {"TT-101": 336.0}, frozenset(), None, 135.0) == []


def test_predicted_to_leave_within_approach_time_is_envelope_approach():
    history = {"TT-101": [(1000.0 + k, 330.0 + 0.2 * k) for k in range(31)]}  # +0.2 K/s, unexplained
    fc = forecast(CSTR.models, {"TT-101": 336.0 - 2.0}, history, 1030.0, CSTR.horizon_s)
    (anomaly,) = check_envelope(CSTR, {}, {"TT-101": 334.0}, frozenset(), fc, 1030.0)
    assert anomaly.code is AnomalyCode.ENVELOPE_APPROACH and "cross 335" in anomaly.detail


def test_steady_process_inside_raises_nothing():
    fc = forecast(CSTR.models, {"TT-101": 328.0}, {}, 1000.0, CSTR.horizon_s)
    assert check_envelope(CSTR, {}, {"TT-101": 328.0}, frozenset(), fc, 1000.0) == []


def test_guard_takes_the_ai_off_the_loops_that_move_the_variable():
    assert loops_moving(CSTR, "TT-101") == ["TIC-101"]
