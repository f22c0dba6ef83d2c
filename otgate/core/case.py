"""The one value a validation rule judges: a proposal with everything the rules need to know about it.

Two stages, because what can be known grows as the chain goes on: a `Request` (the proposal, who sent
it and which tag it names) is judged first; only a request for an AI-writable setpoint becomes a
`SetpointCase`, which adds the value as the PLC would hold it, the loop, the read-back and the tag's
write history. Both are built once per proposal and never change, so every rule reads the same facts.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

from otgate.core.config import Autonomy, Engine, Loop, SetpointRules, Tag
from otgate.core.decision import Reason
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent

Reasons = tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Request:
    """A proposal as it arrives: judged on identity, freshness and the tag it names."""

    proposal: Proposal
    history: History
    plant: Plant
    engine: Engine | None
    tag: Tag | None
    wall: float  # the wall-clock time an engine's timestamps are judged against
    rules: SetpointRules | None  # None: the tag is not a setpoint this chain may write


@dataclass(frozen=True, slots=True)
class SetpointCase:
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
    finds the first write inside the window in log time (a tag moved every second keeps 7,200 writes)."""
    if not writes:
        return readback
    if now - writes[0].at <= window_s:  # the whole history lies in the window (the common case)
        return writes[0].previous
    index = bisect_left(writes, True, key=lambda event: now - event.at <= window_s)
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
