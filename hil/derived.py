"""Trace functions in conditions: the previous row, rates, edges and how long a value has stood still.

    prev(x)      x on the previous row (unknown on the first)
    rate(x)      (x - prev(x)) / (t - prev(t)), per second
    rising(x)    1 when x went up since the previous row, else 0 (`rising(x) == 1`)
    falling(x)   1 when x went down since the previous row, else 0
    age(x)       seconds since x last changed (bit-exact), 0 on the row where it changes

otgate's expression language has no function calls, and scenario text is never executed, so a function is
rewritten into a derived variable before parsing: `rate(plc.PT-201)` becomes the name `rate.plc.PT-201`,
and its value is computed from the trace rows when the run is judged (or, for a `when` trigger, as the run
goes). Derived values are not part of the trace or its hash: they are a pure function of it.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Sequence

FUNCTIONS = ("prev", "rate", "rising", "falling", "age")
_CALL = re.compile(
    r"\b(" + "|".join(FUNCTIONS) + r")\(\s*([A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*)\s*\)"
)
Row = dict[str, float]


def rewrite(text: str) -> str:
    """`rate(plc.X)` -> `rate.plc.X`, for every trace function in `text`."""
    return _CALL.sub(lambda m: f"{m.group(1)}.{m.group(2)}", text)


def split(name: str) -> tuple[str | None, str]:
    """(function, variable) of a derived name; (None, name) for a plain trace variable."""
    head, _, rest = name.partition(".")
    return (head, rest) if head in FUNCTIONS and rest else (None, name)


def derived_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n for n in names if split(n)[0] is not None)


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _value(function: str, row: Row, before: Row | None, name: str, since: float) -> float:
    x = row.get(name, math.nan)
    if function == "age":
        return row["t"] - since
    if before is None:
        return math.nan
    p = before.get(name, math.nan)
    if function == "prev":
        return p
    if not (math.isfinite(x) and math.isfinite(p)):
        return math.nan
    if function == "rate":
        dt = row["t"] - before["t"]
        return (x - p) / dt if dt > 0 else math.nan
    if function == "rising":
        return 1.0 if x > p else 0.0
    return 1.0 if x < p else 0.0  # falling


def with_derived(rows: Sequence[Row], names: Iterable[str]) -> list[Row]:
    """Copies of `rows` with each derived variable of `names` added."""
    wanted = sorted(derived_names(names))
    if not wanted:
        return list(rows)
    out = [dict(r) for r in rows]
    for derived in wanted:
        function, name = split(derived)
        assert function is not None
        since = rows[0]["t"] if rows else 0.0
        for i, row in enumerate(rows):
            before = rows[i - 1] if i else None
            if before is not None and _bits(row.get(name, math.nan)) != _bits(before.get(name, math.nan)):
                since = row["t"]
            out[i][derived] = _value(function, row, before, name, since)
    return out


def with_derived_last(rows: Sequence[Row], names: Iterable[str]) -> Row:
    """The last row with the derived variables added (for a trigger evaluated while the run goes)."""
    out = dict(rows[-1])
    for derived in derived_names(names):
        function, name = split(derived)
        assert function is not None
        since_index = len(rows) - 1
        last = _bits(rows[-1].get(name, math.nan))
        while since_index > 0 and _bits(rows[since_index - 1].get(name, math.nan)) == last:
            since_index -= 1
        since = rows[since_index]["t"]
        before = rows[-2] if len(rows) > 1 else None
        out[derived] = _value(function, rows[-1], before, name, since)
    return out
