"""The bounded door from a listener's event loop into the gateway's.

The AI-facing API runs on its own thread and event loop, so parsing a flood of requests never delays the
gateway's loop, where the scan, the HMI and every operator action run. Work that reads or changes the
gateway's state is handed over here and runs on the gateway's loop, one piece at a time, exactly as if
the API were served there: the write gate's check-then-write stays synchronous on that one loop. At most
`limit` pieces are in flight from other threads; beyond that the caller is told `Busy` at once instead of
queueing without bound. Pieces are admitted to the gateway's loop one per turn of the loop, behind
whatever is already ready there (an operator's request, the scan), so a flood adds at most one engine
decision ahead of each step of an operator's request.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar, cast, overload

T = TypeVar("T")
DEFAULT_LIMIT = 64


class Busy(Exception):
    """More hand-offs in flight than the limit: answer "try again" instead of queueing."""


class HandOff:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, limit: int = DEFAULT_LIMIT) -> None:
        self._loop = loop  # None: the caller's own loop (tests and HIL runs serve the API on the gateway's)
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._admitting = False

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
            done: Future[T] = Future()
            with self._lock:
                self._waiting.append((work, done))
                if not self._admitting:
                    self._admitting = True
                    self._loop.call_soon_threadsafe(self._admit_one)
            # shielded: a client that goes away must not cut the gateway's work in half
            return await asyncio.shield(asyncio.wrap_future(done))
        finally:
            self._slots.release()

    def _admit_one(self) -> None:
        """On the gateway's loop: start the oldest waiting piece; the next waits for the loop's next turn."""
        assert self._loop is not None
        with self._lock:
            work, done = self._waiting.popleft()
            self._admitting = bool(self._waiting)
        if self._admitting:
            self._loop.call_soon(self._admit_one)
        task = self._loop.create_task(_complete(work))
        task.add_done_callback(lambda finished: _settle(done, finished))


def _settle(done: Future[Any], finished: asyncio.Task[Any]) -> None:
    if finished.cancelled():
        done.cancel()
    elif (error := finished.exception()) is not None:
        done.set_exception(error)
    else:
        done.set_result(finished.result())


async def _complete(work: Callable[[], T | Awaitable[T]]) -> T:
    result = work()
    if inspect.isawaitable(result):
        return await cast(Awaitable[T], result)
    return result
