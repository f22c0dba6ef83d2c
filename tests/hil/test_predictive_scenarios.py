"""The predictive layer's acceptance scenarios (issue 15), each judged both ways: with the layer on every
assertion holds (for the library's scenarios that is `test_library.py`'s run of every library scenario
against otgate; the long ones are run on here); with it switched off (the scenario's overrides plus `models: null, envelope: null`, which
delete the models and the envelope, so no look-ahead, no envelope guard, no model-based monitor) at least
one of the expectations the layer is there for fails. A scenario that passes without the layer proves
nothing about it."""

from __future__ import annotations

import os

import pytest

from otgate_hil.assertions import judge
from otgate_hil.overrides import overridden_config
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import Scenario, load_scenario
from tests.hil.library_runs import FILES, LIBRARY

# scenario -> the assertions that only the predictive layer can make hold
PREDICTIVE = {
    "X01_two_engines_toward_runaway_cstr": {"ten_kelvin_below_trip", "excursions_refused"},
    "X02_engine_and_feed_disturbance_toward_runaway_cstr": {"ten_kelvin_below_trip", "excursions_refused"},
    "X03_stuck_actuator_loop_not_responding_cstr": {"not_responding_on_record", "no_ai_move_after"},
    "X04_sensor_bias_drift_model_mismatch_cstr": {"mismatch_on_record", "nothing_written_after"},
    "X05_feed_disturbance_leaves_envelope_cstr": {"out_of_envelope_means_local", "envelope_guard_on_record"},
    "X06_feed_composition_leaves_envelope_ricker": {"out_of_envelope_means_local", "envelope_exit_on_record"},
}


# Scenarios of many simulated hours (hil/scenarios/long, outside the library the suite runs): `make soak`.
LONG = {
    "X07_stuck_purge_valve_loop_not_responding_ricker": {"not_responding_on_record", "no_ai_move_after"},
}
SOAK = float(os.environ.get("OTGATE_SOAK_HOURS", "1")) >= 24


def without_prediction(scenario: Scenario) -> Scenario:
    overrides = {**scenario.overrides, "models": None, "envelope": None}
    overridden_config(scenario.plant, overrides)  # the switched-off config validates as a file would
    return scenario.model_copy(update={"overrides": overrides})


# The Ricker pressure takes 44 simulated minutes to leave its envelope: the run needs more than the
# default budget on a loaded machine.
SLOW = {"X06_feed_composition_leaves_envelope_ricker"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.timeout(300)] if n in SLOW else []) for n in sorted(PREDICTIVE)],
)
@pytest.mark.requirement("R-15", "R-54")
async def test_predictive_scenario_off_fails_its_expectations(name: str):
    """On: every library scenario passes against otgate in `test_library.py`, these among them."""
    assert LIBRARY / f"{name}.yaml" in FILES
    off = judge(await run_scenario(without_prediction(load_scenario(LIBRARY / f"{name}.yaml"))))
    failed = {o.id for o in off if not o.passed}
    assert failed & PREDICTIVE[name], (
        f"{name} holds without the predictive layer: {failed or 'nothing'} failed"
    )


@pytest.mark.skipif(not SOAK, reason="10 simulated hours, minutes of wall time: make soak")
@pytest.mark.parametrize("name", sorted(LONG))
@pytest.mark.timeout(1800)
@pytest.mark.requirement("R-15", "R-54")
async def test_long_predictive_scenario_on_passes_and_off_fails_its_expectations(name: str):
    scenario = load_scenario(LIBRARY / "long" / f"{name}.yaml")
    on = judge(await run_scenario(scenario))
    assert [f"{o.id}: {o.message}" for o in on if not o.passed] == []
    off = judge(await run_scenario(without_prediction(scenario)))
    failed = {o.id for o in off if not o.passed}
    assert failed & LONG[name], f"{name} holds without the predictive layer: {failed or 'nothing'} failed"


def test_predictive_switch_off_deletes_models_and_envelope():
    scenario = without_prediction(load_scenario(LIBRARY / "X04_sensor_bias_drift_model_mismatch_cstr.yaml"))
    assert scenario.overrides["models"] is None and scenario.overrides["envelope"] is None
    assert scenario.overrides["prediction"] == {"model_mismatch": True}  # the scenario's own overrides stay
