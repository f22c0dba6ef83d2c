"""Earned autonomy in a real browser against a real gateway and the simulated tank (Modbus TCP): an
engineer signs off a promotion with the password re-entered, the operator's queue shows risk class and
predicted effect, and a highest-risk move is written only after two different operators approved it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from playwright.async_api import Browser, expect

from otgate.config.loader import LoadedConfig
from otgate.core.autonomy_policy import AutonomyPolicy, RiskPolicy, ShadowExit
from otgate.core.config import Operator, Role
from otgate.core.modes import ModeEvent
from tests.hmi.conftest import Plant, demo_config, eventually, page_logged_in, running_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")
ENGINE_TOKEN = "demo-tank-engine-token"
SECOND_OPERATOR = ("olga", "olga-demo-password")
# A short shadow stage for the test; moves of half the max move (10 mm) or more are the highest class.
POLICY = AutonomyPolicy(
    to_supervised=ShadowExit(min_hours=0.0, min_proposals=3, min_would_be_acceptance=0.6),
    risk=RiskPolicy(high_move_fraction=0.2, highest_move_fraction=0.5),
)


def with_policy(loaded: LoadedConfig) -> LoadedConfig:
    config = loaded.config
    loop = config.loops["LIC-101"].model_copy(update={"autonomy": POLICY})
    olga = Operator(role=Role.OPERATOR, password_hash=PasswordHasher().hash(SECOND_OPERATOR[1]))
    updated = config.model_copy(
        update={"loops": {"LIC-101": loop}, "operators": {**config.operators, SECOND_OPERATOR[0]: olga}}
    )
    return LoadedConfig(updated, loaded.path, loaded.sha256)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tank(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    def config(port: int) -> LoadedConfig:
        return with_policy(demo_config("tank")(port))

    async with running_plant("tank", tmp_path_factory.mktemp("autonomy"), config) as plant:
        yield plant


async def recommend(plant: Plant, delta: float) -> dict[str, Any]:
    sp = plant.service.gateway.snapshot.values["LIC-101.SP"]
    body = {
        "id": f"autonomy-{datetime.now(UTC).timestamp()}",
        "tag": "LIC-101.RSP",
        "value": round(sp + delta, 3),
        "issued_at": datetime.now(UTC).isoformat(),
        "rationale": "toward the optimum",
    }
    async with httpx.AsyncClient(base_url=plant.service.api_url, timeout=5.0) as client:
        answer = await client.post(
            "/v1/recommendations", json=body, headers={"Authorization": f"Bearer {ENGINE_TOKEN}"}
        )
    answer.raise_for_status()
    decision: dict[str, Any] = answer.json()["decisions"][0]
    return decision


async def test_autonomy_sign_off_then_dual_approval_in_the_browser(browser: Browser, tank: Plant):
    gateway = tank.service.gateway
    await eventually(lambda: "LIC-101.SP" in gateway.snapshot.values)
    for k in range(3):  # shadow: judged and recorded, never written
        decision = await recommend(tank, 0.4 if k % 2 else -0.4)
        assert decision["decision"] == "shadow"

    engineer = await page_logged_in(browser, tank.hmi_url, "engineer", "demo-engineer")
    await engineer.goto(f"{tank.hmi_url}/hmi/autonomy")
    row = engineer.locator('tr.entry[data-loop="LIC-101"]')
    await expect(row.locator('[data-field="level"]')).to_have_text("shadow")
    await expect(row.locator('[data-field="eligibility"]')).to_contain_text("eligible for supervised")
    await row.locator(".signoff-password").fill("wrong password")
    await row.locator("button[data-signoff]").click()
    await expect(engineer.locator("#message")).to_contain_text("reauthentication_failed")
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"
    await row.locator(".signoff-password").fill("demo-engineer")
    await row.locator("button[data-signoff]").click()
    await expect(engineer.locator("#message")).to_contain_text("shadow -> supervised")
    await expect(row.locator('[data-field="level"]')).to_have_text("supervised")
    await engineer.context.close()

    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "autonomy test")
    await eventually(lambda: gateway.loops["LIC-101"].remote_confirmed)
    decision = await recommend(tank, 12.0)  # 12 of max 20 mm: the highest class
    assert decision["decision"] == "pending_approval"

    first = await page_logged_in(browser, tank.hmi_url, "operator", "demo-operator")
    queued = first.locator(f'#approvals tr[data-id="{decision["id"]}"]')
    await expect(queued.locator(".oversight")).to_contain_text("highest risk · 0 of 2 approvals")
    writes_before = len([w for w in tank.sim.write_log if w.tag == "LIC-101.RSP"])
    await queued.locator("button[data-approve]").click()
    await expect(first.locator("#message")).to_contain_text("needs_another")
    await expect(queued.locator(".oversight")).to_contain_text("1 of 2 approvals (operator)")
    await queued.locator("button[data-approve]").click()
    await expect(first.locator("#message")).to_contain_text("approval_same_operator")
    # Nothing may be written on one operator's word: still queued, no write intent, nothing at the PLC.
    assert decision["id"] in gateway.awaiting and "LIC-101.RSP" not in gateway.pending
    assert len([w for w in tank.sim.write_log if w.tag == "LIC-101.RSP"]) == writes_before

    second = await page_logged_in(browser, tank.hmi_url, *SECOND_OPERATOR)
    queued_again = second.locator(f'#approvals tr[data-id="{decision["id"]}"]')
    await queued_again.locator("button[data-approve]").click()
    await expect(second.locator("#message")).to_contain_text("approved")
    written = await eventually(
        lambda: [w for w in tank.sim.write_log if w.tag == "LIC-101.RSP"][writes_before:]
    )
    assert written[0].accepted
    await second.context.close()

    # The operator demotes the engine by hand, with a reason: back to shadow, on record with the name.
    await first.goto(f"{tank.hmi_url}/hmi/autonomy")
    row = first.locator('tr.entry[data-loop="LIC-101"]')
    await row.locator("button[data-demote]").click()
    await expect(first.locator("#message")).to_contain_text("a reason is required")
    await row.locator(".demote-reason").fill("moves too bold for night shift")
    await row.locator("button[data-demote]").click()
    await expect(first.locator("#message")).to_contain_text("supervised -> shadow")
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"
    demoted = [r for r in gateway.audit.records() if r.kind == "autonomy_change"][-1]
    assert demoted.actor == "operator:operator" and "night shift" in demoted.data["reason"]
    await first.context.close()


async def test_autonomy_engineer_attaches_a_scorecard(browser: Browser, tank: Plant, tmp_path: Path):
    card = tmp_path / "scorecard.json"
    card.write_text(json.dumps({"summary": {"engine": "x:Y", "certified": True}, "scenarios": []}))
    engineer = await page_logged_in(browser, tank.hmi_url, "engineer", "demo-engineer")
    await engineer.goto(f"{tank.hmi_url}/hmi/autonomy")
    row = engineer.locator('tr.entry[data-loop="LIC-101"]').first
    await row.locator(".scorecard-file").set_input_files(str(card))
    await row.locator("button[data-certificate]").click()
    await expect(engineer.locator("#message")).to_contain_text("attached, sha256")
    attached = [r for r in tank.service.gateway.audit.records() if r.data.get("event") == "certificate"]
    assert attached and attached[-1].data["summary"] == {"engine": "x:Y", "certified": True}
    await engineer.context.close()
