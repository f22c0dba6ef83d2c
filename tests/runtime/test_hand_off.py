"""The bounded door from the AI API's loop into the gateway's: work runs on the gateway's loop, errors
come back to the caller, a caller that goes away does not cut the work in half, and beyond the limit the
caller is told Busy at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from otgate.runtime.hand_off import Busy, HandOff


@pytest_asyncio.fixture
async def other_loop() -> AsyncIterator[asyncio.AbstractEventLoop]:
    """A second event loop on its own thread, standing for the AI API's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    await asyncio.to_thread(thread.join, 5)
    loop.close()


def on(loop: asyncio.AbstractEventLoop, coroutine: object) -> asyncio.Future[object]:
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))  # type: ignore[arg-type]


async def test_hand_off_runs_work_on_the_gateway_loop_and_returns_its_result(other_loop):
    gateway_thread = threading.get_ident()
    door = HandOff(asyncio.get_running_loop())
    ran_on: list[int] = []

    def work() -> int:
        ran_on.append(threading.get_ident())
        return 42

    assert await on(other_loop, door.run(work)) == 42
    assert ran_on == [gateway_thread]


async def test_hand_off_error_in_work_reaches_the_caller(other_loop):
    door = HandOff(asyncio.get_running_loop())

    def work() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await on(other_loop, door.run(work))


async def test_hand_off_awaitable_work_is_awaited_on_the_gateway_loop(other_loop):
    door = HandOff(asyncio.get_running_loop())

    async def work() -> str:
        await asyncio.sleep(0)
        return "durable"

    assert await on(other_loop, door.run(work)) == "durable"


async def test_hand_off_beyond_the_limit_is_busy_at_once(other_loop):
    door = HandOff(asyncio.get_running_loop(), limit=1)
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "done"

    first = on(other_loop, door.run(slow))
    await started.wait()
    with pytest.raises(Busy):
        await on(other_loop, door.run(lambda: "second"))
    release.set()
    assert await first == "done"
    assert await on(other_loop, door.run(lambda: "third")) == "third"  # the slot is free again


async def test_hand_off_caller_cancelled_the_work_still_completes(other_loop):
    door = HandOff(asyncio.get_running_loop())
    release = asyncio.Event()
    finished: list[str] = []

    async def work() -> None:
        await release.wait()
        finished.append("whole")

    caller = on(other_loop, door.run(work))
    await asyncio.sleep(0.05)
    caller.cancel()
    release.set()
    for _ in range(100):
        if finished:
            break
        await asyncio.sleep(0.01)
    assert finished == ["whole"]


async def test_hand_off_on_the_same_loop_runs_directly():
    door = HandOff()
    assert await door.run(lambda: threading.get_ident()) == threading.get_ident()
