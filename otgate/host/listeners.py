"""HTTP listeners (uvicorn) on the gateway's own event loop or on a thread and loop of their own.

The HMI listens on the gateway's loop; the AI-facing API on its own thread, so that a flood of engine
requests is read and parsed away from the loop where the scan and the operator's actions run.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from otgate.core.config import Listener as ListenerSettings
from otgate.deploy.tls import uvicorn_tls_options
from otgate.runtime.connection_guard import guarded_protocol

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns start and stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Listener:
    server: uvicorn.Server
    host: str
    port: int
    finished: Callable[[], Awaitable[None]]
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.finished(), STOP_TIMEOUT_S)


def _server(
    app: Callable[..., Any], host: str, port: int, settings: ListenerSettings | None, base: Path
) -> tuple[_QuietServer, str]:
    settings = settings or ListenerSettings(host=host, port=port)
    tls = uvicorn_tls_options(settings.tls, base)
    server = _QuietServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http=guarded_protocol(settings.max_connections, settings.request_timeout_s),
            # No handlers of uvicorn's own: its records go to the process's one handler
            # (otgate.deploy.logs), with the same format, level and redaction.
            log_config=None,
            log_level=None,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
            **tls,
        )
    )
    return server, "https" if tls else "http"


async def _started(server: uvicorn.Server, failed: Callable[[], BaseException | None]) -> int:
    async with asyncio.timeout(START_TIMEOUT_S):
        while not server.started:
            if (error := failed()) is not None:
                raise error  # why it could not start (port in use, ...)
            await asyncio.sleep(0.01)
    return int(server.servers[0].sockets[0].getsockname()[1])


async def start_listener(
    app: Callable[..., Any],
    host: str,
    port: int,
    settings: ListenerSettings | None = None,
    base: Path = Path("."),
) -> Listener:
    """A listener served by the running event loop (TLS files, if any, named relative to `base`)."""
    server, scheme = _server(app, host, port, settings, base)
    task = asyncio.create_task(server.serve())

    def failed() -> BaseException | None:
        return (task.exception() or RuntimeError("listener stopped")) if task.done() else None

    bound = await _started(server, failed)

    async def finished() -> None:
        await task

    return Listener(server, host, bound, finished, scheme)


async def start_listener_on_thread(
    app: Callable[..., Any],
    host: str,
    port: int,
    settings: ListenerSettings | None = None,
    base: Path = Path("."),
) -> Listener:
    """A listener served by an event loop of its own, on a thread of its own."""
    server, scheme = _server(app, host, port, settings, base)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve())
        except BaseException as error:  # reported to the starter; the thread just ends
            errors.append(error)

    thread = threading.Thread(target=serve, name=f"listener-{host}:{port}", daemon=True)
    thread.start()

    def failed() -> BaseException | None:
        if errors:
            return errors[0]
        return None if thread.is_alive() else RuntimeError("listener stopped")

    bound = await _started(server, failed)

    async def finished() -> None:
        await asyncio.to_thread(thread.join)

    return Listener(server, host, bound, finished, scheme)
