"""Judges a run's assertions over its record: simulator-side truth, the PLC write log and the audit trail.

Semantics (times are tick times; a window includes both ends):

    always C               C holds on every row of the window. Margin: the smallest robustness.
    never C                C is false on every row (unknown counts as true). Margin: smallest -robustness.
    when A then B within d every rising edge of A is followed by a row where B holds, at most d later.
                           A that never rises FAILS (no vacuous pass). Margin: d minus the slowest response.
    after E within d       C holds on some row at most d after event E; E that never happened fails.
      expect C             Margin: d minus the delay.
    count                  entries of the PLC write log or the audit trail that match, in the window,
                           between min and max (and at most per_scan_max in any one tick). Margin: the
                           distance to the nearest bound.
    unchanged V            V is bit-identical on every row of the window. Margin: minus the largest change.
    first_write            the first write of `tag` after E moves the PLC's working setpoint by at most
                           max_step (bumpless re-entry). No write after E fails. Margin: max_step - step.
    audit_chain            the trail's hash chain verifies from seq 1 and has at least min_records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import struct
from collections.abc import Callable, Sequence

from otgate.core.audit_chain import verify
from otgate_hil.assertion_spec import Assertion, CountSpec
from otgate_hil.audit_filter import audit_matches
from otgate_hil.autonomy_check import earned_level
from otgate_hil.conditions import Condition, parse_condition
from otgate_hil.derived import derived_names, rewrite, with_derived
from otgate_hil.durations import format_seconds
from otgate_hil.judging import EPS, Outcome, inside, not_exercised, resolve, window
from otgate_hil.judging import condition as _condition
from otgate_hil.judging import fmt as _fmt
from otgate_hil.judging import outcome as _outcome
from otgate_hil.judging import rows_in as _rows
from otgate_hil.log_checks import applied_writes, monotonic
from otgate_hil.record import RunRecord
from otgate_hil.sustained import sustained

__all__ = ["Outcome", "judge", "resolve", "window"]


def judge(record: RunRecord) -> list[Outcome]:
    names = {n for a in record.scenario.assertions for n in _condition_names(a)}
    derived = derived_names(names)
    if derived:  # trace functions (rate, age, ...) become columns computed from the trace
        record = dataclasses.replace(
            record, rows=with_derived(record.rows, derived), columns=sorted({*record.columns, *derived})
        )
    return [_judge_one(record, a) for a in record.scenario.assertions]


def _condition_names(a: Assertion) -> set[str]:
    names: set[str] = set()
    for text in (a.always, a.never, a.when, a.whenever, a.then, a.expect):
        if text is not None:
            with contextlib.suppress(ValueError):
                names |= parse_condition(text).names()
    if a.monotonic is not None and not a.monotonic.of.startswith("audit."):
        names.add(rewrite(a.monotonic.of))
    return names


def _judge_one(record: RunRecord, assertion: Assertion) -> Outcome:
    judges: dict[str, Callable[[RunRecord, Assertion], Outcome]] = {
        "always": _always,
        "never": _never,
        "when": _when,
        "whenever": sustained,
        "after": _after,
        "count": _count,
        "unchanged": _unchanged,
        "first_write": _first_write,
        "write_steps": _write_steps,
        "audit_chain": _audit_chain,
        "monotonic": monotonic,
        "applied_writes": applied_writes,
        "autonomy": earned_level,
    }
    try:
        return judges[assertion.kind](record, assertion)
    except (KeyError, ValueError) as error:
        return _outcome(assertion, False, None, "n/a", None, f"cannot evaluate: {error}")


# ------------------------------------------------------------------------------------------- temporal


def _always(record: RunRecord, a: Assertion) -> Outcome:
    return _invariant(record, a, a.always or "", negate=False)


def _never(record: RunRecord, a: Assertion) -> Outcome:
    return _invariant(record, a, a.never or "", negate=True)


def _invariant(record: RunRecord, a: Assertion, text: str, *, negate: bool) -> Outcome:
    span = window(record, a.during)
    if isinstance(span, str):
        return _outcome(a, False, None, "n/a", None, span)
    rows = _rows(record, span)
    if not rows:
        return _outcome(a, False, None, "n/a", None, "the window holds no rows")
    condition = _condition(record, text)
    margins = [(-condition.margin(r) if negate else condition.margin(r)) for r in rows]
    bad = [r for r in rows if (condition.fails(r) if negate else not condition.holds(r))]
    worst = min(margins)
    worst_row = rows[margins.index(worst)]
    if bad:
        detail = f"{'never' if negate else 'always'} {text!r} broken on {len(bad)} of {len(rows)} rows"
        return _outcome(a, False, worst, _fmt(worst), bad[0]["t"], detail)
    detail = f"held on {len(rows)} rows; closest at t={worst_row['t']:g} s"
    return _outcome(a, True, worst, _fmt(worst), None, detail)


def _first_true(rows: Sequence[dict[str, float]], condition: Condition, start: float) -> float | None:
    for r in rows:
        if r["t"] >= start - EPS and condition.holds(r):
            return r["t"]
    return None


def _when(record: RunRecord, a: Assertion) -> Outcome:
    span = window(record, a.during)
    if isinstance(span, str):
        return _outcome(a, False, None, "n/a", None, span)
    trigger, response = _condition(record, a.when or ""), _condition(record, a.then or "")
    within = a.within or 0.0
    rows = _rows(record, span)
    edges = [
        r["t"] for i, r in enumerate(rows) if trigger.holds(r) and (i == 0 or not trigger.holds(rows[i - 1]))
    ]
    if not edges:
        return not_exercised(a, f"trigger {a.when!r} never fired (no vacuous pass)")
    worst, first_bad = math.inf, None
    for t0 in edges:
        t1 = _first_true(record.rows, response, t0)
        slack = within - (t1 - t0) if t1 is not None else -math.inf
        worst = min(worst, slack)
        if slack < -EPS and first_bad is None:
            first_bad = t0 + within
    text = f"{_fmt(worst)} s"
    detail = f"{len(edges)} trigger(s); response {'late or missing' if first_bad is not None else 'in time'}"
    return _outcome(a, first_bad is None, worst, text, first_bad, detail)


def _after(record: RunRecord, a: Assertion) -> Outcome:
    t0 = resolve(record, a.after or "")
    if t0 is None:
        return _outcome(a, False, None, "n/a", None, f"event {a.after!r} never happened (no vacuous pass)")
    within = a.within or 0.0
    t1 = _first_true(record.rows, _condition(record, a.expect or ""), t0)
    if t1 is None:
        return _outcome(
            a, False, -math.inf, "-inf s", t0 + within, f"{a.expect!r} never held after {a.after}"
        )
    slack = within - (t1 - t0)
    detail = f"{a.expect!r} held {format_seconds(t1 - t0)} after {a.after} (allowed {format_seconds(within)})"
    first = None if slack >= -EPS else t0 + within
    return _outcome(a, slack >= -EPS, slack, f"{_fmt(slack)} s", first, detail)


# ------------------------------------------------------------------------------------------- logs


def _count(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.count
    assert spec is not None
    span = window(record, spec.during)
    if isinstance(span, str):
        return _outcome(a, False, None, "n/a", None, span)
    times = _matching_times(record, spec, span)
    n = len(times)
    margins, problems = [], []
    first: float | None = None
    if spec.max is not None:
        margins.append(spec.max - n)
        if n > spec.max:
            problems.append(f"{n} > max {spec.max}")
            first = times[spec.max]
    if spec.min is not None:
        margins.append(n - spec.min)
        if n < spec.min:
            problems.append(f"{n} < min {spec.min}")
            first = span[1]
    if spec.per_scan_max is not None:
        per_tick: dict[float, int] = {}
        for t in times:
            per_tick[t] = per_tick.get(t, 0) + 1
        peak = max(per_tick.values(), default=0)
        margins.append(spec.per_scan_max - peak)
        if peak > spec.per_scan_max:
            problems.append(f"{peak} in one scan > {spec.per_scan_max}")
            over = min(t for t, c in per_tick.items() if c > spec.per_scan_max)
            first = over if first is None else min(first, over)
    margin = float(min(margins))
    detail = f"{n} {spec.of} entries matched in [{span[0]:g}, {span[1]:g}] s" + (
        f": {'; '.join(problems)}" if problems else ""
    )
    return _outcome(a, not problems, margin, f"{margin:+g}", first, detail)


def _matching_times(record: RunRecord, spec: CountSpec, span: tuple[float, float]) -> list[float]:
    if spec.of == "plc_writes":
        return [
            w.sim_time_s
            for w in record.writes
            if inside(span, w.sim_time_s)
            and (spec.tag is None or w.tag == spec.tag)
            and (spec.value_above is None or w.value > spec.value_above)
            and (spec.value_below is None or w.value < spec.value_below)
            and (not spec.non_finite or not math.isfinite(w.value))
        ]
    return [t for t, r in record.audit if inside(span, t) and audit_matches(r, spec)]


def _unchanged(record: RunRecord, a: Assertion) -> Outcome:
    name = a.unchanged or ""
    if name not in record.columns:
        raise KeyError(f"unknown variable {name!r}")
    span = window(record, a.during)
    if isinstance(span, str):
        return _outcome(a, False, None, "n/a", None, span)
    rows = _rows(record, span)
    if not rows:
        return _outcome(a, False, None, "n/a", None, "the window holds no rows")
    first = rows[0][name]
    changed = [r for r in rows if struct_bits(r[name]) != struct_bits(first)]
    deviation = max((abs(r[name] - first) for r in rows), default=0.0)
    if changed:
        detail = f"{name} changed from {first!r} to {changed[0][name]!r}"
        return _outcome(a, False, -deviation, _fmt(-deviation), changed[0]["t"], detail)
    return _outcome(a, True, 0.0, "0 (bit-exact)", None, f"{name} stayed {first!r} on {len(rows)} rows")


def struct_bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _first_write(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.first_write
    assert spec is not None
    t0 = resolve(record, spec.after)
    if t0 is None:
        return _outcome(a, False, None, "n/a", None, f"event {spec.after!r} never happened")
    writes = [w for w in record.writes if w.tag == spec.tag and w.accepted and w.sim_time_s >= t0 - EPS]
    if not writes:
        return _outcome(
            a, False, None, "n/a", None, f"no write of {spec.tag} after {spec.after} (no vacuous pass)"
        )
    w = writes[0]
    row = next(r for r in record.rows if abs(r["t"] - w.sim_time_s) < EPS)
    before = row[spec.working_sp]
    step = abs(w.value - before)
    margin = spec.max_step - step
    detail = (
        f"first write at t={w.sim_time_s:g} s: {w.value:g} against {before:g} at the PLC (step {step:.4g})"
    )
    passed = margin >= -1e-6
    return _outcome(a, passed, margin, _fmt(margin), None if passed else w.sim_time_s, detail)


def _write_steps(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.write_steps
    assert spec is not None
    span = window(record, spec.during)
    if isinstance(span, str):
        return _outcome(a, False, None, "n/a", None, span)
    writes = [
        w
        for w in record.writes
        if w.tag == spec.tag and w.accepted and span[0] - EPS <= w.sim_time_s <= span[1] + EPS
    ]
    if not writes:
        return _outcome(
            a, False, None, "n/a", None, f"no write of {spec.tag} in the window (no vacuous pass)"
        )
    row = next(r for r in record.rows if abs(r["t"] - writes[0].sim_time_s) < EPS)
    previous = row[spec.working_sp]
    worst, first = 0.0, None
    for w in writes:
        step = abs(w.value - previous)
        if step > spec.max_step + 1e-6 and first is None:
            first = w.sim_time_s
        worst = max(worst, step)
        previous = w.value
    margin = spec.max_step - worst
    detail = f"{len(writes)} writes, largest step {worst:.4g} (allowed {spec.max_step:g})"
    return _outcome(a, first is None, margin, _fmt(margin), first, detail)


def _audit_chain(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.audit_chain
    assert spec is not None
    records = [r for _, r in record.audit]
    result = verify(records, None)
    n = len(records)
    if not result.ok:
        return _outcome(
            a, False, None, "n/a", None, f"chain broken at seq {result.first_bad_seq}: {result.problem}"
        )
    if n < spec.min_records:
        return _outcome(
            a, False, float(n - spec.min_records), f"{n - spec.min_records:+d}", None, f"only {n} records"
        )
    return _outcome(a, True, float(n - spec.min_records), f"{n} records", None, f"{n} records verify")
