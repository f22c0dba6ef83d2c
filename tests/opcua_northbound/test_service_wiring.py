"""`otgate run` (the GatewayService) starts the northbound server when the config has one, and stops it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua import Client, ua

from otgate.config.loader import load_config_file
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC, TANK_CONFIG

NORTHBOUND = """  opcua_northbound: {port: 0, security_policy: "None", anonymous_engine: optimizer}
"""


async def test_service_serves_the_northbound_server_from_the_config(tmp_path: Path):
    text = (PLANT_CONFIGS / "tank.yaml").read_text().replace("\nplcs:", "\n" + NORTHBOUND + "\nplcs:", 1)
    text = text.replace("port: 8000", "port: 0").replace("port: 8080", "port: 0")
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    fake = FakeLink(TANK_CONFIG.tags, REMOTE_PLC)
    async with GatewayService(load_config_file(path), tmp_path / "data", links={"plc1": fake}) as service:
        assert service.northbound is not None
        while not service.gateway.snapshot.plc_available:
            await asyncio.sleep(0.05)
        async with Client(service.northbound.url, timeout=5) as legacy:
            level = await legacy.get_node(ua.NodeId.from_string("ns=2;s=LIT-101")).read_value()
    assert level == 640.0
    assert service.northbound.server is None  # stopped with the service
