"""Step responses of the process models: the underdamped second-order term against its differential
equation, and the times a rule reads off a term (arrival, settling, reach)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from otgate.core.step_response import StepModel, slope, step

pytestmark = pytest.mark.requirement("R-42")

# An underdamped second-order term, as the Ricker pressure answers its setpoints: a slow swing as it settles.
SWING = StepModel("PIC-201.RSP", "PT-201", gain=2.0, tau_s=50.0, dead_time_s=10.0, damping=0.2)


def integrated(model: StepModel, t_end: float, dt: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """The unit step of tau^2 y'' + 2 zeta tau y' + y = K u(t - theta), integrated (RK4) independently of
    the closed form under test: times, values."""
    zeta, tau = model.damping or 0.0, model.tau_s

    def rates(state: np.ndarray) -> np.ndarray:
        y, v = state
        return np.array([v, (model.gain - y - 2 * zeta * tau * v) / tau**2])

    state, times, values = np.zeros(2), [0.0], [0.0]
    for k in range(int(t_end / dt)):
        a = rates(state)
        b = rates(state + dt / 2 * a)
        c = rates(state + dt / 2 * b)
        d = rates(state + dt * c)
        state = state + dt / 6 * (a + 2 * b + 2 * c + d)
        times.append((k + 1) * dt)
        values.append(state[0])
    return np.array(times) + model.dead_time_s, np.array(values)


def test_second_order_step_is_the_solution_of_its_differential_equation():
    times, values = integrated(SWING, 600.0)
    every = slice(None, None, 997)
    assert step(SWING, times[every]) == pytest.approx(values[every], abs=1e-6)
    assert step(SWING, np.array([0.0, 9.9])) == pytest.approx([0.0, 0.0])
    # The slope is the derivative of that solution.
    numeric = np.gradient(values, times)
    assert slope(SWING, times[every][1:]) == pytest.approx(numeric[every][1:], abs=1e-4)
    # It overshoots: first peak at theta + pi tau / sqrt(1 - zeta^2), by exp(-pi zeta / sqrt(1 - zeta^2)).
    peak = SWING.dead_time_s + math.pi * SWING.tau_s / math.sqrt(1 - 0.04)
    # It has arrived (95 %) on its way up, before the peak.
    arrived = int(np.argmax(values >= 0.95 * 2.0))
    assert SWING.arrived_s == pytest.approx(times[arrived], abs=0.2)
    assert SWING.arrived_s < peak
    assert step(SWING, np.array([peak]))[0] == pytest.approx(
        2.0 * (1 + math.exp(-math.pi * 0.2 / math.sqrt(0.96)))
    )
    assert float(values.max()) == pytest.approx(step(SWING, np.array([peak]))[0], abs=1e-6)


def test_second_order_settles_with_its_envelope_not_its_tau():
    assert SWING.decay_s == pytest.approx(250.0)  # tau / zeta
    assert SWING.settle_s == pytest.approx(10.0 + 5 * 250.0)
    # The default horizon of a swing covers its first overshoot and undershoot: one period.
    assert SWING.reach_s == pytest.approx(10.0 + 2 * math.pi * 50.0 / math.sqrt(0.96))
    late = step(SWING, np.array([SWING.settle_s]))[0]
    assert abs(late - 2.0) < 0.01 * 2.0
