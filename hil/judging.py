"""What judging an assertion yields (`Outcome`), and the pieces every judge shares: resolving events and
windows to times, the rows of a window, parsing a condition against the run's columns, formatting margins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otgate_hil.assertion_spec import Assertion, Window
from otgate_hil.conditions import Condition, parse_condition
from otgate_hil.durations import is_duration, parse_duration
from otgate_hil.record import RunRecord

EPS = 1e-9


@dataclass(frozen=True)
class Outcome:
    id: str
    kind: str
    title: str
    passed: bool
    margin: float | None
    margin_text: str
    first_violation_s: float | None
    detail: str
    # False when what the assertion is about never arose in the run (a trigger that never fired): said as
    # such in every output, and never a pass.
    exercised: bool = True

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else ("FAIL" if self.exercised else "NOT EXERCISED")

    @property
    def message(self) -> str:
        where = (
            "" if self.first_violation_s is None else f"violated first at t={self.first_violation_s:g} s: "
        )
        prefix = "" if self.exercised else "not exercised: "
        return f"{prefix}{where}{self.detail} (margin {self.margin_text})"


def outcome(
    a: Assertion, passed: bool, margin: float | None, text: str, first: float | None, detail: str
) -> Outcome:
    return Outcome(a.id, a.kind, a.title or a.id, passed, margin, text, first, detail)


def not_exercised(a: Assertion, detail: str) -> Outcome:
    return Outcome(a.id, a.kind, a.title or a.id, False, None, "n/a", None, detail, exercised=False)


def resolve(record: RunRecord, ref: str) -> float | None:
    """A time from "start", "end", an injection id, a duration, or "<event> + <duration>"."""
    if is_duration(ref):
        return parse_duration(ref)
    name, offset = ref, 0.0
    for sep in (" + ", " - "):
        if sep in ref:
            name, rest = ref.split(sep, 1)
            offset = parse_duration(rest) * (-1.0 if sep == " - " else 1.0)
            break
    name = name.strip()
    if name == "start":
        base: float | None = 0.0
    elif name == "end":
        base = record.scenario.duration
    else:
        times = record.event_times(name)
        base = times[0] if times else None
    return None if base is None else base + offset


def window(record: RunRecord, w: Window) -> tuple[float, float] | str:
    start = resolve(record, w.start)
    if start is None:
        return f"event {w.start!r} never happened"
    if w.length is not None:
        return start, start + w.length
    end = resolve(record, w.end) if w.end else record.scenario.duration
    if end is None:
        return f"event {w.end!r} never happened"
    return start, end


def rows_in(record: RunRecord, span: tuple[float, float]) -> list[dict[str, float]]:
    return [r for r in record.rows if span[0] - EPS <= r["t"] <= span[1] + EPS]


def inside(span: tuple[float, float], t: float) -> bool:
    return span[0] - EPS <= t <= span[1] + EPS


def condition(record: RunRecord, text: str) -> Condition:
    return parse_condition(text, frozenset(record.columns))


def fmt(value: float) -> str:
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value:+.4g}"
