"""Register codec: engineering values <-> 16-bit Modbus registers.

Layout. A value occupies 1, 2 or 4 consecutive registers. Its raw number is
``raw = (engineering - offset) / scale``; integer types round raw to the nearest integer and refuse values
outside their range. The raw number is packed into bytes in the configured *byte order* inside each
16-bit word and the words are sent in the configured *word order*:

    float32 12.5 = 0x41480000
      byte big,    word big    -> [0x4148, 0x0000]   ("ABCD", Modbus default)
      byte big,    word little -> [0x0000, 0x4148]   ("CDAB", word swap)
      byte little, word big    -> [0x4841, 0x0000]   ("BADC", byte swap)
      byte little, word little -> [0x0000, 0x4841]   ("DCBA")

    int16 -2 -> [0xFFFE];  uint32 0x00010002 (big/big) -> [0x0001, 0x0002]

The codec is pure; callers validate the value first. `encode` raises ValueError for a value the type
cannot hold, which for a validated setpoint means a configuration bug (the config loader refuses limits
that are not representable).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"

    @property
    def register_count(self) -> int:
        return _FORMATS[self][1] // 2

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)


# struct format (big-endian) and size in bytes
_FORMATS: dict[DataType, tuple[str, int]] = {
    DataType.INT16: (">h", 2),
    DataType.UINT16: (">H", 2),
    DataType.INT32: (">i", 4),
    DataType.UINT32: (">I", 4),
    DataType.FLOAT32: (">f", 4),
    DataType.FLOAT64: (">d", 8),
}
_INT_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


def to_raw(value: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0) -> float | int:
    """The raw number for an engineering value; raises ValueError when the type cannot hold it."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not finite")
    raw = (value - offset) / scale
    if data_type.is_float:
        if data_type is DataType.FLOAT32 and abs(raw) > _FLOAT32_MAX:
            raise ValueError(f"{value} overflows float32")
        return raw
    lo, hi = _INT_RANGES[data_type]
    rounded = round(raw)
    if not lo <= rounded <= hi:
        raise ValueError(f"{value} is outside the {data_type} range {lo}..{hi} after scaling")
    return rounded


def is_representable(value: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0) -> bool:
    try:
        to_raw(value, data_type, scale, offset)
    except ValueError:
        return False
    return True


def encode(
    value: float,
    data_type: DataType,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    byte_order: str = "big",
    word_order: str = "big",
) -> tuple[int, ...]:
    fmt, _ = _FORMATS[data_type]
    data = struct.pack(fmt, to_raw(value, data_type, scale, offset))
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if word_order == "little":
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return tuple(int.from_bytes(word, "big") for word in words)


def decode(
    registers: tuple[int, ...] | list[int],
    data_type: DataType,
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    byte_order: str = "big",
    word_order: str = "big",
) -> float:
    fmt, size = _FORMATS[data_type]
    if len(registers) != size // 2:
        raise ValueError(f"{data_type} needs {size // 2} registers, got {len(registers)}")
    words = [int(r).to_bytes(2, "big") for r in registers]
    if byte_order == "little":
        words = [word[::-1] for word in words]
    if word_order == "little":
        words.reverse()
    (raw,) = struct.unpack(fmt, b"".join(words))
    return float(raw) * scale + offset


# numpy's big-endian dtype per type: a block's words, laid out in order, are these bytes.
_BIG_ENDIAN: dict[DataType, str] = {
    DataType.INT16: ">i2",
    DataType.UINT16: ">u2",
    DataType.INT32: ">i4",
    DataType.UINT32: ">u4",
    DataType.FLOAT32: ">f4",
    DataType.FLOAT64: ">f8",
}


@dataclass(frozen=True, eq=False)
class _Group:
    """The values of one type in a block: where each starts, its scale and offset, its place in the answer."""

    data_type: DataType
    words: npt.NDArray[np.intp]  # (values, register_count): the register index of each word
    scale: npt.NDArray[np.float64]
    offset: npt.NDArray[np.float64]
    slots: npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class BlockLayout:
    """How to decode every value of one block read at once (built once per read plan, used every scan).

    Gives exactly what `decode` gives for each value: the same bytes, the same IEEE `raw * scale + offset`
    in float64, only over arrays instead of one value at a time."""

    size: int
    byte_order: str
    word_order: str
    groups: tuple[_Group, ...]


def block_layout(
    fields: Sequence[tuple[int, DataType, float, float]], *, byte_order: str = "big", word_order: str = "big"
) -> BlockLayout:
    """`fields`: per value, (first register within the block, type, scale, offset), in answer order."""
    groups = []
    for data_type in DataType:
        slots = [i for i, field in enumerate(fields) if field[1] is data_type]
        if not slots:
            continue
        starts = np.array([fields[i][0] for i in slots], dtype=np.intp)
        words = starts[:, None] + np.arange(data_type.register_count, dtype=np.intp)
        if word_order == "little":
            words = words[:, ::-1]
        scale = np.array([fields[i][2] for i in slots], dtype=np.float64)
        offset = np.array([fields[i][3] for i in slots], dtype=np.float64)
        groups.append(_Group(data_type, np.ascontiguousarray(words), scale, offset, np.array(slots)))
    return BlockLayout(len(fields), byte_order, word_order, tuple(groups))


def decode_block(layout: BlockLayout, registers: Sequence[int]) -> list[float]:
    """Every value of `layout` from one block's registers, in the layout's order."""
    words = np.asarray(registers, dtype=np.uint16)
    if layout.byte_order == "little":
        words = words.byteswap()
    values = np.empty(layout.size, dtype=np.float64)
    for group in layout.groups:
        raw = np.frombuffer(words[group.words].astype(">u2").tobytes(), dtype=_BIG_ENDIAN[group.data_type])
        values[group.slots] = raw.astype(np.float64) * group.scale + group.offset
    result: list[float] = values.tolist()
    return result


def quantize(value: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0) -> float:
    """The engineering value the PLC will actually hold after `value` is encoded (what to validate).

    Integer types round the raw number; float32 rounds to single precision. Raises ValueError like
    `to_raw` for a value the type cannot hold."""
    raw = to_raw(value, data_type, scale, offset)
    if data_type is DataType.FLOAT32:
        raw = struct.unpack(">f", struct.pack(">f", raw))[0]
    return float(raw) * scale + offset


def resolution(data_type: DataType, scale: float = 1.0) -> float:
    """The smallest non-zero change an integer tag can express (0 for floats: effectively continuous)."""
    return 0.0 if data_type.is_float else abs(scale)


def readback_tolerance(value: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0) -> float:
    """How far a correct read-back of `value` may differ from it after one encode/decode round trip.

    The rounding happens on the raw number `(value - offset) / scale`, so the tolerance is the raw
    number's rounding step scaled back, plus float64 noise from applying scale and offset again."""
    raw = abs((value - offset) / scale)
    noise = (abs(value) + abs(offset)) * 2.0**-50
    if data_type is DataType.FLOAT64:
        return raw * abs(scale) * 2.0**-52 + noise
    if data_type is DataType.FLOAT32:
        return raw * abs(scale) * 2.0**-23 + noise
    return abs(scale) / 2 + noise


def is_confirmed(
    value: float, readback: float, data_type: DataType, scale: float = 1.0, offset: float = 0.0
) -> bool:
    """A write is confirmed only by a finite read-back within the round-trip tolerance (NaN confirms nothing)."""
    if not (math.isfinite(readback) and math.isfinite(value)):
        return False
    return abs(readback - value) <= readback_tolerance(value, data_type, scale, offset) + 1e-9
