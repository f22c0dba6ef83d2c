"""`fallback_latency`: from the scan that detects an anomaly to the scan that reads the PLC loop back in LOCAL.

Rows `fallback_latency_scans` and `fallback_latency_ms`: the tank simulator in lock-step over real Modbus,
the gateway engaged (PLC loop in REMOTE); an anomaly is injected (a wall-clock step, which every monitor
treats alike) and scans run until the gateway reads the PLC's mode back as AUTO. Scans are counted in
simulated scans (the PLC latches a mode request at its next scan, so 2 is the floor); milliseconds are the
wall time of those scans (gateway work and loopback I/O; the plant tick runs between them and is excluded).
Baseline: the bare protocol work for the same transition — a pymodbus write of the mode request, then
reads of the mode register after each PLC scan until it shows AUTO — in the same run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from benchmarks.figure import Figure, figure
from otgate.audit.store import AuditStore
from otgate.config.loader import load_config
from otgate.core.config import PlantConfig
from otgate.core.modes import ModeEvent, PlcMode
from otgate.core.plant import compile_plant
from otgate.host.service import build_links
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation

ROOT = Path(__file__).resolve().parent.parent
LOOP = "LIC-101"


@dataclass(frozen=True)
class Size:
    samples: int = 30


TINY = Size(samples=2)


def pointed(config: PlantConfig, port: int) -> PlantConfig:
    plcs = {
        n: p.model_copy(update={"modbus": p.modbus.model_copy(update={"port": port})})
        for n, p in config.plcs.items()
        if p.modbus
    }
    return config.model_copy(update={"plcs": plcs})


async def one_fallback(data_dir: Path) -> tuple[int, float]:
    sim = Simulation("tank", seed=3)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        config = pointed(load_config(ROOT / "plant_configs" / "tank.yaml"), runtime.endpoints.modbus_port)
        clock = ManualClock(1_800_000_000.0)
        with AuditStore(data_dir, None) as store:
            gateway = Gateway(compile_plant(config), build_links(config), store, clock)

            async def step() -> float:
                await runtime.step()
                clock.advance(sim.dt_s)
                began = time.perf_counter()
                await gateway.scan(clock.monotonic())
                return time.perf_counter() - began

            await step()
            gateway.operator_action("bench", [LOOP], ModeEvent.ENGAGE, "bench")
            while sim.loop_modes()[LOOP] != "REMOTE":
                await step()
            await step()
            clock.jump(10.0)  # the anomaly: detected by the next scan
            scans, wall = 1, await step()
            while gateway.snapshot.values.get(config.loops[LOOP].mode) != PlcMode.AUTO:
                scans, wall = scans + 1, wall + await step()
            for link in gateway.links.values():
                await link.close()
    return scans, wall * 1000


async def one_bare_release() -> float:
    sim = Simulation("tank", seed=3)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        sim.set_loop_mode(LOOP, "AUTO")
        client = AsyncModbusTcpClient("127.0.0.1", port=runtime.endpoints.modbus_port, timeout=1, retries=0)
        await client.connect()
        await client.write_register(3, 1, device_id=1)  # keep the watchdog fed
        await client.write_register(2, int(PlcMode.REMOTE), device_id=1)
        while sim.loop_modes()[LOOP] != "REMOTE":
            await runtime.step()
        began = time.perf_counter()
        await client.write_register(2, int(PlcMode.AUTO), device_id=1)
        elapsed = time.perf_counter() - began
        while True:
            await runtime.step()
            began = time.perf_counter()
            mode = await client.read_input_registers(6, count=1, device_id=1)
            elapsed += time.perf_counter() - began
            if mode.registers[0] == PlcMode.AUTO:
                break
        client.close()
    return elapsed * 1000


async def run(size: Size) -> list[Figure]:
    scans, ms, bare = [], [], []
    for _ in range(size.samples):
        with tempfile.TemporaryDirectory() as data_dir:
            count, wall = await one_fallback(Path(data_dir))
        scans.append(float(count))
        ms.append(wall)
        bare.append(await one_bare_release())
    what = "anomaly detected -> PLC loop read back in LOCAL (tank, Modbus, lock-step)"
    return [
        figure(
            "fallback_latency_scans",
            "scans",
            scans,
            [2.0] * len(scans),
            what=what + "; baseline: the PLC's floor of 2 scans",
            target=2.0,
        ),
        figure(
            "fallback_latency_ms", "ms", ms, bare, what=what + "; baseline: bare pymodbus mode write + reads"
        ),
    ]
