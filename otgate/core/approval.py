"""Operator approvals of `supervised` recommendations.

An approval is bound to the exact recommendation (a digest of its id, engine, tag, value and issue time),
can be used once, and expires. Approving never writes by itself: the approved value is re-validated
against fresh read-backs before the write, like every other write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from otgate.core.proposal import Proposal


class ApprovalOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # no such pending recommendation (never queued, or already used)
    EXPIRED = "expired"
    MISMATCH = "mismatch"  # the digest does not match the queued recommendation
    NEEDS_ANOTHER = "needs_another"  # dual approval: recorded; a different operator must approve too
    SAME_OPERATOR = "same_operator"  # dual approval: this operator has already approved it (refused)
    WITHDRAWN = "withdrawn"  # the engine was demoted before the approval completed: nothing is written


def proposal_digest(proposal: Proposal) -> str:
    text = f"{proposal.id}\0{proposal.engine}\0{proposal.tag}\0{proposal.value!r}\0{proposal.issued_at!r}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AwaitingApproval:
    proposal: Proposal
    rationale: str | None
    queued_at: float
    decision_seq: int

    @property
    def digest(self) -> str:
        return proposal_digest(self.proposal)


def judge(item: AwaitingApproval | None, digest: str, ttl_s: float, now: float) -> ApprovalOutcome | None:
    """Why an approval cannot be used, or None when it can."""
    if item is None:
        return ApprovalOutcome.UNKNOWN
    if digest != item.digest:
        return ApprovalOutcome.MISMATCH
    if now - item.queued_at > ttl_s:
        return ApprovalOutcome.EXPIRED
    return None
