"""A connection to the gateway's AI-facing API, on httpx: the one client the demo engine, `otgate engine
run`, the MCP server and user code share.

Errors come back as `GatewayError` (HTTP status, the gateway's error code, its correlation id, field
errors); a rejected proposal is not an error but a `Decision`. A 429 is honoured: the client waits the
`Retry-After` seconds (bounded) and sends the same recommendations again, which is safe because a refused
request was never decided. The synchronous `GatewayClient` drives the asynchronous one on its own event
loop rather than repeating it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from otgate.api.schemas import ModelInfo
from otgate.client.models import Decision, Proposal, State, Tags, batch_body, read_decisions

MAX_RETRY_AFTER_S = 30.0
T = TypeVar("T", bound=BaseModel)


class GatewayError(Exception):
    def __init__(self, status: int, code: str, correlation_id: str | None, fields: list[Any] | None) -> None:
        super().__init__(f"gateway answered {status} {code} (id {correlation_id})")
        self.status, self.code, self.correlation_id, self.fields = status, code, correlation_id, fields


def _error(response: httpx.Response) -> GatewayError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return GatewayError(
        response.status_code, str(body.get("error", "http_error")), body.get("id"), body.get("fields")
    )


class AsyncGatewayClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        model: ModelInfo | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=timeout_s,
            transport=transport,
        )
        self.model, self.retries, self.now, self.sleep = model, retries, now, sleep

    async def tags(self, *, headers: dict[str, str] | None = None) -> Tags:
        return await self._get("/v1/tags", Tags, headers)

    async def state(self, *, headers: dict[str, str] | None = None) -> State:
        return await self._get("/v1/state", State, headers)

    async def propose(self, proposal: Proposal) -> Decision:
        (decision,) = await self.propose_many([proposal])
        return decision

    async def propose_many(self, proposals: Sequence[Proposal]) -> list[Decision]:
        """One request for the batch; one decision per proposal, in order."""
        body = batch_body(proposals, self.model, self.now())
        headers = {"Content-Type": "application/json"}
        response = await self._send("POST", "/v1/recommendations", content=body, headers=headers)
        return read_decisions(response.content)

    async def decision(self, proposal_id: str, *, headers: dict[str, str] | None = None) -> Decision:
        """The gateway's answer to one of this engine's recent proposals, read again by its id."""
        return await self._get(f"/v1/decisions/{quote(proposal_id, safe='')}", Decision, headers)

    async def heartbeat(self) -> None:
        """Nothing to propose this cycle, still alive: the gateway does not take the engine for silent."""
        await self._send("POST", "/v1/heartbeat")

    async def _get(self, path: str, model: type[T], headers: dict[str, str] | None) -> T:
        response = await self._send("GET", path, headers=headers)
        return model.model_validate(response.json())

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            response = await self.http.request(method, path, **kwargs)
            if response.status_code == 429 and attempt < self.retries:
                await self.sleep(_retry_after_s(response))
                continue
            if response.status_code != 200:
                raise _error(response)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _retry_after_s(response: httpx.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


class GatewayClient:
    """The same client for synchronous code (scripts, notebooks, a model's predict loop)."""

    def __init__(self, base_url: str, token: str, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self._client = self._runner.run(_make(base_url, token, kwargs))

    def tags(self) -> Tags:
        return self._runner.run(self._client.tags())

    def state(self) -> State:
        return self._runner.run(self._client.state())

    def propose(self, proposal: Proposal) -> Decision:
        return self._runner.run(self._client.propose(proposal))

    def propose_many(self, proposals: Sequence[Proposal]) -> list[Decision]:
        return self._runner.run(self._client.propose_many(proposals))

    def decision(self, proposal_id: str) -> Decision:
        return self._runner.run(self._client.decision(proposal_id))

    def heartbeat(self) -> None:
        self._runner.run(self._client.heartbeat())

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _make(base_url: str, token: str, kwargs: dict[str, Any]) -> AsyncGatewayClient:
    """Built inside the runner's loop, so httpx's connection pool belongs to that loop."""
    return AsyncGatewayClient(base_url, token, **kwargs)
