"""`whenever C for d then B within w`: each time C has held without a break for d, B must hold within w.

The trigger is the first row at which C has held for d (a run of rows where C holds, from its first row);
one trigger per unbroken run. The response is the first row at or after the trigger where B holds. The
margin is w minus the slowest response. When C never holds for d the assertion is NOT EXERCISED (a failure
that says so, with the longest stretch C did hold), never a pass: "the loops went local whenever pressure
stayed high" proves nothing in a run where pressure never stayed high.
"""

from __future__ import annotations

import math

from otgate_hil.assertion_spec import Assertion
from otgate_hil.judging import EPS, Outcome, condition, fmt, not_exercised, outcome, rows_in, window
from otgate_hil.record import RunRecord


def _triggers(rows: list[dict[str, float]], held: float, holds: list[bool]) -> tuple[list[float], float]:
    """Trigger times, and the longest stretch the condition held (s)."""
    triggers, longest = [], 0.0
    run_start: float | None = None
    fired = False
    for row, ok in zip(rows, holds, strict=True):
        if not ok:
            run_start, fired = None, False
            continue
        if run_start is None:
            run_start = row["t"]
        longest = max(longest, row["t"] - run_start)
        if not fired and row["t"] - run_start >= held - EPS:
            triggers.append(row["t"])
            fired = True
    return triggers, longest


def sustained(record: RunRecord, a: Assertion) -> Outcome:
    span = window(record, a.during)
    if isinstance(span, str):
        return outcome(a, False, None, "n/a", None, span)
    trigger, response = condition(record, a.whenever or ""), condition(record, a.then or "")
    held, within = a.hold or 0.0, a.within or 0.0
    rows = rows_in(record, span)
    triggers, longest = _triggers(rows, held, [trigger.holds(r) for r in rows])
    if not triggers:
        return not_exercised(
            a, f"{a.whenever!r} never held for {held:g} s (longest stretch {longest:g} s): nothing was tested"
        )
    worst, first_bad = math.inf, None
    for t0 in triggers:
        t1 = next((r["t"] for r in record.rows if r["t"] >= t0 - EPS and response.holds(r)), None)
        slack = within - (t1 - t0) if t1 is not None else -math.inf
        worst = min(worst, slack)
        if slack < -EPS and first_bad is None:
            first_bad = t0 + within
    late = "late or missing" if first_bad is not None else "in time"
    detail = (
        f"{len(triggers)} time(s) {a.whenever!r} held {held:g} s; {a.then!r} {late} (allowed {within:g} s)"
    )
    return outcome(a, first_bad is None, worst, f"{fmt(worst)} s", first_bad, detail)
