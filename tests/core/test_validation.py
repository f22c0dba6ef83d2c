"""One behaviour per test: each reason code fires for its cause and only then."""

from __future__ import annotations

import math

import pytest

from otgate.core.config import Autonomy, RatePolicy
from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import compile_plant
from otgate.core.proposal import History, Snapshot, WriteEvent
from otgate.core.validation import plan_ramp, revalidate, validate
from tests.core.plants import NOW, TAG, TANK, proposal, snapshot

R = ReasonCode


def decide(
    value: float = 655.0, *, history: History | None = None, snap: Snapshot | None = None, **changes: object
):
    return validate(proposal(value, **changes), snap or snapshot(), TANK, history or History(), NOW)


def test_validate_move_within_every_rule_accepted_with_value():
    decision = decide(650.4)
    assert decision.verdict is Verdict.ACCEPTED
    assert decision.value == 650.4
    assert decision.reasons == ()


@pytest.mark.requirement("R-01")
def test_validate_unknown_tag_rejected():
    decision = decide(tag="FIC-999.SP")
    assert decision.verdict is Verdict.REJECTED
    assert decision.codes == (R.UNKNOWN_TAG,)


@pytest.mark.requirement("R-01", "R-27")
def test_validate_tag_engine_may_not_write_not_authorized():
    restricted = TANK.config.model_copy(
        update={"engines": {"optimizer": TANK.config.engines["optimizer"].model_copy(update={"writes": []})}}
    )
    decision = validate(proposal(650.4), snapshot(), compile_plant(restricted), History(), NOW)
    assert decision.codes == (R.NOT_AUTHORIZED,)


@pytest.mark.requirement("R-27")
def test_validate_unknown_engine_not_authorized():
    assert R.NOT_AUTHORIZED in decide(650.4, engine="intruder").codes


@pytest.mark.requirement("R-51")
def test_validate_model_digest_not_in_allow_list_rejected():
    engine = TANK.config.engines["optimizer"].model_copy(
        update={"allowed_model_digests": ["sha256:" + "a" * 64]}
    )
    plant = compile_plant(TANK.config.model_copy(update={"engines": {"optimizer": engine}}))
    decision = validate(proposal(650.4, model_digest="sha256:" + "b" * 64), snapshot(), plant, History(), NOW)
    assert decision.codes == (R.MODEL_NOT_ALLOWED,)


@pytest.mark.parametrize("tag", ["LIT-101", "LIC-101.OUT", "LSHH-101", "LIC-101.MODE_REQ", "PLC.HEARTBEAT"])
@pytest.mark.requirement("R-01")
def test_validate_non_setpoint_tag_read_only(tag: str):
    decision = decide(1.0, tag=tag)
    assert decision.verdict is Verdict.REJECTED
    assert R.READ_ONLY in decision.codes


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.requirement("R-02")
def test_validate_non_finite_value_rejected(value: float):
    decision = decide(value)
    assert decision.verdict is Verdict.REJECTED
    assert R.NOT_FINITE in decision.codes
    assert decision.value is None


@pytest.mark.parametrize("value", [499.999, 800.001, -1e9, 1e12])
@pytest.mark.requirement("R-03")
def test_validate_outside_hard_limits_rejected_not_clamped(value: float):
    decision = decide(value, snap=snapshot(790.0 if value > 700 else 510.0))
    assert R.OUT_OF_RANGE in decision.codes
    assert decision.verdict is Verdict.REJECTED
    assert decision.value is None


@pytest.mark.parametrize(("readback", "value"), [(799.7, 800.0), (500.3, 500.0)])
@pytest.mark.requirement("R-03")
def test_validate_hard_limits_inclusive(readback: float, value: float):
    assert decide(value, snap=snapshot(readback)).verdict is Verdict.ACCEPTED


@pytest.mark.requirement("R-04")
def test_validate_move_too_large_against_plc_readback_not_last_command():
    # The gateway last wrote 650 but the PLC now runs at 600 (local change): the move is judged from 600.
    history = History(writes={TAG: [WriteEvent(NOW - 100, 650.0, 649.6)]})
    decision = validate(proposal(650.4), snapshot(600.0), TANK, history, NOW)
    assert R.MOVE_TOO_LARGE in decision.codes


