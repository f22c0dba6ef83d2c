"""What the protocol servers need from a simulation: its process image and its write entry point.

`simulator.simulation.Simulation` satisfies this protocol; the servers depend only on it, so they can be
tested against a stand-in and never reach into the plant or PLC model.
"""

from __future__ import annotations

from typing import Protocol

from otgate.core.config import PlantConfig


class ProcessImage(Protocol):
    @property
    def config(self) -> PlantConfig: ...

    @property
    def time_s(self) -> float: ...

    def image(self) -> dict[str, float]:
        """Every configured tag in engineering units, as the PLC publishes it after its last scan."""
        ...

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        """An external write: logged by the simulation, False when the PLC refuses it."""
        ...


class Steppable(ProcessImage, Protocol):
    """A simulation the runtime can advance."""

    def tick(self) -> None: ...

    @property
    def dt_s(self) -> float: ...

    @property
    def tick_count(self) -> int: ...
