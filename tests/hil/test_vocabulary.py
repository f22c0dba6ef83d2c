"""The new assertion vocabulary on hand-made records: each can fail, and says which assertion by how much.

`whenever ... for ... then ... within`, the trace functions (prev, rate, rising, falling, age), audit field
filters, `monotonic`, `applied_writes` (the PLC write log joined to frames and proposals), and NOT EXERCISED
for a condition that never arose.
"""

from __future__ import annotations

from typing import Any

import pytest

from otgate.core.audit_chain import AuditRecord
from otgate_hil.assertions import judge
from otgate_hil.record import Event, RunRecord
from otgate_hil.scenario import Scenario
from otgate_simulator.frame_faults import Delivery
from otgate_simulator.simulation import WriteRecord


def scenario(
    assertions: list[dict[str, Any]], seconds: int, marks: dict[str, float] | None = None
) -> Scenario:
    return Scenario.model_validate(
        {
            "apiVersion": "hil.otgate/v1",
            "kind": "Scenario",
            "metadata": {"id": "V", "title": "vocabulary", "category": "operator"},
            "plant": "tank",
            "seed": 1,
            "duration": f"{seconds} s",
            "timeline": [{"id": k, "at": f"{v} s", "do": "mark"} for k, v in (marks or {}).items()],
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


def record(
    assertions: list[dict[str, Any]],
    xs: list[float],
    ys: list[float] | None = None,
    *,
    audit: list[tuple[float, AuditRecord]] = (),  # type: ignore[assignment]
    writes: list[WriteRecord] = (),  # type: ignore[assignment]
    deliveries: list[Delivery] = (),  # type: ignore[assignment]
    marks: dict[str, float] | None = None,
) -> RunRecord:
    ys = ys if ys is not None else [0.0] * len(xs)
    rows = [{"t": float(i + 1), "x": x, "y": y} for i, (x, y) in enumerate(zip(xs, ys, strict=True))]
    events = [Event(t, label, "mark") for label, t in (marks or {}).items()]
    return RunRecord(
        scenario(assertions, len(xs), marks),
        "otgate",
        "modbus",
        ["t", "x", "y"],
        rows,
        events,
        list(writes),
        list(audit),
        deliveries=list(deliveries),
    )


def audit_record(seq: int, at: float, kind: str, data: dict[str, Any], actor: str = "gateway") -> AuditRecord:
    return AuditRecord(seq=seq, at=at, kind=kind, actor=actor, data=data, prev_hash="", hash="")


# ------------------------------------------------------------------------------------------ whenever


def test_whenever_held_long_enough_and_answered_in_time_passes_with_slack():
    xs = [0, 5, 5, 5, 5, 0, 0]
    ys = [0, 0, 0, 0, 1, 1, 1]
    (out,) = judge(
        record([{"id": "w", "whenever": "x > 1", "for": "2 s", "then": "y == 1", "within": "2 s"}], xs, ys)
    )
    assert out.passed and out.margin == 1.0  # triggered at t=4 (held 2 s from t=2), answered at t=5


def test_whenever_answered_late_fails_naming_assertion_and_margin():
    xs = [0, 5, 5, 5, 5, 5, 5, 5]
    ys = [0, 0, 0, 0, 0, 0, 0, 1]
    (out,) = judge(
        record(
            [{"id": "local_when_high", "whenever": "x > 1", "for": "2 s", "then": "y == 1", "within": "2 s"}],
            xs,
            ys,
        )
    )
    assert not out.passed and out.exercised
    assert out.id == "local_when_high" and out.margin == -2.0
    assert "(margin -2 s)" in out.message and out.first_violation_s == 6.0


def test_whenever_that_never_arose_is_not_exercised_and_not_a_pass():
    xs = [0, 5, 0, 5, 5, 0]  # never above 1 for 3 s without a break
    (out,) = judge(
        record([{"id": "w", "whenever": "x > 1", "for": "3 s", "then": "y == 1", "within": "2 s"}], xs)
    )
    assert not out.passed and not out.exercised
    assert out.verdict == "NOT EXERCISED"
    assert "never held for 3 s (longest stretch 1 s)" in out.detail and out.message.startswith(
        "not exercised"
    )


def test_when_that_never_fired_is_not_exercised():
    (out,) = judge(record([{"id": "w", "when": "x > 9", "then": "y == 1", "within": "2 s"}], [0, 1, 2]))
    assert out.verdict == "NOT EXERCISED"


def test_whenever_needs_for_then_and_within():
    with pytest.raises(ValueError, match="'whenever' needs 'for', 'then' and 'within'"):
        scenario([{"id": "w", "whenever": "x > 1", "then": "y == 1", "within": "2 s"}], 3)


# ------------------------------------------------------------------------------------------ trace functions


@pytest.mark.parametrize(
    ("text", "xs", "passes"),
    [
        ("rate(x) <= 1.0", [0, 1, 2, 3], True),
        ("rate(x) <= 1.0", [0, 1, 3, 4], False),
        ("prev(x) <= x", [0, 1, 2, 2], True),
        ("prev(x) <= x", [0, 2, 1, 2], False),
        ("rising(x) == 0", [3, 3, 2, 1], True),
        ("rising(x) == 0", [3, 3, 4, 1], False),
        ("falling(x) == 0", [1, 2, 2, 3], True),
        ("falling(x) == 0", [1, 2, 1, 3], False),
        ("age(x) < 2", [1, 2, 3, 4], True),
        ("age(x) < 2", [1, 2, 2, 2], False),
    ],
)
def test_trace_functions_can_pass_and_fail(text: str, xs: list[float], passes: bool):
    (out,) = judge(record([{"id": "f", "always": text, "during": {"from": "2 s", "to": "end"}}], xs))
    assert out.passed is passes


def test_rate_on_the_first_row_is_unknown_so_an_always_over_it_fails():
    (out,) = judge(record([{"id": "f", "always": "rate(x) <= 1.0"}], [0, 1, 2]))
    assert not out.passed and out.first_violation_s == 1.0


def test_age_reports_its_margin_in_seconds():
    (out,) = judge(
        record(
            [{"id": "stuck", "always": "age(x) < 2", "during": {"from": "2 s", "to": "end"}}], [1, 2, 2, 2, 2]
        )
    )
    assert not out.passed and out.margin == -1.0 and "(margin -1)" in out.message


def test_trace_function_of_an_unknown_variable_cannot_be_evaluated():
    (out,) = judge(record([{"id": "f", "always": "rate(nope) < 1"}], [0, 1]))
    assert not out.passed and "unknown variable 'nope'" in out.detail


# ------------------------------------------------------------------------------------------ audit


def test_count_with_field_filters_matches_nested_data_and_fails_with_margin():
    audit = [
        (1.0, audit_record(1, 1.0, "approval", {"id": "a", "outcome": "mismatch"}, "operator:ann")),
        (2.0, audit_record(2, 2.0, "approval", {"id": "a", "outcome": "approved"}, "operator:ann")),
    ]
    spec = {
        "of": "audit",
        "kind": "approval",
        "fields": {"data.outcome": "mismatch", "actor": "operator:ann"},
    }
    (ok,) = judge(record([{"id": "c", "count": {**spec, "min": 1, "max": 1}}], [0, 0], audit=audit))
    assert ok.passed
    (bad,) = judge(record([{"id": "two_refusals", "count": {**spec, "min": 2}}], [0, 0], audit=audit))
    assert not bad.passed and bad.margin == -1 and bad.id == "two_refusals" and "(margin -1)" in bad.message


def test_field_filter_on_a_missing_path_matches_nothing():
    audit = [(1.0, audit_record(1, 1.0, "decision", {"decision": "accepted"}))]
    (out,) = judge(
        record(
            [{"id": "c", "count": {"of": "audit", "fields": {"data.nope.deeper": 1}, "max": 0}}],
            [0],
            audit=audit,
        )
    )
    assert out.passed


def test_monotonic_audit_at_fails_when_time_goes_backwards():
    audit = [
        (1.0, audit_record(1, 100.0, "x", {})),
        (2.0, audit_record(2, 99.5, "x", {})),
        (3.0, audit_record(3, 101.0, "x", {})),
    ]
    (out,) = judge(record([{"id": "ordered", "monotonic": {"of": "audit.at"}}], [0, 0, 0], audit=audit))
    assert not out.passed and out.margin == -0.5 and out.first_violation_s == 2.0


def test_monotonic_strict_refuses_equal_neighbours_and_plain_allows_them():
    audit = [(1.0, audit_record(1, 100.0, "x", {})), (2.0, audit_record(2, 100.0, "x", {}))]
    (plain,) = judge(record([{"id": "m", "monotonic": {"of": "audit.at"}}], [0, 0], audit=audit))
    (strict,) = judge(
        record([{"id": "m", "monotonic": {"of": "audit.at", "strict": True}}], [0, 0], audit=audit)
    )
    assert plain.passed and not strict.passed


def test_monotonic_over_a_trace_variable_and_with_too_few_values():
    (down,) = judge(record([{"id": "m", "monotonic": {"of": "x"}}], [1, 2, 1]))
    assert not down.passed
    (few,) = judge(record([{"id": "m", "monotonic": {"of": "audit.seq"}}], [1, 2, 3]))
    assert few.verdict == "NOT EXERCISED"


# ------------------------------------------------------------------------------------------ applied writes


def _write(t: float, value: float) -> WriteRecord:
    return WriteRecord(t, "modbus", "LIC-101.RSP", "holding:0", value, True)


def _plc_write(seq: int, t: float, value: float, proposal: str) -> tuple[float, AuditRecord]:
    return (
        t,
        audit_record(seq, t, "plc_write", {"tag": "LIC-101.RSP", "value": value, "proposal_id": proposal}),
    )


def test_applied_writes_catches_a_frame_applied_late():
    writes = [_write(2.0, 600.0), _write(5.0, 610.0)]
    deliveries = [
        Delivery(1, 2.0, 2.0, 16, 0),
        Delivery(2, 2.0, 5.0, 16, 0),
    ]  # frame 2 sent at 2, applied at 5
    spec = {"tag": "LIC-101.RSP", "max_age": "1 scan", "min": 1}
    (out,) = judge(
        record([{"id": "fresh", "applied_writes": spec}], [0] * 5, writes=writes, deliveries=deliveries)
    )
    assert not out.passed and out.margin == -2.0 and out.first_violation_s == 5.0
    assert "sent 2 s applied 5 s" in out.detail and "(margin -2)" in out.message


def test_applied_writes_catches_a_proposal_applied_twice():
    writes = [_write(2.0, 600.0), _write(4.0, 600.0)]
    audit = [_plc_write(1, 2.0, 600.0, "p-1"), _plc_write(2, 4.0, 600.0, "p-1")]
    (out,) = judge(
        record([{"id": "once", "applied_writes": {"once": True}}], [0] * 4, writes=writes, audit=audit)
    )
    assert not out.passed and out.margin == -1.0 and "(proposal p-1)" in out.detail


def test_applied_writes_ramp_steps_of_one_proposal_are_not_duplicates():
    writes = [_write(2.0, 600.0), _write(3.0, 600.5)]
    audit = [_plc_write(1, 2.0, 600.0, "p-1"), _plc_write(2, 3.0, 600.5, "p-1")]
    (out,) = judge(
        record(
            [{"id": "once", "applied_writes": {"once": True, "min": 2}}], [0] * 3, writes=writes, audit=audit
        )
    )
    assert out.passed


def test_applied_writes_without_any_write_fails_no_vacuous_pass():
    (out,) = judge(record([{"id": "a", "applied_writes": {"once": True}}], [0, 0]))
    assert not out.passed and "no vacuous pass" in out.detail
