"""The simulated PLC's Modbus TCP server (pymodbus 3.16 `SimDevice`, four separate tables).

Register map: straight from the plant configuration. Each tag with a `modbus` address occupies
`register_count(type)` registers at its 0-based protocol address, encoded by `simulator.registers` with the
PLC's byte and word order.

    input registers   (FC 4)            process values the PLC publishes; never writable by protocol
    holding registers (FC 3/6/16/22/23) tags with `access: write` accept writes; every other holding
                                        register is read-only and refuses writes with exception 0x02
    coils, discrete inputs              none: every access answers exception 0x02
    addresses no tag claims             exception 0x02 (the gaps are INVALID cells in the SimDevice)

A write is accepted only if it covers whole writable tags (no half float), and only if the simulation
accepts every tag in it; the PLC then decodes each tag and hands it to `sim.write_tag(tag, value,
protocol="modbus", address="holding:<n>")`, which logs it. A refused write of a mapped tag is still
reported to the simulation (so the write log shows the attempt) and answers 0x02 (read-only) or 0x03
(value refused by the PLC). Partial or unmapped writes answer 0x02 without reaching the simulation.

`publish()` copies the process image into the datastore (integers saturated to their type, as a PLC's
conversion does, see `simulator.registers`). It runs without yielding to the event loop
between its first and last register write, so no client request can observe a half-updated image or a
torn multi-register value. Its own writes pass through the same SimDevice action hook as client writes;
a flag set only while publishing tells them apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from otgate.core.config import Access, ModbusTable, PlantConfig
from otgate_simulator.process_image import ProcessImage
from otgate_simulator.registers import RegisterFormat

_FC_INPUT_WRITE = 4  # pymodbus maps FC 4 to the input table; only the server itself writes there
_FC_HOLDING_WRITE = 16
_BIT_FUNCTION_CODES = frozenset({1, 2, 5, 15})
_WRITE_FUNCTION_CODES = frozenset({6, 16, 22, 23})


@dataclass(frozen=True, slots=True)
class RegisterSlot:
    tag: str
    table: ModbusTable
    address: int
    fmt: RegisterFormat
    writable: bool

    @property
    def end(self) -> int:
        return self.address + self.fmt.count


def register_slots(config: PlantConfig, plc: str) -> list[RegisterSlot]:
    """The register map of one PLC, sorted by (table, address)."""
    connection = config.plcs[plc].modbus
    byte_order = connection.byte_order.value if connection else "big"
    word_order = connection.word_order.value if connection else "big"
    slots = [
        RegisterSlot(
            tag=name,
            table=tag.modbus.table,
            address=tag.modbus.address,
            fmt=RegisterFormat(tag.type.value, byte_order, word_order, tag.scale, tag.offset),  # type: ignore[arg-type]
            writable=tag.access is Access.WRITE,
        )
        for name, tag in config.tags.items()
        if tag.plc == plc and tag.modbus is not None
    ]
    return sorted(slots, key=lambda s: (s.table.value, s.address))


def _table_data(slots: list[RegisterSlot]) -> list[SimData]:
    if not slots:  # pymodbus needs one entry per table; an INVALID cell answers 0x02 like a gap
        return [SimData(address=0, datatype=DataType.INVALID)]
    return [SimData(address=s.address, values=[0] * s.fmt.count, datatype=DataType.REGISTERS) for s in slots]


def _runs(slots: list[RegisterSlot]) -> list[list[RegisterSlot]]:
    """Contiguous groups of slots: one datastore write each (a write may not span an INVALID gap)."""
    runs: list[list[RegisterSlot]] = []
    for slot in slots:
        if runs and runs[-1][-1].end == slot.address:
            runs[-1].append(slot)
        else:
            runs.append([slot])
    return runs


class ModbusServer:
    """Serves one PLC of the simulation over Modbus TCP on `host`, port `port` (0 picks a free one)."""

    def __init__(self, sim: ProcessImage, *, host: str = "127.0.0.1", port: int = 0, plc: str | None = None):
        self.sim = sim
        self.plc = plc or next(iter(sim.config.plcs))
        connection = sim.config.plcs[self.plc].modbus
        self.unit_id = connection.unit_id if connection else 1
        self.host = host
        self._requested_port = port
        slots = register_slots(sim.config, self.plc)
        self._holding = [s for s in slots if s.table is ModbusTable.HOLDING]
        self._input = [s for s in slots if s.table is ModbusTable.INPUT]
        self._holding_at = {s.address + i: s for s in self._holding for i in range(s.fmt.count)}
        self._runs = [(_FC_HOLDING_WRITE, run) for run in _runs(self._holding)] + [
            (_FC_INPUT_WRITE, run) for run in _runs(self._input)
        ]
        self._publishing = False
        self._server: ModbusTcpServer | None = None
        self._port = 0

    @property
    def port(self) -> int:
        """The bound port (valid after `start`)."""
        return self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self._port}"

    async def start(self) -> None:
        device = SimDevice(
            id=self.unit_id,
            simdata=(
                [SimData(0, values=False, datatype=DataType.BITS)],
                [SimData(0, values=False, datatype=DataType.BITS)],
                _table_data(self._holding),
                _table_data(self._input),
            ),
            action=self._on_access,
        )
        self._server = ModbusTcpServer(device, address=(self.host, self._requested_port))
        await self._server.serve_forever(background=True)
        listener = self._server.transport
        if not isinstance(listener, asyncio.Server):
            raise RuntimeError("pymodbus did not open a TCP listener")
        self._port = int(listener.sockets[0].getsockname()[1])
        await self.publish()

    async def shutdown(self) -> None:
        # ServerStop() would stop only the most recently created server (class-level singleton).
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    async def publish(self, image: Mapping[str, float] | None = None) -> None:
        """Copy the process image (default: `sim.image()`) into the input and holding registers."""
        if self._server is None:
            raise RuntimeError("server not started")
        values = self.sim.image() if image is None else image
        blocks = [
            (fc, run[0].address, [r for s in run for r in s.fmt.encode(values[s.tag], saturate=True)])
            for fc, run in self._runs
        ]
        self._publishing = True
        try:
            for fc, address, registers in blocks:
                await self._server.async_setValues(self.unit_id, fc, address, registers)
        finally:
            self._publishing = False

    async def _on_access(
        self,
        function_code: int,
        _start_address: int,
        address: int,
        count: int,
        _registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self._publishing:
            return None
        if function_code in _BIT_FUNCTION_CODES:
            return ExcCodes.ILLEGAL_ADDRESS
        if set_values is None or function_code not in _WRITE_FUNCTION_CODES:
            return None
        return self._external_write(address, [int(v) for v in set_values])

    def _external_write(self, address: int, values: list[int]) -> ExcCodes | None:
        slots = self._covered_slots(address, len(values))
        if slots is None:
            return ExcCodes.ILLEGAL_ADDRESS
        refused = [s for s in slots if not s.writable]
        # An all-or-nothing request: with a read-only tag in it, only the refused attempts are reported.
        targets = refused or slots
        accepted = [
            self.sim.write_tag(
                s.tag,
                s.fmt.decode(values[s.address - address : s.end - address]),
                protocol="modbus",
                address=f"holding:{s.address}",
            )
            for s in targets
        ]
        if refused:
            return ExcCodes.ILLEGAL_ADDRESS
        return None if all(accepted) else ExcCodes.ILLEGAL_VALUE

    def _covered_slots(self, address: int, count: int) -> list[RegisterSlot] | None:
        """The holding tags a write covers completely, or None if it touches a gap or half a tag."""
        slots: list[RegisterSlot] = []
        for register in range(address, address + count):
            slot = self._holding_at.get(register)
            if slot is None:
                return None
            if not slots or slots[-1] is not slot:
                slots.append(slot)
        if slots[0].address != address or slots[-1].end != address + count:
            return None
        return slots
