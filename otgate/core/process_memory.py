"""Recent samples of every variable the process models use, and this scan's forecast from them.

A setpoint input is remembered through its loop's working setpoint (what the PLC actually uses, after its
clamps and ramps, whoever moved it: any engine, an operator, the PLC's own local control); a measured
disturbance and every constrained output through their own values. Samples are kept for as long as a model
can still use them (the slowest model's settling time plus the trend window).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Set

from otgate.core.plant import Plant
from otgate.core.prediction import TREND_WINDOW_S, Forecast, forecast


class ProcessMemory:
    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        sources = {m.input for m in plant.models} | {m.output for m in plant.models}
        # model tag -> the tag whose reading stands for it
        self.read_as = {
            name: plant.loop_by_setpoint[name][1].working_sp if name in plant.loop_by_setpoint else name
            for name in sources
        }
        self.keep_s = max((m.settle_s for m in plant.models), default=0.0) + TREND_WINDOW_S
        self.samples: dict[str, deque[tuple[float, float]]] = {name: deque() for name in sources}

    def observe(self, values: Mapping[str, float], bad: Set[str], now: float) -> None:
        for name, source in self.read_as.items():
            value = values.get(source)
            samples = self.samples[name]
            if value is not None and source not in bad:
                samples.append((now, value))
            while samples and now - samples[0][0] > self.keep_s:
                samples.popleft()

    def forecast(self, values: Mapping[str, float], bad: Set[str], now: float) -> Forecast | None:
        """The free prediction of every enveloped variable read well this scan; None for a plant without
        models, or when a constrained variable has no good reading (the look-ahead then refuses to vouch)."""
        if not self.plant.is_predictive:
            return None
        outputs = {name: values.get(name) for name in self.plant.envelope}
        known = {name: v for name, v in outputs.items() if v is not None and name not in bad}
        if len(known) < len(outputs):
            return None
        return forecast(self.plant.models, known, self.samples, now, self.plant.horizon_s)
