"""A simulated PLC whose I/O card silently drops writes of chosen tags (the read-back-mismatch fault).

The simulator has no knob for a PLC that answers a write as accepted and does not apply it, so this
subclass of `Simulation` adds one: for the tags in `ignored`, `write_tag` records the write in the PLC's
write log (it did reach the PLC), answers "accepted", leaves the register alone, and at once schedules a
republish of the unchanged process image. The republish is created from inside the server's write
handler, so it runs before the client's read-back request can arrive: the gateway reads back the old value,
as it would from PLC logic that rewrites the register on its next scan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine

from otgate_simulator.programs import PlantBinding
from otgate_simulator.simulation import Simulation, WriteRecord


class FaultySimulation(Simulation):
    def __init__(self, plant: str, *, seed: int = 0, binding: PlantBinding | None = None) -> None:
        super().__init__(plant, seed=seed, binding=binding)
        self.ignored: set[str] = set()
        self.republish: Callable[[], Coroutine[None, None, None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        if tag not in self.ignored or not self.is_writable(tag):
            return super().write_tag(tag, value, protocol=protocol, address=address)
        self.write_log.append(WriteRecord(self.time_s, protocol, tag, address, float(value), True))
        if self.republish is not None:
            task = asyncio.get_running_loop().create_task(self.republish())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True
