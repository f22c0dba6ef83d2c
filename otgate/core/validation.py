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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Generic, TypeVar

from otgate.core.case import (
    Reasons,
    Request,
    SetpointCase,
    Writer,
    engine_writer,
    setpoint_case,
    tag_facts,
)
from otgate.core.codec import resolution
from otgate.core.config import Autonomy, RatePolicy, TagKind
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot
from otgate.core.ramp import plan_ramp
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
)

_RAMPABLE = frozenset({ReasonCode.MOVE_TOO_LARGE, ReasonCode.RATE_EXCEEDED})

C = TypeVar("C", Request, SetpointCase)


@dataclass(frozen=True, slots=True)
class Rule(Generic[C]):
    """One row of a chain: the rule, when the chain stops after it (None: never), and whether it reads
    the proposal's own id or value (`shared=False`) or only what its batch neighbours from the same
    source share: the snapshot, plant, history and time, the engine, tag, timestamps and model digest,
    and whether the value raises, lowers or keeps the read-back. `validate_many` judges a shared row
    once per source and direction; the single path ignores the flag."""

    check: Callable[[C], Reasons]
    halt: Callable[[C, Reasons], bool] | None = None
    shared: bool = False


def _fired(case: object, fired: Reasons) -> bool:
    return bool(fired)


def _no_setpoint(case: Request, fired: Reasons) -> bool:
    return case.rules is None or case.tag is None


def _not_finite(case: SetpointCase, fired: Reasons) -> bool:
    return not case.finite


# An engine's proposal as it arrives: identity and freshness, then the tag it names.
ENGINE_RULES: tuple[Rule[Request], ...] = (
    Rule(check_engine_quarantined, shared=True),
    Rule(check_replay),
    Rule(check_timestamps, shared=True),
    Rule(check_known_tag, shared=True),
    Rule(check_authorized, shared=True),
    Rule(check_writable, shared=True),
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
    Rule(check_plc_available, halt=_fired, shared=True),  # the rules below need a read-back
    Rule(check_mode, halt=_not_finite, shared=True),  # the rules below need a number
    Rule(check_interlocks, shared=True),  # the value counts only by its direction
    Rule(check_predicted),
    Rule(check_deadband, halt=_fired),  # no change: nothing to move
    Rule(check_move),
    Rule(check_rate),
    Rule(check_window),
    Rule(check_write_interval, shared=True),
)
# A decision made past the look-ahead carries its admissible setpoints.
_PAST_LOOK_AHEAD = next(i for i, r in enumerate(SETPOINT_RULES) if r.check is check_predicted)


def _run(
    rules: Sequence[Rule[C]], case: C, reasons: list[Reason], known: list[Reasons | None] | None = None
) -> int | None:
    """Each row once, in order, adding what fires to `reasons`; the index of the row it halted at.

    In a batch (`known`), a shared row's result is taken from `known` once one proposal has run it."""
    for index, rule in enumerate(rules):
        fired = None if known is None else known[index]
        if fired is None:
            fired = rule.check(case)
            if known is not None and rule.shared:
                known[index] = fired
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
    writer = Writer(Autonomy.AUTONOMOUS, 0.0, at_write, required_mode)
    facts = tag_facts(proposal.tag, rules, snapshot, plant, history, now, at_write)
    return _judge(setpoint_case(request, tag, rules, snapshot, now, writer, facts), reasons)


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
    writer = engine_writer(engine, rules, plant, at_submission)
    facts = tag_facts(proposal.tag, rules, snapshot, plant, history, now, writer.at_write)
    return _judge(setpoint_case(request, tag, rules, snapshot, now, writer, facts), reasons)


def validate_many(
    proposals: Sequence[Proposal],
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    *,
    wall: float | None = None,
) -> list[Decision]:
    """Many proposals against one snapshot, history and time, in one call: exactly the decisions `validate`
    gives each of them with the same arguments (so ids repeated within the batch are not replays of each
    other here: the caller records ids between batches, as between `validate` calls).

    The same chain, the same rules: what only depends on where a proposal comes from (engine, tag,
    timestamps, model digest) is worked out once per source (the lookups, the read-back, write history,
    rate period and budget base, and the rows `Rule.shared` marks), so a proposal pays only for the rows
    that read its own id or value."""
    at = now if wall is None else wall
    sources: dict[tuple[object, ...], _Source] = {}
    decisions: list[Decision] = []
    for p in proposals:
        key = (p.engine, p.tag, p.issued_at, p.basis_at, p.model_digest, p.clock_offset_s)
        source = sources.get(key)
        if source is None:
            source = sources[key] = _Source(p, snapshot, plant, history, now)
        decisions.append(source.decide(p, snapshot, plant, history, now, at))
    return decisions


class _Source:
    """What the proposals of one batch from one source share, and the shared rows' results so far."""

    __slots__ = ("engine", "engine_rows", "facts", "rules", "setpoint_rows", "tag", "writer")

    def __init__(self, proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float):
        self.engine = engine = plant.engine(proposal.engine)
        self.tag = tag = plant.tag(proposal.tag)
        self.rules = rules = tag.setpoint if tag is not None and tag.kind is TagKind.SETPOINT else None
        self.writer = engine_writer(engine, rules, plant, True) if rules is not None else None
        self.facts = (
            tag_facts(proposal.tag, rules, snapshot, plant, history, now, False)
            if rules is not None
            else None
        )
        self.engine_rows: list[Reasons | None] = [None] * len(ENGINE_RULES)
        # Per direction of the move (-1, 0, +1): interlocks judge the value only by its direction.
        self.setpoint_rows: dict[int, list[Reasons | None]] = {}

    def decide(
        self, proposal: Proposal, snapshot: Snapshot, plant: Plant, history: History, now: float, wall: float
    ) -> Decision:
        tag, rules, writer, facts = self.tag, self.rules, self.writer, self.facts
        request = Request(proposal, history, plant, self.engine, tag, wall, rules)
        reasons: list[Reason] = []
        halted = _run(ENGINE_RULES, request, reasons, self.engine_rows)
        if halted is not None or tag is None or rules is None or writer is None or facts is None:
            return _rejected(proposal, reasons)
        case = setpoint_case(request, tag, rules, snapshot, now, writer, facts)
        direction = (case.value > case.readback) - (case.value < case.readback)
        rows = self.setpoint_rows.get(direction)
        if rows is None:
            rows = self.setpoint_rows[direction] = [None] * len(SETPOINT_RULES)
        return _verdict(case, reasons, _run(SETPOINT_RULES, case, reasons, rows))


def _judge(case: SetpointCase, reasons: list[Reason]) -> Decision:
    return _verdict(case, reasons, _run(SETPOINT_RULES, case, reasons))


def _verdict(case: SetpointCase, reasons: list[Reason], halted: int | None) -> Decision:
    """The decision once the setpoint rows ran (`halted`: the row the chain stopped at, if any)."""
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
