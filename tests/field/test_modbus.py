"""Modbus adapter specifics: read planning, and what goes on the wire (function codes, one write attempt)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from otgate.core.config import ModbusTable, Tag
from otgate.field.link import LinkDown, WriteRefused
from otgate.field.modbus import MAX_READ_REGISTERS, ModbusLink, ReadSpan, plan_reads
from tests.field.harness import SimHarness, tank_config

HR, IR = ModbusTable.HOLDING, ModbusTable.INPUT


def tag(table: str, address: int, type_: str = "float32") -> Tag:
    return Tag.model_validate(
        {"kind": "measurement", "plc": "p", "type": type_, "modbus": {"table": table, "address": address}}
    )


MAP = {
    "A": tag("input", 0),  # 0-1
    "B": tag("input", 2, "uint16"),  # 2
    "C": tag("input", 3),  # 3-4
    "D": tag("input", 10),  # 10-11, after a gap 5..9
    "E": tag("holding", 0, "float64"),  # 0-3
    "F": tag("holding", 4, "uint16"),
}


@pytest.mark.parametrize(
    ("names", "spans"),
    [
        (["A"], [ReadSpan(IR, 0, 2, ("A",))]),
        (["C", "A"], [ReadSpan(IR, 0, 5, ("A", "C"))]),  # B lies between: claimed, read along
        (["A", "D"], [ReadSpan(IR, 0, 2, ("A",)), ReadSpan(IR, 10, 2, ("D",))]),  # never across a gap
        (["F", "A", "E"], [ReadSpan(HR, 0, 5, ("E", "F")), ReadSpan(IR, 0, 2, ("A",))]),
        (["A", "A"], [ReadSpan(IR, 0, 2, ("A",))]),
        (["X", "A"], [ReadSpan(IR, 0, 2, ("A",))]),  # unknown tags are left out (reported bad)
        ([], []),
    ],
)
def test_plan_reads_merges_claimed_neighbours_only(names: list[str], spans: list[ReadSpan]) -> None:
    assert plan_reads(MAP, names) == spans


def test_plan_reads_splits_at_the_protocol_limit() -> None:
    tags = {f"T{i}": tag("holding", 2 * i) for i in range(100)}  # 200 contiguous registers
    spans = plan_reads(tags, list(tags))
    assert [s.count for s in spans] == [124, 76]
    assert all(s.count <= MAX_READ_REGISTERS for s in spans)
    assert [n for s in spans for n in s.tags] == list(tags)


@dataclass
class Recorder:
    """A TCP relay that records the function code of every Modbus request the client sends."""

    target_port: int
    function_codes: list[int] = field(default_factory=list)
    hang: bool = False
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            while header := await reader.readexactly(7):
                body = await reader.readexactly(int.from_bytes(header[4:6], "big") - 1)
                self.function_codes.append(body[0])
                if self.hang:
                    continue
                up_writer.write(header + body)
                answer = await up_reader.readexactly(7)
                writer.write(answer + await up_reader.readexactly(int.from_bytes(answer[4:6], "big") - 1))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            up_writer.close()


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[ModbusLink, Recorder, SimHarness]]:
    sim = SimHarness("modbus")
    await sim.runtime.start()
    recorder = Recorder(sim.runtime.modbus.port)
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = int(server.sockets[0].getsockname()[1])
    sim.point_at(recorder.port)
    link = ModbusLink(sim.connection(timeout_s=0.3), sim.config.tags)
    try:
        yield link, recorder, sim
    finally:
        await link.close()
        server.close()
        await server.wait_closed()
        await sim.runtime.stop()


async def test_modbus_sends_only_function_codes_3_4_6_16(
    recorded: tuple[ModbusLink, Recorder, SimHarness],
) -> None:
    link, recorder, sim = recorded
    await link.read(list(sim.config.tags))
    await link.write("LIC-101.RSP", 650.0)  # float32: FC 16, then FC 3
    await link.write("PLC.HEARTBEAT", 7)  # uint16: FC 6, then FC 3
    with pytest.raises(WriteRefused):
        await link.write("LIT-101", 1.0)  # refused before sending
    assert recorder.function_codes == [3, 3, 4, 16, 3, 6, 3]


async def test_modbus_write_to_hung_plc_sent_once_then_link_down(
    recorded: tuple[ModbusLink, Recorder, SimHarness],
) -> None:
    link, recorder, _ = recorded
    await link.connect()
    recorder.hang = True
    with pytest.raises(LinkDown):
        await asyncio.wait_for(link.write("LIC-101.RSP", 650.0), 5)
    assert recorder.function_codes == [16]  # never retried: a retry could apply the write twice
    assert not link.is_connected


def test_modbus_link_needs_modbus_section() -> None:
    plc = tank_config().plcs["plc1"].model_copy(update={"modbus": None})
    with pytest.raises(ValueError, match="modbus"):
        ModbusLink(plc, {})
