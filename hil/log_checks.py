"""Assertions over the logs rather than the trace: ordering of audit records, and what the PLC applied.

monotonic        `audit.at` or `audit.seq` of the matching audit records (or a trace variable over the
                 window's rows) never goes backwards; `strict` also refuses two equal neighbours.
                 Margin: the smallest step. Fewer than two values: NOT EXERCISED.
applied_writes   over the PLC's write log joined to frames and proposals (`hil.applied`): with `once`,
                 no frame and no (proposal, value) applied twice; with `max_age`, nothing applied longer
                 than that after the gateway sent it; and at least `min` applications.
                 Margin: max_age minus the oldest application (or minus the duplicates with `once`).
"""

from __future__ import annotations

import math

from otgate_hil.applied import applications
from otgate_hil.assertion_spec import Assertion
from otgate_hil.audit_filter import audit_matches, field_of
from otgate_hil.judging import Outcome, fmt, inside, not_exercised, outcome, rows_in, window
from otgate_hil.record import RunRecord


def _values(record: RunRecord, a: Assertion, span: tuple[float, float]) -> list[tuple[float, float]]:
    """(tick time, value) in order: audit records in seq order, or trace rows."""
    spec = a.monotonic
    assert spec is not None
    if spec.of.startswith("audit."):
        path = spec.of.removeprefix("audit.")
        found = []
        for t, r in sorted(record.audit, key=lambda item: item[1].seq):
            value = field_of(r, path)
            if inside(span, t) and audit_matches(r, spec) and isinstance(value, int | float):
                found.append((t, float(value)))
        return found
    if spec.of not in record.columns:
        raise KeyError(f"unknown variable {spec.of!r}")
    return [(r["t"], r[spec.of]) for r in rows_in(record, span) if math.isfinite(r[spec.of])]


def monotonic(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.monotonic
    assert spec is not None
    span = window(record, spec.during)
    if isinstance(span, str):
        return outcome(a, False, None, "n/a", None, span)
    values = _values(record, a, span)
    if len(values) < 2:
        return not_exercised(a, f"{len(values)} value(s) of {spec.of} in the window: no order to check")
    steps = [(values[i][0], values[i][1] - values[i - 1][1]) for i in range(1, len(values))]
    bad = [(t, step) for t, step in steps if step < 0 or (spec.strict and step == 0)]
    smallest = min(step for _, step in steps)
    if bad:
        detail = f"{spec.of} went backwards {len(bad)} time(s) over {len(values)} values (by {-bad[0][1]:g})"
        return outcome(a, False, smallest, fmt(smallest), bad[0][0], detail)
    return outcome(a, True, smallest, fmt(smallest), None, f"{len(values)} values of {spec.of} in order")


def applied_writes(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.applied_writes
    assert spec is not None
    span = window(record, spec.during)
    if isinstance(span, str):
        return outcome(a, False, None, "n/a", None, span)
    apps = [
        x
        for x in applications(record)
        if x.accepted and inside(span, x.applied_s) and (spec.tag is None or x.tag == spec.tag)
    ]
    problems, margins, first = [], [], None
    if len(apps) < spec.min:
        problems.append(f"{len(apps)} applied < min {spec.min} (no vacuous pass)")
        margins.append(float(len(apps) - spec.min))
        first = span[1]
    if spec.once:
        seen: set[object] = set()
        twice = []
        for x in apps:
            keys = [k for k in (("frame", x.frame), ("proposal", x.proposal, x.value)) if k[1] is not None]
            if any(k in seen for k in keys):
                twice.append(x)
            seen.update(keys)
        margins.append(float(-len(twice)))
        if twice:
            x = twice[0]
            problems.append(f"{len(twice)} applied twice, first {x.tag}={x.value:g} (proposal {x.proposal})")
            first = x.applied_s if first is None else min(first, x.applied_s)
    if spec.max_age is not None:
        oldest = max((x.age_s for x in apps), default=0.0)
        margins.append(spec.max_age - oldest)
        stale = [x for x in apps if x.age_s > spec.max_age + 1e-9]
        if stale:
            x = stale[0]
            problems.append(
                f"{len(stale)} applied more than {spec.max_age:g} s after sent, first {x.tag}={x.value:g} "
                f"sent {x.sent_s:g} s applied {x.applied_s:g} s"
            )
            first = x.applied_s if first is None else min(first, x.applied_s)
    margin = min(margins) if margins else 0.0
    detail = f"{len(apps)} writes applied" + (f": {'; '.join(problems)}" if problems else "")
    return outcome(a, not problems, margin, fmt(margin), first, detail)
