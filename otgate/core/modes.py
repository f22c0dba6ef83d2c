"""Gateway-side loop modes.

- ``ai``: accepted AI setpoints are written; the PLC loop is in REMOTE.
- ``fallback``: conventional automation, the PLC loop in its local mode. Entered at start-up, on any
  anomaly, on PLC link loss or by an operator, and latched until an operator resets it with a reason.
- ``manual``: an operator's own setpoint; AI recommendations are recorded, never written.

Only ``ai`` lets a proposal through; every other mode answers MODE_BLOCKED.
"""

from __future__ import annotations

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
