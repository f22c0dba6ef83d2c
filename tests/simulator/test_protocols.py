"""The simulated PLC over real sockets: Modbus TCP and OPC UA on 127.0.0.1, port 0, lock-step runtime."""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.pdu import ExceptionResponse

from otgate.config.loader import load_config
from otgate.core.config import Access, ModbusTable, PlantConfig
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation

CONFIGS = Path(__file__).resolve().parents[2] / "plant_configs"
PLANTS = ("tank", "cstr", "ricker")
DT = AsyncModbusTcpClient.DATATYPE
_PYMODBUS_TYPES = {"float32": DT.FLOAT32, "float64": DT.FLOAT64, "int16": DT.INT16, "uint16": DT.UINT16,
                   "int32": DT.INT32, "uint32": DT.UINT32}  # fmt: skip


def make_simulation(plant: str, seed: int = 0) -> Simulation:
    return Simulation(plant, seed=seed, config=load_config(CONFIGS / f"{plant}.yaml"))


def as_float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def expected(config: PlantConfig, tag: str, value: float) -> float:
    kind = config.tags[tag].type.value
    if kind == "float32":
        return as_float32(value)
    return float(value) if kind == "float64" else float(round(value))


@pytest.fixture
async def runtime() -> AsyncIterator[SimRuntime[Simulation]]:
    async with SimRuntime(make_simulation("tank", seed=1)) as rt:
        yield rt


@pytest.fixture
async def modbus(runtime: SimRuntime[Simulation]) -> AsyncIterator[AsyncModbusTcpClient]:
    client = AsyncModbusTcpClient("127.0.0.1", port=runtime.modbus.port, timeout=1, retries=0)
    assert await client.connect()
    yield client
    client.close()


@pytest.fixture
async def opcua(runtime: SimRuntime[Simulation]) -> AsyncIterator[Client]:
    assert runtime.endpoints.opcua_url is not None
    async with Client(runtime.endpoints.opcua_url, timeout=2) as client:
        yield client


async def read_modbus_tag(client: AsyncModbusTcpClient, config: PlantConfig, name: str) -> float:
    tag = config.tags[name]
    assert tag.modbus is not None
    count = tag.type.register_count
    if tag.modbus.table is ModbusTable.INPUT:
        response = await client.read_input_registers(tag.modbus.address, count=count)
    else:
        response = await client.read_holding_registers(tag.modbus.address, count=count)
    assert not response.isError(), response
    # decoded by pymodbus' own converter: a third, independent codec
    return float(client.convert_from_registers(response.registers, _PYMODBUS_TYPES[tag.type.value]))  # type: ignore[arg-type]


@pytest.mark.parametrize("plant", PLANTS)
async def test_modbus_and_opcua_read_same_values_same_tick(plant: str) -> None:
    sim = make_simulation(plant, seed=7)
    async with SimRuntime(sim) as rt:
        await rt.run_lockstep(3)
        image = sim.image()
        client = AsyncModbusTcpClient("127.0.0.1", port=rt.modbus.port, timeout=1, retries=0)
        assert await client.connect()
        assert rt.endpoints.opcua_url is not None
        try:
            async with Client(rt.endpoints.opcua_url, timeout=2) as opc:
                for name, tag in sim.config.tags.items():
                    assert tag.opcua is not None
                    via_modbus = await read_modbus_tag(client, sim.config, name)
                    via_opcua = float(await opc.get_node(tag.opcua.node_id).read_value())
                    want = expected(sim.config, name, image[name])
                    assert via_modbus == via_opcua == want or (
                        math.isnan(via_modbus) and math.isnan(via_opcua)
                    ), name
        finally:
            client.close()


async def test_opcua_nodes_have_tag_types_and_timestamps(
    runtime: SimRuntime[Simulation], opcua: Client
) -> None:
    await runtime.step()
    assert await opcua.get_namespace_index(runtime.opcua.namespace_uri) == 2  # type: ignore[union-attr]
    config = runtime.sim.config
    node = opcua.get_node(config.tags["LIT-101"].opcua.node_id)  # type: ignore[union-attr]
    mode = opcua.get_node(config.tags["LIC-101.MODE"].opcua.node_id)  # type: ignore[union-attr]
    assert await node.read_data_type_as_variant_type() == ua.VariantType.Float
    assert await mode.read_data_type_as_variant_type() == ua.VariantType.UInt16
    value = await node.read_data_value()
    assert value.SourceTimestamp is not None
    assert value.SourceTimestamp.timestamp() % 60 == pytest.approx(runtime.sim.time_s % 60)


