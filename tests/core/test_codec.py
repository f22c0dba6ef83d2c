"""Register codec: known answers for every order, round trips, and refusal of what a type cannot hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.codec import DataType, decode, encode, is_representable, readback_tolerance


@pytest.mark.parametrize(
    ("byte_order", "word_order", "registers"),
    [
        ("big", "big", (0x4148, 0x0000)),
        ("big", "little", (0x0000, 0x4148)),
        ("little", "big", (0x4841, 0x0000)),
        ("little", "little", (0x0000, 0x4841)),
    ],
)
@pytest.mark.requirement("R-11")
def test_encode_float32_12_5_known_answer(byte_order: str, word_order: str, registers: tuple[int, int]):
    assert encode(12.5, DataType.FLOAT32, byte_order=byte_order, word_order=word_order) == registers
    assert decode(registers, DataType.FLOAT32, byte_order=byte_order, word_order=word_order) == 12.5


@pytest.mark.parametrize(
    ("value", "data_type", "registers"),
    [
        (-2, DataType.INT16, (0xFFFE,)),
        (65535, DataType.UINT16, (0xFFFF,)),
        (0x00010002, DataType.UINT32, (0x0001, 0x0002)),
        (-1, DataType.INT32, (0xFFFF, 0xFFFF)),
        (1.0, DataType.FLOAT64, (0x3FF0, 0x0000, 0x0000, 0x0000)),
    ],
)
def test_encode_integer_and_double_known_answers(
    value: float, data_type: DataType, registers: tuple[int, ...]
):
    assert encode(value, data_type) == registers
    assert decode(registers, data_type) == value


def test_encode_scaled_int16_rounds_to_resolution():
    assert encode(325.04, DataType.INT16, scale=0.1) == (3250,)
    assert decode((3250,), DataType.INT16, scale=0.1) == pytest.approx(325.0)


def test_encode_offset_applied_before_scale():
    assert encode(20.0, DataType.UINT16, scale=0.5, offset=-10.0) == (60,)


@pytest.mark.parametrize(
    ("value", "data_type"),
    [(40000, DataType.INT16), (-1, DataType.UINT16), (2**32, DataType.UINT32), (1e39, DataType.FLOAT32)],
)
def test_encode_value_type_cannot_hold_refused(value: float, data_type: DataType):
    assert not is_representable(value, data_type)
    with pytest.raises(ValueError):
        encode(value, data_type)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_encode_non_finite_refused(value: float):
    with pytest.raises(ValueError, match="not finite"):
        encode(value, DataType.FLOAT32)


def test_decode_wrong_register_count_refused():
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode((1,), DataType.FLOAT32)


@given(
    value=st.floats(allow_nan=False, allow_infinity=False, width=32),
    byte_order=st.sampled_from(["big", "little"]),
    word_order=st.sampled_from(["big", "little"]),
)
@pytest.mark.requirement("R-11")
def test_codec_float32_round_trip_exact(value: float, byte_order: str, word_order: str):
    registers = encode(value, DataType.FLOAT32, byte_order=byte_order, word_order=word_order)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(registers, DataType.FLOAT32, byte_order=byte_order, word_order=word_order) == value


@given(value=st.floats(min_value=-3000.0, max_value=3000.0), data_type=st.sampled_from(list(DataType)))
@pytest.mark.requirement("R-11")
def test_codec_round_trip_within_readback_tolerance(value: float, data_type: DataType):
    scale = 0.1
    if not is_representable(value, data_type, scale):
        return
    back = decode(encode(value, data_type, scale=scale), data_type, scale=scale)
    assert abs(back - value) <= readback_tolerance(value, data_type, scale) + 1e-9
