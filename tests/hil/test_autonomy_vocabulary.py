"""The HIL vocabulary of earned autonomy on hand-made records and specs: the `autonomy` assertion can
fail and says why, the standing reviewer keeps its pace, the new actions validate their fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from otgate.api.schemas import ModelInfo
from otgate.core.audit_chain import AuditRecord
from otgate_hil.assertions import judge
from otgate_hil.engines import model_of
from otgate_hil.record import Event, RunRecord
from otgate_hil.reviewers import Reviewers
from otgate_hil.scenario import Injection, Scenario

EPOCH = 1_800_000_000.0
POLICY = {"to_supervised": {"min_hours": 0.0, "min_proposals": 2}}


def scenario(assertions: list[dict[str, Any]], timeline: list[dict[str, Any]] | None = None) -> Scenario:
    return Scenario.model_validate(
        {
            "apiVersion": "hil.otgate/v1",
            "kind": "Scenario",
            "metadata": {"id": "V", "title": "vocabulary", "category": "operator"},
            "plant": "tank",
            "seed": 1,
            "duration": "10 s",
            "overrides": {"loops": {"LIC-101": {"autonomy": POLICY}}},
            "timeline": timeline or [{"id": "signed", "at": "5 s", "do": "mark"}],
            "assertions": assertions,
            "plot": {
                "pv": "x",
                "sp_tag": "LIC-101.RSP",
                "working_sp": "sp",
                "loop": "LIC-101",
                "limits": [0, 1],
            },
        }
    )


def trail(sign_off: bool) -> list[tuple[float, AuditRecord]]:
    records: list[tuple[float, AuditRecord]] = []

    def add(t: float, kind: str, actor: str, data: dict[str, Any]) -> None:
        records.append((t, AuditRecord(len(records) + 1, EPOCH + t, kind, actor, data, "", "")))

    for n in (1, 2):
        add(
            n,
            "recommendation",
            "engine:optimizer",
            {"id": f"r{n}", "tag": "LIC-101.RSP", "model_digest": "d"},
        )
        add(
            n,
            "decision",
            "gateway",
            {"id": f"r{n}", "tag": "LIC-101.RSP", "decision": "shadow", "reasons": []},
        )
    if sign_off:
        data = {"event": "sign_off", "engine": "optimizer", "model_digest": "d", "loop": "LIC-101"}
        add(5, "autonomy_change", "operator:engineer", {**data, "from": "shadow", "to": "supervised"})
    return records


def record(assertion: dict[str, Any], sign_off: bool = True) -> RunRecord:
    rows = [{"t": float(i + 1), "x": 0.0} for i in range(10)]
    return RunRecord(
        scenario([assertion]),
        "otgate",
        "modbus",
        ["t", "x"],
        rows,
        [Event(5.0, "signed", "mark")],
        [],
        trail(sign_off),
    )


@pytest.mark.parametrize(
    ("spec", "sign_off", "passed", "says"),
    [
        ({"at": "signed + 1 s", "level": "supervised"}, True, True, "supervised"),
        ({"at": "signed - 1 s", "level": "shadow", "eligible": True}, True, True, "eligible"),
        ({"at": "signed + 1 s", "level": "autonomous"}, True, False, "supervised"),
        ({"at": "signed + 1 s", "level": "supervised"}, False, False, "shadow, eligible"),
        ({"at": "1 s", "eligible": True}, True, False, "proposals: 1, needs at least 2"),
    ],
)
def test_autonomy_assertion_reads_the_trail_up_to_its_moment(
    spec: dict[str, Any], sign_off: bool, passed: bool, says: str
):
    (outcome,) = judge(record({"id": "a", "autonomy": {"loop": "LIC-101", **spec}}, sign_off))
    assert outcome.passed is passed
    assert says in outcome.detail


def test_autonomy_assertion_on_a_loop_without_policy_fails_with_the_reason():
    rec = record({"id": "a", "autonomy": {"loop": "LIC-101", "at": "signed", "level": "shadow"}})
    rec.scenario = scenario(
        [{"id": "a", "autonomy": {"loop": "LIC-101", "at": "signed", "level": "shadow"}}]
    ).model_copy(update={"overrides": {}})
    (outcome,) = judge(rec)
    assert not outcome.passed and "no earned-autonomy policy" in outcome.detail


def test_autonomy_assertion_needs_a_level_or_eligibility():
    with pytest.raises(ValidationError, match="'level', 'eligible' or both"):
        scenario([{"id": "a", "autonomy": {"loop": "LIC-101", "at": "signed"}}])


def test_autonomy_assertion_unknown_event_is_refused_at_load():
    with pytest.raises(ValidationError, match="unknown event 'nowhere'"):
        scenario([{"id": "a", "autonomy": {"loop": "LIC-101", "at": "nowhere", "level": "shadow"}}])


def test_reviewers_answer_every_period_after_going_on_duty_until_stopped():
    reviewers = Reviewers()
    start = Injection.model_validate({"at": "100 s", "do": "operator.reviews", "tag": "T", "every": "20 s"})
    reviewers.apply(start, 100.0)
    due = [t for t in range(100, 161) if reviewers.due(float(t))]
    assert due == [120, 140, 160]
    (action,) = reviewers.due(120.0)
    assert (action.kind, action.tag, action.user) == ("review", "T", "operator")
    reviewers.apply(
        Injection.model_validate({"at": "150 s", "do": "operator.reviews_stop", "tag": "T"}), 150.0
    )
    assert reviewers.due(160.0) == []


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"do": "engine.model", "engine": "optimizer"}, "needs ['version']"),
        ({"do": "engineer.sign_off"}, "needs ['loop']"),
        ({"do": "operator.reviews", "tag": "T"}, "needs ['every']"),
        (
            {"do": "operator.reviews", "tag": "T", "every": "20 s", "reject_every": 0},
            "greater than or equal to 1",
        ),
        ({"do": "engineer.sign_off", "loop": "L", "version": "v2"}, "does not take ['version']"),
    ],
)
def test_autonomy_actions_validate_their_fields(item: dict[str, Any], problem: str):
    with pytest.raises(ValidationError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        Injection.model_validate({"at": "1 s", **item})


def test_model_of_names_one_wire_valid_digest_per_engine_and_version():
    first = model_of("optimizer", "v1")
    assert ModelInfo.model_validate(first.model_dump()) == first
    assert model_of("optimizer", "v1").digest == first.digest
    assert model_of("optimizer", "v2").digest != first.digest
    assert model_of("composer", "v1").digest != first.digest
