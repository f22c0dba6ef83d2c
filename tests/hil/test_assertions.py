"""Assertion semantics on hand-made records: margins, first violations, and no vacuous passes."""

from __future__ import annotations

import math
from typing import Any

from otgate_hil.assertions import judge
from otgate_hil.record import Event, RunRecord
from otgate_hil.scenario import Scenario
from otgate_simulator.simulation import WriteRecord


def record(
    assertions: list[dict[str, Any]], xs: list[float], events: list[Event] = (), writes=()
) -> RunRecord:  # type: ignore[assignment]
    scenario = Scenario.model_validate(
        {
            "apiVersion": "hil.otgate/v1",
            "kind": "Scenario",
            "metadata": {"id": "T", "title": "t", "category": "operator"},
            "plant": "tank",
            "seed": 1,
            "duration": f"{len(xs)} s",
            "timeline": [{"id": e.label, "at": f"{e.t} s", "do": "mark"} for e in events],
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
    rows = [{"t": float(i + 1), "x": x, "sp": 10.0} for i, x in enumerate(xs)]
    return RunRecord(scenario, "otgate", "modbus", ["sp", "t", "x"], rows, list(events), list(writes), [])


def test_always_reports_smallest_margin_and_first_violation():
    (ok,) = judge(record([{"id": "a", "always": "x <= 5.0"}], [1.0, 4.5, 2.0]))
    assert ok.passed and ok.margin == 0.5
    (bad,) = judge(record([{"id": "a", "always": "x <= 5.0"}], [1.0, 6.0, 7.0]))
    assert not bad.passed and bad.first_violation_s == 2.0 and bad.margin == -2.0


def test_never_treats_unknown_as_violation():
    (out,) = judge(record([{"id": "n", "never": "x > 5.0"}], [1.0, math.nan]))
    assert not out.passed


def test_when_whose_trigger_never_fires_fails():
    (out,) = judge(
        record([{"id": "w", "when": "x > 100.0", "then": "x < 0.0", "within": "2 scan"}], [1.0, 2.0])
    )
    assert not out.passed and "never fired" in out.detail


def test_when_then_within_reports_slack():
    rows = [0.0, 5.0, 5.0, 1.0, 0.0]
    (out,) = judge(record([{"id": "w", "when": "x > 4.0", "then": "x < 2.0", "within": "3 scan"}], rows))
    assert out.passed and out.margin == 1.0
    (late,) = judge(record([{"id": "w", "when": "x > 4.0", "then": "x < 2.0", "within": "1 scan"}], rows))
    assert not late.passed and late.margin == -1.0


def test_after_event_that_never_happened_fails():
    out = judge(record([{"id": "a", "after": "start", "within": "1 s", "expect": "x > 100.0"}], [1.0, 2.0]))[
        0
    ]
    assert not out.passed


def test_after_event_within_duration():
    events = [Event(2.0, "kick", "mark")]
    (out,) = judge(
        record([{"id": "a", "after": "kick", "within": "2 s", "expect": "x > 3.0"}], [0, 0, 1, 4, 5], events)
    )
    assert out.passed and out.margin == 0.0


def test_count_over_write_log_with_window_and_per_scan_limit():
    writes = [
        WriteRecord(t, "modbus", "LIC-101.RSP", "holding:0", v, True)
        for t, v in [(1.0, 1), (2.0, 2), (2.0, 9)]
    ]
    spec = {"of": "plc_writes", "tag": "LIC-101.RSP", "per_scan_max": 1}
    (out,) = judge(record([{"id": "c", "count": spec}], [0, 0, 0], writes=writes))
    assert not out.passed and out.first_violation_s == 2.0
    above = {
        "of": "plc_writes",
        "tag": "LIC-101.RSP",
        "value_above": 5.0,
        "max": 0,
        "during": {"from": "start", "to": "1 s"},
    }
    (windowed,) = judge(record([{"id": "c", "count": above}], [0, 0, 0], writes=writes))
    assert windowed.passed


def test_unchanged_is_bit_exact():
    (out,) = judge(record([{"id": "u", "unchanged": "x"}], [1.0, 1.0, 1.0 + 1e-15]))
    assert not out.passed


def test_first_write_after_event_without_any_write_fails():
    events = [Event(1.0, "rearm", "mark")]
    spec = {"after": "rearm", "tag": "LIC-101.RSP", "max_step": 1.0, "working_sp": "sp"}
    (out,) = judge(record([{"id": "f", "first_write": spec}], [0, 0], events))
    assert not out.passed and "no vacuous pass" in out.detail
