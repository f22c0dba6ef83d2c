"""The bounded door from a listener's event loop into the gateway's.

The AI-facing API runs on its own thread and event loop, so parsing a flood of requests never delays the
gateway's loop, where the scan, the HMI and every operator action run. Work that reads or changes the
gateway's state is handed over here and runs on the gateway's loop, one piece at a time, exactly as if
the API were served there: the write gate's check-then-write stays synchronous on that one loop. At most
`limit` pieces are in flight from other threads; beyond that the caller is told `Busy` at once instead of
queueing without bound.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")
DEFAULT_LIMIT = 64


class Busy(Exception):
    """More hand-offs in flight than the limit: answer "try again" instead of queueing."""


class HandOff:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, limit: int = DEFAULT_LIMIT) -> None:
        self._loop = loop  # None: the caller's own loop (tests and HIL runs serve the API on the gateway's)
        self._slots = threading.BoundedSemaphore(limit)

    @overload
    async def run(self, work: Callable[[], Awaitable[T]]) -> T: ...

    @overload
    async def run(self, work: Callable[[], T]) -> T: ...

    async def run(self, work: Callable[[], T | Awaitable[T]]) -> T:
        if self._loop is None or self._loop is asyncio.get_running_loop():
            return await _complete(work)
        if not self._slots.acquire(blocking=False):
            raise Busy
        try:
            done = asyncio.run_coroutine_threadsafe(_complete(work), self._loop)
            # shielded: a client that goes away must not cut the gateway's work in half
            return await asyncio.shield(asyncio.wrap_future(done))
        finally:
            self._slots.release()


async def _complete(work: Callable[[], T | Awaitable[T]]) -> T:
    result = work()
    if inspect.isawaitable(result):
        return await cast(Awaitable[T], result)
    return result
