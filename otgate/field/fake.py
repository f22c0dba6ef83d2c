"""An in-memory `FieldLink` for tests of the gateway: a PLC that is a dict, with knobs for its failures.

Knobs (plain attributes, change them at any time):

    down          every call raises LinkDown and the link reports disconnected, until cleared and
                  `connect()` (or the next read/write) succeeds
    refuse        tags the "PLC" answers with an error: WriteRefused, nothing applied
    ignore_writes tags the "PLC" accepts but silently does not apply: the read-back shows the old value
    bad           tags the "PLC" reports with bad quality on read

`writes` logs every write that reached the "PLC" (after the adapter-side checks), with whether it was
applied, like the simulator's write log. The fake applies the same adapter-side checks as the real
adapters: unknown or read-only tags, tags without any address and unrepresentable values are refused
before they reach the "PLC". Values are stored as the codec would carry them (float32 rounding, integer
rounding), so read-backs behave like a real register.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from otgate.core.codec import decode, encode
from otgate.core.config import Tag
from otgate.field.link import LinkDown, Reading, WriteRefused, writable_tag


@dataclass(frozen=True)
class FakeWrite:
    tag: str
    value: float
    applied: bool


class FakeLink:
    def __init__(self, tags: Mapping[str, Tag], initial: Mapping[str, float]) -> None:
        self.tags = dict(tags)
        self.values: dict[str, float] = {name: self._initial(name, initial.get(name, 0.0)) for name in tags}
        self.down = False
        self.refuse: set[str] = set()
        self.ignore_writes: set[str] = set()
        self.bad: set[str] = set()
        self.writes: list[FakeWrite] = []
        self.connects = 0
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected and not self.down

    async def connect(self) -> None:
        if self.down:
            self._connected = False
            raise LinkDown("fake PLC is down")
        if not self._connected:
            self.connects += 1
        self._connected = True

    async def close(self) -> None:
        self._connected = False

    async def read(self, tags: Sequence[str]) -> Reading:
        await self._ensure_connected()
        values = {t: self.values[t] for t in tags if t in self.values and t not in self.bad}
        values = {t: v for t, v in values.items() if math.isfinite(v)}
        return Reading(values, frozenset(tags).difference(values))

    async def write(self, tag: str, value: float) -> float:
        config = writable_tag(self.tags, tag)
        if config.modbus is None and config.opcua is None:
            raise WriteRefused(f"{tag}: no address")
        try:
            stored = self._stored(tag, value)
        except ValueError as error:
            raise WriteRefused(f"{tag}: {error}") from None
        await self._ensure_connected()
        refused = tag in self.refuse
        applied = not refused and tag not in self.ignore_writes
        self.writes.append(FakeWrite(tag, float(value), applied))
        if refused:
            raise WriteRefused(f"{tag}: refused by the fake PLC")
        if applied:
            self.values[tag] = stored
        return self.values[tag]

    async def _ensure_connected(self) -> None:
        if self.down:
            self._connected = False
            raise LinkDown("fake PLC is down")
        if not self._connected:
            await self.connect()

    def _stored(self, name: str, value: float) -> float:
        """`value` as the PLC would hold it: through the codec, so rounding matches a real register."""
        tag = self.tags[name]
        registers = encode(
            value, tag.type, scale=tag.scale, offset=tag.offset
        )  # ValueError: not representable
        return decode(registers, tag.type, scale=tag.scale, offset=tag.offset)

    def _initial(self, name: str, value: float) -> float:
        """Initial values may be non-finite (a PLC can hold NaN in a float register: read() reports it bad)."""
        return (
            value if not math.isfinite(value) and self.tags[name].type.is_float else self._stored(name, value)
        )
