"""Human oversight under earned autonomy: what a decision becomes at the engine's level, who must approve
it, and whether the approvals look considered.

`oversee` takes the validation chain's decision (computed as if the engine had the tag's full autonomy)
and holds it back to the earned level. It never turns a refusal into anything else and never writes
more than the chain allowed:

    chain said           shadow       supervised (risk class)                  autonomous
    rejected             rejected     rejected                                 rejected
    accepted / ramping   shadow       low: as the chain said; high / highest:  as the chain said
                                      pending_approval (1 / 2 operators)
    pending_approval     shadow       pending_approval (at least 1 operator;   pending_approval
    (tag is supervised)               2 when highest)
    advisory             shadow       advisory                                 advisory
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from otgate.core.autonomy_policy import RubberStampPolicy
from otgate.core.config import Autonomy
from otgate.core.decision import Decision, Verdict
from otgate.core.risk import RiskJudgement


def oversee(decision: Decision, level: Autonomy, risk: RiskJudgement | None) -> Decision:
    chain = decision.verdict
    if chain in (Verdict.REJECTED, Verdict.SHADOW):
        return decision
    risk_class = decision.risk if risk is None else risk.risk.value
    if level is Autonomy.SHADOW:
        return replace(decision, verdict=Verdict.SHADOW, value=None, would_be=chain, risk=risk_class)
    if level is not Autonomy.SUPERVISED or chain is Verdict.ADVISORY:
        return replace(decision, risk=risk_class)
    required = risk.approvals_required if risk is not None else 1
    if chain is Verdict.PENDING_APPROVAL:
        return replace(decision, risk=risk_class, approvals_required=max(1, required))
    if required == 0:
        return replace(decision, risk=risk_class)
    return replace(
        decision,
        verdict=Verdict.PENDING_APPROVAL,
        value=None,
        would_be=chain,
        approvals_required=required,
        risk=risk_class,
    )


class ApprovalStep(StrEnum):
    COMPLETE = "complete"  # enough different operators have approved: it may go to the write gate
    NEEDS_ANOTHER = "needs_another"  # recorded; a different operator must approve as well
    SAME_OPERATOR = "same_operator"  # refused: this operator has already approved it


def add_approval(approvers: Sequence[str], user: str, required: int) -> ApprovalStep:
    """Dual approval: each approval must come from a different operator; the same one twice is refused."""
    if user in approvers:
        return ApprovalStep.SAME_OPERATOR
    if len(approvers) + 1 >= max(1, required):
        return ApprovalStep.COMPLETE
    return ApprovalStep.NEEDS_ANOTHER


@dataclass(frozen=True, slots=True)
class Review:
    """One operator's answer to one supervised proposal: how long after it was queued, and what."""

    latency_s: float
    approved: bool


def rubber_stamp(reviews: Sequence[Review], policy: RubberStampPolicy) -> str | None:
    """Why these reviews (oldest first) look like rubber-stamping, or None when they do not."""
    window = reviews[-policy.window :]
    fast = [r for r in window if r.approved and r.latency_s < policy.min_read_s]
    if len(fast) >= policy.too_fast_count:
        return (
            f"{len(fast)} of the last {len(window)} approvals came within {policy.min_read_s:g} s of the"
            " proposal: faster than it can be read"
        )
    run = reviews[-policy.uniform_run :]
    if len(run) == policy.uniform_run and all(r.approved for r in run):
        spread = max(r.latency_s for r in run) - min(r.latency_s for r in run)
        if spread <= policy.uniform_spread_s:
            return (
                f"the last {len(run)} reviews were all approvals at an unvarying pace"
                f" (latencies within {spread:.2g} s)"
            )
    return None
