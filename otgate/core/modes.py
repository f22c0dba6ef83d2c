"""Gateway-side loop modes and the transitions between them.

Invariants:
- A loop is in exactly one of ``ai``, ``fallback`` or ``manual``. Only ``ai`` lets a proposal through;
  every other mode answers MODE_BLOCKED.
- ``fallback`` is conventional automation: the PLC loop in its local mode. It is where every loop starts
  (a gateway that starts up starts in fallback) and where any anomaly, PLC link loss or operator sends it.
- A fallback entered on an anomaly (or by an operator) is **latched**: only an operator ``reset`` with a
  reason unlatches it, and even then AI control returns only on an explicit ``engage``. Nothing in the
  gateway ever moves a loop *into* ``ai`` on its own.
- The latch survives ``manual``: an operator may take a latched loop into manual (their own setpoint), but
  ``engage`` from there is refused until a ``reset`` (fallback -> manual -> engage must not launder a latch).
- ``fallback`` is always allowed. ``manual`` is toward safety only from ``ai`` (it takes the AI out); from
  ``fallback`` it asks the PLC for REMOTE, so it is a move *away* from conventional control (`DIRECTION`).

Transitions, as a table of (mode, latched, event) -> (mode, latched); anything absent is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class LoopMode(StrEnum):
    AI = "ai"
    FALLBACK = "fallback"
    MANUAL = "manual"


class PlcMode(IntEnum):
    """The PLC's own loop mode, as the mode register encodes it (see docs/PLC_INTEGRATION.md)."""

    MAN = 0
    AUTO = 1
    REMOTE = 2


class ModeEvent(StrEnum):
    ENGAGE = "engage"  # operator: hand the loop to AI control
    FALLBACK = "fallback"  # anomaly or operator: back to conventional control, latched
    MANUAL = "manual"  # operator: operator's own setpoint
    RESET = "reset"  # operator, with a reason: unlatch a fallback (does not engage)


@dataclass(frozen=True, slots=True)
class LoopState:
    mode: LoopMode = LoopMode.FALLBACK
    latched: bool = False
    reason: str = "start-up"


_F, _A, _M = LoopMode.FALLBACK, LoopMode.AI, LoopMode.MANUAL
TRANSITIONS: dict[tuple[LoopMode, bool, ModeEvent], tuple[LoopMode, bool]] = {
    (_F, False, ModeEvent.ENGAGE): (_A, False),
    (_F, False, ModeEvent.FALLBACK): (_F, True),
    (_F, False, ModeEvent.MANUAL): (_M, False),
    (_F, False, ModeEvent.RESET): (_F, False),
    (_F, True, ModeEvent.FALLBACK): (_F, True),
    (_F, True, ModeEvent.RESET): (_F, False),
    (_A, False, ModeEvent.FALLBACK): (_F, True),
    (_A, False, ModeEvent.MANUAL): (_M, False),
    (_A, False, ModeEvent.ENGAGE): (_A, False),
    (_M, False, ModeEvent.ENGAGE): (_A, False),
    (_M, False, ModeEvent.FALLBACK): (_F, True),
    (_M, False, ModeEvent.MANUAL): (_M, False),
    (_F, True, ModeEvent.MANUAL): (_M, True),
    (_M, True, ModeEvent.FALLBACK): (_F, True),
    (_M, True, ModeEvent.MANUAL): (_M, True),
    (_M, True, ModeEvent.RESET): (_M, False),
}


class Direction(StrEnum):
    """Whether a transition takes a loop toward conventional control or away from it."""

    TOWARD_SAFETY = "toward_safety"  # allowed to a locked-out session, applied even if the trail is down
    AWAY = "away"  # needs a full session, and happens only once the trail has recorded it


def direction(state: LoopState, event: ModeEvent) -> Direction:
    """`fallback` always moves toward safety; `manual` only when it takes the loop out of AI control."""
    if event is ModeEvent.FALLBACK or (event is ModeEvent.MANUAL and state.mode is LoopMode.AI):
        return Direction.TOWARD_SAFETY
    if event is ModeEvent.MANUAL and state.mode is LoopMode.MANUAL:
        return Direction.TOWARD_SAFETY  # stays where it is
    return Direction.AWAY


def transition(state: LoopState, event: ModeEvent, reason: str) -> LoopState | None:
    """The state after `event`, or None when the table refuses it (the caller reports why)."""
    target = TRANSITIONS.get((state.mode, state.latched, event))
    if target is None:
        return None
    return LoopState(target[0], target[1], reason)
