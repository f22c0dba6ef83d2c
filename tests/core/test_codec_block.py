"""Whole-block decoding gives, value for value, what decoding one value at a time gives."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.codec import DataType, block_layout, decode, decode_block

ORDERS = [(b, w) for b in ("big", "little") for w in ("big", "little")]


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[tuple[int, DataType, float, float]], list[int]]:
    types = draw(st.lists(st.sampled_from(list(DataType)), min_size=1, max_size=12))
    fields, start = [], 0
    for data_type in types:
        start += draw(st.integers(0, 2))  # gaps between values, as in a real map
        scale = draw(st.sampled_from([1.0, 0.1, 2.5, -0.01]))
        fields.append((start, data_type, scale, draw(st.sampled_from([0.0, -40.0, 273.15]))))
        start += data_type.register_count
    registers = draw(st.lists(st.integers(0, 0xFFFF), min_size=start, max_size=start))
    return draw(st.permutations(fields)), registers


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@given(block=blocks())
def test_decode_block_any_block_equals_decode_per_value(
    byte_order: str, word_order: str, block: tuple[list[tuple[int, DataType, float, float]], list[int]]
):
    fields, registers = block
    layout = block_layout(fields, byte_order=byte_order, word_order=word_order)
    got = decode_block(layout, registers)
    for (start, data_type, scale, offset), value in zip(fields, got, strict=True):
        words = registers[start : start + data_type.register_count]
        one = decode(
            words, data_type, scale=scale, offset=offset, byte_order=byte_order, word_order=word_order
        )
        assert value == one or (math.isnan(value) and math.isnan(one))


def test_decode_block_known_answer_float32_word_swap():
    layout = block_layout(
        [(0, DataType.FLOAT32, 1.0, 0.0), (2, DataType.INT16, 0.5, 1.0)], word_order="little"
    )
    assert decode_block(layout, [0x0000, 0x4148, 0xFFFE]) == [12.5, 0.0]
