"""How an agent reaches the MCP server: stdio (the agent's host starts `otgate mcp` as its child) or
streamable HTTP on a local port.

Over HTTP, whoever can reach the port could act as the engine, so the listener asks for the same bearer
token the engine holds (compared by digest in constant time), binds 127.0.0.1 by default, and keeps the
SDK's DNS-rebinding protection for local hosts. Over stdio the agent's host owns the process and its pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
START_TIMEOUT_S = 10.0


class RequireBearer:
    def __init__(self, app: App, token: str) -> None:
        self.app = app
        self.digest = hashlib.sha256(token.encode()).digest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorised(scope):
            body = json.dumps({"error": "unauthorized"}).encode()
            headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        value = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, token = value.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return False
        return hmac.compare_digest(hashlib.sha256(token).digest(), self.digest)


def http_app(server: MCPServer, token: str, host: str) -> App:
    return RequireBearer(server.streamable_http_app(host=host), token)


@dataclass
class HttpListener:
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10.0)


async def start_http(app: App, host: str, port: int) -> HttpListener:
    """Serve until `stop()`; port 0 takes any free port (the URL says which). Lifespan on: the SDK's
    session manager runs in it."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    server.capture_signals = _no_signal_capture  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_TIMEOUT_S):
        while not server.started:
            if task.done():
                task.result()  # re-raise why it could not start (port in use, ...)
            await asyncio.sleep(0.01)
    bound = int(server.servers[0].sockets[0].getsockname()[1])
    return HttpListener(server, task, f"http://{host}:{bound}/mcp")


def _no_signal_capture() -> Any:
    """The command owns SIGINT/SIGTERM; uvicorn must not install its own handlers over them."""
    return contextlib.nullcontext()