async def test_modbus_write_setpoint_appears_in_write_log(
    runtime: SimRuntime[Simulation], modbus: AsyncModbusTcpClient
) -> None:
    registers = modbus.convert_to_registers(650.0, DT.FLOAT32)
    response = await modbus.write_registers(0, registers)
    assert not response.isError(), response
    record = runtime.sim.write_log[-1]
    assert (record.protocol, record.tag, record.address, record.value, record.accepted) == (
        "modbus", "LIC-101.RSP", "holding:0", 650.0, True,
    )  # fmt: skip


async def test_modbus_write_single_register_uint16_tag_accepted(
    runtime: SimRuntime[Simulation], modbus: AsyncModbusTcpClient
) -> None:
    response = await modbus.write_register(2, 2)  # FC 6 to LIC-101.MODE_REQ: ask for REMOTE
    assert not response.isError(), response
    record = runtime.sim.write_log[-1]
    assert (record.tag, record.address, record.value, record.accepted) == (
        "LIC-101.MODE_REQ",
        "holding:2",
        2.0,
        True,
    )


async def test_opcua_write_setpoint_appears_in_write_log(
    runtime: SimRuntime[Simulation], opcua: Client
) -> None:
    await opcua.get_node("ns=2;s=LIC-101.RSP").write_value(ua.Variant(640.0, ua.VariantType.Float))
    record = runtime.sim.write_log[-1]
    assert (record.protocol, record.tag, record.address, record.value, record.accepted) == (
        "opcua", "LIC-101.RSP", "ns=2;s=LIC-101.RSP", 640.0, True,
    )  # fmt: skip


async def test_modbus_write_read_only_holding_register_refused_illegal_address(
    runtime: SimRuntime[Simulation], modbus: AsyncModbusTcpClient
) -> None:
    before = await read_modbus_tag(modbus, runtime.sim.config, "PLC.SHED_TIMEOUT")
    response = await modbus.write_registers(10, modbus.convert_to_registers(999.0, DT.FLOAT32))
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == 0x02  # ILLEGAL DATA ADDRESS
    assert await read_modbus_tag(modbus, runtime.sim.config, "PLC.SHED_TIMEOUT") == before
    assert not any(r.accepted for r in runtime.sim.write_log)


@pytest.mark.parametrize(
    ("address", "values"),
    [(5, [1]), (1, [0]), (0, [0x4148]), (3, [1, 0x4148, 0]), (1000, [1])],
    ids=["gap", "second-half-of-float", "first-half-of-float", "runs-into-gap", "beyond-map"],
)
async def test_modbus_write_unmapped_or_partial_refused(
    runtime: SimRuntime[Simulation], modbus: AsyncModbusTcpClient, address: int, values: list[int]
) -> None:
    response = await modbus.write_registers(address, values)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == 0x02
    assert all(r.accepted is False for r in runtime.sim.write_log)


async def test_modbus_coils_refused(modbus: AsyncModbusTcpClient) -> None:
    response = await modbus.write_coil(0, True)
    assert isinstance(response, ExceptionResponse)
    assert response.exception_code == 0x02


async def test_modbus_holding_and_input_tables_do_not_alias(
    runtime: SimRuntime[Simulation], modbus: AsyncModbusTcpClient
) -> None:
    await modbus.write_registers(0, modbus.convert_to_registers(700.0, DT.FLOAT32))
    level = await read_modbus_tag(modbus, runtime.sim.config, "LIT-101")  # input register 0
    assert level == as_float32(runtime.sim.image()["LIT-101"])


async def test_opcua_write_read_only_node_refused(runtime: SimRuntime[Simulation], opcua: Client) -> None:
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        await opcua.get_node("ns=2;s=LIT-101").write_value(ua.Variant(1.0, ua.VariantType.Float))
    assert runtime.sim.write_log == []


async def test_opcua_write_wrong_variant_type_refused(runtime: SimRuntime[Simulation], opcua: Client) -> None:
    with pytest.raises(ua.uaerrors.BadTypeMismatch):
        await opcua.get_node("ns=2;s=LIC-101.RSP").write_value(ua.Variant(650.0, ua.VariantType.Double))
    assert runtime.sim.write_log == []


def writable_holding(config: PlantConfig) -> tuple[str, int]:
    for name, tag in config.tags.items():
        if tag.access is Access.WRITE and tag.setpoint is not None and tag.modbus is not None:
            return name, tag.modbus.address
    raise AssertionError("no writable setpoint")


