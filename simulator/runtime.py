"""Runs a simulation behind its Modbus and OPC UA servers, in lock-step (HIL) or paced by the wall clock.

Lock-step, one `step()`:

    1. sim.tick()                      physics + PLC scans advance dt_s; writes received since the
                                       previous step are latched by this tick's scan
    2. publish the image               Modbus registers, then OPC UA nodes (stamped with simulation time)
    3. await cycle(tick_count)         the gateway (or a test) does its real socket reads and writes now;
                                       the next step starts only when it returns

Both servers run in the caller's event loop, so a step costs loopback I/O only and a run is a pure
function of the seed and of what the clients do: a write that lands during step k's cycle is seen by the
PLC at tick k + 1, every time.

Real time (`run_realtime`): one tick every dt_s / speed wall seconds on an absolute schedule (no drift).
When a tick runs late by more than one period the schedule restarts from now instead of bursting to catch
up, and `overruns` counts it. Stops after `max_ticks`, when `stop` is set, or when cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Generic, Self, TypeVar

from otgate.core.config import PlantConfig
from otgate_simulator.modbus_server import ModbusServer
from otgate_simulator.opcua_server import OpcUaServer, ServerSecurity
from otgate_simulator.process_image import Steppable

GatewayCycle = Callable[[int], Awaitable[None]]
S = TypeVar("S", bound=Steppable)
MAX_SPEED = 10_000.0


class TickBarrier:
    """Lock-step hand-over to a gateway that runs in its own task.

    `SimRuntime(sim, cycle=barrier.cycle)`; the gateway loops `tick = await barrier.next_tick()`, does its
    reads and writes, then `barrier.done()`. With `budget_s`, the runtime stops waiting for `done()` after
    that many wall seconds and counts an overrun (the gateway's work is not cancelled; `next_tick()` then
    returns the newest tick, skipping the ones it missed, and a late `done()` for a tick that is no longer
    current is ignored rather than releasing the next one).
    """

    def __init__(self, budget_s: float | None = None) -> None:
        self.budget_s = budget_s
        self.overruns = 0
        self._tick = 0
        self._taken = 0
        self._ticked = asyncio.Event()
        self._done = asyncio.Event()

    async def cycle(self, tick: int) -> None:
        self._done.clear()
        self._tick = tick
        self._ticked.set()
        try:
            await asyncio.wait_for(self._done.wait(), timeout=self.budget_s)
        except TimeoutError:
            self.overruns += 1

    async def next_tick(self) -> int:
        await self._ticked.wait()
        self._ticked.clear()
        self._taken = self._tick
        return self._tick

    def done(self) -> None:
        if self._taken == self._tick:
            self._done.set()


@dataclass(frozen=True)
class Endpoints:
    modbus_host: str
    modbus_port: int
    opcua_url: str | None

    @property
    def modbus(self) -> str:
        return f"{self.modbus_host}:{self.modbus_port}"


class SimRuntime(Generic[S]):
    """`async with SimRuntime(sim) as rt:` starts both servers (port 0 = free port) and stops them."""

    def __init__(
        self,
        sim: S,
        *,
        host: str = "127.0.0.1",
        modbus_port: int = 0,
        opcua_port: int | None = 0,
        cycle: GatewayCycle | None = None,
        cache_root: Path | None = None,
        opcua_security: ServerSecurity | None = None,
    ) -> None:
        """`opcua_port=None` runs without the OPC UA server."""
        self.sim = sim
        self.cycle = cycle
        self.modbus = ModbusServer(sim, host=host, port=modbus_port)
        self.opcua = (
            None
            if opcua_port is None
            else OpcUaServer(sim, host=host, port=opcua_port, cache_root=cache_root, security=opcua_security)
        )
        self.overruns = 0

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.modbus.host, self.modbus.port, self.opcua.url if self.opcua else None)

    async def start(self) -> None:
        await self.modbus.start()
        if self.opcua is not None:
            try:
                await self.opcua.start()
            except BaseException:
                await self.modbus.shutdown()
                raise

    async def stop(self) -> None:
        try:
            if self.opcua is not None:
                await self.opcua.stop()
        finally:
            await self.modbus.shutdown()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def publish(self) -> None:
        image = self.sim.image()
        await self.modbus.publish(image)
        if self.opcua is not None:
            await self.opcua.publish(image)

    async def step(self) -> None:
        """One lock-step tick: advance, publish, then wait for the gateway's cycle."""
        self.sim.tick()
        await self.publish()
        if self.cycle is not None:
            await self.cycle(self.sim.tick_count)

    async def run_lockstep(self, ticks: int) -> None:
        for _ in range(ticks):
            await self.step()

    async def run_realtime(
        self, *, speed: float = 1.0, max_ticks: int | None = None, stop: asyncio.Event | None = None
    ) -> int:
        """Tick every dt_s / speed wall seconds; returns the number of ticks run."""
        if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise ValueError(f"speed must be in (0, {MAX_SPEED}], got {speed}")
        loop = asyncio.get_running_loop()
        period_s = self.sim.dt_s / speed
        deadline = loop.time()
        ticks = 0
        while (max_ticks is None or ticks < max_ticks) and not (stop is not None and stop.is_set()):
            deadline += period_s
            await self.step()
            ticks += 1
            now = loop.time()
            if now > deadline + period_s:
                self.overruns += 1
                deadline = now
            await _sleep_or_stop(deadline - now, stop)
        return ticks


async def _sleep_or_stop(delay_s: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(max(delay_s, 0.0))
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(delay_s, 0.0))


async def serve(
    plant: str,
    modbus_port: int = 5020,
    opcua_port: int = 4840,
    speed: float = 1.0,
    seed: int = 0,
    *,
    host: str = "127.0.0.1",
    config: PlantConfig | None = None,
    print_fn: Callable[[str], None] | None = None,
    opcua_security: ServerSecurity | None = None,
) -> None:
    """`otgate sim`: run plant `plant` in real time (× speed) until cancelled, printing the endpoints.

    Port 0 picks a free port (the printed endpoints show the real ones). `config` defaults to
    plant_configs/<plant>.yaml. Ctrl-C under `asyncio.run` cancels this coroutine, which stops both
    servers before `asyncio.run` raises KeyboardInterrupt to the caller.
    """
    from otgate_simulator.simulation import Simulation  # the core is optional for the servers' own tests

    say = print_fn or _print_flushed
    sim = Simulation(plant, seed=seed, config=config)
    security = opcua_security or ServerSecurity()
    async with SimRuntime(
        sim, host=host, modbus_port=modbus_port, opcua_port=opcua_port, opcua_security=security
    ) as runtime:
        endpoints = runtime.endpoints
        say(f"plant {plant} seed {seed} speed {speed}x dt {sim.dt_s} s")
        say(f"modbus tcp  {endpoints.modbus}  unit {runtime.modbus.unit_id}")
        mode = "" if security.policy == "None" else f" {security.mode}"
        say(f"opc ua      {endpoints.opcua_url}  (security {security.policy}{mode})")
        await runtime.run_realtime(speed=speed)


def _print_flushed(line: str) -> None:
    print(line, flush=True)
