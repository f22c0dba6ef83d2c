"""Earned autonomy through the gateway over simulated days: shadow -> eligible -> signed -> supervised ->
eligible -> autonomous; a safety-class refusal demotes at once; a new model digest goes back to shadow."""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate.core.approval import ApprovalOutcome
from otgate.core.decision import Verdict
from otgate.core.modes import LoopMode
from tests.autonomy.harness import NEW_DIGEST, Day

SHADOW_STEP_S = 150.0  # a proposal every 2.5 min: 250 of them is 10.4 h


async def through_shadow(day: Day) -> None:
    """250 good proposals over 10.4 h while conventional control runs the loop (never engaged)."""
    for k in range(250):
        await day.tick(SHADOW_STEP_S)
        _, answer = day.propose(0.4 if k % 2 else -0.4)
        assert answer.decision.verdict is Verdict.SHADOW
        assert answer.decision.would_be is Verdict.ACCEPTED
        if k == 100:
            assert not day.sign_off()  # too early: refused, recorded nowhere, nothing changes
            assert day.level() == "shadow"


async def through_supervised(day: Day, reviews: int = 20) -> None:
    """Each move is high risk (policy): one operator approves it after reading it for 20-80 s."""
    for k in range(reviews):
        await day.tick(120.0)
        proposal, answer = day.propose(0.4 if k % 2 else -0.4)
        assert answer.decision.verdict is Verdict.PENDING_APPROVAL
        assert answer.decision.approvals_required == 1 and answer.decision.risk == "high"
        await day.tick(20.0 + 9.0 * (k % 7))
        assert day.answer("bob", proposal) is ApprovalOutcome.APPROVED
        await day.tick(1.0)


@pytest.mark.requirement("R-24")
async def test_lifecycle_well_behaved_engine_climbs_to_autonomous_on_evidence_and_sign_off(tmp_path: Path):
    day = Day(tmp_path)
    await day.tick(1.0)
    assert day.gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK  # start-up is in fallback
    await through_shadow(day)
    assert day.rsp_writes() == []  # shadow wrote nothing in 10 hours
    row = day.row()
    assert row["eligible"] and row["level"] == "shadow"
    assert row["stage"]["proposals"] == 250 and row["stage"]["safety_refusals"] == 0  # type: ignore[index]

    assert day.sign_off()
    assert day.level() == "supervised"
    (signed,) = [c for c in day.changes() if c["event"] == "sign_off"]
    assert signed["to"] == "supervised" and signed["evidence"]["proposals"] == 250  # type: ignore[index]
    assert not day.row()["eligible"]  # a new stage: supervision has to be earned afresh

    await day.engage()
    writes_before = len(day.rsp_writes())
    await through_supervised(day)
    assert len(day.rsp_writes()) == writes_before + 20  # each approved move was written
    assert day.row()["eligible"]
    assert day.sign_off()
    assert day.level() == "autonomous"

    await day.tick(120.0)
    _, answer = day.propose(0.4)
    assert answer.decision.verdict is Verdict.ACCEPTED  # no approval needed any more


@pytest.mark.requirement("R-24")
async def test_lifecycle_one_safety_refusal_demotes_at_once(tmp_path: Path):
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    await day.engage()
    await through_supervised(day)
    assert day.sign_off() and day.level() == "autonomous"

    await day.tick(60.0)
    _, answer = day.propose(400.0)  # far beyond the hard limit 800: OUT_OF_RANGE
    assert answer.decision.verdict is Verdict.REJECTED
    assert day.level() == "supervised"  # one level, as the default policy says
    demoted = day.changes()[-1]
    assert demoted["event"] == "safety_refusal" and "OUT_OF_RANGE" in str(demoted["reason"])
    await day.tick(60.0)
    _, answer = day.propose(0.4)
    assert answer.decision.verdict is Verdict.PENDING_APPROVAL  # supervised again from the next proposal


@pytest.mark.requirement("R-24")
async def test_lifecycle_new_model_digest_goes_back_to_shadow_on_every_loop(tmp_path: Path):
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off() and day.level() == "supervised"
    await day.tick(60.0)
    _, answer = day.propose(0.4, digest=NEW_DIGEST)
    assert answer.decision.verdict is Verdict.SHADOW
    assert day.level() == "shadow"
    reset = [c for c in day.changes() if c["event"] == "new_model"]
    assert reset and reset[-1]["model_digest"] == NEW_DIGEST and reset[-1]["from"] == "supervised"


@pytest.mark.requirement("R-24")
async def test_lifecycle_never_eligible_engine_is_never_promoted_whatever_is_sent(tmp_path: Path):
    day = Day(tmp_path)
    for k in range(400):  # 16 h; one out-of-range proposal in every 50
        await day.tick(SHADOW_STEP_S)
        day.propose(500.0 if k % 50 == 49 else (0.4 if k % 2 else -0.4))
        assert not day.sign_off("erin")
        assert day.level() == "shadow"
    assert day.rsp_writes() == []
    assert not [c for c in day.changes() if c["event"] == "sign_off"]


@pytest.mark.requirement("R-24")
async def test_lifecycle_operator_rejections_over_policy_demote(tmp_path: Path):
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    await day.engage()
    outcomes = []
    for k in range(20):  # 3 of 20 rejected: 15 % > 10 % (default demotion threshold) at the 20th review
        await day.tick(120.0)
        proposal, _ = day.propose(0.4 if k % 2 else -0.4)
        await day.tick(30.0 + k)
        outcomes.append(day.answer("bob", proposal, approve=k not in (3, 9, 15)))
    writes = len(day.rsp_writes())
    await day.tick(1.0)
    assert day.level() == "shadow"
    assert day.changes()[-1]["event"] == "operator_rejections"
    # The 20th answer was an approval, but its own evidence demoted the engine: it is not written.
    assert outcomes[-1] is ApprovalOutcome.WITHDRAWN
    assert len(day.rsp_writes()) == writes
