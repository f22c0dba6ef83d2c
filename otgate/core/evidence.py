"""The evidence an engine earns (or loses) autonomy on: one ledger entry per engine x model digest x loop.

Evidence is counted per *stage* (since the engine entered its current level) because each promotion asks
a new question: shadow asks "would its moves have been accepted?", supervised asks "do operators agree
with them?". Totals over the whole life of the entry are kept beside it for the record.

Refusals are told apart by what they say about the engine:
    safety        the engine asked for something unsafe or not its own: out of range, interlock, predicted
                  excursion, unauthorised or unknown tag, non-finite value, a model it may not use
    availability  the plant or the gateway could not take a move: PLC unavailable, loop not in AI mode,
                  quarantine, config reload, internal error. Not the engine's fault; not counted against it
    conduct       the engine's manners: too large, too fast, stale, replayed. Counted against acceptance
    no change     within the deadband: nothing to judge
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from otgate.core.decision import Decision, ReasonCode, Verdict


class RefusalClass(StrEnum):
    SAFETY = "safety"
    AVAILABILITY = "availability"
    CONDUCT = "conduct"
    NO_CHANGE = "no_change"


SAFETY_CODES = frozenset(
    {
        ReasonCode.UNKNOWN_TAG,
        ReasonCode.NOT_AUTHORIZED,
        ReasonCode.READ_ONLY,
        ReasonCode.NOT_FINITE,
        ReasonCode.OUT_OF_RANGE,
        ReasonCode.INTERLOCK,
        ReasonCode.PREDICTED_EXCURSION,
        ReasonCode.MODEL_NOT_ALLOWED,
    }
)
AVAILABILITY_CODES = frozenset(
    {
        ReasonCode.PLC_UNAVAILABLE,
        ReasonCode.MODE_BLOCKED,
        ReasonCode.ENGINE_QUARANTINED,
        ReasonCode.CONFIG_RELOADED,
        ReasonCode.INTERNAL_ERROR,
    }
)


def refusal_class(decision: Decision) -> RefusalClass | None:
    """None when the proposal passed every rule (whatever its level made of it). A refusal is classed by
    its gravest reason: one safety reason among availability reasons is still a safety refusal."""
    if decision.verdict is not Verdict.REJECTED:
        return None
    codes = set(decision.codes)
    if codes & SAFETY_CODES:
        return RefusalClass.SAFETY
    if codes == {ReasonCode.NO_CHANGE}:
        return RefusalClass.NO_CHANGE
    if codes and codes <= AVAILABILITY_CODES:
        return RefusalClass.AVAILABILITY
    return RefusalClass.CONDUCT


@dataclass(frozen=True, slots=True)
class Tally:
    """Counts over one span of time (a stage, or the entry's whole life)."""

    proposals: int = 0
    would_accept: int = 0  # passed every rule (written, queued for approval, or would have been)
    safety_refusals: int = 0
    availability_refusals: int = 0
    conduct_refusals: int = 0
    no_change: int = 0
    anomalies: int = 0  # anomalies attributed to the engine on this loop
    approvals: int = 0  # operator approvals of its supervised moves
    rejections: int = 0  # operator rejections of its supervised moves
    applied_low_risk: int = 0  # supervised moves applied without review (low risk)
    review_latency_s: float = 0.0  # sum over approvals and rejections

    @property
    def judged(self) -> int:
        """Proposals that say something about the engine (availability and no-change refusals do not)."""
        return self.proposals - self.availability_refusals - self.no_change

    @property
    def would_be_acceptance(self) -> float:
        return self.would_accept / self.judged if self.judged else 0.0

    @property
    def reviewed(self) -> int:
        return self.approvals + self.rejections

    @property
    def operator_rejection(self) -> float:
        return self.rejections / self.reviewed if self.reviewed else 0.0

    @property
    def mean_review_s(self) -> float | None:
        return self.review_latency_s / self.reviewed if self.reviewed else None


def count_decision(tally: Tally, decision: Decision, applied_low_risk: bool = False) -> Tally:
    cls = refusal_class(decision)
    more = {
        None: {"would_accept": tally.would_accept + 1},
        RefusalClass.SAFETY: {"safety_refusals": tally.safety_refusals + 1},
        RefusalClass.AVAILABILITY: {"availability_refusals": tally.availability_refusals + 1},
        RefusalClass.CONDUCT: {"conduct_refusals": tally.conduct_refusals + 1},
        RefusalClass.NO_CHANGE: {"no_change": tally.no_change + 1},
    }[cls]
    low = tally.applied_low_risk + (1 if applied_low_risk else 0)
    return replace(tally, proposals=tally.proposals + 1, applied_low_risk=low, **more)


def count_review(tally: Tally, approved: bool, latency_s: float) -> Tally:
    latency = tally.review_latency_s + max(0.0, latency_s)
    if approved:
        return replace(tally, approvals=tally.approvals + 1, review_latency_s=latency)
    return replace(tally, rejections=tally.rejections + 1, review_latency_s=latency)


def count_anomaly(tally: Tally) -> Tally:
    return replace(tally, anomalies=tally.anomalies + 1)


def tally_data(tally: Tally) -> dict[str, float | int | None]:
    """The tally as the audit trail and the APIs show it."""
    return {
        "proposals": tally.proposals,
        "would_accept": tally.would_accept,
        "would_be_acceptance": round(tally.would_be_acceptance, 4),
        "safety_refusals": tally.safety_refusals,
        "availability_refusals": tally.availability_refusals,
        "conduct_refusals": tally.conduct_refusals,
        "no_change": tally.no_change,
        "anomalies": tally.anomalies,
        "approvals": tally.approvals,
        "rejections": tally.rejections,
        "operator_rejection": round(tally.operator_rejection, 4),
        "applied_low_risk": tally.applied_low_risk,
        "mean_review_s": None if tally.mean_review_s is None else round(tally.mean_review_s, 3),
    }
