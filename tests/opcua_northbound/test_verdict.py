"""Decision -> StatusCode of the OPC UA write, per verdict and per first mapped reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.opcua_northbound.verdict import name_of, status_for


def decided(verdict: Verdict, *codes: ReasonCode) -> Decision:
    return Decision("id", "LIC-101.RSP", verdict, tuple(Reason(code, "detail") for code in codes))


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        (decided(Verdict.ACCEPTED), "Good"),
        (decided(Verdict.RAMPING, ReasonCode.RATE_EXCEEDED), "Good"),
        (decided(Verdict.PENDING_APPROVAL), "GoodCompletesAsynchronously"),
        (decided(Verdict.ADVISORY), "BadNotWritable"),
        (decided(Verdict.SHADOW), "BadNotWritable"),  # earned autonomy: not written at this level
        (decided(Verdict.REJECTED, ReasonCode.NO_CHANGE), "Good"),
        (decided(Verdict.REJECTED, ReasonCode.OUT_OF_RANGE, ReasonCode.MOVE_TOO_LARGE), "BadOutOfRange"),
        (decided(Verdict.REJECTED, ReasonCode.NOT_AUTHORIZED), "BadUserAccessDenied"),
        (
            decided(Verdict.REJECTED, ReasonCode.ENGINE_QUARANTINED, ReasonCode.OUT_OF_RANGE),
            "BadUserAccessDenied",
        ),
        (decided(Verdict.REJECTED, ReasonCode.MODE_BLOCKED), "BadInvalidState"),
        (decided(Verdict.REJECTED, ReasonCode.INTERLOCK), "BadInvalidState"),
        (decided(Verdict.REJECTED, ReasonCode.PLC_UNAVAILABLE), "BadNoCommunication"),
        (decided(Verdict.REJECTED, ReasonCode.WRITE_TOO_FREQUENT), "BadTooManyOperations"),
        (decided(Verdict.REJECTED, ReasonCode.STALE), "BadRequestNotAllowed"),
        (decided(Verdict.REJECTED, ReasonCode.NO_CHANGE, ReasonCode.OUT_OF_RANGE), "BadOutOfRange"),
    ],
)
def test_status_for_decision_names_the_verdict(decision: Decision, status: str):
    assert name_of(status_for(decision)) == status


@pytest.mark.parametrize("code", list(ReasonCode))
def test_status_for_any_rejection_but_no_change_is_bad(code: ReasonCode):
    name = name_of(status_for(decided(Verdict.REJECTED, code)))
    assert name.startswith("Bad") or code is ReasonCode.NO_CHANGE


@given(
    st.sampled_from(list(Verdict)),
    st.lists(st.sampled_from(list(ReasonCode)), max_size=4),
)
def test_status_for_is_good_only_when_the_value_is_written_or_already_there(
    verdict: Verdict, codes: list[ReasonCode]
):
    """A legacy optimiser reads `Good` as "my value is in effect": never for a refusal or a wait."""
    name = name_of(status_for(decided(verdict, *codes)))
    written = verdict in (Verdict.ACCEPTED, Verdict.RAMPING)
    already_there = verdict is Verdict.REJECTED and codes == [ReasonCode.NO_CHANGE]
    assert (name == "Good") == (written or already_there)
    assert name.startswith("Bad") == (
        verdict in (Verdict.REJECTED, Verdict.ADVISORY, Verdict.SHADOW) and not already_there
    )
