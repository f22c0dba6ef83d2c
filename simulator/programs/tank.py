"""PLC program and wiring of the raw-water tank (plant_configs/tank.yaml).

LIC-101 is a λ-tuned PI on the inlet valve. For an integrating level, λ = 5 min gives Kc ≈ 2/(K·λ) with
K = Q_in,max/(3600·A) = 0.00926 mm/s per %, i.e. Kc ≈ 0.72 %/mm, and Ti = 2λ = 10 min.
LSHH-101 (h ≥ 1.2 m) closes the inlet; LSLL-101 (h ≤ 0.25 m) stops P-101.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otgate_simulator.pid import PiTuning
from otgate_simulator.plants import tank
from otgate_simulator.plc import SHED_TIMEOUT_TAG, LoopSpec

LSHH_M = 1.2
LSLL_M = 0.25

LEVEL_LOOP = LoopSpec(
    name="LIC-101",
    pv_tag="LIT-101",
    out_tag="LIC-101.OUT",
    tuning=PiTuning(kc=0.72, ti_s=600.0, direct=False, out_lo=0.0, out_hi=100.0),
    default_sp=1000.0 * tank.NOMINAL_LEVEL_M,
    sp_lo=500.0,
    sp_hi=800.0,
    sp_rate_per_s=1.0,
    rsp_tag="LIC-101.RSP",
    sp_tag="LIC-101.SP",
    mode_tag="LIC-101.MODE",
    mode_req_tag="LIC-101.MODE_REQ",
    sp_lo_tag="LIC-101.SP_LO_LIM",
    sp_hi_tag="LIC-101.SP_HI_LIM",
)


@dataclass(frozen=True)
class TankBinding:
    loops: tuple[LoopSpec, ...] = (LEVEL_LOOP,)
    trip_tags: tuple[str, ...] = ("LSHH-101", "LSLL-101")
    bypass_tags: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, float] = field(default_factory=lambda: {SHED_TIMEOUT_TAG: 10.0})
    measurement_tags: tuple[str, ...] = ("LIT-101", "FT-101", "FT-102")
    noise_sigma: Mapping[str, float] = field(
        default_factory=lambda: {"LIT-101": 2.0, "FT-101": 0.02, "FT-102": 0.02}
    )
    disturbances: Mapping[str, float] = field(
        default_factory=lambda: {"extra_inflow_m3h": 0.0, "extra_outflow_m3h": 0.0}
    )

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float:
        return sp

    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]:
        forced = dict(outputs)
        if trips.get("LSHH-101"):
            forced["LIC-101.OUT"] = 0.0
        return forced

    def initial_state(self) -> tank.TankState:
        return tank.initial_state()

    def initial_outputs(self, state: Any) -> dict[str, float]:
        return {"LIC-101.OUT": 100.0 * state.valve}

    def true_pvs(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        pump = tank.TankInputs(valve_cmd=0.0, pump_on=not trips.get("LSLL-101", False))
        return {
            "LIT-101": 1000.0 * state.level_m,
            "FT-101": tank.inflow_m3h(state.valve),
            "FT-102": tank.outflow_m3h(state.level_m, pump),
        }

    def true_values(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        return {
            "h_m": state.level_m,
            "valve_frac": state.valve,
            "pump_on": 0.0 if trips.get("LSLL-101") else 1.0,
        }

    def trip_conditions(self, state: Any) -> dict[str, bool]:
        return {"LSHH-101": state.level_m >= LSHH_M, "LSLL-101": state.level_m <= LSLL_M}

    def status(self, trips: Mapping[str, bool]) -> dict[str, float]:
        return {"P-101.RUN": 0.0 if trips.get("LSLL-101") else 1.0}

    def actuator_position(self, state: Any, out_tag: str) -> float:
        return 100.0 * float(state.valve)

    def step(
        self,
        state: Any,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
        tau_factors: Mapping[str, float],
        dt_s: float,
    ) -> tank.TankState:
        inputs = tank.TankInputs(
            valve_cmd=commands["LIC-101.OUT"] / 100.0,
            pump_on=not trips.get("LSLL-101", False),
            extra_inflow_m3h=disturbances["extra_inflow_m3h"],
            extra_outflow_m3h=disturbances["extra_outflow_m3h"],
            valve_tau_factor=tau_factors.get("LIC-101.OUT", 1.0),
        )
        return tank.step(state, inputs, dt_s)
