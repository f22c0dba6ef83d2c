"""The validation rules, one function per rule, each a pure function of one case that returns the reasons it
fires (empty when it passes).

Rules on a `Request` judge who sent a proposal and which tag it names; rules on a `SetpointCase` judge
the value against the process. Rules never clamp: a value outside the envelope is refused whole,
because clamping a wild proposal drives the process to the edge of its envelope. Move and rate checks
are made against the PLC's read-back working setpoint, never against what the gateway last commanded
("commanded is not confirmed"). The order they run in is the table in `otgate.core.validation`.
"""

from __future__ import annotations

import math

from otgate.core.case import Reasons, Request, SetpointCase
from otgate.core.config import Access, SetpointRules, Tag, TagKind
from otgate.core.decision import Reason, ReasonCode
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.text import visible

NONE: Reasons = ()

# PLC data older than this many scans is not a read-back any more.
SNAPSHOT_MAX_AGE_SCANS = 3

_EPSILON = 1e-9


def _slack(readback: float) -> float:
    """Read-backs come from float32 registers: allow two float32 steps of the read-back's magnitude."""
    return _EPSILON + abs(readback) * 2.0**-22


def _fail(code: ReasonCode, detail: str) -> Reasons:
    return (Reason(code, detail),)


def check_engine_quarantined(case: Request) -> Reasons:
    if case.proposal.engine in case.history.quarantined:
        return _fail(ReasonCode.ENGINE_QUARANTINED, f"engine '{case.proposal.engine}' is quarantined")
    return NONE


def check_replay(case: Request) -> Reasons:
    if case.proposal.id in case.history.seen_ids:
        return _fail(ReasonCode.REPLAY, f"recommendation id '{case.proposal.id}' was already received")
    return NONE


def check_timestamps(case: Request) -> Reasons:
    proposal, engine, now = case.proposal, case.engine, case.wall
    skew_s = case.plant.config.gateway.clock_skew_tolerance_s
    reasons: list[Reason] = []
    for label, at, max_age in (
        ("issued", proposal.issued_at, engine.stale_after_s if engine else 0.0),
        ("process data", proposal.basis_at, engine.max_basis_age_s if engine else 0.0),
    ):
        if at is None:
            continue
        at += proposal.clock_offset_s  # onto the gateway's timeline when the engine's clock is known off
        note = (
            f" (engine clock offset {proposal.clock_offset_s:+.1f} s applied)"
            if proposal.clock_offset_s
            else ""
        )
        if not math.isfinite(at) or at > now + skew_s:
            reasons.append(
                Reason(ReasonCode.FUTURE, f"{label} timestamp lies {at - now:.3f} s in the future{note}")
            )
        elif engine is not None and now - at > max_age:
            reasons.append(
                Reason(ReasonCode.STALE, f"{label} {now - at:.1f} s ago, limit {max_age:g} s{note}")
            )
    return tuple(reasons)


def check_known_tag(case: Request) -> Reasons:
    if case.tag is None:
        return _fail(ReasonCode.UNKNOWN_TAG, f"no tag named '{visible(case.proposal.tag, 64)}'")
    return NONE


def check_authorized(case: Request) -> Reasons:
    proposal, engine = case.proposal, case.engine
    if case.tag is None:  # nothing to authorize: the unknown tag already fired
        return NONE
    if engine is None:
        return _fail(ReasonCode.NOT_AUTHORIZED, f"unknown engine '{proposal.engine}'")
    if proposal.tag not in engine.writes:
        return _fail(
            ReasonCode.NOT_AUTHORIZED,
            f"engine '{proposal.engine}' may not write '{visible(proposal.tag, 64)}'",
        )
    allowed = engine.allowed_model_digests
    if allowed is not None and proposal.model_digest not in allowed:
        return _fail(ReasonCode.MODEL_NOT_ALLOWED, f"model digest {proposal.model_digest!r} is not allowed")
    return NONE


def check_writable(case: Request) -> Reasons:
    """Only a tag this chain has no setpoint rules for is judged here; a known setpoint passes."""
    if case.tag is None or case.rules is not None:
        return NONE
    return writable(case.tag)


def writable(tag: Tag) -> Reasons:
    if tag.kind is not TagKind.SETPOINT or tag.access is not Access.WRITE:
        return _fail(ReasonCode.READ_ONLY, f"a {tag.kind} tag is not writable by AI engines")
    return NONE


def check_value_finite(case: Request) -> Reasons:
    """Judged here only when the chain stops before the setpoint rules (an unknown tag, or not a setpoint);
    a setpoint's value is judged as the PLC will hold it (`check_finite`)."""
    if case.rules is not None and case.tag is not None:
        return NONE
    return finite(case.proposal.value)


def finite(value: float) -> Reasons:
    if not math.isfinite(value):
        return _fail(ReasonCode.NOT_FINITE, f"value {value} is not a finite number")
    return NONE


def check_finite(case: SetpointCase) -> Reasons:
    return NONE if case.finite else finite(case.value)


def check_range(case: SetpointCase) -> Reasons:
    limits = case.rules.limits
    if case.finite and not limits.contains(case.value):
        return _fail(ReasonCode.OUT_OF_RANGE, f"{case.value:g} outside {limits.lo:g}..{limits.hi:g}")
    return NONE


