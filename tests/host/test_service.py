"""The service's scan loop: its pace follows the config in force (issue 12, defect 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from otgate.config.loader import LoadedConfig, load_config_file
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from otgate.runtime.clock import ManualClock
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC

pytestmark = pytest.mark.requirement("R-04")


async def scans_until(service: GatewayService, count: int) -> None:
    async with asyncio.timeout(10):
        while service.gateway.scans < count:
            await asyncio.sleep(0)


async def test_reload_that_raises_the_scan_interval_slows_the_scan_loop(tmp_path: Path):
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    clock = ManualClock(1_800_000_000.0)
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    service = GatewayService(loaded, tmp_path, clock=clock, links={"plc1": fake}, api_port=0, hmi_port=0)
    async with service:
        await scans_until(service, 3)
        settings = loaded.config.gateway.model_copy(update={"scan_interval_s": 5.0})
        slower = LoadedConfig(
            loaded.config.model_copy(update={"gateway": settings}), loaded.path, loaded.sha256
        )
        service.gateway.reload_config("engineer", slower)
        await scans_until(service, service.gateway.scans + 1)
        start, first = clock.now(), service.gateway.scans
        await scans_until(service, first + 4)
        # Four scans at the new 5 s period take 20 s; at the old 1 s pace (step sizes for 5 s) only 4 s.
        assert clock.now() - start >= 4 * 5.0 - 1e-6
