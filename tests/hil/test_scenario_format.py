"""Scenario files: units on every duration, a closed action set, conditions checked at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from otgate_hil.conditions import parse_condition
from otgate_hil.durations import parse_duration
from otgate_hil.scenario import Scenario, ScenarioError, load_scenario


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "hil.otgate/v1",
        "kind": "Scenario",
        "metadata": {"id": "T1", "title": "t", "category": "operator"},
        "plant": "tank",
        "seed": 1,
        "duration": "30 s",
        "assertions": [{"id": "a", "always": "true.LIT-101 < 1200.0"}],
        "plot": {
            "pv": "true.LIT-101",
            "sp_tag": "LIC-101.RSP",
            "working_sp": "plc.LIC-101.SP",
            "loop": "LIC-101",
            "limits": [500.0, 800.0],
        },
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90 s", 90.0),
        ("5 min", 300.0),
        ("1 h", 3600.0),
        ("3 scan", 3.0),
        ("2 plc_scan", 1.0),
        ("10 s + 1 plc_scan", 10.5),
        ("-2 min", -120.0),
        ("1.5e1 s", 15.0),
    ],
)
def test_parse_duration_reads_units(text: str, seconds: float):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["300", 300, "5 minutes", "10 s 5 s", "", "s"])
def test_parse_duration_without_a_known_unit_is_refused(text: Any):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_minimal_scenario_validates():
    assert Scenario.model_validate(minimal()).duration == 30.0


@pytest.mark.parametrize(
    "changes",
    [
        {"duration": 300},
        {"timeline": [{"at": "10 s", "do": "gateway.reboot"}]},
        {"timeline": [{"at": "10 s", "when": "t > 1", "do": "plc.restart"}]},
        {"timeline": [{"at": "10 s", "do": "sensor.bias", "tag": "LIT-101"}]},
        {"assertions": [{"id": "a", "always": "t > 1", "never": "t < 0"}]},
        {"assertions": [{"id": "a", "when": "t > 1", "then": "t > 2"}]},
        {"assertions": [{"id": "a", "after": "nothing", "within": "1 s", "expect": "t > 0"}]},
        {"surprise": 1},
    ],
)
def test_invalid_scenario_is_refused(changes: dict[str, Any]):
    with pytest.raises(ValueError):
        Scenario.model_validate(minimal(**changes))


def test_condition_on_gateway_claims_is_refused():
    with pytest.raises(ValueError, match="gateway's own claim"):
        parse_condition("gw.LIC-101 == AI")


def test_condition_with_unknown_variable_is_refused():
    with pytest.raises(ValueError, match="unknown variable"):
        parse_condition("true.LIT-102 > 1", frozenset({"true.LIT-101"}))


def test_condition_is_parsed_never_executed():
    with pytest.raises(ValueError):
        parse_condition("__import__('os').system('true')")


@pytest.mark.parametrize(
    ("text", "row", "holds", "margin"),
    [
        ("x <= 335.0", {"x": 330.0}, True, 5.0),
        ("x <= 335.0", {"x": 336.5}, False, -1.5),
        ("x >= 1 and x <= 3", {"x": 2.5}, True, 0.5),
        ("x < 1 or x > 3", {"x": 2.5}, False, -0.5),
        ("not x > 3", {"x": 2.0}, True, 1.0),
        ("mode.L == AUTO", {"mode.L": 1.0}, True, 0.0),
        ("x <= 1", {"x": float("nan")}, False, float("-inf")),
    ],
)
def test_condition_truth_and_robustness_margin(text: str, row: dict[str, float], holds: bool, margin: float):
    condition = parse_condition(text)
    assert condition.holds(row) is holds
    assert condition.margin(row) == margin


def test_yaml_1_2_reads_exponent_floats_as_numbers(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: hil.otgate/v1\nkind: Scenario\nmetadata: {id: T, title: t, category: operator}\n"
        "plant: tank\nseed: 1\nduration: 30 s\n"
        "assertions: [{id: a, count: {of: plc_writes, value_above: 1.0e9, max: 0}}]\n"
        "plot: {pv: true.LIT-101, sp_tag: LIC-101.RSP, working_sp: plc.LIC-101.SP, loop: LIC-101, limits: [500.0, 800.0]}\n"
    )
    scenario = load_scenario(path)
    assert scenario.assertions[0].count is not None
    assert scenario.assertions[0].count.value_above == 1.0e9


def test_broken_file_names_itself(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Scenario\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"timeline": [{"id": "engage", "at": "5 s", "do": "mark"}]}, "name events of every run"),
        (
            {"protocol": "opcua", "timeline": [{"at": "5 s", "do": "link.faults", "latency": "2 scan"}]},
            "acts on Modbus frames",
        ),
        ({"metadata": {"id": "T", "title": "t", "category": "operator", "requirements": ["GW-REQ-X"]}}, "R-"),
        ({"metadata": {"id": "T", "title": "t", "category": "operator", "hazards": ["overflow"]}}, "HZ-"),
        ({"timeline": [{"at": "5 s", "do": "operator.setpoint", "loop": "LIC-101"}]}, "needs \\['value'\\]"),
        ({"timeline": [{"at": "5 s", "do": "link.faults", "loss": 1.5}]}, "loss"),
        ({"timeline": [{"at": "5 s", "do": "operator.shelve", "code": "X"}]}, "unknown action"),
    ],
)
def test_new_vocabulary_is_checked_at_load(changes: dict[str, Any], problem: str):
    with pytest.raises(ValueError, match=problem):
        Scenario.model_validate(minimal(**changes))


def test_whenever_for_and_trace_functions_load():
    scenario = Scenario.model_validate(
        minimal(
            assertions=[
                {"id": "w", "whenever": "rate(true.LIT-101) > 1", "for": "10 s", "then": "mode.LIC-101 != REMOTE",
                 "within": "2 scan"},
                {"id": "m", "monotonic": {"of": "audit.at", "kind": "decision"}},
                {"id": "a", "applied_writes": {"tag": "LIC-101.RSP", "once": True, "max_age": "1 scan"}},
            ]
        )
    )  # fmt: skip
    assert [a.kind for a in scenario.assertions] == ["whenever", "monotonic", "applied_writes"]
    assert scenario.assertions[0].hold == 10.0
