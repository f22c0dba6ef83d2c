"""Velocity-form PI controller, as PLC function blocks implement it.

    Δu = Kc·[(e_k − e_{k−1}) + (Δt/Ti)·e_k] ,  u clamped to [u_lo, u_hi]

with e = SP − PV for a reverse-acting loop (PV up → output down) and e = PV − SP for a direct-acting one.
The velocity form needs no separate anti-windup (the clamp stops the integral at the limits) and switching
from manual or a forced output is bumpless: the controller simply continues from the current output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PiTuning:
    kc: float  # output units per PV unit
    ti_s: float
    direct: bool  # True: output rises when the PV rises above the setpoint
    out_lo: float
    out_hi: float


@dataclass(frozen=True, slots=True)
class PiState:
    output: float
    last_error: float | None = None  # None after (re)initialisation: the first step has no P kick


def error(tuning: PiTuning, sp: float, pv: float) -> float:
    return pv - sp if tuning.direct else sp - pv


def pi_step(tuning: PiTuning, state: PiState, sp: float, pv: float, dt_s: float) -> PiState:
    e = error(tuning, sp, pv)
    de = 0.0 if state.last_error is None else e - state.last_error
    output = state.output + tuning.kc * (de + dt_s / tuning.ti_s * e)
    return PiState(output=min(tuning.out_hi, max(tuning.out_lo, output)), last_error=e)


def pi_track(state: PiState, output: float) -> PiState:
    """Follow an output imposed from outside (manual, interlock) so that resuming control is bumpless."""
    return replace(state, output=output, last_error=None)
