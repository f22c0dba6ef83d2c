"""Modbus TCP has no security of its own: the gateway must use only what the configuration maps.

Over a full run per plant (gateway + simulator in lock-step over real sockets: start-up, engage, an
optimiser moving setpoints through the rules, heartbeats, an operator fallback, manual mode), a relay
between the gateway and the simulated PLC decodes every Modbus request on the wire and checks it:

- function code in {3, 4, 6, 16}: never a diagnostic, programming or bit function (8, 43, 90, 1, 5, ...);
- unit id = the configured one;
- a read (FC 3 holding / FC 4 input) touches only registers a configured tag of that table occupies;
- a write (FC 6 / FC 16) covers exactly whole configured tags with `access: write`, in holding registers.

The relay sees the bytes the gateway sends, so it catches requests the simulator's own datastore hook
would never be shown (a diagnostic FC 8 is answered by the pymodbus stack before any datastore access).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from otgate.api.ai import envelope, parse_recommendations, to_proposal
from otgate.client import Envelope
from otgate.client.demo_engine import DemoEngine
from otgate.config.loader import load_config
from otgate.core.config import Access, ModbusAddress, ModbusTable, PlantConfig
from otgate.core.modes import ModeEvent
from otgate.runtime.view import GatewayView
from tests.conftest import PLANT_CONFIGS
from tests.e2e.harness import Harness, pointed_at_port, running

ALLOWED_FUNCTION_CODES = {3, 4, 6, 16}
READ_TABLE = {3: ModbusTable.HOLDING, 4: ModbusTable.INPUT}


@dataclass(frozen=True)
class Request:
    unit: int
    function_code: int
    address: int | None
    count: int | None


@dataclass
class WireRecorder:
    """A TCP relay that decodes every Modbus TCP request (MBAP header + PDU) the client sends."""

    target_port: int
    requests: list[Request] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        answers = asyncio.create_task(self._pump(up_reader, writer))
        self._tasks.add(answers)
        try:
            while header := await reader.readexactly(7):
                pdu = await reader.readexactly(int.from_bytes(header[4:6], "big") - 1)
                self.requests.append(_decode(header[6], pdu))
                up_writer.write(header + pdu)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            answers.cancel()
            self._tasks.discard(answers)
            writer.close()
            up_writer.close()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(4096):
            sink.write(data)


def _decode(unit: int, pdu: bytes) -> Request:
    function_code = pdu[0]
    if function_code in (3, 4, 16) and len(pdu) >= 5:
        return Request(unit, function_code, int.from_bytes(pdu[1:3], "big"), int.from_bytes(pdu[3:5], "big"))
    if function_code == 6 and len(pdu) >= 5:
        return Request(unit, function_code, int.from_bytes(pdu[1:3], "big"), 1)
    return Request(unit, function_code, None, None)


@dataclass(frozen=True)
class RegisterMap:
    """Which registers the configuration gives to which tag, per table, for one PLC."""

    owner: dict[tuple[ModbusTable, int], str]
    writable: dict[str, tuple[int, int]]  # tag -> (first register, register count), holding table

    @classmethod
    def of(cls, config: PlantConfig, plc: str) -> RegisterMap:
        owner: dict[tuple[ModbusTable, int], str] = {}
        writable: dict[str, tuple[int, int]] = {}
        for name, tag in config.tags.items():
            if tag.plc != plc or tag.modbus is None:
                continue
            count = tag.type.register_count
            for register in range(tag.modbus.address, tag.modbus.address + count):
                owner[(tag.modbus.table, register)] = name
            if tag.access is Access.WRITE and tag.modbus.table is ModbusTable.HOLDING:
                writable[name] = (tag.modbus.address, count)
        return cls(owner, writable)

    def violations(self, request: Request, unit_id: int) -> list[str]:
        problems = []
        if request.function_code not in ALLOWED_FUNCTION_CODES:
            return [f"function code {request.function_code}"]
        if request.unit != unit_id:
            problems.append(f"unit {request.unit}, configured {unit_id}")
        assert request.address is not None and request.count is not None
        registers = range(request.address, request.address + request.count)
        if request.function_code in READ_TABLE:
            table = READ_TABLE[request.function_code]
            unmapped = [r for r in registers if (table, r) not in self.owner]
            if unmapped or request.count == 0:
                problems.append(f"FC {request.function_code} reads unmapped {table} registers {unmapped}")
            return problems
        tags = [self.owner.get((ModbusTable.HOLDING, r)) for r in registers]
        covered = dict.fromkeys(tags)
        whole = all(
            t is not None
            and t in self.writable
            and registers.start <= self.writable[t][0]
            and self.writable[t][0] + self.writable[t][1] <= registers.stop
            for t in covered
        )
        if not whole or request.count == 0:
            problems.append(
                f"FC {request.function_code} writes {registers} = {tags}: not whole writable tags"
            )
        return problems


def propose(h: Harness, engine: DemoEngine, cycle: int) -> None:
    writes = h.gateway.plant.config.engines["optimizer"].writes
    envelopes = [Envelope.model_validate(envelope(GatewayView(h.gateway), tag)) for tag in writes]
    proposals = [p for p in (engine.step(e, cycle) for e in envelopes) if p is not None]
    now = datetime.fromtimestamp(h.clock.now(), UTC)
    bodies = [p.to_recommendation(None, now).model_dump(mode="json", exclude_none=True) for p in proposals]
    if not bodies:
        h.gateway.heartbeat_from("optimizer")
        return
    items = parse_recommendations(json.dumps({"recommendations": bodies}).encode(), 100)
    h.gateway.submit([to_proposal(item, "optimizer") for item in items], [item.rationale for item in items])


@pytest.mark.timeout(180)
@pytest.mark.parametrize("plant", ["tank", "cstr", "ricker"])
@pytest.mark.requirement("R-31")
async def test_full_run_sends_only_configured_function_codes_units_and_registers(
    plant: str, tmp_path: Path
) -> None:
    engine = DemoEngine(misbehave=False)
    async with running(plant, tmp_path, seed=11) as h:
        recorder = WireRecorder(h.runtime.modbus.port)
        relay = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
        try:
            await pointed_at_port(h, int(relay.sockets[0].getsockname()[1]), timeout_s=1.0)
            await h.engage()
            for tick in range(120):
                if tick % 2 == 0:
                    propose(h, engine, tick // 2 + 1)
                await h.step()
            loops = list(h.gateway.loops)
            h.gateway.operator_action("operator", loops, ModeEvent.FALLBACK, "test")
            await h.step(5)
            h.gateway.operator_action("operator", loops, ModeEvent.MANUAL, "test")
            await h.step(5)
        finally:
            for link in h.gateway.links.values():
                await link.close()
            relay.close()
            await relay.wait_closed()

    config = h.gateway.plant.config
    (plc_name,) = config.plcs
    connection = config.plcs[plc_name].modbus
    assert connection is not None
    register_map = RegisterMap.of(config, plc_name)
    problems = {
        (r, problem) for r in recorder.requests for problem in register_map.violations(r, connection.unit_id)
    }
    assert len(recorder.requests) > 130  # every scan of the run went through the relay
    assert problems == set()
    codes = {r.function_code for r in recorder.requests}
    assert {4, 16} <= codes <= ALLOWED_FUNCTION_CODES  # it did read process values and write setpoints
    written = {
        register_map.owner[(ModbusTable.HOLDING, r.address)]
        for r in recorder.requests
        if r.function_code in (6, 16) and r.address is not None
    }
    assert set(config.engines["optimizer"].writes) & written  # AI setpoints went through this relay
    assert config.plcs[plc_name].heartbeat_tag in written


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (Request(1, 8, None, None), "function code 8"),  # diagnostics
        (Request(1, 43, None, None), "function code 43"),  # encapsulated interface / device id
        (Request(1, 90, None, None), "function code 90"),  # vendor programming
        (Request(1, 5, None, None), "function code 5"),  # write single coil
        (Request(2, 4, 0, 2), "unit 2"),
        (Request(1, 4, 0, 200), "unmapped"),
        (Request(1, 16, 0, 1), "not whole writable tags"),  # half of the float32 setpoint
        (Request(1, 16, 10, 2), "not whole writable tags"),  # PLC.SHED_TIMEOUT: a read-only holding tag
        (Request(1, 6, 5, 1), "not whole writable tags"),  # a register no tag claims
        (Request(1, 3, 4, 6), "unmapped"),  # a read across the gap 4..9
    ],
)
def test_checker_flags_what_the_gateway_must_never_send(request_: Request, problem: str) -> None:
    config = load_config(PLANT_CONFIGS / "tank.yaml")
    assert config.tags["LIC-101.RSP"].modbus == ModbusAddress(table=ModbusTable.HOLDING, address=0)
    assert config.tags["PLC.SHED_TIMEOUT"].modbus == ModbusAddress(table=ModbusTable.HOLDING, address=10)
    problems = RegisterMap.of(config, "plc1").violations(request_, unit_id=1)
    assert any(problem in p for p in problems), problems
