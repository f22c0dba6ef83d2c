"""`FieldLink` over Modbus TCP (pymodbus 3.16 async client).

Wire use. Only four function codes are ever sent, and only to addresses in the configuration's map:

    FC 3  read holding registers      FC 6   write single register (1-register tags)
    FC 4  read input registers        FC 16  write multiple registers (2- and 4-register tags)

Block reads. The requested tags are grouped by table and sorted by address; neighbours are merged into one
request when every register between them belongs to some configured tag (PLCs answer exception 0x02 for
an unmapped register) and the request stays within 125 registers (the protocol's limit for FC 3/4):

    input map:  [LIT 0-1][SP 2-3][OUT 4-5][MODE 6][FT 7-8] ... gap ... [X 20-21]
    read LIT, MODE, X  ->  FC4 0..6 (7 registers), FC4 20..21

Values are decoded with `otgate.core.codec` and the PLC's byte and word order, then scale and offset.
The plan (spans and how to decode each block at once) is built once per set of requested tags and kept
for the link's life: a link's tag map never changes (a new config builds new links), and re-planning
10,000 tags cost more per scan than reading them.

Failure handling (pymodbus 3.16 behaviour behind each line: the team's PROTOCOLS.md notes):
- `retries=0`: pymodbus re-sends a timed-out request, which for a write can apply it twice.
- pymodbus's own reconnect is off (`reconnect_delay=0`); `Backoff` paces reconnects and resets only when
  a request is answered, so a peer that accepts then closes is not hammered.
- A hung device keeps the TCP connection open: a request that is not answered within `timeout_s` raises
  LinkDown and the connection is closed, so a late answer can never be taken for the next request's.
- Every pymodbus exception becomes LinkDown (`otgate.field.session`, with `LIBRARY_ERRORS`); an exception
  response to a write becomes WriteRefused.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from otgate.core.codec import BlockLayout, block_layout, decode, decode_block, encode
from otgate.core.config import ModbusConnection, ModbusTable, PlcConnection, Tag
from otgate.field.link import FieldError, LinkDown, Reading, WriteRefused, writable_tag
from otgate.field.session import FieldSession

MAX_READ_REGISTERS = 125
# Every exception pymodbus raises derives from ModbusException (checked against the installed library).
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (ModbusException,)
_PLANS_KEPT = 16  # distinct tag sets a link keeps plans for (the scan asks for one; tests for a few)
_Call = Callable[[AsyncModbusTcpClient], Awaitable[ModbusPDU]]


@dataclass(frozen=True)
class ReadSpan:
    """One read request: `count` registers of `table` from `start`, carrying `tags`."""

    table: ModbusTable
    start: int
    count: int
    tags: tuple[str, ...]


def plan_reads(tags: Mapping[str, Tag], names: Sequence[str]) -> list[ReadSpan]:
    """The fewest read requests covering the Modbus tags among `names` (others are left out)."""
    spans: list[ReadSpan] = []
    for table in ModbusTable:
        claimed = {
            tag.modbus.address + i
            for tag in tags.values()
            if tag.modbus is not None and tag.modbus.table is table
            for i in range(tag.type.register_count)
        }
        wanted = sorted(
            {n for n in names if (t := tags.get(n)) is not None and t.modbus and t.modbus.table is table},
            key=lambda n: _address(tags[n]),
        )
        spans.extend(_merge(table, tags, wanted, claimed))
    return spans


def _address(tag: Tag) -> int:
    if tag.modbus is None:
        raise ValueError("tag has no Modbus address")
    return tag.modbus.address


def _merge(
    table: ModbusTable, tags: Mapping[str, Tag], wanted: list[str], claimed: set[int]
) -> Iterator[ReadSpan]:
    current: list[str] = []
    start = end = 0
    for name in wanted:
        address = _address(tags[name])
        tag_end = address + tags[name].type.register_count
        joins = (
            current
            and all(r in claimed for r in range(end, address))
            and max(end, tag_end) - start <= MAX_READ_REGISTERS
        )
        if current and not joins:
            yield ReadSpan(table, start, end - start, tuple(current))
            current = []
        if not current:
            start, end = address, tag_end
        current.append(name)
        end = max(end, tag_end)
    if current:
        yield ReadSpan(table, start, end - start, tuple(current))


class ModbusLink:
    """`FieldLink` to one PLC over Modbus TCP; `tags` are that PLC's tags (name -> config)."""

    def __init__(
        self,
        plc: PlcConnection,
        tags: Mapping[str, Tag],
        *,
        reconnect_delay_s: float = 0.1,
        reconnect_delay_max_s: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if plc.modbus is None:
            raise ValueError("PLC connection has no 'modbus' section")
        self._settings: ModbusConnection = plc.modbus
        self._tags = dict(tags)
        self._byte_order = plc.modbus.byte_order.value
        self._word_order = plc.modbus.word_order.value
        self._client: AsyncModbusTcpClient | None = None
        where = f"modbus {plc.modbus.host}:{plc.modbus.port}"
        self.session = FieldSession(
            LIBRARY_ERRORS,
            lambda error: f"{where}: {error}",
            self._drop,
            reconnect_delay_s=reconnect_delay_s,
            reconnect_delay_max_s=reconnect_delay_max_s,
            clock=clock,
        )
        self._plans: dict[tuple[str, ...], list[tuple[ReadSpan, BlockLayout]]] = {}

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.connected

    async def connect(self) -> None:
        if self.is_connected:
            return
        self._drop()
        self.session.backoff.check()
        settings = self._settings
        client = AsyncModbusTcpClient(
            settings.host,
            port=settings.port,
            timeout=settings.timeout_s,
            retries=0,
            reconnect_delay=0,  # no background reconnect task: `Backoff` paces reconnects
        )
        try:
            async with asyncio.timeout(settings.timeout_s + 0.5):
                connected = await client.connect()
        except self.session.errors:
            connected = False
        if not connected:
            client.close()
            self.session.backoff.failed()
            raise LinkDown(f"modbus {settings.host}:{settings.port}: cannot connect")
        self._client = client

    async def close(self) -> None:
        self._drop()

    async def read(self, tags: Sequence[str]) -> Reading:
        plan = self._plan(tags)
        values: dict[str, float] = {}
        async with self.session.lock:
            for span, layout in plan:
                registers = await self._read_span(span)
                if registers is None:  # the PLC refused a configured span: its map differs from ours
                    continue
                for name, value in zip(span.tags, decode_block(layout, registers), strict=True):
                    if math.isfinite(value):
                        values[name] = value
        return Reading(values, frozenset(tags).difference(values))

    def _plan(self, tags: Sequence[str]) -> list[tuple[ReadSpan, BlockLayout]]:
        key = tuple(tags)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _PLANS_KEPT:
                self._plans.clear()
            plan = [(span, self._layout(span)) for span in plan_reads(self._tags, key)]
            self._plans[key] = plan
        return plan

    def _layout(self, span: ReadSpan) -> BlockLayout:
        fields = [
            (_address(t) - span.start, t.type, t.scale, t.offset) for t in (self._tags[n] for n in span.tags)
        ]
        return block_layout(fields, byte_order=self._byte_order, word_order=self._word_order)

    async def write(self, tag: str, value: float) -> float:
        config = writable_tag(self._tags, tag)
        if config.modbus is None:
            raise WriteRefused(f"{tag}: no Modbus address")
        if config.modbus.table is not ModbusTable.HOLDING:
            raise WriteRefused(f"{tag}: {config.modbus.table} registers are not writable")
        try:
            registers = encode(
                value,
                config.type,
                scale=config.scale,
                offset=config.offset,
                byte_order=self._byte_order,
                word_order=self._word_order,
            )
        except ValueError as error:
            raise WriteRefused(f"{tag}: {error}") from None
        address = config.modbus.address
        async with self.session.lock:
            response = await self._request(
                lambda c: (
                    c.write_register(address, registers[0], device_id=self._settings.unit_id)
                    if len(registers) == 1
                    else c.write_registers(address, list(registers), device_id=self._settings.unit_id)
                )
            )
            if response.isError():
                raise WriteRefused(f"{tag}: PLC answered exception {_exception_code(response)}")
            span = ReadSpan(ModbusTable.HOLDING, address, len(registers), (tag,))
            read_back = await self._read_span(span)
            if read_back is None:
                raise FieldError(f"{tag}: written, but the PLC refused the read-back")
        return self._decode(tag, read_back, address)

    # ------------------------------------------------------------------------------------------ internals

    async def _read_span(self, span: ReadSpan) -> list[int] | None:
        """The span's registers, or None when the PLC answered with an exception."""
        unit = self._settings.unit_id
        if span.table is ModbusTable.HOLDING:
            response = await self._request(
                lambda c: c.read_holding_registers(span.start, count=span.count, device_id=unit)
            )
        else:
            response = await self._request(
                lambda c: c.read_input_registers(span.start, count=span.count, device_id=unit)
            )
        if response.isError():
            return None
        registers = list(response.registers)
        if len(registers) != span.count:
            self.session.failed()
            raise LinkDown(f"{span.table} {span.start}: asked {span.count} registers, got {len(registers)}")
        return registers

    async def _request(self, call: _Call) -> ModbusPDU:
        """One request on a connected client, bounded by the timeout; any failure closes the link."""
        if not self.is_connected:
            await self.connect()
        client = self._client
        if client is None:
            raise LinkDown("modbus: not connected")
        with self.session.request():
            async with asyncio.timeout(self._settings.timeout_s + 0.5):
                response = await call(client)
        self.session.answered()
        return response

    def _decode(self, name: str, registers: list[int], start: int) -> float:
        tag = self._tags[name]
        offset = _address(tag) - start
        words = registers[offset : offset + tag.type.register_count]
        return decode(
            words,
            tag.type,
            scale=tag.scale,
            offset=tag.offset,
            byte_order=self._byte_order,
            word_order=self._word_order,
        )

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _exception_code(response: ModbusPDU) -> str:
    code = getattr(response, "exception_code", None)
    return f"0x{code:02X}" if isinstance(code, int) else "?"
