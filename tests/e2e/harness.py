"""A gateway wired to the real simulator over real sockets, stepped in lock-step with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from otgate.audit.store import AuditStore
from otgate.config.loader import load_config
from otgate.core.config import PlantConfig, Protocol
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.host.service import build_links
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import Answer
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation, WriteRecord, default_config
from tests.conftest import PLANT_CONFIGS
from tests.field.harness import IgnoringPlc


def pointed(config: PlantConfig, runtime: SimRuntime[IgnoringPlc], protocol: Protocol) -> PlantConfig:
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = plc.modbus.model_copy(update={"port": runtime.endpoints.modbus_port}) if plc.modbus else None
        opcua = plc.opcua
        if protocol is Protocol.OPCUA and opcua is not None and runtime.endpoints.opcua_url:
            opcua = opcua.model_copy(update={"endpoint": runtime.endpoints.opcua_url})
        plcs[name] = plc.model_copy(update={"protocol": protocol, "modbus": modbus, "opcua": opcua})
    return config.model_copy(update={"plcs": plcs})


@dataclass
class Harness:
    sim: Simulation
    runtime: SimRuntime[IgnoringPlc]
    gateway: Gateway
    clock: ManualClock
    ids: int = 0

    async def step(self, scans: int = 1) -> None:
        """One tick of the plant and PLC, then one gateway scan at the same simulated instant."""
        for _ in range(scans):
            await self.runtime.step()
            self.clock.advance(self.sim.dt_s)
            await self.gateway.scan(self.clock.monotonic())

    async def engage(self, *loops: str) -> None:
        self.gateway.operator_action("operator", list(loops or self.gateway.loops), ModeEvent.ENGAGE, "test")
        for _ in range(5):
            await self.step()
            if all(self.sim.loop_modes()[name] == "REMOTE" for name in loops or self.gateway.loops):
                return
        raise AssertionError(f"PLC did not confirm REMOTE: {self.sim.loop_modes()}")

    def propose(self, tag: str, value: float, engine: str = "optimizer") -> Proposal:
        self.ids += 1
        return Proposal(f"rec-{self.ids}", engine, tag, value, self.clock.now())

    def submit(self, *proposals: Proposal) -> list[Answer]:
        return self.gateway.submit(list(proposals))

    def keepalive(self, engine: str = "optimizer") -> None:
        """An engine that is alive and content: it proposes each setpoint where it already is (NO_CHANGE)."""
        for tag in self.gateway.plant.config.engines[engine].writes:
            loop = self.gateway.plant.loop_by_setpoint[tag][1]
            value = self.gateway.snapshot.values.get(loop.working_sp)
            if value is not None:
                self.submit(self.propose(tag, value, engine))

    def writes_to(self, tag: str) -> list[WriteRecord]:
        return [w for w in self.sim.write_log if w.tag == tag]

    def setpoint(self, loop: str) -> float:
        return self.gateway.snapshot.values[self.gateway.plant.config.loops[loop].working_sp]


async def pointed_at_port(h: Harness, port: int, timeout_s: float) -> None:
    """Re-point the gateway's Modbus link (e.g. through a fault proxy), with a short request timeout."""
    config = h.gateway.plant.config
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = plc.modbus.model_copy(update={"port": port, "timeout_s": timeout_s}) if plc.modbus else None
        plcs[name] = plc.model_copy(update={"modbus": modbus})
    config = config.model_copy(update={"plcs": plcs})
    for link in h.gateway.links.values():
        await link.close()
    h.gateway.links = build_links(config)
    h.gateway.plant = compile_plant(config)
    await h.step()


@asynccontextmanager
async def running(
    plant: str,
    data_dir: Path,
    protocol: Protocol = Protocol.MODBUS,
    seed: int = 1,
    ignoring: frozenset[str] = frozenset(),
    adjust: Callable[[PlantConfig], PlantConfig] | None = None,
    adjust_plc: Callable[[PlantConfig], PlantConfig] | None = None,
) -> AsyncIterator[Harness]:
    """`ignoring`: tags whose writes the PLC accepts and silently drops (a faulty PLC program or card).
    `adjust` changes the gateway's config; `adjust_plc` the simulated PLC's too (its register encoding)."""
    sim = Simulation(plant, seed=seed, config=adjust_plc(default_config(plant)) if adjust_plc else None)
    plc = IgnoringPlc(sim)
    plc.ignored.update(ignoring)
    opcua_port = 0 if protocol is Protocol.OPCUA else None
    async with SimRuntime(plc, modbus_port=0, opcua_port=opcua_port) as runtime:
        plc.republish = runtime.publish
        config = pointed(load_config(PLANT_CONFIGS / f"{plant}.yaml"), runtime, protocol)
        if adjust is not None:
            config = adjust(config)
        clock = ManualClock(1_800_000_000.0)
        store = AuditStore(data_dir, None)
        gateway = Gateway(compile_plant(config), build_links(config), store, clock)
        harness = Harness(sim, runtime, gateway, clock)
        try:
            await harness.step()
            yield harness
        finally:
            for link in gateway.links.values():
                await link.close()
            store.close()
