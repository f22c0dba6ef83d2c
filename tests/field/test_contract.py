"""The `FieldLink` contract, one suite over the in-memory fake, Modbus TCP and OPC UA (see harness.py)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest

from otgate.core.codec import readback_tolerance
from otgate.core.config import Access, PlantConfig, Tag
from otgate.field.link import FieldLink, LinkDown, WriteRefused
from otgate.field.modbus import ModbusLink
from otgate.field.opcua import OpcUaLink
from tests.field.harness import FakeHarness, Harness, PlcWrite, SimHarness

SETPOINT = "LIC-101.RSP"
T = TypeVar("T")
BOUND_S = 5.0  # no contract operation may take longer than this, whatever the failure


@pytest.fixture(params=["fake", "modbus", "opcua"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    plc: Harness
    if request.param == "fake":
        plc = FakeHarness()
    else:
        sim = SimHarness(request.param)
        await sim.start()
        plc = sim
    try:
        yield plc
    finally:
        await asyncio.wait_for(plc.aclose(), BOUND_S)


async def bounded(operation: Awaitable[T]) -> T:
    return await asyncio.wait_for(operation, BOUND_S)


def with_tags(config: PlantConfig, **tags: Tag) -> dict[str, Tag]:
    return {**config.tags, **tags}


def accepted_writes(harness: Harness) -> list[PlcWrite]:
    return [w for w in harness.plc_writes() if w.accepted]


async def test_read_all_tags_returns_every_tag_with_plc_values(harness: Harness) -> None:
    link = await harness.open()
    names = list(harness.config.tags)
    reading = await bounded(link.read(names))
    assert reading.bad == frozenset()
    assert reading.values == {name: harness.plc_value(name) for name in names}


async def test_read_unknown_or_unserved_tag_reported_bad_others_read(harness: Harness) -> None:
    ghost = Tag.model_validate(
        {
            **harness.config.tags["LIT-101"].model_dump(),
            "modbus": {"table": "input", "address": 100},
            "opcua": {"node_id": "ns=2;s=GHOST"},
        }
    )
    link = await harness.open(with_tags(harness.config, GHOST=ghost))
    reading = await bounded(link.read(["LIT-101", "GHOST", "NOT-A-TAG", "FT-101"]))
    assert reading.bad == {"GHOST", "NOT-A-TAG"}
    assert reading.values == {"LIT-101": harness.plc_value("LIT-101"), "FT-101": harness.plc_value("FT-101")}


@pytest.mark.parametrize(
    ("tag", "value"), [(SETPOINT, 650.3), ("LIC-101.MODE_REQ", 2), ("PLC.HEARTBEAT", 65535)]
)
@pytest.mark.requirement("R-11")
async def test_write_writable_tag_returns_readback_within_tolerance(
    harness: Harness, tag: str, value: float
) -> None:
    link = await harness.open()
    config = harness.config.tags[tag]
    read_back = await bounded(link.write(tag, value))
    assert abs(read_back - value) <= readback_tolerance(value, config.type, config.scale)
    assert harness.plc_value(tag) == read_back
    assert (await link.read([tag])).values == {tag: read_back}
    assert [(w.tag, w.accepted) for w in harness.plc_writes()] == [(tag, True)]


@pytest.mark.parametrize("tag", ["LIT-101", "LSHH-101", "PLC.SHED_TIMEOUT", "NOT-A-TAG"])
async def test_write_read_only_or_unknown_tag_refused_before_sending(harness: Harness, tag: str) -> None:
    link = await harness.open()
    before = harness.plc_value(tag) if tag in harness.config.tags else None
    with pytest.raises(WriteRefused):
        await bounded(link.write(tag, 1.0))
    assert harness.plc_writes() == []
    if before is not None:
        assert harness.plc_value(tag) == before
    assert link.is_connected


async def test_write_plc_refuses_write_refused_and_nothing_changes(harness: Harness) -> None:
    # The adapter's map says writable, the PLC says read-only: the PLC's error answer must surface as
    # WriteRefused (Modbus exception 0x02, OPC UA BadUserAccessDenied).
    tag = "PLC.SHED_TIMEOUT"
    harness.refuse_writes(tag)
    writable = harness.config.tags[tag].model_copy(
        update={"access": Access.WRITE}
    )  # bypasses validation on purpose
    link = await harness.open(with_tags(harness.config, **{tag: writable}))
    before = harness.plc_value(tag)
    with pytest.raises(WriteRefused):
        await bounded(link.write(tag, 99.0))
    assert harness.plc_value(tag) == before
    assert accepted_writes(harness) == []
    assert link.is_connected
    assert (await link.read([tag])).values == {tag: before}


async def test_write_tag_without_address_refused_before_sending(harness: Harness) -> None:
    no_address = harness.config.tags[SETPOINT].model_copy(update={"modbus": None, "opcua": None})
    link = await harness.open(with_tags(harness.config, **{SETPOINT: no_address}))
    with pytest.raises(WriteRefused):
        await bounded(link.write(SETPOINT, 650.0))
    assert harness.plc_writes() == []


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (SETPOINT, math.nan),
        (SETPOINT, math.inf),
        (SETPOINT, 1e39),
        ("PLC.HEARTBEAT", 70000),
        ("PLC.HEARTBEAT", -1),
    ],
)
async def test_write_unrepresentable_value_refused_before_sending(
    harness: Harness, tag: str, value: float
) -> None:
    link = await harness.open()
    with pytest.raises(WriteRefused):
        await bounded(link.write(tag, value))
    assert harness.plc_writes() == []


@pytest.mark.requirement("R-11")
async def test_write_silently_ignored_readback_differs_from_value(harness: Harness) -> None:
    link = await harness.open()
    harness.ignore_writes(SETPOINT)
    before = harness.plc_value(SETPOINT)
    read_back = await bounded(link.write(SETPOINT, before + 25.0))
    config = harness.config.tags[SETPOINT]
    assert abs(read_back - (before + 25.0)) > readback_tolerance(before + 25.0, config.type, config.scale)
    assert read_back == before == harness.plc_value(SETPOINT)
    assert [(w.tag, w.accepted) for w in harness.plc_writes()] == [(SETPOINT, True)]


@pytest.mark.requirement("R-19")
async def test_link_down_read_and_write_raise_link_down_then_reconnect(harness: Harness) -> None:
    link = await harness.open()
    await harness.take_down()
    with pytest.raises(LinkDown):
        await bounded(link.read(["LIT-101"]))
    assert not link.is_connected
    with pytest.raises(LinkDown):
        await bounded(link.write(SETPOINT, 650.0))
    assert accepted_writes(harness) == []
    await harness.bring_back()
    await bounded(reconnect(link))
    assert link.is_connected
    assert (await bounded(link.read(["LIT-101"]))).values == {"LIT-101": harness.plc_value("LIT-101")}
    assert await bounded(link.write(SETPOINT, 640.0)) == 640.0


async def test_hung_plc_read_raises_link_down_within_timeout(harness: Harness) -> None:
    link = await harness.open(timeout_s=0.3)
    await harness.hang()
    with pytest.raises(LinkDown):
        await bounded(link.read(["LIT-101"]))
    assert not link.is_connected


async def reconnect(link: FieldLink) -> None:
    """Connect again, waiting out the link's back-off (bounded by the caller)."""
    while True:
        try:
            await link.connect()
            return
        except LinkDown:
            await asyncio.sleep(0.02)