@pytest.mark.requirement("R-04")
def test_validate_rate_exceeded_under_reject_policy():
    plant = _with_rules(on_rate_violation=RatePolicy.REJECT)
    decision = validate(proposal(652.0), snapshot(650.0), plant, History(), NOW)
    assert decision.verdict is Verdict.REJECTED
    assert decision.codes == (R.RATE_EXCEEDED,)


@pytest.mark.requirement("R-04")
def test_validate_large_move_under_ramp_policy_becomes_ramp():
    decision = decide(660.0)
    assert decision.verdict is Verdict.RAMPING
    assert decision.value == pytest.approx(650.5)
    assert decision.ramp[-1] == 660.0
    assert set(decision.codes) <= {R.MOVE_TOO_LARGE, R.RATE_EXCEEDED}


def test_validate_window_budget_exceeded_catches_salami():
    # 400 s of legal small moves have already taken the setpoint from 500 to 699.8.
    writes = [WriteEvent(NOW - 400 + i, 500.0 + 0.5 * i + 0.5, 500.0 + 0.5 * i) for i in range(399)]
    decision = validate(proposal(700.4), snapshot(699.5), TANK, History(writes={TAG: writes}), NOW)
    assert R.WINDOW_CHANGE_EXCEEDED in decision.codes


@pytest.mark.requirement("R-07")
def test_validate_interlock_blocks_increase_only():
    high = snapshot(650.0, LIT_101=950.0)
    assert R.INTERLOCK in decide(650.4, snap=high).codes
    assert decide(649.6, snap=high).verdict is Verdict.ACCEPTED


@pytest.mark.requirement("R-07")
def test_validate_interlock_with_bad_quality_input_fails_safe():
    snap = snapshot(650.0)
    bad = Snapshot(snap.taken_at, snap.values, frozenset({"LIT-101"}), True, snap.loop_modes)
    assert R.INTERLOCK in decide(650.4, snap=bad).codes


@pytest.mark.requirement("R-44")
def test_validate_write_too_frequent_counting_the_scan_until_the_write():
    plant = _with_rules(min_write_interval_s=5.0)
    recent = History(writes={TAG: [WriteEvent(NOW - 3.5, 650.0, 649.6)]})
    later = History(writes={TAG: [WriteEvent(NOW - 4.0, 650.0, 649.6)]})
    assert R.WRITE_TOO_FREQUENT in validate(proposal(650.4), snapshot(), plant, recent, NOW).codes
    assert validate(proposal(650.4), snapshot(), plant, later, NOW).verdict is Verdict.ACCEPTED


@pytest.mark.requirement("R-09")
def test_revalidate_write_too_frequent_without_grace():
    history = History(writes={TAG: [WriteEvent(NOW - 0.5, 650.0, 649.6)]})
    assert decide(650.4, history=history).verdict is Verdict.ACCEPTED
    assert R.WRITE_TOO_FREQUENT in revalidate(proposal(650.4), snapshot(), TANK, history, NOW).codes


@pytest.mark.requirement("R-09")
def test_revalidate_ignores_seen_id_and_age_but_not_quarantine():
    old = proposal(650.4, issued_at=NOW - 1000)
    assert revalidate(old, snapshot(), TANK, History(seen_ids={"rec-1"}), NOW).verdict is Verdict.ACCEPTED
    assert (
        R.ENGINE_QUARANTINED
        in revalidate(old, snapshot(), TANK, History(quarantined={"optimizer"}), NOW).codes
    )


@pytest.mark.requirement("R-09")
def test_revalidate_supervised_value_judged_as_a_write():
    plant = _with_rules(autonomy=Autonomy.SUPERVISED)
    assert revalidate(proposal(650.4), snapshot(), plant, History(), NOW).verdict is Verdict.ACCEPTED


@pytest.mark.requirement("R-06")
def test_validate_issued_too_long_ago_stale():
    assert R.STALE in decide(650.4, issued_at=NOW - 31).codes


@pytest.mark.requirement("R-06")
def test_validate_basis_data_too_old_stale():
    assert R.STALE in decide(650.4, basis_at=NOW - 11).codes


@pytest.mark.requirement("R-06")
def test_validate_issued_in_the_future_rejected():
    assert R.FUTURE in decide(650.4, issued_at=NOW + 3).codes


