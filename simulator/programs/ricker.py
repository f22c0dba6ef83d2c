"""PLC program and wiring of Ricker's simplified TE reactor (plant_configs/ricker.yaml).

Four velocity-form PI loops (PLANTS.md tuning, times converted from hours):
FIC-204 product rate F4 → feed 1 valve X1, PIC-201 pressure → purge valve X3 (opens as P rises),
AIC-201 purge y_A3 → feed 2 valve X2, and the internal LIC-201 level → product valve X4, which the gateway
cannot see or move. Above 2900 kPa the pressure override cuts the production setpoint in effect:
F4_sp,eff = max(50, F4_sp − 1.0·(P − 2900)). PSHH-201 (true P ≥ 3000 kPa) shuts both feeds.

The PLC's own setpoint clamps are the configuration's alarm bands (the hard limits widened a little);
the rate limits are 20 kPa/min, 2 mol %/min and 4 kmol/h per min, twice the gateway's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from otgate_simulator.pid import PiTuning
from otgate_simulator.plants import ricker
from otgate_simulator.plc import SHED_TIMEOUT_TAG, LoopSpec

OVERRIDE_KPA = 2900.0
OVERRIDE_GAIN = 1.0  # kmol/h of production per kPa above the threshold
OVERRIDE_FLOOR = 50.0
TRIP_KPA = 3000.0
NOMINAL_LEVEL_PCT = 44.18
VALVE_TAGS = ("FIC-204.OUT", "AIC-201.OUT", "PIC-201.OUT", "LIC-201.OUT")  # X1, X2, X3, X4


def _valve(kc: float, ti_h: float, *, direct: bool) -> PiTuning:
    return PiTuning(kc=kc, ti_s=ti_h * 3600.0, direct=direct, out_lo=0.0, out_hi=100.0)


LOOPS = (
    LoopSpec(
        name="FIC-204",
        pv_tag="FT-204",
        out_tag="FIC-204.OUT",
        tuning=_valve(0.1, 0.25, direct=False),
        default_sp=100.0,
        sp_lo=70.0,
        sp_hi=130.0,
        sp_rate_per_s=4.0 / 60.0,
        rsp_tag="FIC-204.RSP",
        sp_tag="FIC-204.SP",
        mode_tag="FIC-204.MODE",
        mode_req_tag="FIC-204.MODE_REQ",
    ),
    LoopSpec(
        name="PIC-201",
        pv_tag="PT-201",
        out_tag="PIC-201.OUT",
        tuning=_valve(0.05, 0.5, direct=True),
        default_sp=2700.0,
        sp_lo=2400.0,
        sp_hi=2900.0,
        sp_rate_per_s=20.0 / 60.0,
        rsp_tag="PIC-201.RSP",
        sp_tag="PIC-201.SP",
        mode_tag="PIC-201.MODE",
        mode_req_tag="PIC-201.MODE_REQ",
    ),
    LoopSpec(
        name="AIC-201",
        pv_tag="AT-201",
        out_tag="AIC-201.OUT",
        tuning=_valve(2.0, 1.0, direct=False),
        default_sp=47.0,
        sp_lo=35.0,
        sp_hi=65.0,
        sp_rate_per_s=2.0 / 60.0,
        rsp_tag="AIC-201.RSP",
        sp_tag="AIC-201.SP",
        mode_tag="AIC-201.MODE",
        mode_req_tag="AIC-201.MODE_REQ",
    ),
    LoopSpec(
        name="LIC-201",
        pv_tag="LT-201",
        out_tag="LIC-201.OUT",
        tuning=_valve(1.0, 0.5, direct=True),
        default_sp=NOMINAL_LEVEL_PCT,
        sp_lo=0.0,
        sp_hi=100.0,
        sp_rate_per_s=1.0,
    ),
)


@dataclass(frozen=True)
class RickerBinding:
    loops: tuple[LoopSpec, ...] = LOOPS
    trip_tags: tuple[str, ...] = ("PSHH-201",)
    bypass_tags: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, float] = field(
        default_factory=lambda: {SHED_TIMEOUT_TAG: 10.0, "PIC-201.OVERRIDE_SP": OVERRIDE_KPA}
    )
    measurement_tags: tuple[str, ...] = ("PT-201", "LT-201", "AT-201", "FT-201", "FT-202", "FT-203", "FT-204")
    # The analyser is sample-and-hold; noise on it would be redrawn every scan, so it is kept exact.
    noise_sigma: Mapping[str, float] = field(
        default_factory=lambda: {
            "PT-201": 1.0,
            "LT-201": 0.05,
            "AT-201": 0.0,
            "FT-201": 0.2,
            "FT-202": 0.02,
            "FT-203": 0.02,
            "FT-204": 0.1,
        }
    )
    disturbances: Mapping[str, float] = field(
        default_factory=lambda: {"feed_ya": ricker.PARAMS.feed_ya, "feed_yb": ricker.PARAMS.feed_yb}
    )

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float:
        pressure = measured.get("PT-201", 0.0)
        if loop != "FIC-204" or pressure <= OVERRIDE_KPA:
            return sp
        return max(OVERRIDE_FLOOR, sp - OVERRIDE_GAIN * (pressure - OVERRIDE_KPA))

    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]:
        forced = dict(outputs)
        if trips.get("PSHH-201"):
            forced["FIC-204.OUT"] = 0.0
            forced["AIC-201.OUT"] = 0.0
        return forced

    def initial_state(self) -> ricker.RickerState:
        return ricker.initial_state()

    def initial_outputs(self, state: Any) -> dict[str, float]:
        return dict(zip(VALVE_TAGS, state.valves_pct, strict=True))

    def _outputs(self, state: Any) -> ricker.RickerOutputs:
        return ricker.outputs(np.array([*state.holdups_kmol, *state.valves_pct]))

    def true_pvs(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        out = self._outputs(state)
        f1, f2, f3, f4 = out.flows_kmol_h
        return {
            "PT-201": out.pressure_kpa,
            "LT-201": out.level_pct,
            "AT-201": 100.0 * state.analyser_out,
            "FT-201": f1,
            "FT-202": f2,
            "FT-203": f3,
            "FT-204": f4,
        }

    def true_values(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        out = self._outputs(state)
        return {
            "P_kPa": out.pressure_kpa,
            "level_pct": out.level_pct,
            "yA": out.ya,
            "yB": out.yb,
            "yC": out.yc,
            **{f"F{i}_kmol_h": f for i, f in enumerate(out.flows_kmol_h, start=1)},
            **{f"X{i}_pct": x for i, x in enumerate(state.valves_pct, start=1)},
        }

    def trip_conditions(self, state: Any) -> dict[str, bool]:
        return {"PSHH-201": self._outputs(state).pressure_kpa >= TRIP_KPA}

    def status(self, trips: Mapping[str, bool]) -> dict[str, float]:
        return {}

    def actuator_position(self, state: Any, out_tag: str) -> float:
        return float(state.valves_pct[VALVE_TAGS.index(out_tag)])

    def step(
        self,
        state: Any,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
        tau_factors: Mapping[str, float],
        dt_s: float,
    ) -> ricker.RickerState:
        inputs = ricker.RickerInputs(
            valve_sp_pct=(
                commands[VALVE_TAGS[0]],
                commands[VALVE_TAGS[1]],
                commands[VALVE_TAGS[2]],
                commands[VALVE_TAGS[3]],
            ),
            feed_ya=disturbances["feed_ya"],
            feed_yb=disturbances["feed_yb"],
            valve_tau_factors=(
                tau_factors.get(VALVE_TAGS[0], 1.0),
                tau_factors.get(VALVE_TAGS[1], 1.0),
                tau_factors.get(VALVE_TAGS[2], 1.0),
                tau_factors.get(VALVE_TAGS[3], 1.0),
            ),
        )
        return ricker.step(state, inputs, dt_s)
