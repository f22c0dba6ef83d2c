"""How decisions count as evidence: a refusal is classed by its gravest reason."""

from __future__ import annotations

import pytest

from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.evidence import RefusalClass, Tally, count_decision, count_review, refusal_class


def rejected(*codes: ReasonCode) -> Decision:
    return Decision("r", "T", Verdict.REJECTED, tuple(Reason(c, "") for c in codes))


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (Decision("r", "T", Verdict.ACCEPTED, (), 1.0), None),
        (Decision("r", "T", Verdict.SHADOW), None),
        (rejected(ReasonCode.OUT_OF_RANGE), RefusalClass.SAFETY),
        (rejected(ReasonCode.PREDICTED_EXCURSION), RefusalClass.SAFETY),
        (rejected(ReasonCode.NOT_AUTHORIZED), RefusalClass.SAFETY),
        (rejected(ReasonCode.MODE_BLOCKED, ReasonCode.INTERLOCK), RefusalClass.SAFETY),
        (rejected(ReasonCode.PLC_UNAVAILABLE), RefusalClass.AVAILABILITY),
        (rejected(ReasonCode.MODE_BLOCKED), RefusalClass.AVAILABILITY),
        (rejected(ReasonCode.MODE_BLOCKED, ReasonCode.RATE_EXCEEDED), RefusalClass.CONDUCT),
        (rejected(ReasonCode.STALE), RefusalClass.CONDUCT),
        (rejected(ReasonCode.NO_CHANGE), RefusalClass.NO_CHANGE),
    ],
)
def test_refusal_class_table_decision_gives_class(decision, expected):
    assert refusal_class(decision) is expected


def test_count_decision_acceptance_ignores_availability_and_no_change():
    tally = Tally()
    for decision in (
        Decision("r", "T", Verdict.SHADOW),
        rejected(ReasonCode.PLC_UNAVAILABLE),
        rejected(ReasonCode.NO_CHANGE),
        rejected(ReasonCode.MOVE_TOO_LARGE),
    ):
        tally = count_decision(tally, decision)
    assert tally.proposals == 4 and tally.judged == 2 and tally.would_be_acceptance == 0.5


def test_count_review_latency_and_rejection_rate():
    tally = count_review(count_review(Tally(), True, 10.0), False, 20.0)
    assert tally.reviewed == 2 and tally.operator_rejection == 0.5 and tally.mean_review_s == 15.0
