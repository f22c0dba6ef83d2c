"""Where the gateway's time comes from. Everything time-dependent takes a Clock, so tests and HIL runs
drive simulated time deterministically while production uses the system clock."""

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

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.time()))


class ManualClock:
    """A clock that moves only when told to; `sleep_until` returns at once after advancing to the deadline."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start
        self.steady = 0.0

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
        self.advance(max(0.0, deadline - self.time))
        await asyncio.sleep(0)
