"""A real plant for the browser tests: simulator (Modbus), GatewayService with both listeners, headless
Chromium (Debian's `chromium`, installed by `.ci/run`) driven by Playwright. One of each per module."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    sim = Simulation("ricker", seed=0)
    stop = asyncio.Event()
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        loaded = fast(
            pointed_at(load_config_file(PLANT_CONFIGS / "ricker.yaml"), runtime.endpoints.modbus_port)
        )
        service = GatewayService(loaded, tmp_path_factory.mktemp("hmi"), api_port=0, hmi_port=0)
        ticking = asyncio.create_task(runtime.run_realtime(speed=SIM_SPEED, stop=stop))
        try:
            async with service:
                yield Plant(sim, service)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ticking, 5.0)


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
