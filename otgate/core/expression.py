"""A small, safe expression language for interlocks and permissives in plant configs.

Config strings are never executed. This module tokenises and parses them into a tiny typed tree and
evaluates that tree against a mapping of tag values. Nothing else is reachable: no attribute access, no
calls, no indexing, no names other than tags and `true`/`false`.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | TAG | "true" | "false" | "(" expr ")"

Tag names are identifiers that may contain ``-`` and ``.`` between alphanumeric parts (``PT-201``,
``TIC-101.RSP``), so subtraction needs spaces around the minus sign: ``PT-201 - 50``.

Types are checked at parse time: arithmetic and comparisons take numbers, ``and``/``or``/``not`` take
booleans, and a whole interlock must be boolean. Evaluation is fail-safe: a missing or non-finite tag
value or a division by zero yields ``None``, which callers treat as "interlock active".
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_LENGTH = 500
MAX_DEPTH = 32


class ExpressionError(ValueError):
    """A config expression that does not parse; `position` is the 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at column {position + 1}")
        self.position = position


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Boolean:
    value: bool


@dataclass(frozen=True, slots=True)
class TagRef:
    name: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Number | Boolean | TagRef | Unary | Binary


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, type-checked boolean expression and the tags it reads."""

    text: str
    root: Node
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> bool | None:
        result = _evaluate(self.root, values)
        return result if isinstance(result, bool) else None


_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*)"
    r"|(?P<op><=|>=|==|!=|[<>+\-*/()])"
    r")"
)
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number" | "name" | "op" | "end"
    text: str
    position: int


def _tokenise(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            bad = len(text) - len(text[position:].lstrip())
            raise ExpressionError(f"unexpected character {text[bad]!r}", bad)
        kind = match.lastgroup or "op"
        start = match.start(kind)
        tokens.append(_Token(kind, match.group(kind), start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.current
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        return self.current.kind in ("op", "name") and self.current.text in texts

    def parse(self) -> Node:
        node = self.parse_or()
        if self.current.kind != "end":
            raise ExpressionError(f"unexpected {self.current.text!r}", self.current.position)
        return node

    def parse_or(self) -> Node:
        return self._chain(("or",), self.parse_and, bool)

    def parse_and(self) -> Node:
        return self._chain(("and",), self.parse_not, bool)

    def parse_not(self) -> Node:
        if self.at("not"):
            token = self.take()
            return Unary("not", self._expect(self.parse_not, bool, token))
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_sum()
        if self.current.kind == "op" and self.current.text in _COMPARISONS:
            token = self.take()
            right = self._expect(self.parse_sum, float, token)
            self._require(left, float, token)
            if self.current.kind == "op" and self.current.text in _COMPARISONS:
                raise ExpressionError("chained comparisons are not allowed", self.current.position)
            return Binary(token.text, left, right)
        return left

    def parse_sum(self) -> Node:
        return self._chain(("+", "-"), self.parse_term, float)

    def parse_term(self) -> Node:
        return self._chain(("*", "/"), self.parse_unary, float)

    def parse_unary(self) -> Node:
        if self.at("-"):
            token = self.take()
            return Unary("-", self._expect(self.parse_unary, float, token))
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Number(float(token.text))
        if token.kind == "name":
            return self._name(token)
        if token.text == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError("expression nested too deeply", token.position)
            node = self.parse_or()
            if not self.at(")"):
                raise ExpressionError("missing ')'", self.current.position)
            self.take()
            self.depth -= 1
            return node
        what = "end of expression" if token.kind == "end" else repr(token.text)
        raise ExpressionError(f"unexpected {what}", token.position)

    def _name(self, token: _Token) -> Node:
        if token.text in ("true", "false"):
            return Boolean(token.text == "true")
        if token.text in _KEYWORDS:
            raise ExpressionError(f"unexpected {token.text!r}", token.position)
        if self.at("("):
            raise ExpressionError(f"function calls are not allowed ({token.text!r})", token.position)
        return TagRef(token.text)

    def _chain(self, ops: tuple[str, ...], operand: Callable[[], Node], kind: type) -> Node:
        left = operand()
        while self.at(*ops):
            token = self.take()
            self._require(left, kind, token)
            left = Binary(token.text, left, self._expect(operand, kind, token))
        return left

    def _expect(self, operand: Callable[[], Node], kind: type, token: _Token) -> Node:
        node = operand()
        self._require(node, kind, token)
        return node

    @staticmethod
    def _require(node: Node, kind: type, token: _Token) -> None:
        if _type_of(node) is not kind:
            wanted = "a condition" if kind is bool else "a number"
            raise ExpressionError(f"{token.text!r} needs {wanted} on each side", token.position)


def _type_of(node: Node) -> type:
    if isinstance(node, Boolean):
        return bool
    if isinstance(node, Unary):
        return bool if node.op == "not" else float
    if isinstance(node, Binary):
        return bool if node.op in _COMPARISONS or node.op in ("and", "or") else float
    return float


def _names(node: Node) -> frozenset[str]:
    if isinstance(node, TagRef):
        return frozenset({node.name})
    if isinstance(node, Unary):
        return _names(node.operand)
    if isinstance(node, Binary):
        return _names(node.left) | _names(node.right)
    return frozenset()


def parse_expression(text: str) -> Expression:
    """Parse a boolean interlock expression; raises ExpressionError with the offending column."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
    root = _Parser(text).parse()
    if _type_of(root) is not bool:
        raise ExpressionError("an interlock must be a condition (a comparison, and/or/not)", 0)
    return Expression(text, root, _names(root))


def _evaluate(node: Node, values: Mapping[str, float]) -> float | bool | None:
    if isinstance(node, Number | Boolean):
        return node.value
    if isinstance(node, TagRef):
        value = values.get(node.name)
        return value if value is not None and math.isfinite(value) else None
    if isinstance(node, Unary):
        operand = _evaluate(node.operand, values)
        if operand is None:
            return None
        return (not operand) if node.op == "not" else -operand
    return _evaluate_binary(node, values)


def _evaluate_binary(node: Binary, values: Mapping[str, float]) -> float | bool | None:
    left = _evaluate(node.left, values)
    right = _evaluate(node.right, values)
    if left is None or right is None:
        # Fail-safe: an unknown operand makes the whole condition unknown, even under and/or.
        return None
    if node.op == "and":
        return bool(left) and bool(right)
    if node.op == "or":
        return bool(left) or bool(right)
    if node.op in _COMPARE:
        return _COMPARE[node.op](float(left), float(right))
    if node.op == "/" and right == 0:
        return None
    result = _ARITHMETIC[node.op](float(left), float(right))
    return result if math.isfinite(result) else None
