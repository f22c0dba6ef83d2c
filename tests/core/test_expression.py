"""The interlock expression language: what parses, what evaluates, and everything it refuses."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.expression import ExpressionError, parse_expression


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("PT-201 >= 2900", {"PT-201": 2900.0}, True),
        ("PT-201 >= 2900", {"PT-201": 2899.9}, False),
        ("TT-101 > 338 or TT-101B > 338", {"TT-101": 300.0, "TT-101B": 339.0}, True),
        ("not (LIT-101 < 250) and LIT-101 <= 1200", {"LIT-101": 600.0}, True),
        ("PT-201 - 50 * 2 > 2800", {"PT-201": 2901.0}, True),
        ("-LIT-101 < -100", {"LIT-101": 200.0}, True),
        ("a / b == 2", {"a": 4.0, "b": 2.0}, True),
        ("true and not false", {}, True),
        ("1.5e3 != TIC-101.SP", {"TIC-101.SP": 1500.0}, False),
    ],
)
def test_expression_evaluates(text: str, values: dict[str, float], expected: bool):
    assert parse_expression(text).evaluate(values) is expected


def test_expression_names_lists_every_tag():
    assert parse_expression("TT-101 > 338 or (TT-101B > 338 and TIC-101.SP < 1)").names == {
        "TT-101",
        "TT-101B",
        "TIC-101.SP",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os').system('id')", "unexpected character"),
        ("max(PT-201) > 1", "function calls are not allowed"),
        ("x[0] > 1", "unexpected character '['"),
        ("PT-201 > 1; PT-201 < 3", "unexpected character ';'"),
        ("lambda: 1", "unexpected character ':'"),
        ("PT-201 + 1", "must be a condition"),
        ("PT-201 > 1 + (2 > 1)", "needs a number"),
        ("PT-201 and true", "needs a condition"),
        ("1 < PT-201 < 3", "chained comparisons"),
        ("(PT-201 > 1", "missing ')'"),
        ("", "unexpected end of expression"),
        ("PT-201 >", "unexpected end of expression"),
        ("x" * 501, "longer than 500"),
        ("(" * 40 + "a > 1" + ")" * 40, "nested too deeply"),
    ],
)
@pytest.mark.requirement("R-52")
def test_expression_refuses(text: str, message: str):
    with pytest.raises(ExpressionError, match=re.escape(message)):
        parse_expression(text)


@pytest.mark.parametrize(
    "values",
    [{}, {"PT-201": float("nan")}, {"PT-201": float("inf")}],
)
def test_expression_missing_or_non_finite_value_unknown(values: dict[str, float]):
    assert parse_expression("PT-201 >= 2900 or true").evaluate(values) is None


def test_expression_division_by_zero_unknown():
    assert parse_expression("a / b > 1").evaluate({"a": 1.0, "b": 0.0}) is None


@given(st.text(max_size=60))
def test_expression_arbitrary_text_parses_or_raises_expression_error(text: str):
    with contextlib.suppress(ExpressionError):
        parse_expression(text)


@pytest.mark.requirement("R-52")
def test_expression_dotted_name_is_a_tag_name_never_attribute_access():
    expression = parse_expression("PT-201.__class__ > 1")
    assert expression.names == {"PT-201.__class__"}
    assert expression.evaluate({"PT-201": 5.0}) is None
