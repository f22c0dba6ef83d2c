"""Raw-water tank P1 (PLANTS.md): level h fed by a lagged inlet valve, drained by pump P-101.

    dv/dt = (u − v)/τ_v
    dh/dt = (Q_in,max·v + Q_extra,in − Q_out − Q_extra,out)/(3600·A)
    Q_out = Q_p·s_p  while the pump runs and h > h_dry, else 0

SI units, time in seconds, flows in m³/h. The level is clamped to 0..H_tank: above H_tank the tank
overflows (the excess is lost), so the true level never exceeds the rim.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from otgate_simulator.plants.rk4 import FloatArray, integrate, substeps_for


@dataclass(frozen=True, slots=True)
class TankParams:
    area_m2: float = 1.5
    height_m: float = 1.6  # overflow rim
    q_in_max_m3h: float = 5.0  # deliberately 2x oversized so hazards develop in minutes
    q_pump_m3h: float = 2.45
    valve_tau_s: float = 5.0
    dry_level_m: float = 0.02  # pump suction uncovered below this
    max_substep_s: float = 0.5


PARAMS = TankParams()
NOMINAL_LEVEL_M = 0.65


@dataclass(frozen=True, slots=True)
class TankState:
    level_m: float
    valve: float  # inlet valve position, fraction 0..1


@dataclass(frozen=True, slots=True)
class TankInputs:
    valve_cmd: float  # fraction 0..1
    pump_on: bool = True
    pump_speed: float = 1.0  # VFD speed fraction
    extra_inflow_m3h: float = 0.0  # disturbance: an unmetered inflow
    extra_outflow_m3h: float = 0.0  # disturbance: a leak
    valve_tau_factor: float = 1.0  # > 1 models a sluggish valve


def initial_state(params: TankParams = PARAMS) -> TankState:
    """Nominal operating point: level 0.65 m with the inflow balancing the running pump."""
    return TankState(level_m=NOMINAL_LEVEL_M, valve=params.q_pump_m3h / params.q_in_max_m3h)


def outflow_m3h(level_m: float, inputs: TankInputs, params: TankParams = PARAMS) -> float:
    if inputs.pump_on and level_m > params.dry_level_m:
        return params.q_pump_m3h * inputs.pump_speed
    return 0.0


def inflow_m3h(valve: float, params: TankParams = PARAMS) -> float:
    return params.q_in_max_m3h * valve


def step(state: TankState, inputs: TankInputs, dt_s: float, params: TankParams = PARAMS) -> TankState:
    cmd = min(1.0, max(0.0, inputs.valve_cmd))
    tau_s = params.valve_tau_s * inputs.valve_tau_factor

    def rhs(x: FloatArray) -> FloatArray:
        level, valve = float(x[0]), float(x[1])
        q_net = inflow_m3h(valve, params) + inputs.extra_inflow_m3h - outflow_m3h(level, inputs, params)
        if level > 0.0:
            q_net -= inputs.extra_outflow_m3h
        return np.array([q_net / (3600.0 * params.area_m2), (cmd - valve) / tau_s])

    def clamp(x: FloatArray) -> FloatArray:
        return np.array([min(params.height_m, max(0.0, float(x[0]))), min(1.0, max(0.0, float(x[1])))])

    x = integrate(
        rhs, np.array([state.level_m, state.valve]), dt_s, substeps_for(dt_s, params.max_substep_s), clamp
    )
    return TankState(level_m=float(x[0]), valve=float(x[1]))
