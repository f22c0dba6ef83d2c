"""The earned-autonomy state machine, event by event, and its one invariant: only evidence promotes."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from otgate.core.autonomy import (
    HOUR_S,
    AutonomyEvent,
    Entry,
    Key,
    apply,
    demotion_due,
    effective_level,
    eligibility,
    new_entry,
)
from otgate.core.autonomy_policy import AutonomyPolicy, Demotion, DemotionPolicy
from otgate.core.config import Autonomy
from otgate.core.evidence import Tally

KEY = Key("optimizer", "ab" * 32, "LIC-101")
POLICY = AutonomyPolicy()


def shadow_earned() -> Entry:
    return replace(new_entry(KEY, 0.0), stage=Tally(proposals=200, would_accept=195))


def supervised_earned() -> Entry:
    return Entry(KEY, Autonomy.SUPERVISED, 0.0, stage=Tally(proposals=100, would_accept=100, approvals=100))


def test_new_entry_starts_in_shadow():
    assert new_entry(KEY, 5.0).level is Autonomy.SHADOW


def test_eligibility_shadow_with_policy_evidence_is_eligible_for_supervised():
    judged = eligibility(shadow_earned(), POLICY, 8 * HOUR_S)
    assert judged.eligible and judged.next_level is Autonomy.SUPERVISED


def test_eligibility_shadow_too_few_hours_names_the_hours():
    judged = eligibility(shadow_earned(), POLICY, 7.9 * HOUR_S)
    assert not judged.eligible
    assert [u for u in judged.unmet if u.startswith("hours observed")]


def test_eligibility_shadow_low_acceptance_is_not_eligible():
    entry = replace(new_entry(KEY, 0.0), stage=Tally(proposals=200, would_accept=180, conduct_refusals=20))
    judged = eligibility(entry, POLICY, 9 * HOUR_S)
    assert any("would-be acceptance" in u for u in judged.unmet)


def test_eligibility_availability_refusals_do_not_count_against_acceptance():
    stage = Tally(proposals=300, would_accept=200, availability_refusals=100)
    judged = eligibility(replace(new_entry(KEY, 0.0), stage=stage), POLICY, 9 * HOUR_S)
    assert judged.eligible


def test_eligibility_one_safety_refusal_blocks_promotion():
    entry = replace(shadow_earned(), stage=Tally(proposals=201, would_accept=200, safety_refusals=1))
    assert not eligibility(entry, POLICY, 9 * HOUR_S).eligible


def test_eligibility_supervised_needs_reviews_and_few_rejections():
    assert eligibility(supervised_earned(), POLICY, 1.0).eligible
    many_rejected = replace(supervised_earned(), stage=Tally(proposals=100, approvals=95, rejections=5))
    assert any("operator rejection" in u for u in eligibility(many_rejected, POLICY, 1.0).unmet)


def test_eligibility_autonomous_is_the_top():
    judged = eligibility(Entry(KEY, Autonomy.AUTONOMOUS, 0.0), POLICY, 1.0)
    assert not judged.eligible and judged.next_level is None


def test_sign_off_eligible_promotes_and_restarts_the_stage():
    moved = apply(shadow_earned(), AutonomyEvent.SIGN_OFF, POLICY, 9 * HOUR_S, "signed")
    assert moved is not None and moved.is_promotion
    assert moved.after.level is Autonomy.SUPERVISED
    assert moved.after.stage == Tally() and moved.after.stage_since == 9 * HOUR_S


def test_sign_off_not_eligible_is_refused():
    assert apply(new_entry(KEY, 0.0), AutonomyEvent.SIGN_OFF, POLICY, 100 * HOUR_S, "signed") is None


def test_sign_off_at_the_top_is_refused():
    entry = Entry(KEY, Autonomy.AUTONOMOUS, 0.0)
    assert apply(entry, AutonomyEvent.SIGN_OFF, POLICY, 1e9, "signed") is None


def test_safety_refusal_one_level_demotes_autonomous_to_supervised():
    entry = Entry(KEY, Autonomy.AUTONOMOUS, 0.0)
    moved = apply(entry, AutonomyEvent.SAFETY_REFUSAL, POLICY, 10.0, "OUT_OF_RANGE")
    assert moved is not None and moved.after.level is Autonomy.SUPERVISED and not moved.is_promotion


def test_safety_refusal_policy_shadow_demotes_straight_to_shadow():
    policy = AutonomyPolicy(demotion=DemotionPolicy(on_safety_refusal=Demotion.TO_SHADOW))
    moved = apply(Entry(KEY, Autonomy.AUTONOMOUS, 0.0), AutonomyEvent.SAFETY_REFUSAL, policy, 10.0, "x")
    assert moved is not None and moved.after.level is Autonomy.SHADOW


def test_anomaly_default_policy_demotes_to_shadow():
    moved = apply(Entry(KEY, Autonomy.SUPERVISED, 0.0), AutonomyEvent.ANOMALY, POLICY, 10.0, "x")
    assert moved is not None and moved.after.level is Autonomy.SHADOW


def test_demotion_in_shadow_stays_shadow_and_restarts_evidence():
    moved = apply(shadow_earned(), AutonomyEvent.SAFETY_REFUSAL, POLICY, 5 * HOUR_S, "x")
    assert moved is not None and moved.after.level is Autonomy.SHADOW
    assert moved.after.stage == Tally() and moved.after.stage_since == 5 * HOUR_S


def test_demotion_due_rejections_over_the_policy():
    entry = Entry(KEY, Autonomy.SUPERVISED, 0.0, stage=Tally(approvals=17, rejections=3))
    assert demotion_due(entry, POLICY) is AutonomyEvent.OPERATOR_REJECTIONS


def test_demotion_due_too_few_reviews_to_judge():
    entry = Entry(KEY, Autonomy.SUPERVISED, 0.0, stage=Tally(approvals=5, rejections=3))
    assert demotion_due(entry, POLICY) is None


def test_effective_level_tag_ceiling_caps_the_earned_level():
    entry = Entry(KEY, Autonomy.AUTONOMOUS, 0.0)
    assert effective_level(entry, Autonomy.SUPERVISED) is Autonomy.SUPERVISED
    assert effective_level(new_entry(KEY, 0.0), Autonomy.AUTONOMOUS) is Autonomy.SHADOW


EVENTS = st.sampled_from(list(AutonomyEvent))


@given(st.lists(st.tuples(EVENTS, st.floats(0, 1e7)), max_size=30))
def test_property_an_entry_without_evidence_never_rises_above_shadow(events):
    """Whatever is sent (sign-offs included), an entry whose evidence never meets a policy stays put."""
    entry = new_entry(KEY, 0.0)
    for event, now in events:
        moved = apply(entry, event, POLICY, now, "fuzz")
        if moved is not None:
            entry = moved.after
        assert entry.level is Autonomy.SHADOW


@given(st.integers(0, 400), st.integers(0, 400), st.integers(0, 3), st.floats(0, 48 * HOUR_S))
def test_property_sign_off_promotes_only_when_eligible(proposals, accepted, safety, now):
    stage = Tally(proposals=proposals, would_accept=min(accepted, proposals), safety_refusals=safety)
    entry = replace(new_entry(KEY, 0.0), stage=stage)
    moved = apply(entry, AutonomyEvent.SIGN_OFF, POLICY, now, "signed")
    assert (moved is not None) == eligibility(entry, POLICY, now).eligible
