"""One PLC behind each `FieldLink` implementation, with the same knobs, for the contract suite.

    fake     FakeLink: the link is the PLC
    modbus   ModbusLink -> FaultProxy -> the simulator's Modbus server (SimRuntime, 127.0.0.1 port 0)
    opcua    OpcUaLink  -> FaultProxy -> the simulator's OPC UA server

The proxy lets a test take the PLC away (stop listening, cut connections), bring it back on the same
port, or make it hang (connections stay open, nothing is answered).

"Silently ignored write": the simulator has no knob for a PLC that accepts a write and does not apply
it, so `IgnoringPlc` wraps the real `Simulation`: for the chosen tags it answers the write as accepted,
does not apply it, and at once republishes the unchanged process image over both servers, the way PLC
logic that rewrites the register on its next scan would. The republish is scheduled from inside the
server's write handler, so it runs before the client's read-back request can arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from otgate.config.loader import load_config
from otgate.core.config import PlantConfig, PlcConnection, Tag
from otgate.field.fake import FakeLink
from otgate.field.link import FieldLink
from otgate.field.modbus import ModbusLink
from otgate.field.opcua import OpcUaLink
from otgate_simulator.proxy import FaultProxy, LinkFaults
from otgate_simulator.registers import RegisterFormat
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation

CONFIGS = Path(__file__).resolve().parents[2] / "plant_configs"
TIMEOUT_S = 1.0


def tank_config() -> PlantConfig:
    return load_config(CONFIGS / "tank.yaml")


@dataclass(frozen=True)
class PlcWrite:
    tag: str
    value: float
    accepted: bool


class Harness(Protocol):
    config: PlantConfig

    async def open(self, tags: Mapping[str, Tag] | None = None, *, timeout_s: float = TIMEOUT_S) -> FieldLink:
        """A connected link to the PLC whose adapter map is `tags` (default: the plant's)."""

    def plc_value(self, tag: str) -> float:
        """What the PLC holds, as its own encoding represents it."""

    def plc_writes(self) -> list[PlcWrite]:
        """Every write that reached the PLC."""

    async def take_down(self) -> None: ...

    async def bring_back(self) -> None: ...

    async def hang(self) -> None: ...

    def ignore_writes(self, tag: str) -> None: ...

    def refuse_writes(self, tag: str) -> None:
        """Make the PLC answer writes of `tag` with an error (the simulator's read-only tags already do)."""

    async def aclose(self) -> None: ...


class FakeHarness:
    """The fake is its own PLC; the knob sets are shared by every link the harness opens."""

    def __init__(self) -> None:
        self.config = tank_config()
        self._image = Simulation("tank", seed=1, config=self.config).image()
        self.links: list[FakeLink] = []
        self._refuse: set[str] = set()
        self._ignore: set[str] = set()

    async def open(self, tags: Mapping[str, Tag] | None = None, *, timeout_s: float = TIMEOUT_S) -> FieldLink:
        link = FakeLink(tags or self.config.tags, self._image)
        link.bad = {t for t in link.tags if t not in self.config.tags}  # tags this "PLC" does not have
        link.refuse, link.ignore_writes = self._refuse, self._ignore
        self.links.append(link)
        await link.connect()
        return link

    def _plc(self) -> FakeLink:
        return self.links[-1]

    def plc_value(self, tag: str) -> float:
        return self._plc().values[tag]

    def plc_writes(self) -> list[PlcWrite]:
        return [PlcWrite(w.tag, w.value, w.tag not in self._refuse) for w in self._plc().writes]

    async def take_down(self) -> None:
        for link in self.links:
            link.down = True

    async def bring_back(self) -> None:
        for link in self.links:
            link.down = False

    async def hang(self) -> None:
        await self.take_down()

    def ignore_writes(self, tag: str) -> None:
        self._ignore.add(tag)

    def refuse_writes(self, tag: str) -> None:
        self._refuse.add(tag)

    async def aclose(self) -> None:
        for link in self.links:
            await link.close()


class IgnoringPlc:
    """A `Simulation` whose PLC accepts writes of `ignored` tags without applying them (see module doc)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.ignored: set[str] = set()
        # Values the PLC program reports whatever the process does (a mode outside the contract, a NaN).
        self.overrides: dict[str, float] = {}
        self.ignored_writes: list[PlcWrite] = []
        self.republish: Callable[[], Coroutine[None, None, None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def config(self) -> PlantConfig:
        return self.sim.config

    @property
    def time_s(self) -> float:
        return self.sim.time_s

    @property
    def dt_s(self) -> float:
        return self.sim.dt_s

    @property
    def tick_count(self) -> int:
        return self.sim.tick_count

    def tick(self) -> None:
        self.sim.tick()

    def image(self) -> dict[str, float]:
        return {**self.sim.image(), **self.overrides}

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        if tag not in self.ignored or not self.sim.is_writable(tag):
            return self.sim.write_tag(tag, value, protocol=protocol, address=address)
        self.ignored_writes.append(PlcWrite(tag, value, True))
        if self.republish is not None:
            task = asyncio.get_running_loop().create_task(self.republish())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True


class SimHarness:
    """The real simulator behind a fault proxy; `protocol` picks the adapter."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.config = tank_config()
        self.plc = IgnoringPlc(Simulation("tank", seed=1, config=self.config))
        self.runtime = SimRuntime(self.plc, opcua_port=0 if protocol == "opcua" else None)
        self.proxy: FaultProxy | None = None
        self._proxy_port = 0
        self.links: list[FieldLink] = []

    async def start(self) -> None:
        await self.runtime.start()
        self.plc.republish = self.runtime.publish
        await self._start_proxy(0)

    async def _start_proxy(self, port: int) -> None:
        target = self.runtime.opcua.port if self.runtime.opcua else self.runtime.modbus.port
        self.proxy = FaultProxy("127.0.0.1", target, port=port)
        await self.proxy.start()
        self._proxy_port = self.proxy.port

    def point_at(self, port: int) -> None:
        """Make `connection()` and `open()` use another port (a test's own misbehaving peer)."""
        self._proxy_port = port

    def connection(self, timeout_s: float) -> PlcConnection:
        plc = self.config.plcs["plc1"]
        if self.protocol == "modbus":
            assert plc.modbus is not None
            modbus = plc.modbus.model_copy(update={"port": self._proxy_port, "timeout_s": timeout_s})
            return plc.model_copy(update={"modbus": modbus})
        assert plc.opcua is not None and self.runtime.opcua is not None
        endpoint = f"opc.tcp://127.0.0.1:{self._proxy_port}/otgate/{self.config.plant}"
        opcua = plc.opcua.model_copy(update={"endpoint": endpoint, "timeout_s": timeout_s})
        return plc.model_copy(update={"opcua": opcua})

    async def open(self, tags: Mapping[str, Tag] | None = None, *, timeout_s: float = TIMEOUT_S) -> FieldLink:
        plc, tag_map = self.connection(timeout_s), tags or self.config.tags
        link: FieldLink
        if self.protocol == "modbus":
            link = ModbusLink(plc, tag_map, reconnect_delay_s=0.02, reconnect_delay_max_s=0.2)
        else:
            link = OpcUaLink(plc, tag_map, reconnect_delay_s=0.02, reconnect_delay_max_s=0.2)
        self.links.append(link)
        await link.connect()
        # One exchange, so that the proxy has finished its own upstream connect: FaultProxy.stop() does not
        # cut a connection it is still connecting upstream for (it registers the link only afterwards).
        await link.read(["LIT-101"])
        return link

    def plc_value(self, tag: str) -> float:
        config = self.config.tags[tag]
        fmt = RegisterFormat(config.type.value, scale=config.scale, offset=config.offset)
        return fmt.decode(fmt.encode(self.plc.image()[tag]))

    def plc_writes(self) -> list[PlcWrite]:
        logged = [PlcWrite(r.tag, r.value, r.accepted) for r in self.plc.sim.write_log]
        return logged + self.plc.ignored_writes

    async def take_down(self) -> None:
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None

    async def bring_back(self) -> None:
        await self._start_proxy(self._proxy_port)

    async def hang(self) -> None:
        assert self.proxy is not None
        self.proxy.faults = LinkFaults(blackhole=True)

    def ignore_writes(self, tag: str) -> None:
        self.plc.ignored.add(tag)

    def refuse_writes(self, tag: str) -> None:
        if self.plc.sim.is_writable(tag):
            raise NotImplementedError("the simulator refuses only tags its config makes read-only")

    async def aclose(self) -> None:
        for link in self.links:
            await link.close()
        await self.take_down()
        await self.runtime.stop()
