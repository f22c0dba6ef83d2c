"""Durations with units, as scenario files write them: ``90 s``, ``5 min``, ``1 h``, ``3 scan``, ``2 plc_scan``.

A duration may be a sum or difference of terms (``10 s + 1 plc_scan``, ``-2 min``). Units are explicit on
every term: a bare number is refused, because "300" in a scenario file could mean seconds, scans or
milliseconds and the wrong guess silently weakens an assertion.

``scan`` is one gateway cycle (one lock-step tick, 1 s) and ``plc_scan`` one PLC scan (0.5 s), the values
the simulator runs with.
"""

from __future__ import annotations

import re

SCAN_S = 1.0
PLC_SCAN_S = 0.5
UNITS_S = {
    "ms": 0.001,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "scan": SCAN_S,
    "scans": SCAN_S,
    "plc_scan": PLC_SCAN_S,
    "plc_scans": PLC_SCAN_S,
}
_TERM = re.compile(r"\s*([+-]?)\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-z_]+)\s*")


def parse_duration(text: str | int | float) -> float:
    """Seconds from a duration with units; raises ValueError naming the problem."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"a duration needs a unit ({', '.join(sorted(UNITS_S))}), got {text!r}")
    position, total, terms = 0, 0.0, 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read a duration at {text[position:]!r} in {text!r}")
        sign, number, unit = match.groups()
        if unit not in UNITS_S:
            raise ValueError(f"unknown duration unit {unit!r} in {text!r}; use one of {sorted(UNITS_S)}")
        if terms and not sign:
            raise ValueError(f"join duration terms with + or - in {text!r}")
        value = float(number) * UNITS_S[unit]
        total += -value if sign == "-" else value
        position, terms = match.end(), terms + 1
    if terms == 0:
        raise ValueError("empty duration")
    return total


def is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


def format_seconds(seconds: float) -> str:
    if abs(seconds) >= 120 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
