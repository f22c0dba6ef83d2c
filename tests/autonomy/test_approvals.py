"""Risk-tiered oversight through the gateway: the highest tier is never written without two different
operators; the same operator twice is refused; approvals faster than reading raise the rubber-stamp alarm."""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate.core.approval import ApprovalOutcome
from otgate.core.autonomy_policy import AutonomyPolicy, RiskPolicy, RubberStampPolicy, ShadowExit
from otgate.core.decision import Verdict
from tests.autonomy.harness import Day, earned_config

# Supervised from a short shadow; moves of 0.4 mm are low risk, 10 mm high, 18 mm and more highest.
POLICY = AutonomyPolicy(
    to_supervised=ShadowExit(min_hours=0.0, min_proposals=5),
    rubber_stamp=RubberStampPolicy(min_read_s=3.0, too_fast_count=3, window=10),
    risk=RiskPolicy(high_move_fraction=0.4, highest_move_fraction=0.9),
)


async def supervised_day(tmp_path: Path) -> Day:
    day = Day(tmp_path, earned_config(POLICY))
    for k in range(5):
        await day.tick(60.0)
        day.propose(0.4 if k % 2 else -0.4)
    assert day.sign_off() and day.level() == "supervised"
    await day.engage()
    return day


async def test_low_risk_move_in_supervised_is_applied_without_approval(tmp_path: Path):
    day = await supervised_day(tmp_path)
    await day.tick(30.0)
    _, answer = day.propose(0.4)
    assert answer.decision.verdict is Verdict.ACCEPTED and answer.decision.risk == "low"
    await day.tick(1.0)
    assert day.rsp_writes()[-1:] == [answer.decision.value]


@pytest.mark.requirement("R-29")
async def test_highest_risk_move_needs_two_different_operators(tmp_path: Path):
    day = await supervised_day(tmp_path)
    await day.tick(30.0)
    writes = len(day.rsp_writes())
    proposal, answer = day.propose(19.0)  # 19/20 of the max move: highest
    assert answer.decision.verdict is Verdict.PENDING_APPROVAL
    assert answer.decision.risk == "highest" and answer.decision.approvals_required == 2
    await day.tick(40.0)
    assert day.answer("bob", proposal) is ApprovalOutcome.NEEDS_ANOTHER
    await day.tick(5.0)
    assert day.answer("bob", proposal) is ApprovalOutcome.SAME_OPERATOR  # bob twice: refused
    await day.tick(5.0)
    assert len(day.rsp_writes()) == writes  # nothing written on one operator's word
    assert day.answer("carol", proposal) is ApprovalOutcome.APPROVED
    await day.tick(1.0)
    assert day.rsp_writes()[writes:] == [answer.decision.ramp[0]]  # the approved ramp's first step
    outcomes = [r.data["outcome"] for r in day.store.records() if r.kind == "approval"]
    assert outcomes == ["needs_another", "same_operator", "approved"]


async def test_high_risk_move_is_written_after_one_approval_only(tmp_path: Path):
    day = await supervised_day(tmp_path)
    await day.tick(30.0)
    writes = len(day.rsp_writes())
    proposal, answer = day.propose(10.0)
    assert answer.decision.approvals_required == 1
    await day.tick(25.0)
    assert len(day.rsp_writes()) == writes
    assert day.answer("bob", proposal) is ApprovalOutcome.APPROVED
    await day.tick(1.0)
    assert day.rsp_writes()[writes:] == [answer.decision.ramp[0]]  # tank moves ramp at 0.5 mm/s


async def test_rubber_stamp_alarm_for_sub_second_approvals(tmp_path: Path):
    day = await supervised_day(tmp_path)
    for _ in range(4):
        await day.tick(60.0)
        proposal, _ = day.propose(10.0)  # one way: alternating ramps would be an OSCILLATION anomaly
        await day.tick(0.4)  # approved 0.4 s after it was queued
        assert day.answer("bob", proposal) is ApprovalOutcome.APPROVED
    assert "RUBBER_STAMP:LIC-101" in day.gateway.alarms


async def test_rubber_stamp_no_alarm_for_a_realistic_pattern(tmp_path: Path):
    day = await supervised_day(tmp_path)
    for k, read_s in enumerate([14.0, 35.0, 8.5, 61.0, 22.0, 9.0, 40.0, 17.0, 5.5, 28.0]):
        await day.tick(60.0)
        proposal, _ = day.propose(10.0)  # one way: alternating ramps would be an OSCILLATION anomaly
        await day.tick(read_s)
        outcome = day.answer("bob", proposal, approve=k != 6)
        assert outcome is (ApprovalOutcome.REJECTED if k == 6 else ApprovalOutcome.APPROVED)
    assert "RUBBER_STAMP:LIC-101" not in day.gateway.alarms
