"""An operator's "Fallback all" is not slowed by a saturating AI flood: pressed in a real browser while
another process floods the AI API (every request validated and audited: the engine's rate limit is raised
so none is turned away early), every PLC loop is local within two scans of the press, as when idle.
The operator's action asks for a scan at once, so the count is the press reaching the gateway plus that scan."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from otgate.config.loader import LoadedConfig
from otgate.core.modes import ModeEvent
from tests.hmi.conftest import ENGINE_TOKEN, Plant, demo_config, page_logged_in, running_plant

pytestmark = pytest.mark.asyncio(loop_scope="module")
FLOOD_TAG = "PIC-201.RSP"
WAIT_S = 20.0
# The simulated PLC answers a mode request at its next tick (1 simulated s). At this speed a tick is 0.1 s,
# well inside one gateway scan (0.25 s), so the count measures the gateway and the HMI, not the tick phase.
SIM_SPEED = 10.0


def unthrottled(loaded: LoadedConfig) -> LoadedConfig:
    config = loaded.config
    engines = {
        name: engine.model_copy(update={"max_requests_per_s": 100_000.0, "burst": 100_000})
        for name, engine in config.engines.items()
    }
    return LoadedConfig(config.model_copy(update={"engines": engines}), loaded.path, loaded.sha256)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    def config(port: int) -> LoadedConfig:
        return unthrottled(demo_config("ricker")(port))

    async with running_plant("ricker", tmp_path_factory.mktemp("isolation"), config, SIM_SPEED) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, plant: Plant) -> AsyncIterator[Page]:
    page = await page_logged_in(browser, plant.hmi_url, "operator", "demo-operator")
    page.set_default_timeout(WAIT_S * 1000)
    yield page
    await page.context.close()


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not check():
            await asyncio.sleep(0.01)


def plc_modes(plant: Plant) -> list[str]:
    """What the PLC says of each loop the gateway manages."""
    modes = plant.sim.loop_modes()
    return [modes[name] for name in plant.service.gateway.loops]


async def engage_all(plant: Plant) -> None:
    gateway = plant.service.gateway
    loops = list(gateway.loops)
    gateway.operator_action("operator:test", loops, ModeEvent.RESET, "isolation test: start over")
    gateway.operator_action("operator:test", loops, ModeEvent.ENGAGE, "isolation test")
    await until(lambda: all(m == "REMOTE" for m in plc_modes(plant)))


async def scans_to_local_after_press(page: Page, plant: Plant) -> int:
    """Scans from the press of "Fallback all" until the PLC runs every loop locally."""
    gateway = plant.service.gateway
    pressed_at = gateway.scans
    await page.click('button[data-action="fallback"][data-scope="plant"]')
    await until(lambda: "REMOTE" not in plc_modes(plant))
    return gateway.scans - pressed_at


async def test_fallback_all_under_a_saturating_ai_flood_is_as_quick_as_idle(page: Page, plant: Plant):
    await engage_all(plant)
    idle = await scans_to_local_after_press(page, plant)

    await engage_all(plant)
    sp = plant.service.gateway.snapshot.values[FLOOD_TAG.replace(".RSP", ".SP")]
    flooder = subprocess.Popen(
        [sys.executable, "-m", "tests.hmi.flooder", plant.service.api_url, ENGINE_TOKEN, FLOOD_TAG, str(sp)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert flooder.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(flooder.stdout.readline), WAIT_S) == "started\n"
        recorded_before = plant.service.gateway.counters.recommendations
        flooded = await scans_to_local_after_press(page, plant)
        recorded_during = plant.service.gateway.counters.recommendations - recorded_before
    finally:
        out, _ = flooder.communicate(input="", timeout=WAIT_S)
    assert recorded_during > 0, "the flood must be running (and reaching the gateway) while the operator acts"
    assert "200=" in out, out
    assert idle <= 2, f"idle: local after {idle} scans"
    assert flooded <= 2, f"flooded: local after {flooded} scans (idle {idle}); flood answers {out.strip()}"
