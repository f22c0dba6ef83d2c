"""Step responses of the process models: how an output answers a unit step of an input, closed loop as
the PLC runs the loops (gain K, time constant tau, dead time theta). A model is a sum of terms of two forms:

    s(t) = 0                                for t < theta
    s(t) = K * (1 - exp(-(t - theta)/tau))   for t >= theta      (tau = 0: a pure delayed gain)

and, for a term with a damping ratio zeta (0 < zeta < 1), the underdamped second order
K e^(-theta s) / (tau^2 s^2 + 2 zeta tau s + 1), which overshoots and oscillates as it settles:

    s(t) = K * (1 - Re[A exp(lambda (t - theta))])   for t >= theta,
           lambda = (-zeta + i sqrt(1 - zeta^2)) / tau,  A = 1 - i zeta / sqrt(1 - zeta^2)

The first order is the same formula with lambda = -1/tau and A = 1 (`mode`), so both forms share one
algebra: a term's share still to come after a is Re[A e^(lambda a)], which separates in a and t (the
look-ahead folds past changes with it, `prediction.still_to_come`).

Pure: plain data in, plain data out.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

INSTANT_S = 1e-6  # a time constant below this is a pure delayed gain
ARRIVED = 0.95  # share of a step by which it has arrived (`StepModel.arrived_s`)
ARRIVAL_GRID = 2000  # points from a change to an oscillation's first peak, to find its arrival on


@dataclass(frozen=True, slots=True)
class StepModel:
    input: str
    output: str
    gain: float
    tau_s: float
    dead_time_s: float
    damping: float | None = None  # set (0 < damping < 1): an underdamped second-order term

    @property
    def decay_s(self) -> float:
        """The time constant of the response's approach to its gain: tau, or tau/zeta for an oscillation
        (the envelope of its swings)."""
        return self.tau_s if self.damping is None else self.tau_s / self.damping

    @property
    def settle_s(self) -> float:
        """After this long a change has (practically) done all it will do."""
        return self.dead_time_s + 5.0 * self.decay_s

    @property
    def arrived_s(self) -> float:
        """By this long a change has (first) arrived: 95 % of the step, which a first-order term reaches
        after 3 tau and an oscillating one on its way to its first peak (found on a grid: no closed form)."""
        if self.damping is None:
            return self.dead_time_s + 3.0 * self.tau_s
        return self.dead_time_s + _arrival(self.tau_s, self.damping)

    @property
    def reach_s(self) -> float:
        """How far ahead a move's own effect is worth judging: 98 % of a first-order step (4 tau); an
        oscillation's first overshoot and undershoot (one period), or 4 decay constants if sooner."""
        if self.damping is None:
            return self.dead_time_s + 4.0 * self.tau_s
        period = 2.0 * math.pi * self.tau_s / math.sqrt(1.0 - self.damping**2)
        return self.dead_time_s + min(period, 4.0 * self.decay_s)


@functools.lru_cache(maxsize=256)
def _arrival(tau_s: float, damping: float) -> float:
    """When an oscillating term's step first reaches `ARRIVED` of its gain, after its dead time (on a grid
    up to its first peak, where it is above it; cached: the monitors ask every scan)."""
    peak = math.pi * tau_s / math.sqrt(1.0 - damping**2)
    after = np.linspace(0.0, peak, ARRIVAL_GRID)
    remaining = _remaining(StepModel("", "", 1.0, tau_s, 0.0, damping), after)
    return float(after[int(np.argmax(remaining <= 1.0 - ARRIVED))])


def mode(model: StepModel) -> tuple[complex, complex]:
    """(A, lambda) of a term: what remains of its step `a` after the dead time is Re[A e^(lambda a)]."""
    if model.damping is None:
        return complex(1.0), complex(-1.0 / model.tau_s)
    root = math.sqrt(1.0 - model.damping**2)
    return complex(1.0, -model.damping / root), complex(-model.damping, root) / model.tau_s


def _remaining(model: StepModel, after: NDArray[np.float64]) -> NDArray[np.float64]:
    """The share of the step still to come `after` seconds past the dead time."""
    if model.damping is None:
        return np.exp(-after / model.tau_s)
    a, pole = mode(model)
    return np.real(a * np.exp(pole * after))


def step(model: StepModel, t: NDArray[np.float64]) -> NDArray[np.float64]:
    after = np.maximum(t - model.dead_time_s, 0.0)
    if model.tau_s < INSTANT_S:
        return np.where(t >= model.dead_time_s, model.gain, 0.0)
    return np.where(t >= model.dead_time_s, model.gain * (1.0 - _remaining(model, after)), 0.0)


def slope(model: StepModel, t: NDArray[np.float64]) -> NDArray[np.float64]:
    """ds/dt: how fast a unit change made `t` seconds ago still moves the output."""
    if model.tau_s < INSTANT_S:
        return np.zeros_like(t)
    after = np.maximum(t - model.dead_time_s, 0.0)
    if model.damping is None:
        rate = np.exp(-after / model.tau_s) / model.tau_s
    else:
        a, pole = mode(model)
        rate = -np.real(a * pole * np.exp(pole * after))
    return np.where(t >= model.dead_time_s, model.gain * rate, 0.0)
