"""Safety invariants of `validate`, as hypothesis properties over random proposals and plant states."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otgate.core.decision import Verdict
from otgate.core.modes import LoopMode
from otgate.core.proposal import History, WriteEvent
from otgate.core.rules import step_limit
from otgate.core.validation import plan_ramp, validate
from tests.core.plants import NOW, TAG, TANK, proposal, snapshot

RULES = TANK.config.tags[TAG].setpoint
assert RULES is not None

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=400.0, max_value=900.0),
    st.floats(min_value=640.0, max_value=660.0),
)
readbacks = st.floats(min_value=450.0, max_value=850.0)
modes = st.sampled_from(list(LoopMode))
ages = st.floats(min_value=-5.0, max_value=60.0)
last_write_ago = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1000.0))


@st.composite
def cases(draw: st.DrawFn):
    readback = draw(readbacks)
    prop = proposal(draw(values), issued_at=NOW - draw(ages), basis_at=NOW - draw(ages))
    ago = draw(last_write_ago)
    writes = {TAG: [WriteEvent(NOW - ago, readback, readback - 0.3)]} if ago is not None else {}
    history = History(seen_ids=draw(st.sets(st.sampled_from(["rec-1", "rec-2"]))), writes=writes)
    return prop, snapshot(readback, mode=draw(modes), LIT_101=draw(st.floats(0.0, 1600.0))), history


@settings(max_examples=400)
@given(cases())
@pytest.mark.requirement("R-02", "R-03", "R-04")
def test_accepted_value_finite_in_limits_and_within_move_and_rate(case):
    prop, snap, history = case
    decision = validate(prop, snap, TANK, history, NOW)
    if decision.value is None:
        return
    readback = snap.values["LIC-101.SP"]
    move = decision.value - readback
    assert math.isfinite(decision.value)
    assert RULES.limits.lo <= decision.value <= RULES.limits.hi
    assert abs(move) <= (RULES.max_move_up if move > 0 else RULES.max_move_down) + 1e-9
    assert abs(move) <= step_limit(RULES, move > 0, 1.0) + 1e-9
    assert decision.verdict in (Verdict.ACCEPTED, Verdict.RAMPING)


@settings(max_examples=400)
@given(cases())
def test_rejection_carries_at_least_one_reason(case):
    decision = validate(*case[:2], TANK, case[2], NOW)
    if decision.verdict is Verdict.REJECTED:
        assert decision.reasons
        assert decision.value is None


@settings(max_examples=200)
@given(cases())
def test_validate_deterministic(case):
    prop, snap, history = case
    assert validate(prop, snap, TANK, history, NOW) == validate(prop, snap, TANK, history, NOW)


@settings(max_examples=300)
@given(start=st.floats(500.0, 800.0), target=st.floats(500.0, 800.0), base_offset=st.floats(-150.0, 150.0))
@pytest.mark.requirement("R-04")
def test_ramp_plan_every_step_respects_every_rule(start: float, target: float, base_offset: float):
    base = start + base_offset
    plan = plan_ramp(start, target, RULES, 1.0, base)
    previous = start
    for value in plan:
        move = value - previous
        assert RULES.limits.contains(value)
        assert abs(move) <= min(RULES.max_move_up, step_limit(RULES, True, 1.0)) + 1e-9
        assert abs(value - base) <= RULES.change_budget.max_change + 1e-9
        previous = value
    if plan:
        assert plan[-1] == target
