"""What a decision becomes at the earned level, who must approve it, and when approvals look stamped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.autonomy_policy import RubberStampPolicy
from otgate.core.config import Autonomy
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.oversight import ApprovalStep, Review, add_approval, oversee, rubber_stamp
from otgate.core.risk import RiskClass, RiskFeatures, RiskJudgement

ACCEPTED = Decision("r1", "LIC-101.RSP", Verdict.ACCEPTED, (), 651.0)
RAMPING = Decision("r1", "LIC-101.RSP", Verdict.RAMPING, (), 651.0, (651.0, 652.0))
REJECTED = Decision("r1", "LIC-101.RSP", Verdict.REJECTED, (Reason(ReasonCode.OUT_OF_RANGE, "x"),))
PENDING = Decision("r1", "LIC-101.RSP", Verdict.PENDING_APPROVAL)
FEATURES = RiskFeatures(0.1, 0.3, None, None)


def risk(level: RiskClass) -> RiskJudgement:
    return RiskJudgement(level, FEATURES, ())


@pytest.mark.parametrize(
    ("chain", "level", "tier", "verdict", "approvals"),
    [
        (ACCEPTED, Autonomy.SHADOW, RiskClass.LOW, Verdict.SHADOW, 0),
        (REJECTED, Autonomy.SHADOW, None, Verdict.REJECTED, 0),
        (ACCEPTED, Autonomy.SUPERVISED, RiskClass.LOW, Verdict.ACCEPTED, 0),
        (RAMPING, Autonomy.SUPERVISED, RiskClass.LOW, Verdict.RAMPING, 0),
        (ACCEPTED, Autonomy.SUPERVISED, RiskClass.HIGH, Verdict.PENDING_APPROVAL, 1),
        (ACCEPTED, Autonomy.SUPERVISED, RiskClass.HIGHEST, Verdict.PENDING_APPROVAL, 2),
        (PENDING, Autonomy.SUPERVISED, RiskClass.LOW, Verdict.PENDING_APPROVAL, 1),
        (PENDING, Autonomy.SUPERVISED, RiskClass.HIGHEST, Verdict.PENDING_APPROVAL, 2),
        (REJECTED, Autonomy.SUPERVISED, None, Verdict.REJECTED, 0),
        (ACCEPTED, Autonomy.AUTONOMOUS, RiskClass.HIGHEST, Verdict.ACCEPTED, 0),
    ],
)
def test_oversee_table_chain_and_level_give_verdict(chain, level, tier, verdict, approvals):
    decided = oversee(chain, level, risk(tier) if tier else None)
    assert decided.verdict is verdict
    assert decided.approvals_required == approvals


def test_oversee_held_back_decision_writes_nothing_and_says_what_it_would_have_been():
    decided = oversee(ACCEPTED, Autonomy.SHADOW, risk(RiskClass.HIGH))
    assert decided.value is None and not decided.is_write
    assert decided.would_be is Verdict.ACCEPTED and decided.risk == "high"


@given(
    st.sampled_from([ACCEPTED, RAMPING, REJECTED, PENDING]),
    st.sampled_from(list(Autonomy)),
    st.sampled_from([None, *RiskClass]),
)
def test_property_oversee_never_writes_more_than_the_chain(chain, level, tier):
    decided = oversee(chain, level, risk(tier) if tier else None)
    assert not decided.is_write or (chain.is_write and decided.value == chain.value)
    if level is Autonomy.SHADOW:
        assert decided.verdict in (Verdict.SHADOW, Verdict.REJECTED)


def test_add_approval_highest_needs_two_different_operators():
    assert add_approval((), "alice", 2) is ApprovalStep.NEEDS_ANOTHER
    assert add_approval(("alice",), "alice", 2) is ApprovalStep.SAME_OPERATOR
    assert add_approval(("alice",), "bob", 2) is ApprovalStep.COMPLETE


def test_add_approval_high_one_operator_completes():
    assert add_approval((), "alice", 1) is ApprovalStep.COMPLETE


STAMP = RubberStampPolicy(min_read_s=3.0, too_fast_count=3, window=20, uniform_run=10, uniform_spread_s=0.5)


def test_rubber_stamp_sub_second_approvals_raise():
    reviews = [Review(0.4, True), Review(12.0, True), Review(0.6, True), Review(0.2, True)]
    detail = rubber_stamp(reviews, STAMP)
    assert detail is not None and "3 of the last 4" in detail


def test_rubber_stamp_realistic_pattern_does_not_raise():
    latencies = [14.0, 35.0, 8.5, 61.0, 22.0, 9.0, 40.0, 17.0, 5.5, 28.0, 11.0, 73.0]
    reviews = [Review(s, k % 7 != 3) for k, s in enumerate(latencies)]
    assert rubber_stamp(reviews, STAMP) is None


def test_rubber_stamp_unvarying_approvals_raise():
    reviews = [Review(5.0 + 0.01 * k, True) for k in range(10)]
    detail = rubber_stamp(reviews, STAMP)
    assert detail is not None and "unvarying" in detail


def test_rubber_stamp_a_rejection_breaks_the_uniform_run():
    reviews = [Review(5.0, k != 4) for k in range(10)]
    assert rubber_stamp(reviews, STAMP) is None
