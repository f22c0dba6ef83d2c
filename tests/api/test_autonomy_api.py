"""Earned autonomy over HTTP: the HMI's autonomy actions (role-checked, password re-entered, audited),
and the summary on the AI API's `/v1/state`, `/v1/tags` and `/metrics`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore
from otgate.core.autonomy_policy import AutonomyPolicy, ShadowExit
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.api.test_hmi_api import ACCOUNTS, BASE, ENG, OPER, PASSWORDS, RANKS, ROLES, VIEW, Endpoint, log_in
from tests.conftest import TANK_CONFIG

AUTH = {"Authorization": "Bearer demo-tank-engine-token"}
DIGEST = "sha256:" + "c3" * 32
KEY = {"engine": "optimizer", "loop": "LIC-101", "model_digest": DIGEST}
POLICY = AutonomyPolicy(to_supervised=ShadowExit(min_hours=0.0, min_proposals=3))
ENDPOINTS = [
    Endpoint("GET", "/hmi/autonomy", VIEW),
    Endpoint("GET", "/hmi/api/autonomy", VIEW),
    Endpoint("POST", "/hmi/api/autonomy/demote", OPER, {**KEY, "reason": "drill"}),
    Endpoint("POST", "/hmi/api/autonomy/sign-off", ENG, {**KEY, "password": "own"}),
    Endpoint("POST", "/hmi/api/autonomy/certificate", ENG, {**KEY, "scorecard": {"summary": {"ok": True}}}),
]


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path) -> Iterator[Gateway]:
    loop = TANK_CONFIG.loops["LIC-101"].model_copy(update={"autonomy": POLICY})
    config = TANK_CONFIG.model_copy(update={"operators": ACCOUNTS, "loops": {"LIC-101": loop}})
    store = AuditStore(tmp_path, None)
    yield Gateway(compile_plant(config), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
    store.close()


def recommendation(gateway: Gateway, n: int, value: float = 650.4) -> dict[str, Any]:
    return {
        "id": f"rec-{n}",
        "tag": "LIC-101.RSP",
        "value": value,
        "issued_at": datetime.fromtimestamp(gateway.clock.now(), UTC).isoformat(),
        "model": {"name": "opt", "version": "1", "digest": DIGEST},
    }


async def propose(gateway: Gateway, count: int, value: float = 650.4) -> list[dict[str, Any]]:
    await gateway.scan(gateway.clock.monotonic())
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        start = len(gateway.seen_ids)
        batch = {"recommendations": [recommendation(gateway, start + k, value) for k in range(count)]}
        answer = await http.post("/v1/recommendations", json=batch, headers=AUTH)
    decisions: list[dict[str, Any]] = answer.json()["decisions"]
    return decisions


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.requirement("R-28")
async def test_autonomy_role_matrix(gateway: Gateway, endpoint: Endpoint, role: str):
    await propose(gateway, 3)  # an eligible shadow entry to act on
    app = create_hmi_app(gateway)
    body = {k: PASSWORDS.get(role, "x") if v == "own" else v for k, v in (endpoint.body or {}).items()}
    if role == "anonymous":
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        answer = await http.request(endpoint.method, endpoint.path, json=body or None)
        assert answer.status_code in (401, 303)
        return
    who = await log_in(app, role)
    answer = await (
        who.http.get(endpoint.path) if endpoint.method == "GET" else who.post(endpoint.path, body)
    )
    if RANKS[role] >= RANKS[endpoint.least]:
        assert 200 <= answer.status_code < 300, answer.text
    else:
        assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")


@pytest.mark.requirement("R-24")
async def test_sign_off_shadow_answers_shadow_until_signed_then_supervised(gateway: Gateway):
    decisions = await propose(gateway, 3)
    assert [d["decision"] for d in decisions] == ["shadow"] * 3
    engineer = await log_in(create_hmi_app(gateway), "engineer")
    answer = await engineer.post("/hmi/api/autonomy/sign-off", {**KEY, "password": "e-pass"})
    assert answer.json() == {"level": "supervised", "from": "shadow"}
    (signed,) = [r for r in gateway.audit.records() if r.kind == "autonomy_change"]
    assert signed.actor == "operator:engineer" and signed.data["evidence"]["proposals"] == 3


@pytest.mark.requirement("R-24")
async def test_sign_off_not_eligible_refused_with_every_unmet_criterion(gateway: Gateway):
    await propose(gateway, 2)
    engineer = await log_in(create_hmi_app(gateway), "engineer")
    answer = await engineer.post("/hmi/api/autonomy/sign-off", {**KEY, "password": "e-pass"})
    assert answer.status_code == 409 and answer.json()["error"] == "not_eligible"
    assert "proposals: 2, needs at least 3" in str(answer.json()["fields"])
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"


@pytest.mark.requirement("R-24")
async def test_never_eligible_engine_refused_whatever_is_sent(gateway: Gateway):
    await propose(gateway, 5, value=900.0)  # out of range every time: safety-class refusals
    app = create_hmi_app(gateway)
    engineer = await log_in(app, "engineer")
    attempts = [
        {**KEY, "password": "e-pass"},
        {**KEY, "password": "e-pass", "level": "autonomous", "eligible": True},
        {**KEY, "password": "e-pass", "model_digest": ""},
        {**KEY, "password": "wrong"},
    ]
    statuses = [(await engineer.post("/hmi/api/autonomy/sign-off", body)).status_code for body in attempts]
    assert statuses == [409, 409, 404, 403]
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"
    assert not [
        r for r in gateway.audit.records() if r.kind == "autonomy_change" and r.data["event"] == "sign_off"
    ]


@pytest.mark.requirement("R-29")
async def test_demote_needs_a_reason_and_is_audited_by_name(gateway: Gateway):
    await propose(gateway, 3)
    app = create_hmi_app(gateway)
    engineer = await log_in(app, "engineer")
    await engineer.post("/hmi/api/autonomy/sign-off", {**KEY, "password": "e-pass"})
    operator = await log_in(app, "operator")
    refused = await operator.post("/hmi/api/autonomy/demote", {**KEY, "reason": " "})
    assert refused.status_code == 422
    answer = await operator.post("/hmi/api/autonomy/demote", {**KEY, "reason": "odd moves overnight"})
    assert answer.json() == {"level": "shadow", "from": "supervised"}
    last = [r for r in gateway.audit.records() if r.kind == "autonomy_change"][-1]
    assert last.actor == "operator:operator" and "odd moves overnight" in last.data["reason"]


async def test_state_tags_and_metrics_show_the_earned_level(gateway: Gateway):
    await propose(gateway, 3)
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        state = (await http.get("/v1/state", headers=AUTH)).json()
        tags = (await http.get("/v1/tags", headers=AUTH)).json()
        metrics = (await http.get("/metrics", headers={"Authorization": "Bearer demo-metrics-token"})).text
    (row,) = state["autonomy"]
    assert row["level"] == "shadow" and row["eligible"] and row["stage"]["proposals"] == 3
    assert tags["writable"][0]["autonomy"] == "shadow"  # the tag says autonomous; the engine earned shadow
    assert 'otgate_autonomy_level{engine="optimizer",loop="LIC-101"} 0.0' in metrics
    assert 'otgate_autonomy_eligible{engine="optimizer",loop="LIC-101"} 1.0' in metrics