def check_plc_available(case: SetpointCase) -> Reasons:
    snapshot, now = case.snapshot, case.now
    if not snapshot.plc_available:
        return _fail(ReasonCode.PLC_UNAVAILABLE, "the PLC link is down")
    if now - snapshot.taken_at > SNAPSHOT_MAX_AGE_SCANS * case.plant.config.gateway.scan_interval_s:
        return _fail(ReasonCode.PLC_UNAVAILABLE, f"PLC data is {now - snapshot.taken_at:.1f} s old")
    for name in (case.loop.working_sp, case.loop.mode):
        if name in snapshot.bad_quality or name not in snapshot.values:
            return _fail(ReasonCode.PLC_UNAVAILABLE, f"no good read-back of '{name}'")
    return NONE


def check_mode(case: SetpointCase) -> Reasons:
    loop_name, snapshot = case.loop_name, case.snapshot
    mode = snapshot.loop_modes.get(loop_name, LoopMode.FALLBACK)
    if mode is not case.required_mode:
        return _fail(ReasonCode.MODE_BLOCKED, f"loop {loop_name} is in {mode} mode")
    if snapshot.values.get(case.loop.mode) != PlcMode.REMOTE:
        return _fail(ReasonCode.MODE_BLOCKED, f"PLC loop {loop_name} is not in REMOTE")
    return NONE


def check_interlocks(case: SetpointCase) -> Reasons:
    interlocks = case.plant.interlocks_by_tag.get(case.proposal.tag, ())
    if not interlocks:
        return NONE
    snapshot, value, readback = case.snapshot, case.value, case.readback
    bad = snapshot.bad_quality
    good = {k: v for k, v in snapshot.values.items() if k not in bad} if bad else snapshot.values
    reasons = []
    for interlock in interlocks:
        if interlock.direction == "increase" and value <= readback:
            continue
        if interlock.direction == "decrease" and value >= readback:
            continue
        if interlock.expression.evaluate(good) is not False:  # unknown counts as active: fail safe
            reasons.append(Reason(ReasonCode.INTERLOCK, f"interlock {interlock.name} is active"))
    return tuple(reasons)


def check_predicted(case: SetpointCase) -> Reasons:
    """The look-ahead (`otgate.core.look_ahead`), judged once when the case was built."""
    return case.look_ahead[1]


def check_deadband(case: SetpointCase) -> Reasons:
    rules, readback = case.rules, case.readback
    if abs(case.value - readback) <= rules.deadband:
        return _fail(
            ReasonCode.NO_CHANGE, f"within the {rules.deadband:g} deadband of the setpoint {readback:g}"
        )
    return NONE


def check_move(case: SetpointCase) -> Reasons:
    rules, readback = case.rules, case.readback
    move = case.value - readback
    limit = rules.max_move_up if move > 0 else rules.max_move_down
    if abs(move) > limit + _slack(readback):
        return _fail(
            ReasonCode.MOVE_TOO_LARGE, f"move {move:+g} from read-back {readback:g} exceeds {limit:g}"
        )
    return NONE


def step_limit(rules: SetpointRules, upward: bool, write_period_s: float) -> float:
    """The largest change one write may make: the rate over one write period."""
    period = max(write_period_s, rules.min_write_interval_s)
    return (rules.rate_up_per_s if upward else rules.rate_down_per_s) * period


def check_rate(case: SetpointCase) -> Reasons:
    rules, readback, write_period_s = case.rules, case.readback, case.period_s
    move = case.value - readback
    limit = step_limit(rules, move > 0, write_period_s)
    if abs(move) > limit + _slack(readback):
        period = max(write_period_s, rules.min_write_interval_s)
        return _fail(
            ReasonCode.RATE_EXCEEDED, f"move {move:+g} in {period:g} s exceeds the rate limit ({limit:g})"
        )
    return NONE


def check_window(case: SetpointCase) -> Reasons:
    budget, base, value = case.rules.change_budget, case.window_base, case.value
    if abs(value - base) > budget.max_change + _slack(base):
        detail = f"net change {value - base:+g} within {budget.window_s:g} s exceeds {budget.max_change:g}"
        return _fail(ReasonCode.WINDOW_CHANGE_EXCEEDED, detail)
    return NONE


def check_write_interval(case: SetpointCase) -> Reasons:
    """Writes at most every `min_write_interval_s`. The case's `grace_s` is how long until the write could
    happen: a proposal accepted now is written at the next scan, so at submission the gateway passes one
    scan."""
    rules, writes, now, grace_s = case.rules, case.writes, case.now, case.grace_s
    # Two writes at the same instant are too frequent whatever the interval (a scan stamped twice).
    same_instant = grace_s == 0.0 and bool(writes) and now <= writes[-1].at
    if writes and (same_instant or now + grace_s - writes[-1].at < rules.min_write_interval_s):
        elapsed = now - writes[-1].at
        detail = f"last write {elapsed:.2f} s ago, minimum {rules.min_write_interval_s:g} s"
        return _fail(ReasonCode.WRITE_TOO_FREQUENT, detail)
    return NONE
