"""The simulated PLC's own register encoding: engineering values <-> 16-bit Modbus registers.

This module deliberately shares no code with the gateway's codec (`otgate.core.codec`): the simulator
plays the PLC, so a codec bug on either side shows up as a mismatch between the two instead of cancelling
out. It follows the same contract as the plant configuration describes it.

Layout. A tag occupies 1, 2 or 4 consecutive registers starting at its configured (0-based, protocol)
address. Its raw number is ``raw = (engineering - offset) / scale``; integer types round it to the nearest
integer. The raw number is written big-endian, cut into 16-bit words, then the *byte order* is applied
inside each word and the *word order* to the sequence of words:

    float32 12.5 = IEEE-754 0x41480000 = bytes A B C D = 41 48 00 00

        register:           n        n+1
      byte big,    word big    -> [0x4148, 0x0000]   "ABCD" (Modbus default, what every config here uses)
      byte big,    word little -> [0x0000, 0x4148]   "CDAB" (word swap)
      byte little, word big    -> [0x4841, 0x0000]   "BADC" (byte swap)
      byte little, word little -> [0x0000, 0x4841]   "DCBA"

    float64 1.0 (big/big)    -> [0x3FF0, 0x0000, 0x0000, 0x0000]
    int16  -2                -> [0xFFFE]
    uint16 513               -> [0x0201]            (byte little: [0x0102]; word order is moot)
    int32  -2 (big/big)      -> [0xFFFF, 0xFFFE]
    uint32 0x00010002        -> [0x0001, 0x0002]    (word little: [0x0002, 0x0001])

Integers outside their type's range are refused (ValueError), as is a non-finite value for an integer
type, and a float32 beyond ±3.4e38. The servers publish with `saturate=True` instead: a PLC's own type
conversion clamps rather than stopping its scan (integers to their range, NaN to 0, float32 to ±inf).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Order = Literal["big", "little"]

# type name -> (struct code, is integer, lo, hi); sizes come from struct itself
_TYPES: dict[str, tuple[str, bool, int, int]] = {
    "int16": ("h", True, -(2**15), 2**15 - 1),
    "uint16": ("H", True, 0, 2**16 - 1),
    "int32": ("i", True, -(2**31), 2**31 - 1),
    "uint32": ("I", True, 0, 2**32 - 1),
    "float32": ("f", False, 0, 0),
    "float64": ("d", False, 0, 0),
}
TYPE_NAMES = frozenset(_TYPES)
_FLOAT32_MAX = 3.4028234663852886e38


def register_count(type_name: str) -> int:
    """How many 16-bit registers a value of `type_name` occupies."""
    return struct.calcsize(">" + _code(type_name)) // 2


def _code(type_name: str) -> str:
    try:
        return _TYPES[type_name][0]
    except KeyError:
        raise ValueError(f"unknown register type {type_name!r}") from None


def _arrange(words: list[int], byte_order: Order, word_order: Order) -> list[int]:
    """Apply byte and word order to big-endian words; the operation is its own inverse."""
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if word_order == "little":
        words = words[::-1]
    return words


@dataclass(frozen=True, slots=True)
class RegisterFormat:
    """How one tag's engineering value is laid out in registers."""

    type_name: str
    byte_order: Order = "big"
    word_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        _code(self.type_name)
        if self.scale == 0 or not math.isfinite(self.scale) or not math.isfinite(self.offset):
            raise ValueError("scale must be finite and non-zero, offset finite")

    @property
    def count(self) -> int:
        return register_count(self.type_name)

    @property
    def is_integer(self) -> bool:
        return _TYPES[self.type_name][1]

    def to_raw(self, value: float, *, saturate: bool = False) -> float | int:
        """The number held by the PLC for an engineering value (what OPC UA nodes carry too).

        With `saturate`, a value the type cannot hold is clamped instead of refused, as a PLC's own
        conversion does when it publishes: integers to their range (NaN to 0), float32 to ±inf.
        """
        _, is_int, lo, hi = _TYPES[self.type_name]
        raw = (value - self.offset) / self.scale
        if not is_int:
            if saturate and self.type_name == "float32" and math.isfinite(raw) and abs(raw) > _FLOAT32_MAX:
                return math.copysign(math.inf, raw)
            return raw
        if not math.isfinite(raw):
            if not saturate:
                raise ValueError(f"{value} is not finite; {self.type_name} cannot hold it")
            return 0 if math.isnan(raw) else (hi if raw > 0 else lo)
        rounded = round(raw)
        if not lo <= rounded <= hi:
            if not saturate:
                raise ValueError(f"{value} is outside the {self.type_name} range {lo}..{hi}")
            rounded = min(max(rounded, lo), hi)
        return rounded

    def from_raw(self, raw: float) -> float:
        return float(raw) * self.scale + self.offset

    def encode(self, value: float, *, saturate: bool = False) -> list[int]:
        """Engineering value -> registers (in wire order); `saturate` as in `to_raw`."""
        raw = self.to_raw(value, saturate=saturate)
        try:
            data = struct.pack(">" + _code(self.type_name), raw)
        except (struct.error, OverflowError) as error:
            raise ValueError(f"{value} does not fit {self.type_name}: {error}") from None
        words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        return _arrange(words, self.byte_order, self.word_order)

    def decode(self, registers: Sequence[int]) -> float:
        """Registers (in wire order) -> engineering value."""
        if len(registers) != self.count:
            raise ValueError(f"{self.type_name} needs {self.count} registers, got {len(registers)}")
        if any(not 0 <= r <= 0xFFFF for r in registers):
            raise ValueError(f"register values must be 0..0xFFFF: {list(registers)}")
        words = _arrange(list(registers), self.byte_order, self.word_order)
        data = b"".join(w.to_bytes(2, "big") for w in words)
        (raw,) = struct.unpack(">" + _code(self.type_name), data)
        return self.from_raw(raw)
