"""A small interpreter for the Structured Text subset of plc/*.st, over blark's parse tree (test support).

It runs the companion logic itself against plc/test_vectors.yaml, so the vectors check the ST, not only
the simulator's Python PLC. Supported: FUNCTION_BLOCK and PROGRAM with VAR / VAR_INPUT / VAR_OUTPUT /
VAR_IN_OUT (in-out passed by copy-in/copy-out, which equals by-reference for these blocks), BOOL, INT,
UINT and REAL, IF/ELSIF/ELSE, assignment, function-block calls with named parameters, instance fields
(`fb.bOut`), the operators of IEC 61131-3 table 71 used here, and the functions ABS, LIMIT, MIN, MAX.
Anything else raises, so a construct the interpreter does not know cannot pass silently. REAL is a
Python float (64 bit): exact for the vectors' values, which are multiples of 0.5.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from blark import transform as tf
from blark.parse import parse_source_code

DEFAULTS: dict[str, Callable[[Any], Any]] = {"BOOL": bool, "INT": int, "UINT": int, "REAL": float}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "AND": lambda a, b: bool(a) and bool(b),
    "OR": lambda a, b: bool(a) or bool(b),
    "XOR": lambda a, b: bool(a) != bool(b),
}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ABS": abs,
    "LIMIT": lambda mn, value, mx: mn if value < mn else mx if value > mx else value,
    "MIN": min,
    "MAX": max,
}
KINDS = {
    tf.InputDeclarations: "input",
    tf.OutputDeclarations: "output",
    tf.InputOutputDeclarations: "inout",
    tf.VariableDeclarations: "var",
}


def load_units(paths: list[Path]) -> dict[str, Any]:
    """Every FUNCTION_BLOCK and PROGRAM of `paths`, by name."""
    units = {}
    for path in paths:
        result = parse_source_code(path.read_text(), fn=str(path))
        if result.exception is not None:
            raise result.exception
        for item in result.transform().items:
            units[str(item.name)] = item
    return units


class Instance:
    """One instance of a function block or program: its variables, initialised as declared."""

    def __init__(self, unit: Any, units: Mapping[str, Any]) -> None:
        self.unit, self.units = unit, units
        self.vars: dict[str, Any] = {}
        self.types: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        for block in unit.declarations:
            kind = KINDS.get(type(block))
            if kind is None:
                raise NotImplementedError(f"{type(block).__name__} in {unit.name}")
            for item in block.items:
                type_name = str(item.init.spec.type)
                for declared in item.variables:
                    name = str(declared.variable.name)
                    self.kinds[name], self.types[name] = kind, type_name
                    if type_name in units:
                        self.vars[name] = Instance(units[type_name], units)
                    elif item.init.value is not None:
                        self.vars[name] = DEFAULTS[type_name](self.evaluate(item.init.value))
                    else:
                        self.vars[name] = DEFAULTS[type_name](0)

    def set(self, name: str, value: Any) -> None:
        self.vars[name] = DEFAULTS[self.types[name]](value) if self.types[name] != "REAL" else float(value)

    def run(self) -> None:
        self.execute(self.unit.body)

    # ------------------------------------------------------------------------------------- statements

    def execute(self, node: Any) -> None:
        if node is None:
            return
        if isinstance(node, tf.StatementList):
            for statement in node.statements:
                self.execute(statement)
        elif isinstance(node, list):
            for statement in node:
                self.execute(statement)
        elif isinstance(node, tf.AssignmentStatement):
            value = self.evaluate(node.expression)
            for target in node.variables:
                self.assign(target, value)
        elif isinstance(node, tf.IfStatement):
            self.execute_if(node)
        elif isinstance(node, tf.FunctionCallStatement):
            self.call(node)
        else:
            raise NotImplementedError(type(node).__name__)

    def execute_if(self, node: tf.IfStatement) -> None:
        if self.evaluate(node.if_expression):
            self.execute(node.statements)
            return
        for clause in node.else_ifs:
            if self.evaluate(clause.if_expression):
                self.execute(clause.statements)
                return
        if node.else_clause is not None:
            self.execute(node.else_clause.statements)

    def call(self, node: tf.FunctionCallStatement) -> None:
        instance = self.vars[str(node.name.name)]
        copy_back = []
        for parameter in node.parameters:
            name = str(parameter.name.name)
            instance.set(name, self.evaluate(parameter.value))
            if instance.kinds[name] == "inout":
                copy_back.append((name, parameter.value))
        instance.run()
        for name, target in copy_back:
            self.assign(target, instance.vars[name])

    def assign(self, target: Any, value: Any) -> None:
        if isinstance(target, tf.SimpleVariable):
            self.set(str(target.name), value)
        else:
            raise NotImplementedError(f"assignment to {type(target).__name__}")

    # ------------------------------------------------------------------------------------ expressions

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, tf.Integer):
            return int(str(node.value))
        if isinstance(node, tf.Real):
            return float(str(node.value))
        if isinstance(node, tf.Boolean):
            return str(node.value).upper() in ("TRUE", "1")
        if isinstance(node, tf.SimpleVariable):
            name = str(node.name)
            if name in ("TRUE", "FALSE"):
                return name == "TRUE"
            return self.vars[name]
        if isinstance(node, tf.MultiElementVariable):
            value = self.vars[str(node.name.name)]
            for element in node.elements:
                value = value.vars[str(element.field.name)]
            return value
        if isinstance(node, tf.ParenthesizedExpression):
            return self.evaluate(node.expr)
        if isinstance(node, tf.UnaryOperation):
            op = str(node.op).upper()
            value = self.evaluate(node.expr)
            return (not value) if op == "NOT" else -value
        if isinstance(node, tf.BinaryOperation):
            return BINARY[str(node.op).upper()](self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(node, tf.FunctionCall):
            arguments = [self.evaluate(p.value) for p in node.parameters]
            return FUNCTIONS[str(node.name.name).upper()](*arguments)
        raise NotImplementedError(type(node).__name__)
