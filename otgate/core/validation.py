"""The one validation chain every AI setpoint passes before anything can reach a PLC.

`validate` is pure and deterministic: the same proposal, snapshot, plant, history and time always give
the same `Decision`. It never raises for bad input; it evaluates every rule that applies and names each
one that fired, in rule order (identity and freshness first, then the tag, then the value, then the
process state). With the `ramp` policy a move that is too large or too fast becomes a ramp plan whose
every step respects every rule, instead of a single write.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from otgate.core.codec import quantize, resolution
from otgate.core.config import Autonomy, RatePolicy, SetpointRules, Tag, TagKind
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.look_ahead import check_predicted
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.rules import (
    check_authorized,
    check_deadband,
    check_engine_quarantined,
    check_finite,
    check_interlocks,
    check_known_tag,
    check_mode,
    check_move,
    check_plc_available,
    check_range,
    check_rate,
    check_replay,
    check_timestamps,
    check_window,
    check_writable,
    check_write_interval,
    step_limit,
    window_base,
)

# PLC data older than this many scans is not a read-back any more.
SNAPSHOT_MAX_AGE_SCANS = 3
# A ramp longer than this is refused rather than planned (bounded memory per decision).
MAX_RAMP_STEPS = 20_000
_RAMPABLE = frozenset({ReasonCode.MOVE_TOO_LARGE, ReasonCode.RATE_EXCEEDED})


def validate(
    proposal: Proposal,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    *,
    wall: float | None = None,
) -> Decision:
    """`now` is the time base of every duration (the gateway's monotonic clock); `wall` is the wall-clock
    time an engine's `issued_at` is judged against (default: `now`, for callers on one clock)."""
    return _validate(
        proposal, snapshot, plant, history, now, now if wall is None else wall, at_submission=True
    )


class WriteSource(StrEnum):
    """Who a setpoint write is for; each source may write only while its loop is in one gateway mode."""

    AI = "ai"  # an accepted autonomous proposal or its ramp steps
    APPROVED = "approved"  # a supervised proposal an operator approved
    OPERATOR = "operator"  # an operator's own setpoint in manual
    SAFE_VALUE = "safe_value"  # the fallback policy walking the setpoint to its safe value


def judge_write(
    source: WriteSource, proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float
) -> Decision:
    """The write gate's check at the moment of the write: the full chain for `source`, against this
    instant's loop modes (in `snapshot`), the config in force (`plant`) and fresh read-backs."""
    if source is WriteSource.OPERATOR:
        return validate_operator_setpoint(proposal, snapshot, plant, history, now, at_write=True)
    if source is WriteSource.SAFE_VALUE:
        return _validate_by_gateway(proposal, snapshot, plant, history, now, LoopMode.FALLBACK)
    return revalidate(proposal, snapshot, plant, history, now)


def revalidate(
    proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float
) -> Decision:
    """The time-of-use check before each write: the same chain against this scan's fresh read-backs.

    Identity and freshness were judged when the proposal arrived, so here it is judged as if issued
    now; quarantine, modes, limits, interlocks, move, rate, budget and write interval are all checked
    again. Autonomy is not applied: the caller only asks about writes it may make (an autonomous tag,
    or a supervised value an operator approved). A RAMPING answer's value is the next step.
    """
    fresh = replace(proposal, issued_at=now, basis_at=None)
    current = History(frozenset(), history.writes, history.quarantined)
    return _validate(fresh, snapshot, plant, current, now, now, at_submission=False)


def validate_operator_setpoint(
    proposal: Proposal,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    *,
    at_write: bool = False,
) -> Decision:
    """An operator's own setpoint for a loop in `manual`: the tag, value and process rules of the chain.

    Engine identity, freshness and autonomy do not apply to a person at the HMI; hard limits, read-back
    availability, the PLC being in REMOTE, interlocks, deadband, move, rate and change budget do, and a
    large move becomes a ramp under the tag's policy. Called again at each write, like `revalidate`.
    """
    return _validate_by_gateway(proposal, snapshot, plant, history, now, LoopMode.MANUAL, at_write)


def _validate_by_gateway(
    proposal: Proposal,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    required_mode: LoopMode,
    at_write: bool = True,
) -> Decision:
    tag = plant.tag(proposal.tag)
    if tag is None or tag.setpoint is None:
        reasons = [*check_known_tag(proposal, tag), *(check_writable(tag) if tag else ())]
        return _rejected(proposal, reasons)
    check = _SetpointCheck(tag, Autonomy.AUTONOMOUS, 0.0, at_write, required_mode)
    return _validate_setpoint(proposal, check, snapshot, plant, history, now, [])


def _validate(
    proposal: Proposal,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    wall: float,
    *,
    at_submission: bool,
) -> Decision:
    engine = plant.engine(proposal.engine)
    tag = plant.tag(proposal.tag)
    skew = plant.config.gateway.clock_skew_tolerance_s
    reasons = [
        *check_engine_quarantined(proposal, history),
        *check_replay(proposal, history),
        *check_timestamps(proposal, engine, skew, wall),
        *check_known_tag(proposal, tag),
    ]
    if tag is None:
        return _rejected(proposal, reasons + list(check_finite(proposal.value)))
    reasons += check_authorized(proposal, engine)
    if tag.kind is not TagKind.SETPOINT or tag.setpoint is None:
        reasons += check_writable(tag)
        return _rejected(proposal, reasons + list(check_finite(proposal.value)))
    ceiling = engine.max_autonomy if engine is not None else Autonomy.ADVISORY
    autonomy = tag.setpoint.autonomy.capped(ceiling) if at_submission else Autonomy.AUTONOMOUS
    grace_s = plant.write_period_s if at_submission else 0.0
    check = _SetpointCheck(tag, autonomy, grace_s, not at_submission, LoopMode.AI)
    return _validate_setpoint(proposal, check, snapshot, plant, history, now, reasons)


@dataclass(frozen=True, slots=True)
class _SetpointCheck:
    """How to judge one setpoint: for whom (mode, autonomy) and when (at submission or at the write)."""

    tag: Tag
    autonomy: Autonomy
    grace_s: float  # how long until the write can happen (one scan at submission)
    at_write: bool  # judged at the write: the rate is over the time actually elapsed since the last write
    required_mode: LoopMode


def _validate_setpoint(
    proposal: Proposal,
    check: _SetpointCheck,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    reasons: list[Reason],
) -> Decision:
    tag, required_mode = check.tag, check.required_mode
    rules = tag.setpoint
    if rules is None:  # callers pass setpoint tags only; refuse rather than trust that
        return _rejected(proposal, [*reasons, *check_writable(tag)])
    value = _as_encoded(proposal.value, tag)
    finite = math.isfinite(value)
    reasons += check_finite(value)
    if finite:
        reasons += check_range(value, rules)
    loop_name, loop = plant.loop_by_setpoint[proposal.tag]
    max_age = SNAPSHOT_MAX_AGE_SCANS * plant.config.gateway.scan_interval_s
    unavailable = check_plc_available(snapshot, (loop.working_sp, loop.mode), max_age, now)
    if unavailable:
        return _rejected(proposal, reasons + list(unavailable))
    readback = snapshot.values[loop.working_sp]
    reasons += check_mode(loop_name, loop.mode, snapshot, required_mode)
    if not finite:
        return _rejected(proposal, reasons)
    reasons += check_interlocks(value, readback, plant, proposal.tag, snapshot)
    admissible: tuple[float, float] | None = None
    if required_mode is LoopMode.AI:  # the look-ahead judges AI moves (operators and the fallback: no)
        admissible, excursion = check_predicted(proposal.tag, value, readback, rules, plant, snapshot)
        reasons += excursion
    decision = _judge_movement(proposal, check, value, readback, plant, history, now, reasons)
    return decision if admissible is None else replace(decision, admissible=admissible)


def _judge_movement(
    proposal: Proposal,
    check: _SetpointCheck,
    value: float,
    readback: float,
    plant: Plant,
    history: History,
    now: float,
    reasons: list[Reason],
) -> Decision:
    tag, autonomy, grace_s = check.tag, check.autonomy, check.grace_s
    rules = tag.setpoint
    if rules is None:
        return _rejected(proposal, [*reasons, *check_writable(tag)])
    no_change = check_deadband(value, readback, rules)
    if no_change:
        return _rejected(proposal, reasons + list(no_change))
    writes = history.writes.get(proposal.tag, ())
    period = _rate_period(plant.write_period_s, rules, writes, now, check.at_write)
    reasons += [
        *check_move(value, readback, rules),
        *check_rate(value, readback, rules, period),
        *check_window(value, readback, rules, writes, now),
        *check_write_interval(rules, writes, now, grace_s),
    ]
    if not reasons:
        return _approved(proposal, autonomy, Verdict.ACCEPTED, value, ())
    if rules.on_rate_violation is RatePolicy.RAMP and {r.code for r in reasons} <= _RAMPABLE:
        base = window_base(writes, readback, rules.change_budget.window_s, now)
        plan = plan_ramp(readback, value, rules, period, base, resolution(tag.type, tag.scale))
        if plan:
            return _approved(proposal, autonomy, Verdict.RAMPING, plan[0], plan, tuple(reasons))
    return _rejected(proposal, reasons)


def _as_encoded(value: float, tag: Tag) -> float:
    """Judge the value the PLC will hold, not the float before rounding (an int16 799.5 is written 800).

    Float tags keep the proposed value: float32 rounding (2**-24 relative) lies inside the rules' slack."""
    if tag.type.is_float:
        return value
    try:
        return quantize(value, tag.type, tag.scale, tag.offset)
    except ValueError:
        return value  # not representable at all: the range check refuses it (or it is not finite)


def _rate_period(
    write_period_s: float, rules: SetpointRules, writes: Sequence[WriteEvent], now: float, at_write: bool
) -> float:
    """The time one step's rate is judged over. At the write it is the time actually elapsed since the
    last confirmed write (capped at one write period): a late scan followed by an on-time one must not
    put two full steps a fraction of a second apart."""
    period = max(write_period_s, rules.min_write_interval_s)
    if not at_write or not writes:
        return period
    return max(0.0, min(period, now - writes[-1].at))


def plan_ramp(
    start: float,
    target: float,
    rules: SetpointRules,
    write_period_s: float,
    base: float,
    resolution: float = 0.0,
) -> tuple[float, ...]:
    """Setpoints from `start` to `target`, one per write period, each within move, rate, limits and budget.

    On an integer tag every step is a whole number of `resolution` (rounded toward the start, so never
    beyond the rate). Returns () when no such plan exists (start outside the limits, the target beyond
    the budget, or a step smaller than the tag can express).
    """
    upward = target > start
    step = min(
        rules.max_move_up if upward else rules.max_move_down, step_limit(rules, upward, write_period_s)
    )
    if resolution > 0:
        step = math.floor(step / resolution + 1e-9) * resolution
    if step <= 0:
        return ()
    count = math.ceil(abs(target - start) / step - 1e-9)
    if count > MAX_RAMP_STEPS:
        return ()
    direction = 1.0 if upward else -1.0
    plan = (*(start + direction * step * k for k in range(1, count)), target)
    budget = rules.change_budget.max_change
    # The plan is monotonic and limits and budget are intervals: its two ends bound every step.
    if all(rules.limits.contains(v) and abs(v - base) <= budget for v in (plan[0], plan[-1])):
        return plan
    return ()


def _approved(
    proposal: Proposal,
    autonomy: Autonomy,
    verdict: Verdict,
    value: float,
    ramp: tuple[float, ...],
    reasons: tuple[Reason, ...] = (),
) -> Decision:
    if autonomy is Autonomy.SHADOW:
        return Decision(proposal.id, proposal.tag, Verdict.SHADOW, reasons, None, ramp)
    if autonomy is Autonomy.ADVISORY:
        return Decision(proposal.id, proposal.tag, Verdict.ADVISORY, reasons, None, ramp)
    if autonomy is Autonomy.SUPERVISED:
        return Decision(proposal.id, proposal.tag, Verdict.PENDING_APPROVAL, reasons, None, ramp)
    return Decision(proposal.id, proposal.tag, verdict, reasons, value, ramp)


def _rejected(proposal: Proposal, reasons: list[Reason]) -> Decision:
    return Decision(proposal.id, proposal.tag, Verdict.REJECTED, tuple(reasons))
