"""Crash safety: the gateway is SIGKILLed at random points of a busy run (5 in the suite, 20 in `make soak`).

Every time: the simulated PLC sheds its loop by itself, the restarted gateway comes up in fallback,
and at the end the trail verifies and holds every decision that was answered before a kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation
from tests.cli.test_gateway_process import SHED_LIMIT_S, fast_config, gateway_process, operator, wait_for

KILLS = int(os.environ.get("OTGATE_CRASH_KILLS", "5"))
SPEED = 5.0


async def busy_engine(api: str, answered: list[dict[str, object]], prefix: str) -> None:
    """Recommendations as fast as the engine's rate limit allows, until cancelled by the kill."""
    headers = {"Authorization": "Bearer demo-tank-engine-token"}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=5.0) as client:
        for k in range(10_000):
            body = {
                "id": f"{prefix}-{k}",
                "tag": "LIC-101.RSP",
                "value": 650.0,
                "issued_at": datetime.now(UTC).isoformat(),
            }
            try:
                response = await client.post("/v1/recommendations", json=body)
            except httpx.HTTPError:
                return  # the gateway died mid-request: that one was never answered
            if response.status_code == 200:
                answered.extend(response.json()["decisions"])
            await asyncio.sleep(0.01)


@pytest.mark.timeout(300)
@pytest.mark.requirement("R-35", "R-46")
async def test_random_kills_lose_nothing_and_always_fall_back(tmp_path: Path):
    rng = random.Random(20261125)
    answered: list[dict[str, object]] = []
    sim = Simulation("tank", seed=9)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        ticking = asyncio.create_task(runtime.run_realtime(speed=SPEED))
        config = fast_config(tmp_path, runtime.endpoints.modbus_port)
        try:
            for kill in range(KILLS):
                async with gateway_process(config, tmp_path / "data") as (process, hmi, api):
                    client = await operator(hmi)
                    state = (await client.get("/hmi/api/state")).json()
                    assert {loop["mode"] for loop in state["loops"]} == {"fallback"}, f"restart {kill}"
                    (
                        await client.post("/hmi/api/plant/engage", json={"reason": f"run {kill}"})
                    ).raise_for_status()
                    await client.aclose()
                    try:
                        await wait_for(lambda: sim.loop_modes()["LIC-101"] == "REMOTE", 10)
                    except TimeoutError:
                        c2 = await operator(hmi)
                        raise AssertionError((kill, (await c2.get("/hmi/api/state")).json())) from None
                    engine = asyncio.create_task(busy_engine(api, answered, f"k{kill}"))
                    await asyncio.sleep(rng.uniform(0.05, 1.0))
                    process.send_signal(signal.SIGKILL)
                    killed_at = sim.time_s
                    await asyncio.wait_for(engine, 10)
                    await wait_for(lambda: sim.loop_modes()["LIC-101"] == "AUTO", 10)
                    assert sim.time_s - killed_at <= SHED_LIMIT_S, f"kill {kill}"
        finally:
            ticking.cancel()
    data = str(tmp_path / "data")
    verify = subprocess.run(
        [sys.executable, "-m", "otgate", "audit", "verify", "--data-dir", data],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    export = subprocess.run(
        [sys.executable, "-m", "otgate", "audit", "export", "--data-dir", data],
        capture_output=True,
        text=True,
        timeout=60,
    )
    trail = {record["seq"]: record for record in map(json.loads, export.stdout.splitlines())}
    assert len(answered) > KILLS
    for decision in answered:
        record = trail[decision["audit_seq"]]  # type: ignore[index]
        assert record["kind"] == "decision" and record["data"]["id"] == decision["id"]
    starts = [r for r in trail.values() if r["kind"] == "gateway_start"]
    assert len(starts) == KILLS
