"""Clock skew is diagnosed, not blamed: an engine whose clock is off by a steady amount is measured,
published and alarmed once (ENGINE_CLOCK_SKEW); within the tolerance it is judged on its own timeline,
beyond it STALE/FUTURE refusals stay refusals. Never quarantined as a rejection burst for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.api.hmi_view import RecentTraffic, plant_view
from otgate.core.modes import LoopMode, ModeEvent
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.view import GatewayView
from tests.api.test_ai_api import AUTH

METRICS_AUTH = {"Authorization": "Bearer demo-metrics-token"}


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await gateway.scan(gateway.clock.monotonic())
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


async def send_skewed(
    client: httpx.AsyncClient, gateway: Gateway, skew_s: float, count: int
) -> list[dict[str, Any]]:
    """`count` recommendations a second apart from an engine whose clock reads `skew_s` off (+: ahead)."""
    assert isinstance(gateway.clock, ManualClock)
    decisions = []
    for k in range(count):
        value = 650.0 + 0.5 * (k + 1)  # a steady climb: no oscillation
        body = {
            "id": f"s{k}",
            "tag": "LIC-101.RSP",
            "value": value,
            "issued_at": rfc3339(gateway.clock.now() + skew_s),
        }
        answer = await client.post("/v1/recommendations", json=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        decisions.append(answer.json()["decisions"][0])
        gateway.clock.advance(1.0)
        await gateway.scan(gateway.clock.monotonic())
    return decisions


def codes(decision: dict[str, Any]) -> set[str]:
    return {r["code"] for r in decision["reasons"]}


def skew_alarms(gateway: Gateway) -> list[str]:
    return [a.message for a in gateway.alarms.values() if a.code.startswith("ENGINE_CLOCK_SKEW") and a.active]


@pytest.mark.parametrize("skew_s", [-90.0, 90.0])
async def test_engine_clock_90s_off_judged_on_its_timeline_alarmed_once_not_quarantined(
    client: httpx.AsyncClient, gateway: Gateway, skew_s: float
):
    decisions = await send_skewed(client, gateway, skew_s, 12)
    assert not codes(decisions[0]).isdisjoint({"STALE", "FUTURE"})  # before the offset is known
    later = decisions[4:]
    assert all(codes(d).isdisjoint({"STALE", "FUTURE"}) for d in later), later
    assert any(d["decision"] in {"accepted", "ramping"} for d in later), later
    assert "optimizer" not in gateway.quarantined
    assert not [a for a in gateway.alarms.values() if a.code.startswith("REJECTION_BURST")]
    (message,) = skew_alarms(gateway)
    assert f"{-skew_s:+.1f} s" in message and ("ahead" in message) is (skew_s > 0)
    assert gateway.loops["LIC-101"].state.mode is LoopMode.AI
    state = (await client.get("/v1/state", headers=AUTH)).json()
    assert state["clock_offset_s"] == pytest.approx(-skew_s)
    metrics = (await client.get("/metrics", headers=METRICS_AUTH)).text
    assert f'otgate_engine_clock_offset_seconds{{engine="optimizer"}} {-skew_s}' in metrics
    engines = plant_view(GatewayView(gateway), RecentTraffic(), gateway.clock.now())[
        "engines"
    ]  # the HMI engine list
    assert engines == [{"name": "optimizer", "quarantined": False, "clock_offset_s": pytest.approx(-skew_s)}]


@pytest.mark.parametrize("skew_s", [-600.0, 600.0])
async def test_engine_clock_10min_off_refusals_stay_one_skew_alarm_no_quarantine(
    client: httpx.AsyncClient, gateway: Gateway, skew_s: float
):
    decisions = await send_skewed(client, gateway, skew_s, 12)
    assert all(d["decision"] == "rejected" and codes(d) & {"STALE", "FUTURE"} for d in decisions)
    assert "optimizer" not in gateway.quarantined
    assert not [a for a in gateway.alarms.values() if a.code.startswith("REJECTION_BURST")]
    (message,) = skew_alarms(gateway)
    assert f"{abs(skew_s):.1f} s" in message and "refused" in message
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK  # on doubt, conventional control
    assert (await client.get("/v1/state", headers=AUTH)).json()["clock_offset_s"] == pytest.approx(-skew_s)


async def test_engine_clock_offset_measured_from_heartbeats(client: httpx.AsyncClient, gateway: Gateway):
    assert isinstance(gateway.clock, ManualClock)
    assert (await client.get("/v1/state", headers=AUTH)).json()["clock_offset_s"] is None
    for _ in range(3):
        sent = {"sent_at": rfc3339(gateway.clock.now() - 90.0)}
        assert (await client.post("/v1/heartbeat", json=sent, headers=AUTH)).status_code == 200
        gateway.clock.advance(1.0)
    assert (await client.get("/v1/state", headers=AUTH)).json()["clock_offset_s"] == pytest.approx(90.0)
    assert len(skew_alarms(gateway)) == 1
    bad = await client.post("/v1/heartbeat", json={"sent_at": 12}, headers=AUTH)
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_body")
