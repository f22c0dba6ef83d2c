"""`sim_speed`: lock-step simulated seconds per wall second, per plant, with a Modbus client in the loop.

Figure rows `sim_speed_<plant>` (from `run_figures`): each tick is `SimRuntime.step()` (physics + PLC scans,
publish the image to the Modbus server) followed by a cycle in which one pymodbus client reads every
input register and writes one float32 setpoint (the gateway's minimum work per cycle); Modbus only (no
OPC UA server). Samples: `repeats` runs of `ticks` ticks. Baseline: the same client reads and writes
against the same server for the same number of cycles with no tick and no publish: the loopback I/O
floor, i.e. the speed if the simulation were free. Ratio: how much slower the simulation makes the loop.

Run as a script, it prints more detail (with OPC UA publishing, core only, round trips, start times):

For each plant: simulated seconds per wall second in lock-step, with a pymodbus client that reads every
input register and writes one setpoint each tick (the gateway's minimum work per cycle), once with the
OPC UA server publishing too and once Modbus only; plus the simulation core alone for reference. Also
server start/stop times and median protocol round trips. Prints one JSON document.

    .venv/bin/python -m benchmarks.sim_speed [--ticks N] [--repeats N]

Figures are medians over `repeats` runs; this machine is noisy, compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from benchmarks.figure import Figure, figure
from otgate.core.config import Access, ModbusTable, PlantConfig
from otgate_simulator.modbus_server import ModbusServer
from otgate_simulator.opcua_server import OpcUaServer
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation

PLANTS = ("tank", "cstr", "ricker")
TARGETS = {"tank": 1_000.0, "cstr": 200.0}
DT = AsyncModbusTcpClient.DATATYPE


def _input_span(config: PlantConfig) -> int:
    return max(
        t.modbus.address + t.type.register_count
        for t in config.tags.values()
        if t.modbus is not None and t.modbus.table is ModbusTable.INPUT
    )


def _setpoint(config: PlantConfig) -> tuple[int, float, float]:
    for tag in config.tags.values():
        if tag.access is Access.WRITE and tag.setpoint is not None and tag.modbus is not None:
            return tag.modbus.address, tag.setpoint.limits.lo, tag.setpoint.limits.hi
    raise ValueError("no writable setpoint")


async def lockstep_rate(plant: str, ticks: int, *, opcua: bool, simulate: bool = True) -> float:
    """Simulated seconds per wall second; `simulate=False` runs only the client's cycles (I/O floor)."""
    sim = Simulation(plant, seed=0)
    span = _input_span(sim.config)
    address, lo, hi = _setpoint(sim.config)
    client: AsyncModbusTcpClient

    async def cycle(tick: int) -> None:
        response = await client.read_input_registers(0, count=span)
        if response.isError():
            raise RuntimeError(response)
        value = lo + (hi - lo) * (tick % 10) / 10
        response = await client.write_registers(address, client.convert_to_registers(value, DT.FLOAT32))
        if response.isError():
            raise RuntimeError(response)

    async with SimRuntime(sim, opcua_port=0 if opcua else None, cycle=cycle) as runtime:
        client = AsyncModbusTcpClient("127.0.0.1", port=runtime.modbus.port, timeout=1, retries=0)
        await client.connect()
        try:
            started = time.perf_counter()
            if simulate:
                await runtime.run_lockstep(ticks)
            else:
                for tick in range(ticks):
                    await cycle(tick)
            wall_s = time.perf_counter() - started
        finally:
            client.close()
    return ticks * sim.dt_s / wall_s


def core_rate(plant: str, ticks: int) -> float:
    sim = Simulation(plant, seed=0)
    started = time.perf_counter()
    for _ in range(ticks):
        sim.tick()
        sim.image()
    return ticks * sim.dt_s / (time.perf_counter() - started)


async def _median_ms(operation: Callable[[], Awaitable[Any]], count: int = 300) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await operation()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


