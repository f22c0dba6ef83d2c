"""Both listeners hold their ground: idle and half-sent connections are shed (cap and request timeout)
while an operator's action and an engine's good recommendation are still answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.config import Listener
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC
from tests.fuzz.support import ENGINE_AUTH, SETPOINT

HALF_HEADERS = b"POST /v1/recommendations HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
HALF_BODY = b'POST /v1/recommendations HTTP/1.1\r\nHost: gw\r\nContent-Length: 400\r\n\r\n{"id": '
ATTACKS = (b"", HALF_HEADERS, HALF_BODY)  # idle, headers never finished, body never finished


def tank(max_connections: int = 256, request_timeout_s: float = 10.0) -> LoadedConfig:
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    settings = {"max_connections": max_connections, "request_timeout_s": request_timeout_s}
    gateway = loaded.config.gateway.model_copy(
        update={
            "api": Listener(port=0, **settings),
            "hmi": Listener(port=0, **settings),
        }
    )
    return LoadedConfig(loaded.config.model_copy(update={"gateway": gateway}), loaded.path, loaded.sha256)


@contextlib.asynccontextmanager
async def service(loaded: LoadedConfig, data_dir: Path) -> AsyncIterator[GatewayService]:
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    async with GatewayService(loaded, data_dir, links={"plc1": fake}, api_port=0, hmi_port=0) as running:
        yield running


Held = list[tuple["asyncio.Task[bytes]", asyncio.StreamWriter]]


async def attack(port: int, count: int) -> Held:
    """`count` connections that never finish a request; each with a task that reads until the server
    closes it (its result is whatever the server said before closing)."""
    connections: Held = []
    for k in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = ATTACKS[k % len(ATTACKS)]
        if payload:
            writer.write(payload)
            await writer.drain()
        connections.append((asyncio.create_task(reader.read()), writer))
    return connections


async def wait_until_closed(connections: Held, at_least: int) -> int:
    """Wait (bounded by the test's own timeout) until the server has closed `at_least` of them."""
    while (closed := sum(1 for eof, _ in connections if eof.done())) < at_least:
        await asyncio.sleep(0.02)
    return closed


def hang_up(connections: Held) -> None:
    for eof, writer in connections:
        eof.cancel()
        writer.close()


async def good_recommendation(api_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=api_url, timeout=30.0) as client:
        body = {"id": "good-1", "tag": SETPOINT, "value": 650.4, "issued_at": datetime.now(UTC).isoformat()}
        return await client.post("/v1/recommendations", json=body, headers=ENGINE_AUTH)


async def hmi_action(hmi_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hmi_url, timeout=30.0) as client:
        login = await client.post("/hmi/api/session", json={"user": "operator", "password": "demo-operator"})
        login.raise_for_status()
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        return await client.post("/hmi/api/plant/fallback", json={"reason": "drill"}, headers=headers)


async def test_listeners_500_idle_and_half_sent_shed_while_real_requests_answered(tmp_path: Path):
    cap = 100
    async with service(tank(max_connections=cap), tmp_path) as running:
        assert running.api is not None and running.hmi is not None
        held = {
            "api": await attack(running.api.port, 500),
            "hmi": await attack(running.hmi.port, 500),
        }
        action = await hmi_action(running.hmi_url)
        assert action.status_code == 200, action.text
        answer = await good_recommendation(running.api_url)
        assert answer.status_code == 200, answer.text
        assert answer.json()["decisions"][0]["id"] == "good-1"
        for name, listener in (("api", running.api), ("hmi", running.hmi)):
            assert len(listener.server.server_state.connections) <= cap, name
            await wait_until_closed(held[name], 500 - cap)
        for connections in held.values():
            hang_up(connections)


async def test_listener_idle_and_half_sent_connections_closed_after_request_timeout(tmp_path: Path):
    async with service(tank(request_timeout_s=0.3), tmp_path) as running:
        assert running.api is not None
        held = await attack(running.api.port, 3)
        # A connection that got its answer and then idles is closed as well.
        reader, writer = await asyncio.open_connection("127.0.0.1", running.api.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        assert status.startswith(b"HTTP/1.1 200")
        held.append((asyncio.create_task(reader.read()), writer))
        await wait_until_closed(held, 4)
        answer = await good_recommendation(running.api_url)
        assert answer.status_code == 200
        hang_up(held)


@pytest.mark.parametrize("field", ["max_connections", "request_timeout_s"])
def test_listener_settings_refuse_zero(field: str):
    with pytest.raises(ValueError):
        Listener(port=0, **{field: 0})
