"""The one value a validation rule judges: a proposal with everything the rules need to know about it.

Two stages, because what can be known grows as the chain goes on: a `Request` (the proposal, who sent
it and which tag it names) is judged first; only a request for an AI-writable setpoint becomes a
`SetpointCase`, which adds the value as the PLC would hold it, the loop, the read-back and the tag's
write history. Both are built once per proposal and never change, so every rule reads the same facts.
They are named tuples, not frozen dataclasses: just as immutable, and built in a third of the time (a
frozen dataclass sets each field through `object.__setattr__`), which matters on a path run per proposal.

A setpoint case is assembled from three parts so that a batch can share two of them: who writes
(`Writer`), what the tag is now (`TagFacts`: loop, read-back, write history, rate period, budget base)
and the proposal's own value (`setpoint_case`).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from operator import attrgetter
from typing import NamedTuple

from otgate.core.codec import quantize
from otgate.core.config import Autonomy, Engine, Loop, SetpointRules, Tag
from otgate.core.decision import Reason
from otgate.core.look_ahead import check_predicted as look_ahead
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent

Reasons = tuple[Reason, ...]
_AT = attrgetter("at")


class Request(NamedTuple):
    """A proposal as it arrives: judged on identity, freshness and the tag it names."""

    proposal: Proposal
    history: History
    plant: Plant
    engine: Engine | None
    tag: Tag | None
    wall: float  # the wall-clock time an engine's timestamps are judged against
    rules: SetpointRules | None  # None: the tag is not a setpoint this chain may write


class SetpointCase(NamedTuple):
    """A proposal for a writable setpoint: judged on its value against the process and its history."""

    proposal: Proposal
    snapshot: Snapshot
    plant: Plant
    tag: Tag
    rules: SetpointRules
    value: float  # the value the PLC will hold (quantized on integer tags)
    finite: bool
    loop_name: str
    loop: Loop
    readback: float  # the PLC's working setpoint; NaN when there is none (the availability rule halts)
    writes: Sequence[WriteEvent]  # the tag's confirmed writes, oldest first
    now: float  # the time base of every duration (the gateway's monotonic clock)
    period_s: float  # the time one step's rate is judged over
    window_base: float  # the working setpoint at the start of the change-budget window
    grace_s: float  # how long until the write can happen (one scan at submission)
    required_mode: LoopMode  # the gateway mode the loop must be in for this writer
    autonomy: Autonomy
    # The look-ahead's admissible setpoints and the reasons it fired, judged once when the case is built
    # (AI moves only, a finite value and a read-back present): (None, ()) otherwise.
    look_ahead: tuple[tuple[float, float] | None, Reasons]


def window_start(writes: Sequence[WriteEvent], readback: float, window_s: float, now: float) -> float:
    """The working setpoint at the start of the budget window: before its oldest write, else now.

    The writes are oldest first, so `now - at <= window_s` is False then True along them: a bisection
    finds the first write inside the window in log time (a tag moved every second keeps 7,200 writes).
    It bisects on the times themselves (`at >= now - window_s`, compared in C), then settles the boundary
    with the rule's own comparison, which rounding can move by a write or two."""
    if not writes:
        return readback
    if now - writes[0].at <= window_s:  # the whole history lies in the window (the common case)
        return writes[0].previous
    index = bisect_left(writes, now - window_s, key=_AT)
    while index > 0 and now - writes[index - 1].at <= window_s:
        index -= 1
    while index < len(writes) and now - writes[index].at > window_s:
        index += 1
    return writes[index].previous if index < len(writes) else readback


def rate_period(
    write_period_s: float, rules: SetpointRules, writes: Sequence[WriteEvent], now: float, at_write: bool
) -> float:
    """The time one step's rate is judged over. At the write it is the time actually elapsed since the
    last confirmed write (capped at one write period): a late scan followed by an on-time one must not
    put two full steps a fraction of a second apart."""
    period = max(write_period_s, rules.min_write_interval_s)
    if not at_write or not writes:
        return period
    return max(0.0, min(period, now - writes[-1].at))


def readback_of(snapshot: Snapshot, loop: Loop) -> float:
    return snapshot.values.get(loop.working_sp, math.nan)


class Writer(NamedTuple):
    """For whom a setpoint is judged (mode, autonomy) and when (at submission or at the write)."""

    autonomy: Autonomy
    grace_s: float  # how long until the write can happen (one scan at submission)
    at_write: bool  # judged at the write: the rate is over the time actually elapsed since the last write
    required_mode: LoopMode


def engine_writer(engine: Engine | None, rules: SetpointRules, plant: Plant, at_submission: bool) -> Writer:
    """An engine's proposal: at submission the tag's autonomy capped by the engine's, written a scan
    later; at the write (re-validation) the write is already allowed, and judged at this instant."""
    ceiling = engine.max_autonomy if engine is not None else Autonomy.ADVISORY
    autonomy = rules.autonomy.capped(ceiling) if at_submission else Autonomy.AUTONOMOUS
    grace_s = plant.write_period_s if at_submission else 0.0
    return Writer(autonomy, grace_s, not at_submission, LoopMode.AI)


class TagFacts(NamedTuple):
    """What the setpoint rules need to know about the tag itself, whatever value is proposed."""

    loop_name: str
    loop: Loop
    readback: float
    writes: Sequence[WriteEvent]
    period_s: float
    window_base: float


def tag_facts(
    name: str,
    rules: SetpointRules,
    snapshot: Snapshot,
    plant: Plant,
    history: History,
    now: float,
    at_write: bool,
) -> TagFacts:
    loop_name, loop = plant.loop_by_setpoint[name]
    readback = readback_of(snapshot, loop)
    writes = history.writes.get(name, ())
    period_s = rate_period(plant.write_period_s, rules, writes, now, at_write)
    base = window_start(writes, readback, rules.change_budget.window_s, now)
    return TagFacts(loop_name, loop, readback, writes, period_s, base)


def setpoint_case(
    request: Request,
    tag: Tag,
    rules: SetpointRules,
    snapshot: Snapshot,
    now: float,
    writer: Writer,
    facts: TagFacts,
) -> SetpointCase:
    proposal, plant = request.proposal, request.plant
    value = as_encoded(proposal.value, tag)
    finite = math.isfinite(value)
    loop, readback = facts.loop, facts.readback
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
        facts.loop_name,
        loop,
        readback,
        facts.writes,
        now,
        facts.period_s,
        facts.window_base,
        writer.grace_s,
        writer.required_mode,
        writer.autonomy,
        look_ahead(proposal.tag, value, readback, rules, plant, snapshot) if judged else (None, ()),
    )


def as_encoded(value: float, tag: Tag) -> float:
    """Judge the value the PLC will hold, not the float before rounding (an int16 799.5 is written 800).

    Float tags keep the proposed value: float32 rounding (2**-24 relative) lies inside the rules' slack."""
    if tag.type.is_float:
        return value
    try:
        return quantize(value, tag.type, tag.scale, tag.offset)
    except ValueError:
        return value  # not representable at all: the range check refuses it (or it is not finite)
