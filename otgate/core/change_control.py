"""Managed change of the plant config (MOC): the two-person rule as a small state machine.

Invariants:
- A change is proposed only as a candidate that passed the full config check (an invalid candidate is
  refused with its FILE:LINE:COL problems and never becomes a change).
- The proposer never approves their own change (two-person rule, IEC 62443-3-3 SR 2.1 RE 2 separation
  of duties): the refusal is a value, `PROPOSER_CANNOT_APPROVE`, and changes nothing.
- Only an approved change is applied, and only onto the config it was proposed against: if the running
  config changed in between, the diff and the replay the approver saw are no longer true (`STALE`).
- Applied, rejected and stale are final.

Transitions (event, state) -> state; anything else is refused with `NOT_ALLOWED_NOW`:

| event   | proposed | approved | applied | rejected |
|---------|----------|----------|---------|----------|
| approve | approved |          |         |          |
| reject  | rejected | rejected |         |          |
| apply   |          | applied  |         |          |
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class ChangeState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLIED = "applied"
    REJECTED = "rejected"


class ChangeEvent(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    APPLY = "apply"


class Refusal(StrEnum):
    PROPOSER_CANNOT_APPROVE = "proposer_cannot_approve"
    NOT_ALLOWED_NOW = "not_allowed_now"
    STALE = "stale"  # the running config is no longer the one the change was proposed against


TRANSITIONS: dict[tuple[ChangeEvent, ChangeState], ChangeState] = {
    (ChangeEvent.APPROVE, ChangeState.PROPOSED): ChangeState.APPROVED,
    (ChangeEvent.REJECT, ChangeState.PROPOSED): ChangeState.REJECTED,
    (ChangeEvent.REJECT, ChangeState.APPROVED): ChangeState.REJECTED,
    (ChangeEvent.APPLY, ChangeState.APPROVED): ChangeState.APPLIED,
}


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    id: str
    proposed_by: str
    reason: str
    base_sha256: str  # the running config the diff and the replay were made against
    candidate_sha256: str
    state: ChangeState = ChangeState.PROPOSED
    approved_by: str | None = None
    decided_by: str | None = None  # who rejected or applied it


def step(
    change: ChangeRequest, event: ChangeEvent, user: str, running_sha256: str
) -> ChangeRequest | Refusal:
    """The change after `user` does `event`, or why that is refused (nothing changes then)."""
    target = TRANSITIONS.get((event, change.state))
    if target is None:
        return Refusal.NOT_ALLOWED_NOW
    if event is ChangeEvent.APPROVE and user == change.proposed_by:
        return Refusal.PROPOSER_CANNOT_APPROVE
    if event is not ChangeEvent.REJECT and running_sha256 != change.base_sha256:
        return Refusal.STALE
    if event is ChangeEvent.APPROVE:
        return replace(change, state=target, approved_by=user)
    return replace(change, state=target, decided_by=user)
