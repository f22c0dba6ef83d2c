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
from dataclasses import replace

from otgate.core.config import Autonomy, RatePolicy, SetpointRules, TagKind
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
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


def validate(proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float) -> Decision:
    return _validate(proposal, snapshot, plant, history, now, at_submission=True)


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
    return _validate(fresh, snapshot, plant, current, now, at_submission=False)


def validate_operator_setpoint(
    proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float
) -> Decision:
    """An operator's own setpoint for a loop in `manual`: the tag, value and process rules of the chain.

    Engine identity, freshness and autonomy do not apply to a person at the HMI; hard limits, read-back
    availability, the PLC being in REMOTE, interlocks, deadband, move, rate and change budget do, and a
    large move becomes a ramp under the tag's policy. Called again at each write, like `revalidate`.
    """
    tag = plant.tag(proposal.tag)
    if tag is None or tag.setpoint is None:
        reasons = [*check_known_tag(proposal, tag), *(check_writable(tag) if tag else ())]
        return _rejected(proposal, reasons)
    return _validate_setpoint(
        proposal, tag.setpoint, Autonomy.AUTONOMOUS, 0.0, snapshot, plant, history, now, [], LoopMode.MANUAL
    )


def _validate(
    proposal: Proposal,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    *,
    at_submission: bool,
) -> Decision:
    engine = plant.engine(proposal.engine)
    tag = plant.tag(proposal.tag)
    skew = plant.config.gateway.clock_skew_tolerance_s
    reasons = [
        *check_engine_quarantined(proposal, history),
        *check_replay(proposal, history),
        *check_timestamps(proposal, engine, skew, now),
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
    return _validate_setpoint(
        proposal, tag.setpoint, autonomy, grace_s, snapshot, plant, history, now, reasons, LoopMode.AI
    )


def _validate_setpoint(
    proposal: Proposal,
    rules: SetpointRules,
    autonomy: Autonomy,
    grace_s: float,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    reasons: list[Reason],
    required_mode: LoopMode,
) -> Decision:
    value = proposal.value
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
    no_change = check_deadband(value, readback, rules)
    if no_change:
        return _rejected(proposal, reasons + list(no_change))
    writes = history.writes.get(proposal.tag, ())
    reasons += _movement_reasons(value, readback, rules, plant, writes, now, grace_s)
    if not reasons:
        return _approved(proposal, autonomy, Verdict.ACCEPTED, value, ())
    return _ramp_or_reject(proposal, rules, autonomy, plant, readback, writes, now, reasons)


def _movement_reasons(
    value: float,
    readback: float,
    rules: SetpointRules,
    plant: Plant,
    writes: Sequence[WriteEvent],
    now: float,
    grace_s: float,
) -> list[Reason]:
    return [
        *check_move(value, readback, rules),
        *check_rate(value, readback, rules, plant.write_period_s),
        *check_window(value, readback, rules, writes, now),
        *check_write_interval(rules, writes, now, grace_s),
    ]


def _ramp_or_reject(
    proposal: Proposal,
    rules: SetpointRules,
    autonomy: Autonomy,
    plant: Plant,
    readback: float,
    writes: Sequence[WriteEvent],
    now: float,
    reasons: list[Reason],
) -> Decision:
    if rules.on_rate_violation is RatePolicy.RAMP and {r.code for r in reasons} <= _RAMPABLE:
        base = window_base(writes, readback, rules.change_budget.window_s, now)
        plan = plan_ramp(readback, proposal.value, rules, plant.write_period_s, base)
        if plan:
            return _approved(proposal, autonomy, Verdict.RAMPING, plan[0], plan, tuple(reasons))
    return _rejected(proposal, reasons)


def plan_ramp(
    start: float, target: float, rules: SetpointRules, write_period_s: float, base: float
) -> tuple[float, ...]:
    """Setpoints from `start` to `target`, one per write period, each within move, rate, limits and budget.

    Returns () when no such plan exists (start outside the limits, or the target beyond the budget).
    """
    upward = target > start
    step = min(
        rules.max_move_up if upward else rules.max_move_down, step_limit(rules, upward, write_period_s)
    )
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
    if autonomy is Autonomy.ADVISORY:
        return Decision(proposal.id, proposal.tag, Verdict.ADVISORY, reasons, None, ramp)
    if autonomy is Autonomy.SUPERVISED:
        return Decision(proposal.id, proposal.tag, Verdict.PENDING_APPROVAL, reasons, None, ramp)
    return Decision(proposal.id, proposal.tag, verdict, reasons, value, ramp)


def _rejected(proposal: Proposal, reasons: list[Reason]) -> Decision:
    return Decision(proposal.id, proposal.tag, Verdict.REJECTED, tuple(reasons))
