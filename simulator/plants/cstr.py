"""Exothermic CSTR with a cooling jacket, P2 (PLANTS.md; SEMD Ex. 2.5 / Kantor parameters + jacket lag).

    k(T)    = k0·exp(−E/(R·T))
    dC_A/dt = q/V·(C_Ai − C_A) − k(T)·C_A
    dT/dt   = q/V·(T_i − T) + (−ΔH)/(ρ·C_p)·k(T)·C_A + UA/(V·ρ·C_p)·(T_c − T)
    dT_c/dt = (T_c,sp − T_c)/τ_j

The published model runs in minutes; `step` takes seconds and converts. In the runaway region
(k(450 K) ≈ 260 1/min) an explicit step of 1 s blows up, hence 0.05 s RK4 sub-steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from otgate_simulator.plants.rk4 import FloatArray, integrate, substeps_for


@dataclass(frozen=True, slots=True)
class CstrParams:
    q_l_min: float = 100.0
    volume_l: float = 100.0
    feed_conc_mol_l: float = 1.0
    feed_temp_k: float = 350.0
    rho_g_l: float = 1000.0
    cp_j_gk: float = 0.239
    heat_j_mol: float = 5.0e4  # −ΔH
    e_over_r_k: float = 8750.0
    k0_per_min: float = 7.2e10
    ua_j_min_k: float = 5.0e4
    jacket_tau_min: float = 0.5
    tc_min_k: float = 250.0
    tc_max_k: float = 350.0
    max_substep_s: float = 0.05


PARAMS = CstrParams()
NOMINAL_TEMP_K = 325.0


@dataclass(frozen=True, slots=True)
class CstrState:
    conc_mol_l: float  # C_A
    temp_k: float  # reactor T
    coolant_k: float  # jacket T_c


@dataclass(frozen=True, slots=True)
class CstrInputs:
    coolant_sp_k: float  # T_c,sp from the temperature controller
    feed_open: bool = True  # XV-101
    quench: bool = False  # inhibitor injection: kills the reaction (C_A → 0) at the start of the step
    feed_temp_k: float = PARAMS.feed_temp_k
    feed_conc_mol_l: float = PARAMS.feed_conc_mol_l
    jacket_tau_factor: float = 1.0


def rate_constant_per_min(temp_k: float, params: CstrParams = PARAMS) -> float:
    return params.k0_per_min * math.exp(-params.e_over_r_k / temp_k)


def derivative_per_min(x: FloatArray, inputs: CstrInputs, params: CstrParams = PARAMS) -> FloatArray:
    """Right-hand side in 1/min, for integration and for steady-state root finding."""
    conc, temp, coolant = float(x[0]), float(x[1]), float(x[2])
    q = params.q_l_min if inputs.feed_open else 0.0
    dilution = q / params.volume_l
    reaction = rate_constant_per_min(temp, params) * conc
    tc_sp = min(params.tc_max_k, max(params.tc_min_k, inputs.coolant_sp_k))
    rho_cp = params.rho_g_l * params.cp_j_gk
    return np.array(
        [
            dilution * (inputs.feed_conc_mol_l - conc) - reaction,
            dilution * (inputs.feed_temp_k - temp)
            + params.heat_j_mol / rho_cp * reaction
            + params.ua_j_min_k / (params.volume_l * rho_cp) * (coolant - temp),
            (tc_sp - coolant) / (params.jacket_tau_min * inputs.jacket_tau_factor),
        ]
    )


def steady_coolant_k(temp_k: float, params: CstrParams = PARAMS) -> tuple[float, float]:
    """(C_A, T_c) that hold the reactor at `temp_k` with the nominal feed: the closed-loop equilibrium."""
    k = rate_constant_per_min(temp_k, params)
    dilution = params.q_l_min / params.volume_l
    conc = dilution * params.feed_conc_mol_l / (dilution + k)
    rho_cp = params.rho_g_l * params.cp_j_gk
    heat_in = dilution * (params.feed_temp_k - temp_k) + params.heat_j_mol / rho_cp * k * conc
    coolant = temp_k - heat_in * params.volume_l * rho_cp / params.ua_j_min_k
    return conc, coolant


def initial_state(params: CstrParams = PARAMS) -> CstrState:
    """T = 325 K held by the jacket: the coolant sits at the value the temperature PI settles to."""
    conc, coolant = steady_coolant_k(NOMINAL_TEMP_K, params)
    return CstrState(conc_mol_l=conc, temp_k=NOMINAL_TEMP_K, coolant_k=coolant)


def conversion(state: CstrState, params: CstrParams = PARAMS) -> float:
    """Fraction of A converted (0..1), what the analyser AT-101 reports."""
    return 1.0 - state.conc_mol_l / params.feed_conc_mol_l


def _clamp(x: FloatArray, params: CstrParams) -> FloatArray:
    return np.array(
        [
            max(0.0, float(x[0])),
            max(1.0, float(x[1])),
            min(params.tc_max_k, max(params.tc_min_k, float(x[2]))),
        ]
    )


def step(state: CstrState, inputs: CstrInputs, dt_s: float, params: CstrParams = PARAMS) -> CstrState:
    conc = 0.0 if inputs.quench else state.conc_mol_l
    x0 = np.array([conc, state.temp_k, state.coolant_k])
    x = integrate(
        lambda x: derivative_per_min(x, inputs, params),
        x0,
        dt_s / 60.0,
        substeps_for(dt_s, params.max_substep_s),
        lambda x: _clamp(x, params),
    )
    return CstrState(conc_mol_l=float(x[0]), temp_k=float(x[1]), coolant_k=float(x[2]))
