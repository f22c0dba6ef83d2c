"""`mcp_propose`: an LLM agent's `propose_setpoint` tool call through `otgate mcp`, against the same
proposal sent straight to the AI-facing HTTP API.

Set-up, in one asyncio loop on 127.0.0.1: a `GatewayService` for the tank (scan loop, durable HMAC-keyed
`AuditStore`, AI API under uvicorn) on the in-memory fake PLC with LIC-101 engaged; an engine `agent`
with a rate limit far above what the run sends; the MCP server (`otgate.mcp_door`) serving streamable
HTTP under uvicorn, talking to the AI API with the agent's token through `otgate.client`.

One MCP sample: `tools/call propose_setpoint` from the official MCP SDK client (streamable HTTP, one
session, JSON-RPC over POST), which the server turns into `POST /v1/recommendations` (httpx) and answers
with the decision: two HTTP round trips and two JSON codecs on top of the decision itself.

One baseline sample: the same proposal through `otgate.client.AsyncGatewayClient.propose` (httpx, one
keep-alive connection) to the AI API: what a Python engine pays without MCP.

Samples alternate MCP/baseline (order swapped each time); every proposal is for 650.4 mm (accepted; the
scan loop writes it). No target: the figure says what the LLM door costs over the HTTP one.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from benchmarks.figure import Figure, figure
from otgate.client import AsyncGatewayClient, Proposal
from otgate.config.loader import load_config_file
from otgate.core.modes import ModeEvent, PlcMode
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from otgate.mcp_door.tools import build_server
from otgate.mcp_door.transport import http_app, start_http
from otgate_simulator.simulation import CONFIG_DIR

TOKEN = "bench-agent-token"
TAG = "LIC-101.RSP"
REMOTE_PLC = {
    "LIC-101.SP": 650.0,
    "LIC-101.RSP": 650.0,
    "LIC-101.MODE": float(PlcMode.REMOTE),
    "LIT-101": 640.0,
}


@dataclass(frozen=True)
class Size:
    requests: int = 300
    warmup: int = 20


TINY = Size(requests=4, warmup=1)


@dataclass
class Samples:
    mcp_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)


def _config(folder: Path) -> Path:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    agent = (
        f'\n  agent:\n    token_sha256: "sha256:{digest}"\n    writes: [{TAG}]\n'
        "    max_requests_per_s: 100000\n    burst: 100000\n"
    )
    text = (CONFIG_DIR / "tank.yaml").read_text().replace("\noperators:", agent + "\noperators:", 1)
    text = text.replace("port: 8000", "port: 0").replace("port: 8080", "port: 0")
    path = folder / "tank.yaml"
    path.write_text(text)
    return path


async def run(size: Size = Size()) -> list[Figure]:
    samples = Samples()
    with tempfile.TemporaryDirectory(prefix="otgate-bench-") as folder:
        loaded = load_config_file(_config(Path(folder)))
        fake = FakeLink(loaded.config.tags, REMOTE_PLC)
        async with GatewayService(loaded, Path(folder) / "data", links={"plc1": fake}) as service:
            await service.gateway.scan(service.clock.monotonic())
            service.gateway.operator_action("bench", ["LIC-101"], ModeEvent.ENGAGE, "benchmark")
            await service.gateway.scan(service.clock.monotonic())
            async with (
                AsyncGatewayClient(service.api_url, TOKEN) as sdk,
                AsyncGatewayClient(service.api_url, TOKEN) as door,
            ):
                listener = await start_http(http_app(build_server(door), TOKEN, "127.0.0.1"), "127.0.0.1", 0)
                try:
                    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
                    async with http, Client(streamable_http_client(listener.url, http_client=http)) as agent:
                        await _sample(agent, sdk, size, samples)
                finally:
                    await listener.stop()
    return [
        figure(
            "mcp_propose_p50",
            "ms",
            samples.mcp_ms,
            samples.http_ms,
            what="p50 ms: propose_setpoint tool call over MCP streamable HTTP, answered with the decision,"
            " vs the same proposal straight to POST /v1/recommendations",
        )
    ]


async def _sample(agent: Client, sdk: AsyncGatewayClient, size: Size, samples: Samples) -> None:
    arguments: dict[str, Any] = {"tag": TAG, "value": 650.4, "rationale": "benchmark"}

    async def through_mcp(i: int) -> None:
        started = time.perf_counter()
        result = await agent.call_tool("propose_setpoint", arguments)
        done = time.perf_counter()
        if result.is_error or not isinstance(result.structured_content, dict):
            raise RuntimeError(f"tool call {i} failed: {result.content}")
        if i >= size.warmup:
            samples.mcp_ms.append((done - started) * 1e3)

    async def through_http(i: int) -> None:
        started = time.perf_counter()
        await sdk.propose(Proposal(TAG, 650.4, "benchmark"))
        done = time.perf_counter()
        if i >= size.warmup:
            samples.http_ms.append((done - started) * 1e3)

    for i in range(size.warmup + size.requests):
        first, second = (through_http, through_mcp) if i % 2 else (through_mcp, through_http)
        await first(i)
        await second(i)


if __name__ == "__main__":
    import asyncio

    for row in asyncio.run(run()):
        print(row)
