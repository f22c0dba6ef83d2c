"""The AI-facing API through its ASGI app: authentication, strict bodies, decisions, envelope, limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.core.modes import LoopMode, ModeEvent
from otgate.core.proposal import Proposal
from otgate.runtime.gateway import Gateway

TOKEN = "demo-tank-engine-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await gateway.scan(gateway.clock.monotonic())
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http


def body(gateway: Gateway, value: Any = 650.4, **extra: Any) -> dict[str, Any]:
    issued = datetime.fromtimestamp(gateway.clock.now(), UTC).isoformat()
    return {
        "id": extra.pop("id", "rec-1"),
        "tag": "LIC-101.RSP",
        "value": value,
        "issued_at": issued,
        **extra,
    }


@pytest.mark.requirement("R-27")
async def test_post_without_token_unauthorized(client: httpx.AsyncClient, gateway: Gateway):
    response = await client.post("/v1/recommendations", json=body(gateway))
    assert response.status_code == 401
    assert set(response.json()) == {"error", "id"}


@pytest.mark.requirement("R-27")
async def test_post_with_wrong_token_unauthorized(client: httpx.AsyncClient, gateway: Gateway):
    response = await client.post(
        "/v1/recommendations", json=body(gateway), headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401


async def test_post_valid_recommendation_answers_decision_with_audit_seq(
    client: httpx.AsyncClient, gateway: Gateway
):
    response = await client.post("/v1/recommendations", json=body(gateway), headers=AUTH)
    assert response.status_code == 200
    (decision,) = response.json()["decisions"]
    assert decision["decision"] == "accepted"
    assert decision["written_value"] == 650.4
    record = next(r for r in gateway.audit.records() if r.seq == decision["audit_seq"])
    assert record.kind == "decision" and record.data["id"] == "rec-1"


async def test_post_batch_one_decision_per_item(client: httpx.AsyncClient, gateway: Gateway):
    items = [body(gateway, id="a"), body(gateway, 999.0, id="b")]
    response = await client.post("/v1/recommendations", json={"recommendations": items}, headers=AUTH)
    decisions = response.json()["decisions"]
    assert [d["decision"] for d in decisions] == ["accepted", "rejected"]
    assert decisions[1]["reasons"][0]["code"] == "OUT_OF_RANGE"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": NaN, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_json",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": Infinity, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_json",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": -Infinity, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_json",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": 1e999, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": "650", "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": true, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": null, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": 650, "issued_at": "2027-01-15T08:00:00"}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": 650, "issued_at": "2027-01-15T08:00:00Z", "override": true}',
            "invalid_body",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "value": 650, "value": 700, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_json",
        ),
        (
            '{"id": "x", "tag": "LIC-101.RSP", "register": 40001, "value": 650, "issued_at": "2027-01-15T08:00:00Z"}',
            "invalid_body",
        ),
        ("[1, 2, 3]", "invalid_body"),
        ("not json", "invalid_json"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
    ],
)
@pytest.mark.requirement("R-02")
async def test_post_malformed_body_422_and_nothing_recorded(
    client: httpx.AsyncClient, gateway: Gateway, raw: str, code: str
):
    before = gateway.audit.count()
    response = await client.post(
        "/v1/recommendations", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert gateway.audit.count() == before
    assert gateway.pending == {}


@pytest.mark.requirement("R-02", "R-44")
async def test_post_oversize_body_refused(client: httpx.AsyncClient, gateway: Gateway):
    big = json.dumps(body(gateway, rationale="x" * 300_000))
    response = await client.post(
        "/v1/recommendations", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "body_too_large"


@pytest.mark.requirement("R-44")
async def test_post_flood_429_with_retry_after(client: httpx.AsyncClient, gateway: Gateway):
    statuses = []
    for k in range(60):
        response = await client.post("/v1/recommendations", json=body(gateway, id=f"f{k}"), headers=AUTH)
        statuses.append(response.status_code)
    assert 429 in statuses
    limited = await client.post("/v1/recommendations", json=body(gateway, id="last"), headers=AUTH)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_get_tags_publishes_the_envelope(client: httpx.AsyncClient):
    response = await client.get("/v1/tags", headers=AUTH)
    (tag,) = response.json()["writable"]
    assert tag["tag"] == "LIC-101.RSP"
    assert tag["limits"] == {"lo": 500.0, "hi": 800.0}
    assert tag["current_setpoint"] == 650.0
    assert tag["mode"] == "ai"
    assert "address" not in json.dumps(response.json())


@pytest.mark.requirement("R-33")
async def test_get_state_only_visible_tags(client: httpx.AsyncClient):
    response = await client.get("/v1/state", headers=AUTH)
    values = response.json()["values"]
    assert "LIT-101" in values and "LSHH-101" not in values


async def test_get_tags_without_token_unauthorized(client: httpx.AsyncClient):
    assert (await client.get("/v1/tags")).status_code == 401
    assert (await client.get("/v1/state")).status_code == 401


async def test_healthz_and_metrics(client: httpx.AsyncClient, gateway: Gateway):
    await client.post("/v1/recommendations", json=body(gateway), headers=AUTH)
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/metrics")).status_code == 401
    metrics = (await client.get("/metrics", headers={"Authorization": "Bearer demo-metrics-token"})).text
    assert 'otgate_recommendations_total{outcome="accepted"} 1.0' in metrics
    assert 'otgate_loop_mode{loop="LIC-101",mode="ai"} 1.0' in metrics


@pytest.mark.requirement("R-37")
async def test_audit_failure_answers_503(client: httpx.AsyncClient, gateway: Gateway):
    import sqlite3

    # A real failed commit (the writer thread's), not a stand-in: the table refuses every insert.
    db = sqlite3.connect(gateway.audit.path, isolation_level=None)
    db.execute("CREATE TRIGGER full BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.close()
    response = await client.post("/v1/recommendations", json=body(gateway), headers=AUTH)
    assert response.status_code == 503
    assert response.json()["error"] == "audit_unavailable"
    assert gateway.audit_failed and "AUDIT_FAILURE" in gateway.alarms
    assert {r.state.mode for r in gateway.loops.values()} == {LoopMode.FALLBACK}
    again = await client.post("/v1/recommendations", json=body(gateway), headers=AUTH)
    assert again.status_code == 503


async def test_reload_that_lowers_an_engines_rate_applies_to_its_bucket(
    client: httpx.AsyncClient, gateway: Gateway, tmp_path: Any
):
    from otgate.config.loader import LoadedConfig

    engine = gateway.plant.config.engines["optimizer"].model_copy(
        update={"max_requests_per_s": 1.0, "burst": 2.0}
    )
    config = gateway.plant.config.model_copy(update={"engines": {"optimizer": engine}})
    assert (
        await client.post("/v1/recommendations", json=body(gateway, id="before"), headers=AUTH)
    ).status_code == 200
    gateway.reload_config("engineer", LoadedConfig(config, tmp_path / "tank.yaml", "0" * 64))
    statuses = [
        (await client.post("/v1/recommendations", json=body(gateway, id=f"r{k}"), headers=AUTH)).status_code
        for k in range(5)
    ]
    assert statuses.count(200) <= 2 and 429 in statuses  # the new burst of 2, not the old 40


async def test_get_tags_publishes_the_operating_envelope_of_what_an_engine_reads(tmp_path: Any):
    from otgate.audit.store import AuditStore
    from otgate.core.plant import compile_plant
    from otgate.field.fake import FakeLink
    from otgate.runtime.clock import ManualClock
    from tests.core.plants import CSTR

    fake = FakeLink(CSTR.config.tags, {"TT-101": 325.0, "TIC-101.SP": 325.0, "TIC-101.MODE": 1.0})
    with AuditStore(tmp_path, None) as store:
        gateway = Gateway(compile_plant(CSTR.config), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
        transport = httpx.ASGITransport(app=create_ai_app(gateway))
        auth = {"Authorization": "Bearer demo-cstr-engine-token"}
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            tags = (await http.get("/v1/tags", headers=auth)).json()
    by_tag = {item["tag"]: item for item in tags["readable"]}
    assert by_tag["TT-101"]["operating_envelope"] == {"lo": None, "hi": 335.0}
    assert by_tag["TT-102"]["operating_envelope"] is None


async def test_get_decision_reads_back_the_engines_own_answer(client: httpx.AsyncClient, gateway: Gateway):
    items = [body(gateway, id="a"), body(gateway, 999.0, id="b")]
    answered = (
        await client.post("/v1/recommendations", json={"recommendations": items}, headers=AUTH)
    ).json()
    for sent in answered["decisions"]:
        response = await client.get(f"/v1/decisions/{sent['id']}", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == sent


async def test_get_decision_of_another_engine_or_unknown_is_not_found(
    client: httpx.AsyncClient, gateway: Gateway
):
    gateway.submit([Proposal("theirs", "other-engine", "LIC-101.RSP", 650.0, gateway.clock.now())])
    for unknown in ("theirs", "never-sent"):
        response = await client.get(f"/v1/decisions/{unknown}", headers=AUTH)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert (await client.get("/v1/decisions/theirs")).status_code == 401
