"""Property of the look-ahead rule as the validation chain runs it (issue 15): over random plant states
(current value, a recent setpoint step, a measured disturbance's recent step, an unexplained trend, the
envelope, the setpoint's step response of one term, of two that draw an inverse response, or of a
first-order term and an underdamped second-order one that swings), random proposals are judged by
`check_predicted` and

- an accepted move's linear prediction never leaves the envelope (or, where the base prediction already
  lies beyond it, never goes further out), at any point of the horizon;
- every value strictly inside the reported `admissible` interval is accepted by this rule.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otgate.core.look_ahead import check_predicted
from otgate.core.plant import Plant
from otgate.core.prediction import Bound, forecast, response, with_queued
from otgate.core.proposal import Snapshot
from otgate.core.step_response import StepModel
from tests.core.plants import CSTR, NOW

pytestmark = pytest.mark.requirement("R-42")

TAG = "TIC-101.RSP"
# A measured disturbance into the constrained variable (a measurement tag as a model input), superposed
# in the prediction like any setpoint: the jacket temperature stands in for one here.
DISTURBANCE = StepModel("TT-102", "TT-101", gain=-0.4, tau_s=20.0, dead_time_s=15.0)
# A second term of the setpoint's own step response (a pair's terms add up): fast and against the slow
# one, it draws an inverse response, so g(t) changes sign over the horizon and the admissible interval is
# bounded from both sides by one limit.
INVERSE = StepModel(TAG, "TT-101", gain=-0.6, tau_s=4.0, dead_time_s=2.0)
# An underdamped second-order term beside the first-order one: the response overshoots and swings below
# its end value within the horizon, as the Ricker pressure answers its setpoints.
SWING = StepModel(TAG, "TT-101", gain=0.5, tau_s=6.0, dead_time_s=3.0, damping=0.2)
SHAPES = {"one": (), "inverse": (INVERSE,), "swing": (SWING,)}
RULES = CSTR.config.tags[TAG].setpoint
assert RULES is not None


def plant_with(hi: float, lo: float | None, shape: str = "one") -> Plant:
    models = (*CSTR.models, DISTURBANCE, *SHAPES[shape])
    return replace(CSTR, models=models, envelope={"TT-101": Bound(lo, hi)})


def state(
    plant: Plant, current: float, sp: float, sp_step: float, sp_age: float, d_step: float, trend: float
) -> Snapshot:
    history = {
        TAG: [(NOW - sp_age - 1.0, sp - sp_step), (NOW - sp_age, sp)],
        "TT-102": [(NOW - 20.0, 300.0), (NOW - 10.0, 300.0 + d_step)],
        "TT-101": [(NOW - 30.0 + k, current - trend * (30.0 - k)) for k in range(31)],
    }
    fc = forecast(plant.models, {"TT-101": current}, history, NOW, plant.horizon_s)
    return Snapshot(NOW - 0.2, {"TT-101": current, "TIC-101.SP": sp}, forecast=fc)


def prediction_stays(plant: Plant, snapshot: Snapshot, move: float) -> bool:
    fc = snapshot.forecast
    assert fc is not None
    base = with_queued(plant.models, fc, "TT-101", snapshot.queued, TAG)
    predicted = base + move * response(plant.models, TAG, "TT-101", fc.times)
    bound = plant.envelope["TT-101"]
    ok = True
    if bound.hi is not None:
        ok &= bool(np.all(predicted <= np.maximum(bound.hi, base) + 1e-6))
    if bound.lo is not None:
        ok &= bool(np.all(predicted >= np.minimum(bound.lo, base) - 1e-6))
    return ok


@settings(max_examples=300, deadline=None)
@given(
    current=st.floats(318.0, 338.0),
    sp=st.floats(316.0, 329.0),
    sp_step=st.floats(-2.0, 2.0),
    sp_age=st.floats(0.0, 120.0),
    d_step=st.floats(-3.0, 3.0),
    trend=st.floats(-0.05, 0.05),
    hi=st.floats(326.0, 336.0),
    lo=st.one_of(st.none(), st.floats(300.0, 318.0)),
    value=st.floats(315.0, 330.0),
    pick=st.floats(0.001, 0.999),
    shape=st.sampled_from(sorted(SHAPES)),
)
def test_look_ahead_accepted_moves_stay_inside_and_admissible_values_are_accepted(
    current: float,
    sp: float,
    sp_step: float,
    sp_age: float,
    d_step: float,
    trend: float,
    hi: float,
    lo: float | None,
    value: float,
    pick: float,
    shape: str,
):
    plant = plant_with(hi, lo, shape)
    snapshot = state(plant, current, sp, sp_step, sp_age, d_step, trend)
    admissible, reasons = check_predicted(TAG, value, sp, RULES, plant, snapshot)
    assert admissible is not None
    if not reasons:  # accepted by this rule: its linear prediction keeps to the envelope
        assert prediction_stays(plant, snapshot, value - sp)
    a_lo, a_hi = admissible
    if a_lo < a_hi:  # every value strictly inside is accepted, and keeps to the envelope
        inside = a_lo + pick * (a_hi - a_lo)
        _, inside_reasons = check_predicted(TAG, inside, sp, RULES, plant, snapshot)
        assert inside_reasons == ()
        assert prediction_stays(plant, snapshot, inside - sp)


def test_look_ahead_measured_disturbance_is_superposed_in_the_prediction():
    plant = plant_with(335.0, None)
    calm = state(plant, 330.0, 325.0, 0.0, 60.0, 0.0, 0.0)
    disturbed = state(plant, 330.0, 325.0, 0.0, 60.0, -3.0, 0.0)  # measured 10 s ago, not yet felt
    assert calm.forecast is not None and disturbed.forecast is not None
    moved = disturbed.forecast.base["TT-101"] - calm.forecast.base["TT-101"]
    # The disturbance stepped 10 s ago, inside its 15 s dead time: TT-101 has not moved yet (no trend to
    # see), and the model says it will, by gain * step = -0.4 * -3 = +1.2 K in the end.
    expected = 1.2 * (1 - np.exp(-(10.0 + plant.horizon_s - 15.0) / 20.0))
    assert moved[-1] == pytest.approx(expected, rel=1e-6)
    _, reasons = check_predicted(TAG, 329.5, 325.0, RULES, plant, disturbed)
    _, calm_reasons = check_predicted(TAG, 329.5, 325.0, RULES, plant, calm)
    assert calm_reasons == () and reasons != ()  # the same move is refused once the disturbance is counted
