"""The validation rules, one function per rule, each returning the reasons it fires (empty when it passes).

Every rule is pure and reads only its arguments. Rules never clamp: a value outside the envelope is
refused whole, because clamping a wild proposal drives the process to the edge of its envelope.
Move and rate checks are made against the PLC's read-back working setpoint, never against what the
gateway last commanded ("commanded is not confirmed").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from otgate.core.config import Access, Engine, SetpointRules, Tag, TagKind
from otgate.core.decision import Reason, ReasonCode
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.text import visible

Reasons = tuple[Reason, ...]
NONE: Reasons = ()

_EPSILON = 1e-9


def _slack(readback: float) -> float:
    """Read-backs come from float32 registers: allow two float32 steps of the read-back's magnitude."""
    return _EPSILON + abs(readback) * 2.0**-22


def _fail(code: ReasonCode, detail: str) -> Reasons:
    return (Reason(code, detail),)


def check_engine_quarantined(proposal: Proposal, history: History) -> Reasons:
    if proposal.engine in history.quarantined:
        return _fail(ReasonCode.ENGINE_QUARANTINED, f"engine '{proposal.engine}' is quarantined")
    return NONE


def check_replay(proposal: Proposal, history: History) -> Reasons:
    if proposal.id in history.seen_ids:
        return _fail(ReasonCode.REPLAY, f"recommendation id '{proposal.id}' was already received")
    return NONE


def check_timestamps(proposal: Proposal, engine: Engine | None, skew_s: float, now: float) -> Reasons:
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


def check_known_tag(proposal: Proposal, tag: Tag | None) -> Reasons:
    if tag is None:
        return _fail(ReasonCode.UNKNOWN_TAG, f"no tag named '{visible(proposal.tag, 64)}'")
    return NONE


def check_authorized(proposal: Proposal, engine: Engine | None) -> Reasons:
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


def check_writable(tag: Tag) -> Reasons:
    if tag.kind is not TagKind.SETPOINT or tag.access is not Access.WRITE:
        return _fail(ReasonCode.READ_ONLY, f"a {tag.kind} tag is not writable by AI engines")
    return NONE


def check_finite(value: float) -> Reasons:
    if not math.isfinite(value):
        return _fail(ReasonCode.NOT_FINITE, f"value {value} is not a finite number")
    return NONE


def check_range(value: float, rules: SetpointRules) -> Reasons:
    if not rules.limits.contains(value):
        return _fail(ReasonCode.OUT_OF_RANGE, f"{value:g} outside {rules.limits.lo:g}..{rules.limits.hi:g}")
    return NONE


def check_plc_available(snapshot: Snapshot, tags: Sequence[str], max_age_s: float, now: float) -> Reasons:
    if not snapshot.plc_available:
        return _fail(ReasonCode.PLC_UNAVAILABLE, "the PLC link is down")
    if now - snapshot.taken_at > max_age_s:
        return _fail(ReasonCode.PLC_UNAVAILABLE, f"PLC data is {now - snapshot.taken_at:.1f} s old")
    for name in tags:
        if name in snapshot.bad_quality or name not in snapshot.values:
            return _fail(ReasonCode.PLC_UNAVAILABLE, f"no good read-back of '{name}'")
    return NONE


def check_mode(
    loop_name: str, mode_tag: str, snapshot: Snapshot, required: LoopMode = LoopMode.AI
) -> Reasons:
    mode = snapshot.loop_modes.get(loop_name, LoopMode.FALLBACK)
    if mode is not required:
        return _fail(ReasonCode.MODE_BLOCKED, f"loop {loop_name} is in {mode} mode")
    if snapshot.values.get(mode_tag) != PlcMode.REMOTE:
        return _fail(ReasonCode.MODE_BLOCKED, f"PLC loop {loop_name} is not in REMOTE")
    return NONE


def check_interlocks(value: float, readback: float, plant: Plant, tag: str, snapshot: Snapshot) -> Reasons:
    good = {k: v for k, v in snapshot.values.items() if k not in snapshot.bad_quality}
    reasons = []
    for interlock in plant.interlocks_by_tag.get(tag, ()):
        if interlock.direction == "increase" and value <= readback:
            continue
        if interlock.direction == "decrease" and value >= readback:
            continue
        if interlock.expression.evaluate(good) is not False:  # unknown counts as active: fail safe
            reasons.append(Reason(ReasonCode.INTERLOCK, f"interlock {interlock.name} is active"))
    return tuple(reasons)


def check_deadband(value: float, readback: float, rules: SetpointRules) -> Reasons:
    if abs(value - readback) <= rules.deadband:
        return _fail(
            ReasonCode.NO_CHANGE, f"within the {rules.deadband:g} deadband of the setpoint {readback:g}"
        )
    return NONE


def check_move(value: float, readback: float, rules: SetpointRules) -> Reasons:
    move = value - readback
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


def check_rate(value: float, readback: float, rules: SetpointRules, write_period_s: float) -> Reasons:
    move = value - readback
    limit = step_limit(rules, move > 0, write_period_s)
    if abs(move) > limit + _slack(readback):
        period = max(write_period_s, rules.min_write_interval_s)
        return _fail(
            ReasonCode.RATE_EXCEEDED, f"move {move:+g} in {period:g} s exceeds the rate limit ({limit:g})"
        )
    return NONE


def window_base(writes: Sequence[WriteEvent], readback: float, window_s: float, now: float) -> float:
    """The working setpoint at the start of the budget window: before its oldest write, else now."""
    for event in writes:
        if now - event.at <= window_s:
            return event.previous
    return readback


def check_window(
    value: float, readback: float, rules: SetpointRules, writes: Sequence[WriteEvent], now: float
) -> Reasons:
    budget = rules.change_budget
    base = window_base(writes, readback, budget.window_s, now)
    if abs(value - base) > budget.max_change + _slack(base):
        detail = f"net change {value - base:+g} within {budget.window_s:g} s exceeds {budget.max_change:g}"
        return _fail(ReasonCode.WINDOW_CHANGE_EXCEEDED, detail)
    return NONE


def check_write_interval(
    rules: SetpointRules, writes: Sequence[WriteEvent], now: float, grace_s: float = 0.0
) -> Reasons:
    """Writes at most every `min_write_interval_s`. `grace_s` is how long until the write could happen:
    a proposal accepted now is written at the next scan, so at submission the gateway passes one scan."""
    # Two writes at the same instant are too frequent whatever the interval (a scan stamped twice).
    same_instant = grace_s == 0.0 and bool(writes) and now <= writes[-1].at
    if writes and (same_instant or now + grace_s - writes[-1].at < rules.min_write_interval_s):
        elapsed = now - writes[-1].at
        detail = f"last write {elapsed:.2f} s ago, minimum {rules.min_write_interval_s:g} s"
        return _fail(ReasonCode.WRITE_TOO_FREQUENT, detail)
    return NONE
