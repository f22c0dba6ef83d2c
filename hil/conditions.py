"""Conditions in scenario files: otgate's safe expression language plus a robustness margin.

Scenario text is never executed. A condition is parsed by `otgate.core.expression.parse_expression` (the
parser interlocks use: numbers, trace variable names, comparisons, arithmetic, and/or/not) and evaluated
over one row of the trace. Beside true/false this module computes the signal-temporal-logic robustness of
the same tree (RTAMT's quantitative semantics), which is what every assertion reports as its margin:

    a <= b, a < b    b - a                 and    min of the operands
    a >= b, a > b    a - b                 or     max of the operands
    a == b           -|a - b|              not    minus the operand
    a != b           |a - b|

A positive margin is how far the row was from violating the condition, a negative one how far past it.
A variable that is missing or not finite makes the condition unknown, and unknown never counts as holding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from otgate.core.expression import (
    Binary,
    Boolean,
    Expression,
    Node,
    Number,
    TagRef,
    Unary,
    parse_expression,
)
from otgate_hil.derived import rewrite, split

# Names every condition may use besides the trace's columns.
CONSTANTS: dict[str, float] = {
    "MAN": 0.0,
    "AUTO": 1.0,
    "REMOTE": 2.0,
    "FALLBACK": 0.0,
    "AI": 1.0,
    "MANUAL": 2.0,
}
# Trace columns that carry the gateway's own claims: plotted, never asserted on.
CLAIM_PREFIX = "gw."


@dataclass(frozen=True)
class Condition:
    expression: Expression

    @property
    def text(self) -> str:
        return self.expression.text

    def holds(self, row: Mapping[str, float]) -> bool:
        return self.expression.evaluate(_Scope(row)) is True

    def fails(self, row: Mapping[str, float]) -> bool:
        """The negation for `never`: unknown counts as failing too."""
        return self.expression.evaluate(_Scope(row)) is not False

    def margin(self, row: Mapping[str, float]) -> float:
        value = _robustness(self.expression.root, _Scope(row))
        return -math.inf if value is None else value

    def names(self) -> frozenset[str]:
        return self.expression.names - CONSTANTS.keys()


def parse_condition(text: str, known: frozenset[str] | None = None) -> Condition:
    """Parse and check names; raises ValueError for syntax, unknown names or gateway claims.

    Trace functions (`rate(x)`, `age(x)`, ... see `hil.derived`) are rewritten to derived names first; a
    derived name is known when the variable it is computed from is."""
    condition = Condition(parse_expression(rewrite(text)))
    for name in condition.names():
        base = split(name)[1]
        if base.startswith(CLAIM_PREFIX):
            raise ValueError(f"{base!r} is the gateway's own claim; assertions read simulator-side truth")
        if known is not None and base not in known:
            raise ValueError(f"unknown variable {base!r} in {text!r}")
    return condition


class _Scope(Mapping[str, float]):
    def __init__(self, row: Mapping[str, float]) -> None:
        self._row = row

    def __getitem__(self, key: str) -> float:
        if key in CONSTANTS:
            return CONSTANTS[key]
        return self._row[key]

    def get(self, key: str, default: object = None) -> float | None:  # type: ignore[override]
        if key in CONSTANTS:
            return CONSTANTS[key]
        return self._row.get(key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


def _number(node: Node, scope: _Scope) -> float | None:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, TagRef):
        value = scope.get(node.name)
        return value if value is not None and math.isfinite(value) else None
    if isinstance(node, Unary) and node.op == "-":
        operand = _number(node.operand, scope)
        return None if operand is None else -operand
    if isinstance(node, Binary) and node.op in "+-*/":
        left, right = _number(node.left, scope), _number(node.right, scope)
        if left is None or right is None or (node.op == "/" and right == 0):
            return None
        result = {"+": left + right, "-": left - right, "*": left * right}.get(node.op)
        return left / right if result is None else result
    return None


def _robustness(node: Node, scope: _Scope) -> float | None:
    if isinstance(node, Boolean):
        return math.inf if node.value else -math.inf
    if isinstance(node, Unary):  # "not"
        inner = _robustness(node.operand, scope)
        return None if inner is None else -inner
    if not isinstance(node, Binary):
        return None
    if node.op in ("and", "or"):
        left, right = _robustness(node.left, scope), _robustness(node.right, scope)
        if left is None or right is None:
            return None
        return min(left, right) if node.op == "and" else max(left, right)
    a, b = _number(node.left, scope), _number(node.right, scope)
    if a is None or b is None:
        return None
    return {
        "<": b - a,
        "<=": b - a,
        ">": a - b,
        ">=": a - b,
        "==": -abs(a - b),
        "!=": abs(a - b),
    }.get(node.op)
