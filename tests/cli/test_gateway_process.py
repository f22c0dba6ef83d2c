"""The gateway as a real process dies or hangs: the simulated PLC takes its loops back by itself.

The simulator runs in this process in real time at 5x (one simulated second per 0.2 s of wall time)
and the gateway scans every 0.2 s, so the PLC watchdog's 10 simulated seconds are 2 wall seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation
from tests.conftest import PLANT_CONFIGS, ROOT

SPEED = 5.0
SHED_LIMIT_S = 10.0 + 0.5 + 1.0  # PLC watchdog + one PLC scan, plus one simulator tick of granularity


def fast_config(tmp_path: Path, modbus_port: int) -> Path:
    text = (PLANT_CONFIGS / "tank.yaml").read_text()
    text = text.replace("port: 5020", f"port: {modbus_port}").replace("port: 8000", "port: 0")
    text = text.replace("port: 8080", "port: 0")
    text = text.replace("scan_interval_s: 1.0", "scan_interval_s: 0.2").replace(
        "heartbeat_period_s: 1.0", "heartbeat_period_s: 0.2"
    )
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    return path


@asynccontextmanager
async def gateway_process(
    config: Path, data_dir: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, str]]:
    """`otgate run` as a child process; yields it with its HMI and AI API URLs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "otgate",
        "run",
        "--config",
        str(config),
        "--allow-demo-secrets",
        "--data-dir",
        str(data_dir),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        hmi = re.search(r"HMI (http://\S+)", line)
        api = re.search(r"AI API (http://\S+)", line)
        assert hmi and api, line
        yield process, hmi.group(1), api.group(1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


async def operator(hmi: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=hmi, timeout=10.0)
    login = await client.post("/hmi/api/session", json={"user": "operator", "password": "demo-operator"})
    login.raise_for_status()
    client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return client


async def wait_for(condition: object, limit_s: float) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
@pytest.mark.requirement("R-13", "R-18")
async def test_dead_or_hung_gateway_plc_sheds_within_watchdog_and_restart_comes_up_in_fallback(
    how: str, tmp_path: Path
):
    sim = Simulation("tank", seed=5)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        ticking = asyncio.create_task(runtime.run_realtime(speed=SPEED))
        config = fast_config(tmp_path, runtime.endpoints.modbus_port)
        try:
            async with gateway_process(config, tmp_path / "data") as (process, hmi, _):
                client = await operator(hmi)
                (await client.post("/hmi/api/plant/engage", json={"reason": "test"})).raise_for_status()
                await client.aclose()
                await wait_for(lambda: sim.loop_modes()["LIC-101"] == "REMOTE", 10)
                process.send_signal(getattr(signal, how))
                stopped_at = sim.time_s
                await wait_for(lambda: sim.loop_modes()["LIC-101"] == "AUTO", 10)
                assert sim.time_s - stopped_at <= SHED_LIMIT_S
                if how == "SIGSTOP":
                    process.send_signal(
                        signal.SIGCONT
                    )  # a hung gateway that wakes up must not take the loop back
                    await asyncio.sleep(0.6)  # three gateway scans, three simulated seconds
                    assert sim.loop_modes()["LIC-101"] == "AUTO"
            async with gateway_process(config, tmp_path / "data") as (_, hmi, _):
                client = await operator(hmi)
                state = (await client.get("/hmi/api/state")).json()
                await client.aclose()
                assert {loop["mode"] for loop in state["loops"]} == {"fallback"}
                await asyncio.sleep(0.6)  # three scans of the restarted gateway
                assert sim.loop_modes()["LIC-101"] == "AUTO"
        finally:
            ticking.cancel()
