"""A real plant for the browser tests: simulator (Modbus), GatewayService with both listeners, headless
Chromium (Debian's `chromium`, installed by `.ci/run`) driven by Playwright. One of each per module."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright, expect

from otgate.cli.demo import pointed_at
from otgate.config.loader import LoadedConfig, load_config_file
from otgate.host.service import GatewayService
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation
from tests.conftest import PLANT_CONFIGS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCAN_S = 0.25
SIM_SPEED = 2.0
ENGINE_TOKEN = "demo-ricker-engine-token"
WAIT_MS = 8000
# Playwright's own assertions wait 5 s by default; beside a second test worker a browser can take longer
# to show what the gateway already recorded (the wait is bounded, the assertion unchanged).
expect.set_options(timeout=3 * WAIT_MS)
DEFAULT_VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}


@dataclass
class Plant:
    sim: Simulation
    service: GatewayService

    @property
    def hmi_url(self) -> str:
        return self.service.hmi_url


def fast(loaded: LoadedConfig) -> LoadedConfig:
    gateway = loaded.config.gateway.model_copy(update={"scan_interval_s": SCAN_S})
    return LoadedConfig(loaded.config.model_copy(update={"gateway": gateway}), loaded.path, loaded.sha256)


def demo_config(plant: str) -> Callable[[int], LoadedConfig]:
    """The plant's shipped config pointed at the simulator's Modbus port, scanning every SCAN_S."""
    return lambda port: fast(pointed_at(load_config_file(PLANT_CONFIGS / f"{plant}.yaml"), port))


@contextlib.asynccontextmanager
async def running_plant(
    plant: str, data_dir: Path, config: Callable[[int], LoadedConfig] | None = None, speed: float = SIM_SPEED
) -> AsyncIterator[Plant]:
    """Simulator ticking in real time at `speed`, and a GatewayService with both listeners on free ports;
    `config` makes the gateway's config from the simulator's Modbus port (default: `demo_config`)."""
    sim = Simulation(plant, seed=0)
    stop = asyncio.Event()
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        loaded = (config or demo_config(plant))(runtime.endpoints.modbus_port)
        service = GatewayService(loaded, data_dir, api_port=0, hmi_port=0)
        ticking = asyncio.create_task(runtime.run_realtime(speed=speed, stop=stop))
        try:
            async with service:
                yield Plant(sim, service)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ticking, 5.0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    async with running_plant("ricker", tmp_path_factory.mktemp("hmi")) as running:
        yield running


async def log_in(page: Page, url: str, user: str, password: str) -> None:
    await page.goto(f"{url}/hmi")
    await expect(page).to_have_url(re.compile(r"/hmi/login$"))
    await page.fill("#user", user)
    await page.fill("#password", password)
    await page.click("#login")
    await expect(page).to_have_url(re.compile(r"/hmi$"))
    await expect(page.locator("#live")).to_have_text("live")


async def page_logged_in(
    browser: Browser, url: str, user: str, password: str, viewport: ViewportSize = DEFAULT_VIEWPORT
) -> Page:
    """The HMI page of a new browser context, logged in (the context goes with `page.context.close()`
    or with the browser)."""
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    await log_in(page, url, user, password)
    return page


@contextlib.asynccontextmanager
async def logged_in(
    browser: Browser, url: str, user: str, password: str, viewport: ViewportSize = DEFAULT_VIEWPORT
) -> AsyncIterator[BrowserContext]:
    """A browser context whose session is logged in once through the login form."""
    context = await browser.new_context(viewport=viewport)
    try:
        first = await context.new_page()
        first.set_default_timeout(WAIT_MS)
        await log_in(first, url, user, password)
        await first.close()
        yield context
    finally:
        await context.close()


@contextlib.asynccontextmanager
async def live_page(context: BrowserContext, url: str) -> AsyncIterator[Page]:
    """A fresh HMI page in `context`, once its state stream is live."""
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        await page.goto(f"{url}/hmi")
        await expect(page.locator("#live")).to_have_text("live")
        yield page
    finally:
        await page.close()


async def eventually(check: Callable[[], Any], timeout_s: float = WAIT_MS / 1000) -> Any:
    async with asyncio.timeout(timeout_s):
        while not (result := check()):
            await asyncio.sleep(0.05)
        return result


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does)"
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()
