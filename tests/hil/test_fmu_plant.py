"""Bring your own plant: the tank built as an FMI 2.0 co-simulation FMU inside the test (pythonfmu), run
under the tank's PLC program through fmpy, against the same scenario on the native model.

The FMU is written here from the equations in PLANTS.md, not from simulator/plants/tank.py, and integrates
them its own way (explicit Euler, 10 ms steps, against the native model's RK4 at 0.5 s), so agreement
checks the mapping and the lock-step plumbing, not the same code run twice. Stated tolerance: the true
level of the two runs differs by at most 1 mm at every tick, and both pass the scenario's assertions.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import pythonfmu.builder as pythonfmu_builder  # a dev dependency: missing, the test fails rather than skips

from otgate_hil.assertions import judge
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import Scenario
from otgate_simulator.fmu_plant import FmuPlantError, fmu_binding

TOLERANCE_M = 0.001

TANK_FMU = textwrap.dedent(
    '''
    from pythonfmu import Fmi2Causality, Fmi2Slave, Real


    class TankFmu(Fmi2Slave):
        """Raw-water tank, PLANTS.md P1: lagged inlet valve, level, pump P-101. SI units, flows in m3/h."""

        author = "otgate HIL test"
        description = "tank level plant"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.valve_cmd = 0.49
            self.pump_on = 1.0
            self.extra_inflow_m3h = 0.0
            self.extra_outflow_m3h = 0.0
            self.level_m = 0.65
            self.valve = 0.49
            self.inflow_m3h = 5.0 * 0.49
            self.outflow_m3h = 2.45
            for name in ("valve_cmd", "pump_on", "extra_inflow_m3h", "extra_outflow_m3h"):
                self.register_variable(Real(name, causality=Fmi2Causality.input))
            for name in ("level_m", "valve", "inflow_m3h", "outflow_m3h"):
                self.register_variable(Real(name, causality=Fmi2Causality.output))

        def do_step(self, current_time, step_size):
            n = max(1, round(step_size / 0.01))
            h = step_size / n
            cmd = min(1.0, max(0.0, self.valve_cmd))
            for _ in range(n):
                q_out = 2.45 if self.pump_on > 0.5 and self.level_m > 0.02 else 0.0
                q_net = 5.0 * self.valve + self.extra_inflow_m3h - q_out
                if self.level_m > 0.0:
                    q_net -= self.extra_outflow_m3h
                self.level_m = min(1.6, max(0.0, self.level_m + h * q_net / (3600.0 * 1.5)))
                self.valve = min(1.0, max(0.0, self.valve + h * (cmd - self.valve) / 5.0))
            self.inflow_m3h = 5.0 * self.valve
            self.outflow_m3h = 2.45 if self.pump_on > 0.5 and self.level_m > 0.02 else 0.0
            return True
    '''
)

SPEC = textwrap.dedent(
    """
    apiVersion: hil.otgate/v1
    kind: FmuPlant
    fmu: TankFmu.fmu
    program: tank
    inputs:
      valve_cmd: {output: LIC-101.OUT, scale: 0.01}
      pump_on: {trip_clear: LSLL-101}
      extra_inflow_m3h: {disturbance: extra_inflow_m3h}
      extra_outflow_m3h: {disturbance: extra_outflow_m3h}
    measurements:
      LIT-101: {var: level_m, scale: 1000.0}
      FT-101: {var: inflow_m3h}
      FT-102: {var: outflow_m3h}
    true_values: {h_m: level_m, valve_frac: valve}
    trips:
      LSHH-101: {var: level_m, above: 1.2}
      LSLL-101: {var: level_m, below: 0.25}
    actuators:
      LIC-101.OUT: {var: valve, scale: 100.0}
    """
)


@pytest.fixture(scope="module")
def tank_fmu_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fmu")
    script = folder / "TankFmu.py"
    script.write_text(TANK_FMU)
    pythonfmu_builder.FmuBuilder.build_FMU(script, dest=folder)
    spec = folder / "tank_fmu.yaml"
    spec.write_text(SPEC)
    return spec


def scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "apiVersion": "hil.otgate/v1",
            "kind": "Scenario",
            "metadata": {"id": "FMU", "title": "AI level ramp under a ramped inflow", "category": "ai-misbehaviour"},
            "plant": "tank",
            "seed": 77,
            "duration": "6 min",
            "engage": ["LIC-101"],
            "engines": [{"id": "optimizer", "tag": "LIC-101.RSP", "start": "10 s", "period": "10 s",
                         "behaviour": {"kind": "optimiser", "target": 760.0, "max_step": 4.0}}],
            "timeline": [
                {"id": "inflow", "at": "60 s", "do": "process.ramp", "name": "extra_inflow_m3h", "value": 1.0, "over": "2 min"},
                {"id": "greedy", "at": "90 s", "do": "ai.propose", "tag": "LIC-101.RSP", "value": 900.0},
            ],
            "assertions": [
                {"id": "never_above_limit", "count": {"of": "plc_writes", "tag": "LIC-101.RSP", "value_above": 800.0, "max": 0}},
                {"id": "served", "count": {"of": "plc_writes", "tag": "LIC-101.RSP", "min": 10}},
                {"id": "level_follows", "after": "greedy", "within": "4 min", "expect": "true.h_m >= 0.74"},
                {"id": "no_overflow", "always": "true.h_m < 1.2"},
            ],
            "plot": {"pv": "true.LIT-101", "sp_tag": "LIC-101.RSP", "working_sp": "plc.LIC-101.SP", "loop": "LIC-101", "limits": [500, 800]},
        }
    )  # fmt: skip


async def test_same_scenario_on_the_fmu_and_the_native_tank_agrees_within_1_mm(tank_fmu_spec: Path):
    native = await run_scenario(scenario())
    fmu = await run_scenario(scenario(), plant_model=tank_fmu_spec)
    for record in (native, fmu):
        assert [o.message for o in judge(record) if not o.passed] == []
    assert len(native.rows) == len(fmu.rows) == 360
    worst = max(abs(a["true.h_m"] - b["true.h_m"]) for a, b in zip(native.rows, fmu.rows, strict=True))
    assert worst <= TOLERANCE_M
    moved = max(r["true.h_m"] for r in fmu.rows) - min(r["true.h_m"] for r in fmu.rows)
    assert moved > 0.05  # the comparison means something: the level travelled 50 mm or more


async def test_fmu_plant_runs_are_deterministic(tank_fmu_spec: Path):
    first = await run_scenario(scenario(), plant_model=tank_fmu_spec)
    second = await run_scenario(scenario(), plant_model=tank_fmu_spec)
    assert first.trace_sha256 == second.trace_sha256


def test_spec_that_does_not_fit_the_program_names_the_problem(tank_fmu_spec: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SPEC.replace("fmu: TankFmu.fmu", f"fmu: {tank_fmu_spec.parent / 'TankFmu.fmu'}").replace(
            "FT-102: {var: outflow_m3h}", "FT-999: {var: outflow_m3h}"
        )
    )
    with pytest.raises(FmuPlantError, match="FT-999"):
        fmu_binding(bad)


def test_spec_naming_a_variable_the_fmu_lacks_is_refused(tank_fmu_spec: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SPEC.replace("fmu: TankFmu.fmu", f"fmu: {tank_fmu_spec.parent / 'TankFmu.fmu'}").replace(
            "{var: level_m, scale: 1000.0}", "{var: depth_m, scale: 1000.0}"
        )
    )
    with pytest.raises(FmuPlantError, match="depth_m"):
        fmu_binding(bad)
