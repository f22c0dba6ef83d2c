"""PLC program and wiring of the exothermic CSTR (plant_configs/cstr.yaml).

TIC-101 is a PI from the reactor temperature to the jacket coolant setpoint, Kc = 2 K/K, Ti = 5 min:
linearly stable up to about 338 K (PLANTS.md), which is why the PLC clamps its setpoint at 345 K only as a
last resort and the gateway's limits stop at 330 K. TSHH-101 (true T ≥ 350 K, unless bypassed) closes the
feed valve XV-101, floods the jacket (T_c,sp = 250 K) and quenches the reaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otgate_simulator.pid import PiTuning
from otgate_simulator.plants import cstr
from otgate_simulator.plc import SHED_TIMEOUT_TAG, LoopSpec

TRIP_K = 350.0
TRIP_COOLANT_K = 250.0

TEMP_LOOP = LoopSpec(
    name="TIC-101",
    pv_tag="TT-101",
    out_tag="TIC-101.OUT",
    tuning=PiTuning(
        kc=2.0, ti_s=300.0, direct=False, out_lo=cstr.PARAMS.tc_min_k, out_hi=cstr.PARAMS.tc_max_k
    ),
    default_sp=cstr.NOMINAL_TEMP_K,
    sp_lo=300.0,
    sp_hi=345.0,
    sp_rate_per_s=1.0 / 60.0,
    rsp_tag="TIC-101.RSP",
    sp_tag="TIC-101.SP",
    mode_tag="TIC-101.MODE",
    mode_req_tag="TIC-101.MODE_REQ",
    sp_lo_tag="TIC-101.SP_LO_LIM",
    sp_hi_tag="TIC-101.SP_HI_LIM",
)


@dataclass(frozen=True)
class CstrBinding:
    loops: tuple[LoopSpec, ...] = (TEMP_LOOP,)
    trip_tags: tuple[str, ...] = ("TSHH-101",)
    bypass_tags: Mapping[str, str] = field(default_factory=lambda: {"TSHH-101": "TSHH-101.BYPASS"})
    constants: Mapping[str, float] = field(
        default_factory=lambda: {SHED_TIMEOUT_TAG: 10.0, "TSHH-101.TRIP_SP": TRIP_K, "TSHH-101.BYPASS": 0.0}
    )
    measurement_tags: tuple[str, ...] = ("TT-101", "TT-101B", "TT-102", "AT-101")
    noise_sigma: Mapping[str, float] = field(
        default_factory=lambda: {"TT-101": 0.05, "TT-101B": 0.05, "TT-102": 0.05, "AT-101": 0.1}
    )
    disturbances: Mapping[str, float] = field(
        default_factory=lambda: {
            "feed_temp_k": cstr.PARAMS.feed_temp_k,
            "feed_conc_mol_l": cstr.PARAMS.feed_conc_mol_l,
        }
    )

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float:
        return sp

    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]:
        forced = dict(outputs)
        if trips.get("TSHH-101"):
            forced["TIC-101.OUT"] = TRIP_COOLANT_K
        return forced

    def initial_state(self) -> cstr.CstrState:
        return cstr.initial_state()

    def initial_outputs(self, state: Any) -> dict[str, float]:
        return {"TIC-101.OUT": float(state.coolant_k)}

    def true_pvs(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        return {
            "TT-101": state.temp_k,
            "TT-101B": state.temp_k,
            "TT-102": state.coolant_k,
            "AT-101": 100.0 * cstr.conversion(state),
        }

    def true_values(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        return {
            "T_K": state.temp_k,
            "Tc_K": state.coolant_k,
            "C_A_mol_L": state.conc_mol_l,
            "conversion": cstr.conversion(state),
            "feed_open": 0.0 if trips.get("TSHH-101") else 1.0,
        }

    def trip_conditions(self, state: Any) -> dict[str, bool]:
        return {"TSHH-101": state.temp_k >= TRIP_K}

    def status(self, trips: Mapping[str, bool]) -> dict[str, float]:
        return {"XV-101": 0.0 if trips.get("TSHH-101") else 1.0}

    def actuator_position(self, state: Any, out_tag: str) -> float:
        return float(state.coolant_k)

    def step(
        self,
        state: Any,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
        tau_factors: Mapping[str, float],
        dt_s: float,
    ) -> cstr.CstrState:
        tripped = trips.get("TSHH-101", False)
        inputs = cstr.CstrInputs(
            coolant_sp_k=commands["TIC-101.OUT"],
            feed_open=not tripped,
            quench=tripped,
            feed_temp_k=disturbances["feed_temp_k"],
            feed_conc_mol_l=disturbances["feed_conc_mol_l"],
            jacket_tau_factor=tau_factors.get("TIC-101.OUT", 1.0),
        )
        return cstr.step(state, inputs, dt_s)
