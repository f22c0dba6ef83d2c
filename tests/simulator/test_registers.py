"""Known answers for the simulator's own register encoding (independent of otgate.core.codec)."""

from __future__ import annotations

import math

import pytest

from otgate_simulator.registers import RegisterFormat, register_count


@pytest.mark.parametrize(
    ("byte_order", "word_order", "registers"),
    [
        ("big", "big", [0x4148, 0x0000]),
        ("big", "little", [0x0000, 0x4148]),
        ("little", "big", [0x4841, 0x0000]),
        ("little", "little", [0x0000, 0x4841]),
    ],
)
def test_encode_float32_12_5_all_orders_known_answer(
    byte_order: str, word_order: str, registers: list[int]
) -> None:
    fmt = RegisterFormat("float32", byte_order, word_order)  # type: ignore[arg-type]
    assert fmt.encode(12.5) == registers
    assert fmt.decode(registers) == 12.5


@pytest.mark.parametrize(
    ("type_name", "value", "registers"),
    [
        ("float64", 1.0, [0x3FF0, 0, 0, 0]),
        ("int16", -2, [0xFFFE]),
        ("uint16", 513, [0x0201]),
        ("int32", -2, [0xFFFF, 0xFFFE]),
        ("uint32", 0x00010002, [0x0001, 0x0002]),
    ],
)
def test_encode_big_big_known_answers(type_name: str, value: float, registers: list[int]) -> None:
    fmt = RegisterFormat(type_name)
    assert fmt.encode(value) == registers
    assert fmt.decode(registers) == value


def test_encode_uint32_word_little_swaps_words() -> None:
    assert RegisterFormat("uint32", word_order="little").encode(0x00010002) == [0x0002, 0x0001]


def test_encode_uint16_byte_little_swaps_bytes() -> None:
    assert RegisterFormat("uint16", byte_order="little").encode(513) == [0x0102]


def test_register_count_per_type() -> None:
    types = ("int16", "uint16", "int32", "uint32", "float32", "float64")
    assert [register_count(t) for t in types] == [1, 1, 2, 2, 2, 4]


def test_encode_applies_scale_and_offset() -> None:
    fmt = RegisterFormat("int16", scale=0.1, offset=-50.0)
    assert fmt.encode(-49.0) == [10]
    assert fmt.decode([10]) == pytest.approx(-49.0)


@pytest.mark.parametrize(("type_name", "value"), [("uint16", -1), ("int16", 40000), ("uint16", math.nan)])
def test_encode_out_of_range_integer_raises(type_name: str, value: float) -> None:
    with pytest.raises(ValueError):
        RegisterFormat(type_name).encode(value)


def test_encode_float32_overflow_raises() -> None:
    with pytest.raises(ValueError):
        RegisterFormat("float32").encode(1e39)


def test_decode_wrong_register_count_raises() -> None:
    with pytest.raises(ValueError):
        RegisterFormat("float32").decode([0x4148])


def test_unknown_type_raises() -> None:
    with pytest.raises(ValueError):
        RegisterFormat("float16")


_CROSS_VALUES: dict[str, list[float]] = {
    "int16": [-32768, -2, 0, 1, 32767],
    "uint16": [0, 1, 513, 65535],
    "int32": [-(2**31), -2, 0, 2**31 - 1],
    "uint32": [0, 0x00010002, 2**32 - 1],
    "float32": [-1.5, 0.0, 12.5, 650.0, 3.0e38],
    "float64": [-1.0e300, 0.1, 12.5, 1.0e-300],
}


@pytest.mark.parametrize("byte_order", ["big", "little"])
@pytest.mark.parametrize("word_order", ["big", "little"])
@pytest.mark.parametrize("type_name", sorted(_CROSS_VALUES))
def test_encode_matches_gateway_codec_both_ways(type_name: str, byte_order: str, word_order: str) -> None:
    # The two sides are written independently on purpose; this is where a bug in either one shows.
    from otgate.core import codec

    fmt = RegisterFormat(type_name, byte_order, word_order)  # type: ignore[arg-type]
    data_type = codec.DataType(type_name)
    for value in _CROSS_VALUES[type_name]:
        registers = fmt.encode(value)
        encoded = codec.encode(value, data_type, byte_order=byte_order, word_order=word_order)
        assert list(encoded) == registers
        decoded = codec.decode(registers, data_type, byte_order=byte_order, word_order=word_order)
        assert decoded == fmt.decode(registers)


@pytest.mark.parametrize(
    ("type_name", "value", "registers"),
    [
        ("uint16", -5.0, [0x0000]),
        ("uint16", 70000.0, [0xFFFF]),
        ("int16", math.nan, [0x0000]),
        ("int16", -math.inf, [0x8000]),
        ("float32", 1e39, [0x7F80, 0x0000]),
        ("float32", -1e39, [0xFF80, 0x0000]),
    ],
)
def test_encode_saturated_clamps_like_a_plc(type_name: str, value: float, registers: list[int]) -> None:
    assert RegisterFormat(type_name).encode(value, saturate=True) == registers
