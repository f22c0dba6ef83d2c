"""Decisions are values: what the gateway decided about one proposal, with every reason, in rule order."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # written as proposed
    RAMPING = "ramping"  # written as a ramp of setpoints that each respect every rule
    REJECTED = "rejected"  # nothing written
    PENDING_APPROVAL = "pending_approval"  # supervised tag: waits for an operator, then re-validated
    ADVISORY = "advisory"  # advisory tag: shown to operators, never written
    SHADOW = "shadow"  # shadow level: recorded with what it would have received, never shown or written


class ReasonCode(StrEnum):
    """Why a proposal was not written as proposed. A code never changes meaning once published."""

    UNKNOWN_TAG = "UNKNOWN_TAG"
    NOT_AUTHORIZED = "NOT_AUTHORIZED"
    MODEL_NOT_ALLOWED = "MODEL_NOT_ALLOWED"
    READ_ONLY = "READ_ONLY"
    NOT_FINITE = "NOT_FINITE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    MOVE_TOO_LARGE = "MOVE_TOO_LARGE"
    RATE_EXCEEDED = "RATE_EXCEEDED"
    WINDOW_CHANGE_EXCEEDED = "WINDOW_CHANGE_EXCEEDED"
    INTERLOCK = "INTERLOCK"
    WRITE_TOO_FREQUENT = "WRITE_TOO_FREQUENT"
    STALE = "STALE"
    FUTURE = "FUTURE"
    REPLAY = "REPLAY"
    MODE_BLOCKED = "MODE_BLOCKED"
    ENGINE_QUARANTINED = "ENGINE_QUARANTINED"
    PLC_UNAVAILABLE = "PLC_UNAVAILABLE"
    NO_CHANGE = "NO_CHANGE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CONFIG_RELOADED = "CONFIG_RELOADED"  # decided under a config that a reload has since replaced
    PREDICTED_EXCURSION = "PREDICTED_EXCURSION"  # the look-ahead takes a constrained variable out


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one proposal.

    `value` is what to write now (None when nothing may be written); `ramp` is the whole plan of
    setpoints, one per write period, ending at the proposed value (empty unless ramping). A scan
    re-validates every step against fresh read-backs before writing it.
    """

    proposal_id: str
    tag: str
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()
    value: float | None = None
    ramp: tuple[float, ...] = ()
    # The setpoints the look-ahead admits now (lo, hi), within the hard limits; None without models.
    admissible: tuple[float, float] | None = None
    # Earned autonomy (otgate.core.oversight): what the chain alone would have done (set when the engine's
    # level held it back), the move's risk class and how many different operators must approve it.
    would_be: Verdict | None = None
    risk: str | None = None
    approvals_required: int = 0

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(reason.code for reason in self.reasons)

    @property
    def is_write(self) -> bool:
        return self.verdict in (Verdict.ACCEPTED, Verdict.RAMPING)
