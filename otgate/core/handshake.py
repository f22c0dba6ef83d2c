"""The engage/release handshake with the PLC, as a table: gateway side × PLC mode × deadline -> action.

The gateway owns the loop's mode (`modes.py`); the PLC owns whether its loop actually takes the remote
setpoint. Each scan the gateway reads the PLC's mode register and asks this table what to do.

Invariants:
- A PLC mode value that is not one of the defined codes is UNKNOWN and counts as "not REMOTE" for that
  loop alone: it never confirms an engagement, never confirms a release, and the caller alarms it.
- A gateway that holds a loop remote (`ai` or `manual`) and sees the PLC leave REMOTE after confirming it
  never fights the PLC: the loop falls back (watchdog shed, panel operator, PLC restart).
- An engagement the PLC has not confirmed by its deadline falls back; a release it has not confirmed by its
  deadline raises FALLBACK_UNCONFIRMED and keeps asking (the PLC watchdog remains the backstop).
"""

from __future__ import annotations

import math
from enum import StrEnum

from otgate.core.modes import PlcMode


class PlcState(StrEnum):
    REMOTE = "remote"
    LOCAL = "local"  # MAN or AUTO: the PLC's own control
    UNKNOWN = "unknown"  # a value outside the defined codes


class Action(StrEnum):
    HOLD = "hold"  # remote, confirmed: nothing to do
    CONFIRM_REMOTE = "confirm_remote"  # the PLC took REMOTE: record it, baseline the monitors
    REQUEST_REMOTE = "request_remote"  # ask again (the PLC may take a scan or two)
    ENGAGE_REFUSED = "engage_refused"  # deadline passed without REMOTE: fall back
    REMOTE_LOST = "remote_lost"  # the PLC left REMOTE by itself: fall back
    CONFIRM_LOCAL = "confirm_local"  # released: record the confirmation if one was awaited
    REQUEST_LOCAL = "request_local"  # ask for the local mode (after any safe-value ramp)
    RELEASE_OVERDUE = "release_overdue"  # still not local after the deadline: alarm, keep asking


# (gateway holds remote, remote confirmed, PLC state) -> (action within the deadline, action after it)
_R, _L, _U = PlcState.REMOTE, PlcState.LOCAL, PlcState.UNKNOWN
TABLE: dict[tuple[bool, bool, PlcState], tuple[Action, Action]] = {
    (True, True, _R): (Action.HOLD, Action.HOLD),
    (True, True, _L): (Action.REMOTE_LOST, Action.REMOTE_LOST),
    (True, True, _U): (Action.REMOTE_LOST, Action.REMOTE_LOST),
    (True, False, _R): (Action.CONFIRM_REMOTE, Action.CONFIRM_REMOTE),
    (True, False, _L): (Action.REQUEST_REMOTE, Action.ENGAGE_REFUSED),
    (True, False, _U): (Action.REQUEST_REMOTE, Action.ENGAGE_REFUSED),
    (False, False, _R): (Action.REQUEST_LOCAL, Action.RELEASE_OVERDUE),
    (False, False, _L): (Action.CONFIRM_LOCAL, Action.CONFIRM_LOCAL),
    (False, False, _U): (Action.REQUEST_LOCAL, Action.RELEASE_OVERDUE),
}


def plc_state(value: float) -> PlcState:
    """Classify a mode register's value; anything but an exact defined code is UNKNOWN."""
    if not math.isfinite(value) or value != int(value):
        return PlcState.UNKNOWN
    code = int(value)
    if code == PlcMode.REMOTE:
        return PlcState.REMOTE
    if code in (PlcMode.MAN, PlcMode.AUTO):
        return PlcState.LOCAL
    return PlcState.UNKNOWN


def next_action(holds_remote: bool, remote_confirmed: bool, plc: PlcState, overdue: bool) -> Action:
    """What the gateway does this scan for one loop. A released loop is never 'remote confirmed'."""
    in_time, late = TABLE[(holds_remote, remote_confirmed and holds_remote, plc)]
    return late if overdue else in_time
