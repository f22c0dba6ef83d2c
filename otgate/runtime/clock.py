"""Where the gateway's time comes from: the one module that reads the system clocks.

Two time bases, each for its own job (one time base for durations):
- `monotonic()` never steps. Every duration the gateway keeps runs on it: scan pacing, the heartbeat
  period, engine-silent timeouts, write intervals, change-budget windows, replay-id memory, approval
  expiry, session idle timeouts, rate limits, monitors' windows.
- `now()` is the wall clock. It only stamps records (the audit trail, alarms) and judges an engine's
  `issued_at`. A step of it (NTP, an operator's date change) moves no timer; it is detected by comparing
  the two (`CLOCK_JUMP`).
Everything time-dependent takes a Clock, so tests and HIL runs drive simulated time deterministically.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the UNIX epoch (simulated in tests and HIL)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps; compared with `now` to detect wall-clock jumps."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Wait until `monotonic()` reaches `deadline`."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class ManualClock:
    """A clock that moves only when told to; `sleep_until` returns at once after advancing to the deadline.

    Both bases start at `start` and move together until `jump` steps the wall clock alone."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start
        self.steady = start

    def now(self) -> float:
        return self.time

    def monotonic(self) -> float:
        return self.steady

    def advance(self, seconds: float) -> None:
        self.time += seconds
        self.steady += seconds

    def jump(self, seconds: float) -> None:
        """Step the wall clock only, as a bad NTP step or an operator's date change would."""
        self.time += seconds

    async def sleep_until(self, deadline: float) -> None:
        self.advance(max(0.0, deadline - self.steady))
        await asyncio.sleep(0)
