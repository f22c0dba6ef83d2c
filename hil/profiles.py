"""Disturbance profiles: a plant disturbance that moves every tick instead of stepping once.

    process.ramp       from the value it has at injection to `value`, linearly over `over`, then held
    process.periodic   value + amplitude * sin(2 pi (t - t0) / period), with `value` defaulting to the
                       disturbance's value at injection

The runner asks each active profile for its value at every tick and sets it in the simulator. A profile
ends at `faults.clear` on its name (the plant's own value comes back) or when another profile replaces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RampProfile:
    start_s: float
    start_value: float
    end_value: float
    over_s: float

    def value_at(self, t: float) -> float:
        if self.over_s <= 0:
            return self.end_value
        fraction = min(1.0, max(0.0, (t - self.start_s) / self.over_s))
        return self.start_value + (self.end_value - self.start_value) * fraction


@dataclass(frozen=True)
class PeriodicProfile:
    start_s: float
    base: float
    amplitude: float
    period_s: float

    def value_at(self, t: float) -> float:
        return self.base + self.amplitude * math.sin(2.0 * math.pi * (t - self.start_s) / self.period_s)


Profile = RampProfile | PeriodicProfile
