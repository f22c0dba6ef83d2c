"""Scenario-level config overrides: merged into the plant's file and validated by the same schema."""

from __future__ import annotations

import hashlib

import pytest

from otgate_hil.overrides import OverrideError, merged, overridden_config
from otgate_hil.scenario import Scenario


def test_merged_recurses_into_mappings_replaces_lists_and_null_deletes():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 4}
    assert merged(base, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 4}


def test_override_changes_a_limit_and_keeps_the_rest():
    config = overridden_config("cstr", {"tags": {"TIC-101.RSP": {"setpoint": {"limits": {"hi": 328.0}}}}})
    rules = config.tags["TIC-101.RSP"].setpoint
    assert rules is not None and rules.limits.hi == 328.0 and rules.limits.lo == 315.0


def test_override_adds_an_engine_with_a_clear_token_hashed():
    config = overridden_config(
        "ricker",
        {"engines": {"second": {"token": "t0ken", "writes": ["AIC-201.RSP"], "reads": ["AT-201"]}}},
    )
    assert config.engines["second"].token_sha256 == "sha256:" + hashlib.sha256(b"t0ken").hexdigest()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"tags": {"TIC-101.RSP": {"setpoint": {"limits": {"lo": 340.0}}}}}, "limits"),
        ({"engines": {"rogue": {"token": "x", "writes": ["NOPE.RSP"]}}}, "NOPE.RSP"),
        ({"gateway": {"scan_interval_s": -1}}, "scan_interval_s"),
        ({"loops": {"TIC-101": {"surprise": 1}}}, "surprise"),
    ],
)
def test_an_override_the_schema_refuses_names_the_problem(overrides: dict, problem: str):
    with pytest.raises(OverrideError, match=problem):
        overridden_config("cstr", overrides)


def test_a_scenario_with_a_refused_override_does_not_load():
    with pytest.raises(ValueError, match=r"overrides: .*scan_interval_s"):
        Scenario.model_validate(
            {
                "apiVersion": "hil.otgate/v1",
                "kind": "Scenario",
                "metadata": {"id": "O", "title": "t", "category": "operator"},
                "plant": "cstr",
                "seed": 1,
                "duration": "10 s",
                "overrides": {"gateway": {"scan_interval_s": -1}},
                "assertions": [{"id": "a", "always": "t > 0"}],
                "plot": {
                    "pv": "t",
                    "sp_tag": "TIC-101.RSP",
                    "working_sp": "t",
                    "loop": "TIC-101",
                    "limits": [0, 1],
                },
            }
        )


def test_overrides_with_a_child_process_gateway_are_refused_not_ignored():
    with pytest.raises(ValueError, match="child gateway runs the plant's file"):
        Scenario.model_validate(
            {
                "apiVersion": "hil.otgate/v1",
                "kind": "Scenario",
                "metadata": {"id": "O", "title": "t", "category": "operator"},
                "plant": "cstr",
                "gateway_process": "child",
                "seed": 1,
                "duration": "10 s",
                "overrides": {"gateway": {"approval_ttl_s": 60}},
                "assertions": [{"id": "a", "always": "t > 0"}],
                "plot": {
                    "pv": "t",
                    "sp_tag": "TIC-101.RSP",
                    "working_sp": "t",
                    "loop": "TIC-101",
                    "limits": [0, 1],
                },
            }
        )