async def lockstep_trace(plant: str, seed: int, ticks: int) -> str:
    """Hash of every trace row plus everything a Modbus client read, with a setpoint write every 10 ticks."""
    sim = make_simulation(plant, seed=seed)
    digest = hashlib.sha256()
    setpoint, address = writable_holding(sim.config)
    limits = sim.config.tags[setpoint].setpoint.limits  # type: ignore[union-attr]
    input_count = max(
        t.modbus.address + t.type.register_count
        for t in sim.config.tags.values()
        if t.modbus is not None and t.modbus.table is ModbusTable.INPUT
    )
    client: AsyncModbusTcpClient

    async def cycle(tick: int) -> None:
        response = await client.read_input_registers(0, count=input_count)
        digest.update(repr((tick, response.registers)).encode())
        if tick % 10 == 0:
            value = limits.lo + (limits.hi - limits.lo) * ((tick // 10) % 4) / 4
            await client.write_registers(address, client.convert_to_registers(value, DT.FLOAT32))

    async with SimRuntime(sim, opcua_port=None, cycle=cycle) as rt:
        client = AsyncModbusTcpClient("127.0.0.1", port=rt.modbus.port, timeout=1, retries=0)
        assert await client.connect()
        try:
            for _ in range(ticks):
                await rt.step()
                digest.update(repr(sim.trace_row()).encode())
        finally:
            client.close()
    return digest.hexdigest()


@pytest.mark.parametrize("plant", PLANTS)
async def test_lockstep_same_seed_identical_trace_hash(plant: str) -> None:
    assert await lockstep_trace(plant, 3, 60) == await lockstep_trace(plant, 3, 60)


async def test_lockstep_other_seed_different_trace_hash() -> None:
    assert await lockstep_trace("tank", 3, 30) != await lockstep_trace("tank", 4, 30)


async def test_lockstep_write_during_cycle_is_logged_at_that_tick() -> None:
    sim = make_simulation("tank", seed=0)
    client: AsyncModbusTcpClient

    async def cycle(tick: int) -> None:
        if tick == 5:
            await client.write_registers(0, client.convert_to_registers(650.0, DT.FLOAT32))

    async with SimRuntime(sim, opcua_port=None, cycle=cycle) as rt:
        client = AsyncModbusTcpClient("127.0.0.1", port=rt.modbus.port, timeout=1, retries=0)
        assert await client.connect()
        try:
            await rt.run_lockstep(7)
        finally:
            client.close()
    assert len(sim.write_log) == 1
    assert sim.write_log[0].sim_time_s == pytest.approx(5 * sim.dt_s)


async def test_realtime_runs_paced_ticks_and_stops_on_event() -> None:
    sim = make_simulation("tank")
    async with SimRuntime(sim, opcua_port=None) as rt:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await rt.run_realtime(speed=100.0, max_ticks=5) == 5
        assert loop.time() - started >= 4 * sim.dt_s / 100.0
        stop = asyncio.Event()
        loop.call_later(0.05, stop.set)
        ticks = await asyncio.wait_for(rt.run_realtime(speed=10.0, stop=stop), timeout=2)
        assert 1 <= ticks <= 2
    assert sim.tick_count == 5 + ticks


@pytest.mark.parametrize("speed", [0.0, -1.0, math.inf, 1e9])
async def test_realtime_bad_speed_raises(speed: float) -> None:
    async with SimRuntime(make_simulation("tank"), opcua_port=None) as rt:
        with pytest.raises(ValueError):
            await rt.run_realtime(speed=speed, max_ticks=1)


async def test_serve_prints_endpoints_and_stops_when_cancelled() -> None:
    from otgate_simulator.runtime import serve

    lines: list[str] = []
    ready = asyncio.Event()

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("opc ua"):
            ready.set()

    task = asyncio.create_task(serve("tank", modbus_port=0, opcua_port=0, speed=50.0, seed=1, print_fn=say))
    await asyncio.wait_for(ready.wait(), timeout=10)
    port = int(lines[1].split()[2].rsplit(":", 1)[1])
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    assert await client.connect()
    response = await client.read_input_registers(0, count=2)
    assert not response.isError()
    client.close()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any("opc.tcp://127.0.0.1:" in line for line in lines)


async def test_opcua_address_space_cache_rebuilt_when_broken_then_reused(tmp_path: Path) -> None:
    from otgate_simulator.opcua_server import OpcUaServer

    sim = make_simulation("tank")
    server = OpcUaServer(sim, cache_root=tmp_path)
    shelf = server._cache.shelf
    shelf.parent.mkdir(parents=True)
    shelf.touch()
    shelf.with_suffix(".dir").write_text("not a dbm index\n")
    await server.start()  # the broken cache is thrown away and rebuilt
    await server.stop()
    assert shelf.is_file() and shelf.with_suffix(".dat").stat().st_size > 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == [shelf.parent.name]  # no staging left behind
    again = OpcUaServer(sim, cache_root=tmp_path)
    await again.start()
    try:
        async with Client(again.url, timeout=2) as client:
            assert await client.get_node("ns=2;s=LIT-101").read_value() == as_float32(sim.image()["LIT-101"])
    finally:
        await again.stop()


async def test_tick_barrier_hands_every_tick_to_a_gateway_task() -> None:
    from otgate_simulator.runtime import TickBarrier

    barrier = TickBarrier()
    seen: list[int] = []

    async def gateway() -> None:
        while True:
            seen.append(await barrier.next_tick())
            await asyncio.sleep(0)
            barrier.done()

    async with SimRuntime(make_simulation("tank"), opcua_port=None, cycle=barrier.cycle) as rt:
        task = asyncio.create_task(gateway())
        await asyncio.wait_for(rt.run_lockstep(5), timeout=2)
        task.cancel()
    assert seen == [1, 2, 3, 4, 5]
    assert barrier.overruns == 0


async def test_tick_barrier_counts_overrun_when_gateway_misses_budget() -> None:
    from otgate_simulator.runtime import TickBarrier

    barrier = TickBarrier(budget_s=0.01)
    async with SimRuntime(make_simulation("tank"), opcua_port=None, cycle=barrier.cycle) as rt:
        await asyncio.wait_for(rt.run_lockstep(3), timeout=2)  # nobody calls done()
    assert barrier.overruns == 3
    assert await asyncio.wait_for(barrier.next_tick(), timeout=1) == 3


class PickySimulation(Simulation):
    """A PLC that refuses one particular value, to see each protocol report a refused write."""

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        accepted = super().write_tag(tag, value, protocol=protocol, address=address)
        return accepted and value != 799.0


async def test_refused_by_plc_answers_illegal_value_and_bad_out_of_range() -> None:
    sim = PickySimulation("tank", config=load_config(CONFIGS / "tank.yaml"))
    async with SimRuntime(sim) as rt:
        client = AsyncModbusTcpClient("127.0.0.1", port=rt.modbus.port, timeout=1, retries=0)
        assert await client.connect()
        try:
            response = await client.write_registers(0, client.convert_to_registers(799.0, DT.FLOAT32))
            assert isinstance(response, ExceptionResponse)
            assert response.exception_code == 0x03  # ILLEGAL DATA VALUE
        finally:
            client.close()
        assert rt.endpoints.opcua_url is not None
        async with Client(rt.endpoints.opcua_url, timeout=2) as opc:
            with pytest.raises(ua.uaerrors.BadOutOfRange):
                await opc.get_node("ns=2;s=LIC-101.RSP").write_value(ua.Variant(799.0, ua.VariantType.Float))
    assert [(r.protocol, r.value) for r in sim.write_log] == [("modbus", 799.0), ("opcua", 799.0)]


async def test_runtime_opcua_port_in_use_raises_and_releases_modbus() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    taken = int(blocker.sockets[0].getsockname()[1])
    runtime = SimRuntime(make_simulation("tank"), opcua_port=taken)
    try:
        with pytest.raises(OSError):
            await runtime.start()
        client = AsyncModbusTcpClient("127.0.0.1", port=runtime.modbus.port, timeout=1, retries=0)
        assert not await client.connect()  # the Modbus server was shut down again
        client.close()
    finally:
        blocker.close()
        await blocker.wait_closed()


async def test_tick_barrier_late_done_does_not_release_the_next_tick() -> None:
    from otgate_simulator.runtime import TickBarrier

    barrier = TickBarrier(budget_s=0.01)
    async with SimRuntime(make_simulation("tank"), opcua_port=None, cycle=barrier.cycle) as rt:
        await rt.step()  # tick 1 handed out, nobody takes it: overrun
        assert await barrier.next_tick() == 1
        step = asyncio.create_task(rt.step())  # tick 2 is current now
        await asyncio.sleep(0)
        barrier.done()  # the gateway finishes tick 1, late
        await asyncio.wait_for(step, timeout=1)
    assert barrier.overruns == 2
