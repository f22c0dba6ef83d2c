"""A decision as the StatusCode of the OPC UA write that asked for it.

A legacy optimiser only sees the write's StatusCode, so the code must say the verdict on its own:

    accepted, ramping                  Good                   (the value, or its first ramp step, is written)
    rejected NO_CHANGE only            Good                   (already there within the deadband; nothing to do)
    pending_approval                   GoodCompletesAsynchronously (an operator decides; nothing written yet)
    advisory, shadow                   BadNotWritable         (not written for this engine at its level)
    rejected                           the first reason's code below, in rule order

The reasons themselves, with their details, are in the write's DiagnosticInfo when the client asks for
it (`diagnostics.py`), in the `<tag>.Decision` node next to the setpoint, and in the audit trail.
"""

from __future__ import annotations

from asyncua import ua

from otgate.core.decision import Decision, ReasonCode, Verdict

StatusCodes = ua.StatusCodes
_BY_REASON: dict[ReasonCode, int] = {
    ReasonCode.UNKNOWN_TAG: StatusCodes.BadNodeIdUnknown,
    ReasonCode.NOT_AUTHORIZED: StatusCodes.BadUserAccessDenied,
    ReasonCode.ENGINE_QUARANTINED: StatusCodes.BadUserAccessDenied,
    ReasonCode.READ_ONLY: StatusCodes.BadNotWritable,
    ReasonCode.NOT_FINITE: StatusCodes.BadOutOfRange,
    ReasonCode.OUT_OF_RANGE: StatusCodes.BadOutOfRange,
    ReasonCode.MOVE_TOO_LARGE: StatusCodes.BadOutOfRange,
    ReasonCode.RATE_EXCEEDED: StatusCodes.BadOutOfRange,
    ReasonCode.WINDOW_CHANGE_EXCEEDED: StatusCodes.BadOutOfRange,
    ReasonCode.INTERLOCK: StatusCodes.BadInvalidState,
    ReasonCode.MODE_BLOCKED: StatusCodes.BadInvalidState,
    ReasonCode.WRITE_TOO_FREQUENT: StatusCodes.BadTooManyOperations,
    ReasonCode.PLC_UNAVAILABLE: StatusCodes.BadNoCommunication,
}
FALLBACK_BAD = StatusCodes.BadRequestNotAllowed  # any other rule: refused, see the Decision node


def status_for(decision: Decision) -> int:
    if decision.verdict in (Verdict.ACCEPTED, Verdict.RAMPING):
        return StatusCodes.Good
    if decision.verdict is Verdict.PENDING_APPROVAL:
        return StatusCodes.GoodCompletesAsynchronously
    if decision.verdict in (Verdict.ADVISORY, Verdict.SHADOW):
        return StatusCodes.BadNotWritable
    if decision.codes == (ReasonCode.NO_CHANGE,):
        return StatusCodes.Good
    for reason in decision.reasons:
        if reason.code in _BY_REASON:
            return _BY_REASON[reason.code]
    return FALLBACK_BAD


def name_of(status: int) -> str:
    return str(ua.StatusCode(ua.UInt32(status)).name)
