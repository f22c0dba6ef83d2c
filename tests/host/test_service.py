"""The service's scan loop: its pace follows the config in force (issue 12, defect 4), and an operator's
toward-safety action is carried to the PLC by a scan at once, not at the next tick (issue 14)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.modes import ModeEvent, PlcMode
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


class HeldClock(ManualClock):
    """A manual clock whose scan ticks come only when the test lets them: `sleep_until` waits for a tick."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.ticks = asyncio.Semaphore(0)

    async def sleep_until(self, deadline: float) -> None:
        await self.ticks.acquire()
        await super().sleep_until(deadline)


def local_requests(fake: FakeLink) -> int:
    return sum(1 for w in fake.writes if (w.tag, w.value) == ("LIC-101.MODE_REQ", float(PlcMode.AUTO)))


async def test_operator_fallback_is_carried_to_the_plc_without_waiting_for_a_scan_tick(tmp_path: Path):
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    clock = HeldClock(1_800_000_000.0)
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    service = GatewayService(loaded, tmp_path, clock=clock, links={"plc1": fake}, api_port=0, hmi_port=0)
    gateway = service.gateway
    async with service:
        await scans_until(service, 1)
        gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")  # away: no scan asked
        clock.ticks.release()
        await scans_until(service, 2)
        assert gateway.loops["LIC-101"].remote_confirmed
        await asyncio.sleep(0.05)
        assert gateway.scans == 2, "no tick was given and nothing toward safety happened: no scan"
        asked_before = local_requests(fake)

        gateway.operator_action("operator", ["LIC-101"], ModeEvent.FALLBACK, "test")

        await scans_until(service, 3)  # no tick given: only the operator's action can have asked for it
        assert local_requests(fake) == asked_before + 1
        for _ in range(20):  # let the service's stop run its release scans
            clock.ticks.release()
