"""The minimal operator API: who may do what, and what each action does to the loops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from otgate.api.hmi import create_hmi_app
from otgate.core.modes import LoopMode
from otgate.gateway import Gateway

OPERATOR = ("operator", "demo-operator")
VIEWER = ("viewer", "demo-viewer")


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    await gateway.scan(gateway.clock.now())
    transport = httpx.ASGITransport(app=create_hmi_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://hmi") as http:
        yield http


async def test_state_needs_credentials(client: httpx.AsyncClient):
    assert (await client.get("/hmi/api/state")).status_code == 401
    assert (await client.get("/hmi/api/state", auth=("operator", "wrong"))).status_code == 401


async def test_viewer_sees_state_but_cannot_act(client: httpx.AsyncClient, gateway: Gateway):
    state = (await client.get("/hmi/api/state", auth=VIEWER)).json()
    assert state["loops"]["LIC-101"]["mode"] == "fallback"
    assert (await client.post("/hmi/api/plant/engage", auth=VIEWER)).status_code == 403
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


async def test_operator_engages_then_falls_back_then_resets_with_reason(
    client: httpx.AsyncClient, gateway: Gateway
):
    assert (await client.post("/hmi/api/loops/LIC-101/engage", auth=OPERATOR)).json()["outcome"] == {
        "LIC-101": "ai"
    }
    await client.post("/hmi/api/plant/fallback", auth=OPERATOR, json={"reason": "drill"})
    assert gateway.loops["LIC-101"].state.latched
    refused = await client.post("/hmi/api/loops/LIC-101/reset", auth=OPERATOR, json={})
    assert refused.status_code == 422
    await client.post("/hmi/api/loops/LIC-101/reset", auth=OPERATOR, json={"reason": "plant checked"})
    assert not gateway.loops["LIC-101"].state.latched
    actions = [r for r in gateway.audit.records() if r.kind == "operator_action"]
    assert [r.actor for r in actions] == ["operator:operator"] * 3


async def test_unknown_loop_and_action_404(client: httpx.AsyncClient):
    assert (await client.post("/hmi/api/loops/NOPE/engage", auth=OPERATOR)).status_code == 404
    assert (await client.post("/hmi/api/loops/LIC-101/explode", auth=OPERATOR)).status_code == 404
