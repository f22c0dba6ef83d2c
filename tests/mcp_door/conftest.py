"""A live tank gateway (real HTTP listener, fake PLC in memory) with an LLM-agent engine configured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otgate.config.loader import load_config_file
from otgate.core.modes import ModeEvent, PlcMode
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC, TANK_CONFIG

SCAN_S = 0.25
AGENT_TOKEN = "test-agent-token"
BOLD_TOKEN = "test-bold-agent-token"
AGENTS = """
  agent:
    # token "test-agent-token": an LLM agent, capped at supervised, its reads audited
    token_sha256: "sha256:35b2bb3a5b4d34df22a92be43937cc2f80cd28a56058987f353eead93101074a"
    writes: [LIC-101.RSP]
    reads: [LIT-101]
    max_autonomy: supervised
    audit_reads: true
  bold-agent:
    # token "test-bold-agent-token": configured without the cap
    token_sha256: "sha256:2b4e38ca09e01c800ecafa43b98d5a325c055952e0a6c446a5942c407c81bbf2"
    writes: [LIC-101.RSP]
"""


@dataclass
class Live:
    service: GatewayService
    fake: FakeLink

    @property
    def url(self) -> str:
        return self.service.api_url

    def setpoint_writes(self) -> list[float]:
        return [w.value for w in self.fake.writes if w.tag == "LIC-101.RSP"]

    def records(self, actor: str) -> list[tuple[str, dict[str, object]]]:
        return [(r.kind, dict(r.data)) for r in self.service.audit.records() if r.actor == actor]


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    text = (PLANT_CONFIGS / "tank.yaml").read_text().replace("\noperators:", AGENTS + "\noperators:", 1)
    text = text.replace("scan_interval_s: 1.0", f"scan_interval_s: {SCAN_S}", 1)
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    fake = FakeLink(TANK_CONFIG.tags, REMOTE_PLC)
    service = GatewayService(
        load_config_file(path), tmp_path / "data", links={"plc1": fake}, api_port=0, hmi_port=0
    )
    async with service:
        await asyncio.sleep(0)
        while not service.gateway.snapshot.plc_available:
            await asyncio.sleep(0.05)
        service.gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
        while service.gateway.loops["LIC-101"].state.mode.value != "ai":
            await asyncio.sleep(0.05)
        yield Live(service, fake)
        # The fake PLC does not run mode requests: take the release as a PLC would, so stopping the
        # service does not wait out its release bound for a loop the PLC seems to hold.
        fake.values["LIC-101.MODE"] = float(PlcMode.AUTO)
