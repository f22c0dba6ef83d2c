"""The TCP fault proxy over real sockets: an echo server behind it, and one real Modbus server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from otgate.config.loader import load_config
from otgate.core.config import PlantConfig
from otgate_simulator.modbus_server import ModbusServer
from otgate_simulator.proxy import FaultProxy, LinkFaults

CONFIGS = Path(__file__).resolve().parents[2] / "plant_configs"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@pytest.fixture
async def proxy(echo_port: int) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", echo_port, seed=1) as p:
        yield p


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), timeout=1)


async def round_trip(proxy: FaultProxy, payload: bytes, timeout_s: float = 1.0) -> bytes:
    reader, writer = await connect(proxy)
    try:
        writer.write(payload)
        return await asyncio.wait_for(reader.readexactly(len(payload)), timeout=timeout_s)
    finally:
        writer.close()


async def test_proxy_without_faults_forwards_both_ways(proxy: FaultProxy) -> None:
    assert await round_trip(proxy, b"hello") == b"hello"
    assert proxy.stats.chunks_forwarded >= 2


async def test_proxy_delay_holds_each_direction(proxy: FaultProxy) -> None:
    proxy.faults = LinkFaults(delay_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await round_trip(proxy, b"x") == b"x"
    assert loop.time() - started >= 0.1  # lower bound only: 2 x 50 ms, there and back


async def test_proxy_jitter_keeps_stream_order(proxy: FaultProxy) -> None:
    proxy.faults = LinkFaults(delay_s=0.001, jitter_s=0.02)
    reader, writer = await connect(proxy)
    expected = b""
    for i in range(20):
        chunk = f"<{i}>".encode()
        expected += chunk
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.001)
    assert await asyncio.wait_for(reader.readexactly(len(expected)), timeout=2) == expected
    writer.close()


async def test_proxy_blackhole_swallows_then_recovers_when_switched_off(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.faults = LinkFaults(blackhole=True)
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), timeout=0.2)
    assert proxy.stats.chunks_swallowed == 1
    proxy.faults = LinkFaults()
    writer.write(b"back")
    assert await asyncio.wait_for(reader.readexactly(4), timeout=1) == b"back"
    writer.close()


async def test_proxy_drop_rate_one_cuts_the_connection(proxy: FaultProxy) -> None:
    proxy.faults = LinkFaults(drop_rate=1.0)
    reader, writer = await connect(proxy)
    writer.write(b"x")
    assert await asyncio.wait_for(reader.read(10), timeout=1) == b""
    assert proxy.stats.connections_dropped == 1
    writer.close()


async def test_proxy_drop_connections_closes_open_links(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.readexactly(1), timeout=1) == b"a"
    proxy.drop_connections()
    assert await asyncio.wait_for(reader.read(10), timeout=1) == b""
    writer.close()


async def drop_pattern(echo_port: int, seed: int) -> list[bool]:
    """Which of 24 one-message connections survive drop_rate 0.3 (each one echoes or is cut)."""
    pattern = []
    async with FaultProxy("127.0.0.1", echo_port, seed=seed, faults=LinkFaults(drop_rate=0.3)) as proxy:
        for _ in range(24):
            reader, writer = await connect(proxy)
            writer.write(b"ping")
            try:
                data = await asyncio.wait_for(reader.read(4), timeout=1)
            except ConnectionError:
                data = b""
            pattern.append(data == b"ping")
            writer.close()
    return pattern


async def test_proxy_same_seed_same_fault_decisions(echo_port: int) -> None:
    first = await drop_pattern(echo_port, seed=42)
    assert first == await drop_pattern(echo_port, seed=42)
    assert first != await drop_pattern(echo_port, seed=43)
    assert 0 < sum(first) < len(first)


def test_link_faults_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        LinkFaults(delay_s=-1)
    with pytest.raises(ValueError):
        LinkFaults(drop_rate=1.5)


class _Image:
    """A fixed process image: enough for the Modbus server."""

    def __init__(self, config: PlantConfig) -> None:
        self.config = config
        self.time_s = 0.0

    def image(self) -> dict[str, float]:
        return {name: 1.0 for name in self.config.tags}

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        return False


async def test_proxy_in_front_of_modbus_server_forwards_and_blackholes() -> None:
    server = ModbusServer(_Image(load_config(CONFIGS / "tank.yaml")))
    await server.start()
    try:
        async with FaultProxy("127.0.0.1", server.port, seed=0, faults=LinkFaults(delay_s=0.005)) as proxy:
            client = AsyncModbusTcpClient("127.0.0.1", port=proxy.port, timeout=0.3, retries=0)
            assert await client.connect()
            response = await client.read_input_registers(0, count=2)
            assert response.registers == [0x3F80, 0x0000]  # 1.0 as float32
            proxy.faults = LinkFaults(blackhole=True)
            with pytest.raises(ModbusException):
                await client.read_input_registers(0, count=2)
            client.close()
    finally:
        await server.shutdown()


async def test_proxy_in_front_of_opcua_server_forwards_with_delay() -> None:
    from asyncua import Client

    from otgate_simulator.opcua_server import OpcUaServer
    from otgate_simulator.simulation import Simulation

    sim = Simulation("tank", seed=0)
    server = OpcUaServer(sim)
    await server.start()
    try:
        async with FaultProxy(
            "127.0.0.1", server.port, faults=LinkFaults(delay_s=0.002, jitter_s=0.002)
        ) as proxy:
            url = f"opc.tcp://127.0.0.1:{proxy.port}/otgate/tank"
            async with Client(url, timeout=2) as client:
                value = await client.get_node("ns=2;s=LIC-101.RSP").read_value()
            assert value == pytest.approx(sim.image()["LIC-101.RSP"], rel=1e-6)
            assert proxy.stats.chunks_forwarded > 4
    finally:
        await server.stop()
