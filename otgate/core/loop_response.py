"""The model-based loop-response monitor: after a setpoint move, the model says how the PV should follow;
a PV that does not (a stuck or saturated actuator, a lost loop) is LOOP_NOT_RESPONDING, and the loop goes
back to conventional control.

Thresholds come from the loop's own model (setpoint -> PV), so no hand-set deviation limit is needed:
- the window is the model's dead time plus the time by which 95 % of a step has arrived (three time
  constants; an oscillating term gets there on its way to its first peak); for a model of several terms,
  the slowest term's;
- the expected PV change over that window is the model's response to the setpoint changes seen, each
  counted while it arrives: the part of its response up to one window after it that fell in this one.
  What a move does after it has arrived is left out: for a first-order term a 5 % tail, for an
  oscillating one its overshoot and swings, the part of a model least sure and small against what the
  other inputs move the PV by, so no witness of the loop following (a false alarm in a 24 h Ricker run
  came from a swing's late turn: +6.8 kPa expected, +1.7 made, 23 h after the moves);
- it is judged only when that expected change stands clear of the PV's noise (four times its standard
  deviation over the window), and the loop fails when the PV made less than a quarter of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from otgate.core.monitors import Anomaly, AnomalyCode
from otgate.core.plant import Plant
from otgate.core.prediction import Samples, changes, window
from otgate.core.step_response import StepModel, step

FOLLOW_SHARE = 0.25  # the PV must make at least this share of the change its model expects (an unmeasured
# disturbance working against a move can take half of it; a stuck actuator leaves next to nothing)
NOISE_FACTOR = 4.0  # an expected change below this many noise standard deviations is not judged
EDGE_SAMPLES = 5  # samples averaged at each end of the window


def check_loop_response(
    plant: Plant, samples: Mapping[str, Samples], loops: Iterable[str], now: float
) -> list[Anomaly]:
    anomalies = []
    for name in loops:
        loop = plant.config.loops[name]
        terms = [m for m in plant.models if m.input == loop.sp and m.output == loop.pv]
        if not terms:
            continue
        verdict = _judge(terms, samples.get(loop.sp, ()), samples.get(loop.pv, ()), now)
        if verdict is not None:
            anomalies.append(Anomaly(AnomalyCode.LOOP_NOT_RESPONDING, name, verdict))
    return anomalies


def window_s(model: StepModel) -> float:
    return model.arrived_s


def terms_window_s(terms: Sequence[StepModel]) -> float:
    """The window of a step response of several terms: the slowest term's."""
    return max(window_s(m) for m in terms)


def _judge(terms: Sequence[StepModel], setpoint: Samples, pv: Samples, now: float) -> str | None:
    span = terms_window_s(terms)
    times, values = window(pv, now, span)
    if times.size < 2 * EDGE_SAMPLES or now - times[0] < 0.9 * span:
        return None  # not enough of the window seen yet
    # A move is judged while it arrives: the part of its response up to `span` after it that fell in the
    # window (a move older than two windows has arrived before the window began).
    ages, sizes = changes(setpoint, now, 2.0 * span)
    if not sizes.size:
        return None
    arrived, before = np.minimum(ages, span), np.clip(ages - span, 0.0, span)
    # The step response is the sum of the pair's terms (one term for most loops).
    expected = sum(float(sizes @ (step(m, arrived) - step(m, before))) for m in terms)
    noise = float(np.std(np.diff(values)) / math.sqrt(2.0))
    if abs(expected) < max(NOISE_FACTOR * noise, 1e-9):
        return None
    made = float(values[-EDGE_SAMPLES:].mean() - values[:EDGE_SAMPLES].mean())
    if made / expected >= FOLLOW_SHARE:
        return None
    return (
        f"PV moved {made:+.3g} in {span:.0f} s where its model expects {expected:+.3g} after the "
        f"setpoint moves (stuck or saturated actuator, or the loop is not in control)"
    )