async def round_trips_ms() -> dict[str, float]:
    sim = Simulation("tank", seed=0)
    span = _input_span(sim.config)
    async with SimRuntime(sim) as runtime:
        client = AsyncModbusTcpClient("127.0.0.1", port=runtime.modbus.port, timeout=1, retries=0)
        await client.connect()
        registers = client.convert_to_registers(650.0, DT.FLOAT32)
        assert runtime.endpoints.opcua_url is not None
        try:
            async with Client(runtime.endpoints.opcua_url, timeout=2) as opc:
                level = opc.get_node("ns=2;s=LIT-101")
                rsp = opc.get_node("ns=2;s=LIC-101.RSP")
                return {
                    f"modbus_read_{span}_input_registers": await _median_ms(
                        lambda: client.read_input_registers(0, count=span)
                    ),
                    "modbus_write_float32_setpoint": await _median_ms(
                        lambda: client.write_registers(0, registers)
                    ),
                    "opcua_read_value": await _median_ms(level.read_value),
                    "opcua_write_value_float": await _median_ms(
                        lambda: rsp.write_value(ua.Variant(650.0, ua.VariantType.Float))
                    ),
                    "lockstep_publish_both_servers": await _median_ms(runtime.publish),
                    "lockstep_step_without_cycle": await _median_ms(runtime.step),
                }
        finally:
            client.close()


async def _timed(operation: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await operation()
    return (time.perf_counter() - started) * 1000


async def server_times_ms() -> dict[str, float]:
    sim = Simulation("ricker", seed=0)
    modbus = ModbusServer(sim)
    result = {"modbus_start": await _timed(modbus.start), "modbus_stop": await _timed(modbus.shutdown)}
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = OpcUaServer(sim, cache_root=Path(empty_cache))
        result["opcua_start_cold_builds_cache"] = await _timed(cold.start)
        await cold.stop()
    warm = OpcUaServer(sim)
    await warm.start()  # make sure the user cache exists before timing a warm start
    await warm.stop()
    warm = OpcUaServer(sim)
    result["opcua_start_cached"] = await _timed(warm.start)
    result["opcua_stop"] = await _timed(warm.stop)
    return result


async def run(ticks: int, repeats: int) -> dict[str, Any]:
    lockstep: dict[str, dict[str, float]] = {}
    for plant in PLANTS:
        both = [await lockstep_rate(plant, ticks, opcua=True) for _ in range(repeats)]
        modbus_only = [await lockstep_rate(plant, ticks, opcua=False) for _ in range(repeats)]
        core = [core_rate(plant, ticks) for _ in range(repeats)]
        lockstep[plant] = {
            "modbus_and_opcua_x_realtime": round(statistics.median(both)),
            "modbus_only_x_realtime": round(statistics.median(modbus_only)),
            "core_only_x_realtime": round(statistics.median(core)),
        }
    return {
        "ticks": ticks,
        "repeats": repeats,
        "lockstep_sim_s_per_wall_s": lockstep,
        "round_trip_median_ms": {k: round(v, 3) for k, v in (await round_trips_ms()).items()},
        "server_ms": {k: round(v, 2) for k, v in (await server_times_ms()).items()},
    }


@dataclass(frozen=True)
class Size:
    ticks: int = 1_500
    repeats: int = 3
    plants: tuple[str, ...] = PLANTS


TINY = Size(ticks=5, repeats=1)


async def run_figures(size: Size = Size()) -> list[Figure]:
    figures = []
    for plant in size.plants:
        rates, floors = [], []
        for _ in range(size.repeats):  # interleaved so that drift hits both alike
            rates.append(await lockstep_rate(plant, size.ticks, opcua=False))
            floors.append(await lockstep_rate(plant, size.ticks, opcua=False, simulate=False))
        figures.append(
            figure(
                f"sim_speed_{plant}",
                "x realtime",
                rates,
                floors,
                target=TARGETS.get(plant),
                what=f"simulated s per wall s, {plant}, lock-step, a Modbus client reads + writes each tick",
                extra={"ticks": size.ticks},
            )
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.ticks, args.repeats)), indent=2))


if __name__ == "__main__":
    main()
