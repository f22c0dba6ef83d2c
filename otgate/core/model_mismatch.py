"""The prediction-error monitor: a model that no longer explains the measurements cannot vouch for AI moves,
so when a modelled variable stays outside the model's prediction band, the AI comes off the loops whose
setpoints move it (MODEL_MISMATCH), latched like every fallback.

Each scan, for every output of the process models (a variable with at least one model into it), over a
window W equal to the prediction horizon (how far ahead the look-ahead relies on the models):

    error = (mean of the last E samples) - (mean of the first E samples of the window)
            - the change the models explain over the window from the recorded input changes
    band  = NOISE_FACTOR * sigma * sqrt(2/E)  +  GAIN_TOLERANCE * |explained change|

sigma is the output's sample noise (estimated from consecutive differences over the window, so a slow drift
does not inflate it); the second term allows for gain and timing errors of a linear model of a nonlinear
plant. The output fails when the error has stayed outside the band at every judgment for W seconds (a
transient miss is not a broken model). No hand-set threshold: W comes from the models (or the configured
horizon), the band from the measured noise and the explained change.

What it catches: a sensor drifting or biased against the other measurements the models tie it to (the
loop holds its own PV on setpoint while the variables downstream of the true process move), an unmodelled
disturbance that moves a modelled variable (the look-ahead's forecast is then wrong too), a plant whose
gain has changed. Opt-in (`prediction.model_mismatch`): the same check flags every unmeasured disturbance
that moves a modelled variable, so turn it on where the models include the disturbances that matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from otgate.core.monitors import Anomaly, AnomalyCode
from otgate.core.prediction import Samples, changes, window
from otgate.core.step_response import StepModel, step

NOISE_FACTOR = 4.0  # standard deviations of the edge-mean difference: a miss below this is noise
GAIN_TOLERANCE = 0.5  # share of the explained change a linear model may be off by (nonlinearity, timing)
EDGE_SAMPLES = 5  # samples averaged at each end of the window


@dataclass(frozen=True, slots=True)
class PredictionError:
    output: str
    error: float  # measured change minus explained change over the window
    band: float
    explained: float
    window_s: float


def check_model_mismatch(
    models: Sequence[StepModel],
    samples: Mapping[str, Samples],
    window_s: float,
    failing_since: MutableMapping[str, float],
    now: float,
) -> list[Anomaly]:
    """MODEL_MISMATCH for every modelled output whose prediction error stayed outside the band for the
    window; `failing_since` (per output) is updated in place."""
    anomalies = []
    for output in sorted({m.output for m in models}):
        into = [m for m in models if m.output == output]
        judged = prediction_error(into, samples, output, window_s, now)
        if judged is None or abs(judged.error) <= judged.band:
            failing_since.pop(output, None)
            continue
        since = failing_since.setdefault(output, now)
        if now - since >= window_s:
            detail = (
                f"{output} moved {judged.error:+.3g} beyond what its models explain ({judged.explained:+.3g}) "
                f"over {window_s:.0f} s, outside the prediction band ±{judged.band:.3g} for {now - since:.0f} s"
            )
            anomalies.append(Anomaly(AnomalyCode.MODEL_MISMATCH, output, detail))
    return anomalies


def prediction_error(
    into: Sequence[StepModel], samples: Mapping[str, Samples], output: str, window_s: float, now: float
) -> PredictionError | None:
    """The output's prediction error over the window ending now (None until a full window is seen)."""
    times, values = window(samples.get(output, ()), now, window_s)
    if window_s <= 0 or times.size < 2 * EDGE_SAMPLES or now - times[0] < 0.9 * window_s:
        return None
    start = float(times[0])
    explained = 0.0
    for model in into:
        ages, sizes = changes(samples.get(model.input, ()), now, now - start + model.settle_s)
        if sizes.size:
            # What each change did between the window's start and now (changes inside the window count
            # from when they were made).
            at_start = np.maximum(ages - (now - start), 0.0)
            explained += float(sizes @ (step(model, ages) - step(model, at_start)))
    made = float(values[-EDGE_SAMPLES:].mean() - values[:EDGE_SAMPLES].mean())
    sigma = float(np.std(np.diff(values)) / math.sqrt(2.0))
    band = NOISE_FACTOR * sigma * math.sqrt(2.0 / EDGE_SAMPLES) + GAIN_TOLERANCE * abs(explained)
    return PredictionError(output, made - explained, max(band, 1e-9), explained, window_s)


def noise_sigma(samples: Samples, now: float, window_s: float) -> float:
    """The sample noise of a measurement over the window (from consecutive differences; 0 when unknown)."""
    _, values = window(samples, now, window_s)
    return float(np.std(np.diff(values)) / math.sqrt(2.0)) if values.size >= 3 else 0.0


def prediction_band(
    expected: NDArray[np.float64], current: float, sigma: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The band the monitor accepts around a prediction: what the output may do before its model is
    judged wrong (the same noise and gain allowances, as a function of the predicted change)."""
    width = NOISE_FACTOR * sigma * math.sqrt(2.0 / EDGE_SAMPLES) + GAIN_TOLERANCE * np.abs(expected - current)
    return expected - width, expected + width
