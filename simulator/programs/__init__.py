"""Per-plant PLC programs and field wiring: which transmitter reads what, which output drives which actuator.

A binding is everything `Simulation` needs to know about one plant: its PLC program (loops, trips, read-only
registers), the true value behind every transmitter, the independent trip switches, the published status
bits, and how PLC outputs, trips and disturbances become the physics inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from otgate_simulator.plc import PlcProgram


class PlantBinding(PlcProgram, Protocol):
    @property
    def measurement_tags(self) -> tuple[str, ...]: ...
    @property
    def noise_sigma(self) -> Mapping[str, float]: ...  # measurement tag -> σ in engineering units
    @property
    def disturbances(self) -> Mapping[str, float]: ...  # disturbance name -> nominal value

    def initial_state(self) -> Any: ...
    def initial_outputs(self, state: Any) -> dict[str, float]: ...
    # measurement tag -> true reading; trips are passed because they switch equipment (a stopped pump)
    def true_pvs(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]: ...
    def true_values(
        self, state: Any, trips: Mapping[str, bool]
    ) -> dict[str, float]: ...  # named ground truth
    def trip_conditions(self, state: Any) -> dict[str, bool]: ...  # trip tag -> switch made (true values)
    def status(self, trips: Mapping[str, bool]) -> dict[str, float]: ...  # status bits published by the PLC
    def actuator_position(self, state: Any, out_tag: str) -> float: ...  # in the output's unit

    def step(
        self,
        state: Any,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
        tau_factors: Mapping[str, float],
        dt_s: float,
    ) -> Any: ...


def binding_for(plant: str) -> PlantBinding:
    from otgate_simulator.programs.cstr import CstrBinding
    from otgate_simulator.programs.ricker import RickerBinding
    from otgate_simulator.programs.tank import TankBinding

    bindings: dict[str, PlantBinding] = {
        "tank": TankBinding(),
        "cstr": CstrBinding(),
        "ricker": RickerBinding(),
    }
    if plant not in bindings:
        raise ValueError(f"unknown plant {plant!r}; expected one of {sorted(bindings)}")
    return bindings[plant]
