"""Recent history of every variable the process models use, and this scan's forecast from it.

A setpoint input is remembered through its loop's working setpoint (what the PLC actually uses, after its
clamps and ramps, whoever moved it: any engine, an operator, the PLC's own local control); a measured
disturbance and every constrained output through their own values.

Model outputs keep every sample (their trend and noise are measured from them). Inputs that are not also
outputs keep change points: a sample is stored only when the value differs from the last one stored, together
with the sample just before it, so consecutive stored samples give exactly the changes that every sample
would (`prediction.changes`) at a cost of one pair per change. A setpoint is piecewise constant: on a slow
plant whose models settle over hours this is a handful of pairs instead of one sample per scan for hours.
Every series is kept as long as the monitors judge over (`judged_s`: the longest trend window, the horizon
the prediction-error monitor judges over, the loop-response windows); an input's changes longer by the
slowest settling time of its models, after which they have done all they will do, and the measured
outputs, the baseline of every forecast, already include them. An oscillating model settles over days: its
input's change points are a handful, while its output's samples are kept only for the windows judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from otgate.core.plant import Plant
from otgate.core.prediction import Forecast, forecast, trend_window_s
from otgate.core.series import Series


class ProcessMemory:
    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        outputs = {m.output for m in plant.models}
        sources = {m.input for m in plant.models} | outputs
        # model tag -> the tag whose reading stands for it
        self.read_as = {
            name: plant.loop_by_setpoint[name][1].working_sp if name in plant.loop_by_setpoint else name
            for name in sources
        }
        self.change_points = sources - outputs
        judged = judged_s(plant)
        self.keep_s = {name: judged + settle_s(plant, name) for name in sources}
        self.samples: dict[str, Series] = {name: Series() for name in sources}
        self._last: dict[str, tuple[float, float]] = {}  # the last good sample of each change-point input

    def observe(self, values: Mapping[str, float], bad: Set[str], now: float) -> None:
        for name, source in self.read_as.items():
            value = values.get(source)
            samples = self.samples[name]
            if value is not None and source not in bad:
                if name in self.change_points:
                    self._observe_change(name, samples, (now, value))
                else:
                    samples.append(now, value)
            samples.drop_before(now - self.keep_s[name])

    def _observe_change(self, name: str, samples: Series, sample: tuple[float, float]) -> None:
        last = self._last.get(name)
        self._last[name] = sample
        if last is not None and sample[1] == last[1]:
            return  # no change: the stored pair already says where the value stands
        if last is not None and (not samples or samples[-1] != last):
            samples.append(*last)
        samples.append(*sample)

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


def judged_s(plant: Plant) -> float:
    """The longest window any monitor or forecast reads a series over."""
    trend = max((trend_window_s(m.decay_s) for m in plant.models), default=0.0)
    loops = max((m.arrived_s for m in plant.models), default=0.0)
    return max(trend, plant.horizon_s, loops)


def settle_s(plant: Plant, name: str) -> float:
    """How long a change of `name` keeps moving the outputs it is an input of (0 for an output only)."""
    return max((m.settle_s for m in plant.models if m.input == name), default=0.0)
