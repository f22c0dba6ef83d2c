"""Earned autonomy across a real restart of the service: proposals over the AI API's socket, the sign-off
on the HMI's socket, the service stopped, a new one started on the same data dir (docs/AUTONOMY.md)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from otgate.audit.store import audit_path
from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.autonomy_policy import AutonomyPolicy, ShadowExit
from otgate.core.modes import LoopMode
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.api.test_hmi_api import ACCOUNTS, PASSWORDS
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC

pytestmark = pytest.mark.requirement("R-24")
AUTH = {"Authorization": "Bearer demo-tank-engine-token"}
DIGEST = "sha256:" + "d4" * 32
KEY = {"engine": "optimizer", "loop": "LIC-101", "model_digest": DIGEST}


def earned() -> LoadedConfig:
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    policy = AutonomyPolicy(to_supervised=ShadowExit(min_hours=0.0, min_proposals=3))
    loop = loaded.config.loops["LIC-101"].model_copy(update={"autonomy": policy})
    config = loaded.config.model_copy(update={"operators": ACCOUNTS, "loops": {"LIC-101": loop}})
    return LoadedConfig(config, loaded.path, loaded.sha256)


async def scanned(service: GatewayService) -> None:
    first = service.gateway.scans
    async with asyncio.timeout(10):
        while service.gateway.scans < first + 1:
            await asyncio.sleep(0.01)


async def hmi(service: GatewayService, user: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    http = httpx.AsyncClient(base_url=service.hmi_url)
    answer = await http.post("/hmi/api/session", json={"user": user, "password": PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return http, {"x-csrf-token": answer.json()["csrf_token"], "origin": service.hmi_url}


async def entry(service: GatewayService) -> dict[str, Any]:
    http, _ = await hmi(service, "viewer")
    try:
        (row,) = (await http.get("/hmi/api/autonomy")).json()["entries"]
    finally:
        await http.aclose()
    return dict(row)


async def earn_and_sign(service: GatewayService) -> None:
    await scanned(service)
    async with httpx.AsyncClient(base_url=service.api_url) as api:
        for n in range(3):
            body = {
                "id": f"rec-{n}",
                "tag": "LIC-101.RSP",
                "value": 650.4 + 0.1 * n,
                "issued_at": datetime.now(UTC).isoformat(),
                "model": {"name": "opt", "version": "1", "digest": DIGEST},
            }
            answer = await api.post("/v1/recommendations", json=body, headers=AUTH)
            assert answer.json()["decisions"][0]["decision"] == "shadow", answer.text
    http, headers = await hmi(service, "engineer")
    try:
        body = {**KEY, "password": PASSWORDS["engineer"]}
        answer = await http.post("/hmi/api/autonomy/sign-off", json=body, headers=headers)
    finally:
        await http.aclose()
    assert answer.status_code == 200, answer.text


async def test_service_restart_keeps_supervised_and_a_tampered_trail_gives_shadow(tmp_path: Path):
    loaded = earned()
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    async with GatewayService(loaded, tmp_path, links={"plc1": fake}, api_port=0, hmi_port=0) as service:
        await earn_and_sign(service)
        assert (await entry(service))["level"] == "supervised"

    async with GatewayService(loaded, tmp_path, links={"plc1": fake}, api_port=0, hmi_port=0) as service:
        await scanned(service)
        row = await entry(service)
        assert (row["level"], row["total"]["proposals"]) == ("supervised", 3)
        assert service.gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK  # it engages nothing

    with sqlite3.connect(audit_path(tmp_path)) as db:  # someone edits a decision in the trail
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET data = replace(data, 'shadow', 'accepted') WHERE kind = 'decision'")

    async with GatewayService(loaded, tmp_path, links={"plc1": fake}, api_port=0, hmi_port=0) as service:
        await scanned(service)
        assert service.gateway.ledger.entries == {}
        assert service.gateway.ledger.level("optimizer", "LIC-101").value == "shadow"  # type: ignore[union-attr]
