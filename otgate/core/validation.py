"""The one validation chain every AI setpoint passes before anything can reach a PLC.

`validate` is pure and deterministic: the same proposal, snapshot, plant, history and time always give
the same `Decision`. It never raises for bad input; it evaluates every rule that applies and names each
one that fired, in rule order (identity and freshness first, then the tag, then the value, then the
process state). With the `ramp` policy a move that is too large or too fast becomes a ramp plan whose
every step respects every rule, instead of a single write.

The chain is the ordered tables below (h11-style): each row is one rule of `otgate.core.rules`, a pure
function of one case (`otgate.core.case`), and the case it stops at if a fact the later rules need is
missing (no setpoint to judge, no read-back, no finite value, no change). A proposal visits each row at
most once, in order; a new rule is one row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, TypeVar

from otgate.core.case import (
    Reasons,
    Request,
    SetpointCase,
    rate_period,
    readback_of,
    window_start,
)
from otgate.core.codec import quantize, resolution
from otgate.core.config import Autonomy, RatePolicy, SetpointRules, Tag, TagKind
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.look_ahead import check_predicted as look_ahead
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot
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
    check_predicted,
    check_range,
    check_rate,
    check_replay,
    check_timestamps,
    check_value_finite,
    check_window,
    check_writable,
    check_write_interval,
    step_limit,
)

# A ramp longer than this is refused rather than planned (bounded memory per decision).
MAX_RAMP_STEPS = 20_000
_RAMPABLE = frozenset({ReasonCode.MOVE_TOO_LARGE, ReasonCode.RATE_EXCEEDED})

C = TypeVar("C", Request, SetpointCase)


@dataclass(frozen=True, slots=True)
class Rule(Generic[C]):
    """One row of a chain: the rule, and when the chain stops after it (None: never)."""

    check: Callable[[C], Reasons]
    halt: Callable[[C, Reasons], bool] | None = None


def _fired(case: object, fired: Reasons) -> bool:
    return bool(fired)


def _no_setpoint(case: Request, fired: Reasons) -> bool:
    return case.rules is None or case.tag is None


def _not_finite(case: SetpointCase, fired: Reasons) -> bool:
    return not case.finite


# An engine's proposal as it arrives: identity and freshness, then the tag it names.
ENGINE_RULES: tuple[Rule[Request], ...] = (
    Rule(check_engine_quarantined),
    Rule(check_replay),
    Rule(check_timestamps),
    Rule(check_known_tag),
    Rule(check_authorized),
    Rule(check_writable),
    Rule(check_value_finite, halt=_no_setpoint),
)

# The gateway's own writes (an operator's setpoint, the fallback's safe value): the tag only.
GATEWAY_RULES: tuple[Rule[Request], ...] = (
    Rule(check_known_tag),
    Rule(check_writable, halt=_no_setpoint),
)

# Every writer's setpoint: the value, then the process state, then how far and how fast it moves.
SETPOINT_RULES: tuple[Rule[SetpointCase], ...] = (
    Rule(check_finite),
    Rule(check_range),
    Rule(check_plc_available, halt=_fired),  # the rules below need a read-back
    Rule(check_mode, halt=_not_finite),  # the rules below need a number
    Rule(check_interlocks),
    Rule(check_predicted),
    Rule(check_deadband, halt=_fired),  # no change: nothing to move
    Rule(check_move),
    Rule(check_rate),
    Rule(check_window),
    Rule(check_write_interval),
)
# A decision made past the look-ahead carries its admissible setpoints.
_PAST_LOOK_AHEAD = next(i for i, r in enumerate(SETPOINT_RULES) if r.check is check_predicted)


def _run(rules: Sequence[Rule[C]], case: C, reasons: list[Reason]) -> int | None:
    """Each row once, in order, adding what fires to `reasons`; the index of the row it halted at."""
    for index, rule in enumerate(rules):
        fired = rule.check(case)
        if fired:
            reasons.extend(fired)
        halt = rule.halt
        if halt is not None and halt(case, fired):
            return index
    return None


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
    rules = tag.setpoint if tag is not None else None
    request = Request(proposal, history, plant, None, tag, now, rules)
    reasons: list[Reason] = []
    if _run(GATEWAY_RULES, request, reasons) is not None or tag is None or rules is None:
        return _rejected(proposal, reasons)
    writer = _Writer(Autonomy.AUTONOMOUS, 0.0, at_write, required_mode)
    return _judge(_setpoint_case(request, tag, rules, snapshot, now, writer), reasons)


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
    rules = tag.setpoint if tag is not None and tag.kind is TagKind.SETPOINT else None
    request = Request(proposal, history, plant, engine, tag, wall, rules)
    reasons: list[Reason] = []
    if _run(ENGINE_RULES, request, reasons) is not None or tag is None or rules is None:
        return _rejected(proposal, reasons)
    ceiling = engine.max_autonomy if engine is not None else Autonomy.ADVISORY
    autonomy = rules.autonomy.capped(ceiling) if at_submission else Autonomy.AUTONOMOUS
    grace_s = plant.write_period_s if at_submission else 0.0
    writer = _Writer(autonomy, grace_s, not at_submission, LoopMode.AI)
    return _judge(_setpoint_case(request, tag, rules, snapshot, now, writer), reasons)


@dataclass(frozen=True, slots=True)
class _Writer:
    """For whom a setpoint is judged (mode, autonomy) and when (at submission or at the write)."""

    autonomy: Autonomy
    grace_s: float  # how long until the write can happen (one scan at submission)
    at_write: bool  # judged at the write: the rate is over the time actually elapsed since the last write
    required_mode: LoopMode


def _setpoint_case(
    request: Request, tag: Tag, rules: SetpointRules, snapshot: Snapshot, now: float, writer: _Writer
) -> SetpointCase:
    proposal, plant = request.proposal, request.plant
    value = _as_encoded(proposal.value, tag)
    finite = math.isfinite(value)
    loop_name, loop = plant.loop_by_setpoint[proposal.tag]
    readback = readback_of(snapshot, loop)
    writes = request.history.writes.get(proposal.tag, ())
    judged = (
        writer.required_mode is LoopMode.AI  # the look-ahead judges AI moves (operators, fallback: no)
        and finite
        and snapshot.plc_available
        and loop.working_sp in snapshot.values
    )
    # Positional, in field order: this runs once per proposal and keywords cost a tenth of the chain.
    return SetpointCase(
        proposal,
        snapshot,
        plant,
        tag,
        rules,
        value,
        finite,
        loop_name,
        loop,
        readback,
        writes,
        now,
        rate_period(plant.write_period_s, rules, writes, now, writer.at_write),
        window_start(writes, readback, rules.change_budget.window_s, now),
        writer.grace_s,
        writer.required_mode,
        writer.autonomy,
        look_ahead(proposal.tag, value, readback, rules, plant, snapshot) if judged else (None, ()),
    )


def _judge(case: SetpointCase, reasons: list[Reason]) -> Decision:
    halted = _run(SETPOINT_RULES, case, reasons)
    decision = _rejected(case.proposal, reasons) if halted is not None else _conclude(case, reasons)
    admissible = case.look_ahead[0]
    if admissible is None or (halted is not None and halted < _PAST_LOOK_AHEAD):
        return decision
    return replace(decision, admissible=admissible)


def _conclude(case: SetpointCase, reasons: list[Reason]) -> Decision:
    """Every rule ran: a write, a ramp when only move and rate fired under the ramp policy, or a refusal."""
    proposal, rules, autonomy = case.proposal, case.rules, case.autonomy
    if not reasons:
        return _approved(proposal, autonomy, Verdict.ACCEPTED, case.value, ())
    if rules.on_rate_violation is RatePolicy.RAMP and {r.code for r in reasons} <= _RAMPABLE:
        step = resolution(case.tag.type, case.tag.scale)
        plan = plan_ramp(case.readback, case.value, rules, case.period_s, case.window_base, step)
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
