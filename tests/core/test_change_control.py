"""The two-person rule of managed change, event by event."""

from __future__ import annotations

import pytest

from otgate.core.change_control import ChangeEvent, ChangeRequest, ChangeState, Refusal, step

BASE = "a" * 64


def proposed() -> ChangeRequest:
    return ChangeRequest("chg-1", "alice", "tighter limit", BASE, "b" * 64)


def test_step_approve_by_second_engineer_records_the_approver():
    approved = step(proposed(), ChangeEvent.APPROVE, "bob", BASE)
    assert isinstance(approved, ChangeRequest)
    assert (approved.state, approved.proposed_by, approved.approved_by) == (
        ChangeState.APPROVED,
        "alice",
        "bob",
    )


def test_step_approve_by_proposer_is_refused():
    assert step(proposed(), ChangeEvent.APPROVE, "alice", BASE) is Refusal.PROPOSER_CANNOT_APPROVE


def test_step_apply_after_approval_names_who_applied():
    approved = step(proposed(), ChangeEvent.APPROVE, "bob", BASE)
    assert isinstance(approved, ChangeRequest)
    applied = step(approved, ChangeEvent.APPLY, "alice", BASE)
    assert isinstance(applied, ChangeRequest)
    assert (applied.state, applied.approved_by, applied.decided_by) == (ChangeState.APPLIED, "bob", "alice")


@pytest.mark.parametrize("event", [ChangeEvent.APPROVE, ChangeEvent.APPLY])
def test_step_on_changed_running_config_is_stale(event: ChangeEvent):
    change = (
        proposed() if event is ChangeEvent.APPROVE else step(proposed(), ChangeEvent.APPROVE, "bob", BASE)
    )
    assert isinstance(change, ChangeRequest)
    assert step(change, event, "bob" if event is ChangeEvent.APPROVE else "alice", "c" * 64) is Refusal.STALE


@pytest.mark.parametrize(
    ("state", "event", "allowed"),
    [
        (ChangeState.PROPOSED, ChangeEvent.APPLY, False),
        (ChangeState.PROPOSED, ChangeEvent.REJECT, True),
        (ChangeState.APPROVED, ChangeEvent.APPROVE, False),
        (ChangeState.APPROVED, ChangeEvent.REJECT, True),
        (ChangeState.APPLIED, ChangeEvent.APPLY, False),
        (ChangeState.APPLIED, ChangeEvent.REJECT, False),
        (ChangeState.REJECTED, ChangeEvent.APPROVE, False),
        (ChangeState.REJECTED, ChangeEvent.APPLY, False),
    ],
)
def test_step_table_allows_only_listed_transitions(state: ChangeState, event: ChangeEvent, allowed: bool):
    change = ChangeRequest("chg-1", "alice", "r", BASE, "b" * 64, state)
    outcome = step(change, event, "bob", BASE)
    assert isinstance(outcome, ChangeRequest) is allowed
    if not allowed:
        assert outcome is Refusal.NOT_ALLOWED_NOW
