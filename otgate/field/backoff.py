"""Pacing of reconnect attempts to a PLC: exponential back-off that only a real exchange resets.

Both protocol libraries reset their own back-off whenever a TCP connect succeeds, so a peer that accepts
and at once closes (a PLC at its connection limit, a misconfigured proxy) is hammered with ~10 connects a
second whatever the configured maximum. Here the back-off resets only when a request was answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from otgate.field.link import LinkDown


class Backoff:
    def __init__(self, min_s: float, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError(f"need 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self._clock = clock
        self.failures = 0
        self._next_attempt = float("-inf")

    def check(self) -> None:
        """Raise LinkDown if the next attempt is not due yet."""
        wait_s = self._next_attempt - self._clock()
        if wait_s > 0:
            raise LinkDown(f"reconnect back-off: next attempt in {wait_s:.2f} s ({self.failures} failures)")

    def failed(self) -> None:
        self.failures += 1
        delay_s = min(self.max_s, self.min_s * 2.0 ** (self.failures - 1))
        self._next_attempt = self._clock() + delay_s

    def succeeded(self) -> None:
        self.failures = 0
        self._next_attempt = float("-inf")
