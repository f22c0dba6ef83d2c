"""Ricker's simplified Tennessee Eastman reactor, P3 (PLANTS.md; Ricker 1993, GRFICSv2 valve constants fixed).

A + C → D in a two-phase reactor; B is inert. Feed 1 carries A/B/C, feed 2 pure A, stream 3 is the vapour
purge and stream 4 the liquid product. Holdups N_i in kmol, time in hours inside the model:

    V_L = N_D/ρ_L ;  V_V = V_T − V_L ;  P = (N_A+N_B+N_C)·R·T/V_V ;  level = 100·V_L/V_Lmax
    y_i = N_i/(N_A+N_B+N_C) ;  r = k0·(y_A·P)^1.2·(y_C·P)^0.4
    F1 = 3.3046·X1 ; F2 = 0.2246·X2 ; F3 = 0.00352·X3·√(P−100) ; F4 = 0.0417·X4·√(P−100)
    dN_A/dt = y_A1·F1 + F2 − y_A·F3 − r ;  dN_B/dt = y_B1·F1 − y_B·F3
    dN_C/dt = y_C1·F1 − y_C·F3 − r      ;  dN_D/dt = r − F4 ;  dX_i/dt = (X_i,sp − X_i)/τ_v

Unclamped, the model lets the liquid fill the vessel and the vapour volume reach zero (P → ∞); the liquid
holdup is therefore capped at V_Lmax (level 100 %, the excess is taken as lost to the flare) and all holdups
are kept ≥ 0. The purge analyser (y_A3) samples every 0.1 h and reports with one sample of delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from otgate_simulator.plants.rk4 import FloatArray, integrate, substeps_for


@dataclass(frozen=True, slots=True)
class RickerParams:
    vessel_m3: float = 122.0
    liquid_max_m3: float = 30.0
    gas_const: float = 8.314  # kJ/(kmol·K): with kmol and m³ this gives kPa
    temp_k: float = 373.0
    liquid_density_kmol_m3: float = 8.3
    k0: float = 0.00117
    feed_ya: float = 0.485
    feed_yb: float = 0.005
    valve_coeffs: tuple[float, float, float, float] = (3.3046, 0.2246, 0.00352, 0.0417)
    valve_tau_s: float = 10.0
    analyser_period_h: float = 0.1
    max_substep_s: float = 0.5


PARAMS = RickerParams()
NOMINAL_VALVES_PCT = (60.95, 25.02, 39.26, 47.03)
# Holdups (kmol A, B, C, D) of the steady state with the nominal valves held: P = 2700 kPa, level 44.18 %.
# With the valves fixed the liquid holdup is (almost) a pure integrator (a Jacobian eigenvalue ≈ 0), so the
# open-loop steady states form a family; this one was picked by Gauss-Newton on N_A, N_B, N_C with N_D
# fixed at level 44.18 %. tests/simulator/test_physics.py checks the residual and the 2700 kPa.
NOMINAL_HOLDUPS_KMOL = (44.49798378584, 13.52622550434, 36.64618326733, 110.0082)


@dataclass(frozen=True, slots=True)
class RickerState:
    holdups_kmol: tuple[float, float, float, float]  # N_A, N_B, N_C, N_D
    valves_pct: tuple[float, float, float, float]  # X1..X4 actual positions
    analyser_out: float  # y_A3 as reported (fraction), one sample old
    analyser_sample: float  # y_A3 taken at the last sampling instant, reported at the next
    analyser_clock_h: float  # time since the last sampling instant


@dataclass(frozen=True, slots=True)
class RickerInputs:
    valve_sp_pct: tuple[float, float, float, float]
    feed_ya: float = PARAMS.feed_ya  # disturbance: feed 1 composition (y_C1 = 1 − y_A1 − y_B1)
    feed_yb: float = PARAMS.feed_yb
    valve_tau_factors: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class RickerOutputs:
    """Derived process quantities, the true values behind the transmitters."""

    pressure_kpa: float
    level_pct: float
    ya: float
    yb: float
    yc: float
    flows_kmol_h: tuple[float, float, float, float]  # F1..F4


def outputs(x: FloatArray, params: RickerParams = PARAMS) -> RickerOutputs:
    n_a, n_b, n_c, n_d = (float(v) for v in x[:4])
    liquid_m3 = n_d / params.liquid_density_kmol_m3
    vapour_m3 = params.vessel_m3 - liquid_m3
    n_gas = max(n_a + n_b + n_c, 1e-9)
    pressure = n_gas * params.gas_const * params.temp_k / vapour_m3
    head = math.sqrt(max(pressure - 100.0, 0.0))
    c1, c2, c3, c4 = params.valve_coeffs
    x1, x2, x3, x4 = (min(100.0, max(0.0, float(v))) for v in x[4:8])
    return RickerOutputs(
        pressure_kpa=pressure,
        level_pct=100.0 * liquid_m3 / params.liquid_max_m3,
        ya=n_a / n_gas,
        yb=n_b / n_gas,
        yc=n_c / n_gas,
        flows_kmol_h=(c1 * x1, c2 * x2, c3 * x3 * head, c4 * x4 * head),
    )


def derivative_per_h(x: FloatArray, inputs: RickerInputs, params: RickerParams = PARAMS) -> FloatArray:
    out = outputs(x, params)
    f1, f2, f3, f4 = out.flows_kmol_h
    rate = params.k0 * (out.ya * out.pressure_kpa) ** 1.2 * (out.yc * out.pressure_kpa) ** 0.4
    feed_yc = 1.0 - inputs.feed_ya - inputs.feed_yb
    tau_h = params.valve_tau_s / 3600.0
    valves = [
        (min(100.0, max(0.0, sp)) - float(xv)) / (tau_h * factor)
        for sp, xv, factor in zip(inputs.valve_sp_pct, x[4:8], inputs.valve_tau_factors, strict=True)
    ]
    return np.array(
        [
            inputs.feed_ya * f1 + f2 - out.ya * f3 - rate,
            inputs.feed_yb * f1 - out.yb * f3,
            feed_yc * f1 - out.yc * f3 - rate,
            rate - f4,
            *valves,
        ]
    )


def _clamp(x: FloatArray, params: RickerParams) -> FloatArray:
    y = np.maximum(x, 0.0)
    y[3] = min(float(y[3]), params.liquid_density_kmol_m3 * params.liquid_max_m3)
    y[4:8] = np.minimum(y[4:8], 100.0)
    return y


def to_array(state: RickerState) -> FloatArray:
    return np.array([*state.holdups_kmol, *state.valves_pct])


def initial_state(params: RickerParams = PARAMS) -> RickerState:
    x = np.array([*NOMINAL_HOLDUPS_KMOL, *NOMINAL_VALVES_PCT])
    ya = outputs(x, params).ya
    return RickerState(NOMINAL_HOLDUPS_KMOL, NOMINAL_VALVES_PCT, ya, ya, 0.0)


def step(state: RickerState, inputs: RickerInputs, dt_s: float, params: RickerParams = PARAMS) -> RickerState:
    x = integrate(
        lambda x: derivative_per_h(x, inputs, params),
        to_array(state),
        dt_s / 3600.0,
        substeps_for(dt_s, params.max_substep_s),
        lambda x: _clamp(x, params),
    )
    holdups = (float(x[0]), float(x[1]), float(x[2]), float(x[3]))
    valves = (float(x[4]), float(x[5]), float(x[6]), float(x[7]))
    new = replace(state, holdups_kmol=holdups, valves_pct=valves)
    return _advance_analyser(new, outputs(x, params).ya, dt_s / 3600.0, params)


def _advance_analyser(state: RickerState, ya: float, dt_h: float, params: RickerParams) -> RickerState:
    # Sampled at the end of the step in which the period elapses: with dt ≪ 0.1 h the timing error is
    # one step, and it keeps the analyser a pure function of the state.
    clock = state.analyser_clock_h + dt_h
    if clock + 1e-12 < params.analyser_period_h:
        return replace(state, analyser_clock_h=clock)
    return replace(
        state,
        analyser_out=state.analyser_sample,
        analyser_sample=ya,
        analyser_clock_h=clock - params.analyser_period_h,
    )