def test_validate_small_clock_skew_tolerated():
    assert decide(650.4, issued_at=NOW + 1.5).verdict is Verdict.ACCEPTED


@pytest.mark.requirement("R-10")
def test_validate_seen_id_replay():
    assert R.REPLAY in decide(650.4, history=History(seen_ids={"rec-1"})).codes


@pytest.mark.parametrize("mode", [LoopMode.FALLBACK, LoopMode.MANUAL])
@pytest.mark.requirement("R-18")
def test_validate_loop_not_in_ai_mode_blocked(mode: LoopMode):
    assert R.MODE_BLOCKED in decide(650.4, snap=snapshot(mode=mode)).codes


@pytest.mark.requirement("R-07")
def test_validate_plc_loop_not_remote_blocked():
    snap = snapshot(650.0)
    local = Snapshot(
        snap.taken_at, {**snap.values, "LIC-101.MODE": float(PlcMode.AUTO)}, loop_modes=snap.loop_modes
    )
    assert decide(650.4, snap=local).codes == (R.MODE_BLOCKED,)


@pytest.mark.requirement("R-15")
def test_validate_quarantined_engine_rejected():
    assert R.ENGINE_QUARANTINED in decide(650.4, history=History(quarantined={"optimizer"})).codes


@pytest.mark.requirement("R-19")
def test_validate_plc_link_down_unavailable():
    snap = snapshot()
    down = Snapshot(snap.taken_at, snap.values, plc_available=False, loop_modes=snap.loop_modes)
    decision = decide(650.4, snap=down)
    assert decision.codes == (R.PLC_UNAVAILABLE,)


@pytest.mark.requirement("R-19")
def test_validate_old_snapshot_unavailable():
    snap = snapshot()
    old = Snapshot(NOW - 10, snap.values, loop_modes=snap.loop_modes)
    assert R.PLC_UNAVAILABLE in decide(650.4, snap=old).codes


@pytest.mark.requirement("R-05")
def test_validate_within_deadband_no_change():
    decision = decide(650.1, snap=snapshot(650.0))
    assert decision.verdict is Verdict.REJECTED
    assert decision.codes == (R.NO_CHANGE,)


def test_validate_several_failures_all_named_in_rule_order():
    decision = decide(
        900.0, issued_at=NOW - 100, history=History(seen_ids={"rec-1"}), snap=snapshot(mode=LoopMode.FALLBACK)
    )
    assert decision.codes[:3] == (R.REPLAY, R.STALE, R.OUT_OF_RANGE)
    assert R.MODE_BLOCKED in decision.codes


@pytest.mark.requirement("R-22")
def test_validate_supervised_tag_pending_approval_without_value():
    decision = validate(
        proposal(650.4), snapshot(), _with_rules(autonomy=Autonomy.SUPERVISED), History(), NOW
    )
    assert decision.verdict is Verdict.PENDING_APPROVAL
    assert decision.value is None


@pytest.mark.requirement("R-22")
def test_validate_advisory_tag_never_written():
    decision = validate(proposal(650.4), snapshot(), _with_rules(autonomy=Autonomy.ADVISORY), History(), NOW)
    assert decision.verdict is Verdict.ADVISORY
    assert decision.value is None


@pytest.mark.requirement("R-04")
def test_plan_ramp_steps_respect_move_and_rate():
    rules = TANK.config.tags[TAG].setpoint
    assert rules is not None
    plan = plan_ramp(650.0, 652.0, rules, 1.0, 650.0)
    assert plan == (650.5, 651.0, 651.5, 652.0)


@pytest.mark.requirement("R-04")
def test_plan_ramp_target_beyond_budget_refused():
    rules = TANK.config.tags[TAG].setpoint
    assert rules is not None
    assert plan_ramp(500.0, 780.0, rules, 1.0, 500.0) == ()


def _with_rules(**changes: object):
    tag = TANK.config.tags[TAG]
    assert tag.setpoint is not None
    rules = tag.setpoint.model_copy(update=changes)
    tags = {**TANK.config.tags, TAG: tag.model_copy(update={"setpoint": rules})}
    return compile_plant(TANK.config.model_copy(update={"tags": tags}))
