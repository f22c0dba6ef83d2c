"""Plant physics, one pure module per plant: `initial_state()` and `step(state, inputs, dt_s) -> state`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otgate_simulator.plants import cstr, ricker, tank


@dataclass(frozen=True)
class PlantModel:
    name: str
    initial_state: Callable[[], Any]
    step: Callable[[Any, Any, float], Any]
    description: str


PLANTS: dict[str, PlantModel] = {
    "tank": PlantModel("tank", tank.initial_state, tank.step, "Raw-water tank level (P1)"),
    "cstr": PlantModel("cstr", cstr.initial_state, cstr.step, "Exothermic CSTR with jacket (P2)"),
    "ricker": PlantModel("ricker", ricker.initial_state, ricker.step, "Ricker simplified TE reactor (P3)"),
}