# ------------------------------------------------------------------ protocol adapters only: the network


@pytest.fixture
async def accept_then_close() -> AsyncIterator[tuple[int, list[float]]]:
    """A peer that accepts every connection and closes it at once; yields its port and accept times."""
    accepted: list[float] = []

    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(time.monotonic())
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), accepted
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
@pytest.mark.requirement("R-19")
async def test_peer_accepting_then_closing_reconnects_paced_by_backoff(
    protocol: str, accept_then_close: tuple[int, list[float]]
) -> None:
    port, accepted = accept_then_close
    harness = SimHarness(protocol)
    harness.point_at(port)  # the link points at the misbehaving peer
    plc = harness.connection(timeout_s=0.5)
    link: FieldLink
    if protocol == "modbus":
        link = ModbusLink(plc, harness.config.tags, reconnect_delay_s=0.05, reconnect_delay_max_s=1.0)
    else:
        link = OpcUaLink(plc, harness.config.tags, reconnect_delay_s=0.05, reconnect_delay_max_s=1.0)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        with pytest.raises(LinkDown):
            await bounded(link.read(["LIT-101"]))
        await asyncio.sleep(0.005)
    await link.close()
    # back-off 0.05, 0.1, 0.2, 0.4 s: at most 4 attempts in 0.5 s (unpaced: ~100)
    assert 1 <= len(accepted) <= 5


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
async def test_connect_nothing_listening_raises_link_down(protocol: str) -> None:
    harness = SimHarness(protocol)
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    harness.point_at(int(server.sockets[0].getsockname()[1]))
    server.close()
    await server.wait_closed()
    plc = harness.connection(timeout_s=0.5)
    link: FieldLink = (
        ModbusLink(plc, harness.config.tags) if protocol == "modbus" else OpcUaLink(plc, harness.config.tags)
    )
    with pytest.raises(LinkDown):
        await bounded(link.connect())
    assert not link.is_connected
    await link.close()
