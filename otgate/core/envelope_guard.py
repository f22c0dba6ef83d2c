"""The envelope guard: the AI comes off the loops that move a variable which has left its operating
envelope for longer than the configured persistence (ENVELOPE_EXIT), or which, on its present course with
no further move, is predicted to leave it within `approach_s` (ENVELOPE_APPROACH).

The look-ahead rule keeps AI moves from taking the process out; this monitor covers what no AI move did: a
disturbance (a feed-composition change, a fouled exchanger) carrying the process out of the region the AI
was commissioned for. Latched like every fallback: an operator decides when the AI may come back.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Set

import numpy as np

from otgate.core.monitors import Anomaly, AnomalyCode
from otgate.core.plant import Plant
from otgate.core.prediction import Forecast
from otgate.core.process_models import EnvelopeLimit


def check_envelope(
    plant: Plant,
    outside_since: MutableMapping[str, float],
    values: Mapping[str, float],
    bad: Set[str],
    forecast: Forecast | None,
    now: float,
) -> list[Anomaly]:
    """Anomalies for every enveloped variable; `outside_since` (per variable) is updated in place."""
    anomalies = []
    for name, limit in plant.config.envelope.items():
        value = values.get(name)
        if value is None or name in bad:
            outside_since.pop(name, None)  # bad readings have their own monitors
            continue
        side = _beyond(value, limit)
        if side is not None:
            since = outside_since.setdefault(name, now)
            if now - since >= limit.persistence_s:
                detail = f"{name} {value:.4g} beyond its envelope limit {side:g} for {now - since:.0f} s"
                anomalies.append(Anomaly(AnomalyCode.ENVELOPE_EXIT, name, detail))
            continue
        outside_since.pop(name, None)
        eta = _time_to_leave(forecast, name, limit)
        if limit.approach_s is not None and eta is not None and eta[0] <= limit.approach_s:
            detail = f"{name} predicted to cross {eta[1]:g} in {eta[0]:.0f} s on its present course"
            anomalies.append(Anomaly(AnomalyCode.ENVELOPE_APPROACH, name, detail))
    return anomalies


def loops_moving(plant: Plant, variable: str) -> list[str]:
    """The loops whose setpoint moves `variable` (a model from it into the variable)."""
    inputs = {m.input for m in plant.models if m.output == variable}
    return [plant.loop_by_setpoint[tag][0] for tag in sorted(inputs) if tag in plant.loop_by_setpoint]


def _beyond(value: float, limit: EnvelopeLimit) -> float | None:
    if limit.hi is not None and value > limit.hi:
        return limit.hi
    if limit.lo is not None and value < limit.lo:
        return limit.lo
    return None


def _time_to_leave(forecast: Forecast | None, name: str, limit: EnvelopeLimit) -> tuple[float, float] | None:
    """When the free prediction first crosses a limit, and which (None: it stays inside the horizon)."""
    if forecast is None or name not in forecast.base:
        return None
    base = forecast.base[name]
    for bound, crossed in ((limit.hi, base > (limit.hi or 0.0)), (limit.lo, base < (limit.lo or 0.0))):
        if bound is not None and bool(np.any(crossed)):
            return float(forecast.times[int(np.argmax(crossed))]), bound
    return None
