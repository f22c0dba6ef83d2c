"""The predicted band and the envelope per loop, for the HMI's trend (docs/HMI.md, `prediction`).

For each loop whose setpoint moves a variable of the operating envelope (a model from it into the
variable), the view carries that variable's forecast over the horizon: the free prediction plus every move
already decided (queued writes and ramps of every engine and operator), the band the model-mismatch
monitor accepts around it, and the envelope limits, so the page can draw where the process is going
against where the AI may take it. Empty when the plant has no models or this scan has no forecast.
"""

from __future__ import annotations

import math
from typing import Any

from otgate.core.model_mismatch import noise_sigma, prediction_band
from otgate.core.prediction import with_queued
from otgate.runtime.view import GatewayView

_DIGITS = 6  # rounded: the page draws them, the JSON stays small


def loop_prediction(view: GatewayView, sp_tag: str) -> list[dict[str, Any]]:
    plant = view.plant
    snapshot = view.current_snapshot()
    forecast = snapshot.forecast
    if forecast is None or not plant.reaches_envelope(sp_tag):
        return []
    views = []
    for output in sorted({m.output for m in plant.models if m.input == sp_tag} & set(forecast.base)):
        current = snapshot.values.get(output)
        if current is None or not math.isfinite(current):
            continue
        expected = with_queued(plant.models, forecast, output, snapshot.queued, proposing="")
        sigma = noise_sigma(view.samples(output), snapshot.taken_at, plant.horizon_s)
        lo, hi = prediction_band(expected, current, sigma)
        bound = plant.envelope[output]
        views.append(
            {
                "variable": output,
                "unit": plant.config.tags[output].unit,
                "envelope": {"lo": bound.lo, "hi": bound.hi},
                "horizon_s": plant.horizon_s,
                "t_s": [round(float(t), 3) for t in forecast.times],
                "expected": [round(float(v), _DIGITS) for v in expected],
                "band_lo": [round(float(v), _DIGITS) for v in lo],
                "band_hi": [round(float(v), _DIGITS) for v in hi],
            }
        )
    return views
