"""`otgate run` and `otgate demo` as real processes, over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from otgate.cli import main
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation
from tests.conftest import PLANT_CONFIGS, ROOT

OTGATE = [sys.executable, "-m", "otgate"]


def tank_config(tmp_path: Path, modbus_port: int) -> Path:
    text = (PLANT_CONFIGS / "tank.yaml").read_text()
    text = (
        text.replace("port: 5020", f"port: {modbus_port}")
        .replace("port: 8000", "port: 0")
        .replace("port: 8080", "port: 0")
    )
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    return path


async def read_urls(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    match = re.search(r"AI API (http://\S+)", line)
    assert match, line
    return match.group(1)


async def test_run_sigkill_after_answers_loses_no_decision(tmp_path: Path):
    sim = Simulation("tank", seed=3)
    async with SimRuntime(sim, modbus_port=0, opcua_port=None) as runtime:
        ticking = asyncio.create_task(runtime.run_realtime(speed=1.0))
        config = tank_config(tmp_path, runtime.endpoints.modbus_port)
        process = await asyncio.create_subprocess_exec(
            *OTGATE,
            "run",
            "--config",
            str(config),
            "--allow-demo-secrets",
            "--data-dir",
            str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            api = await read_urls(process)
            answered = []
            async with httpx.AsyncClient(
                base_url=api, headers={"Authorization": "Bearer demo-tank-engine-token"}
            ) as client:
                for k in range(15):
                    issued = datetime.now(UTC).isoformat()
                    body = {"id": f"k{k}", "tag": "LIC-101.RSP", "value": 650.0 + k, "issued_at": issued}
                    response = await client.post("/v1/recommendations", json=body)
                    assert response.status_code == 200
                    answered.append(response.json()["decisions"][0])
            process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 10)
        finally:
            if process.returncode is None:
                process.kill()
            ticking.cancel()
    verify = subprocess.run(
        [*OTGATE, "audit", "verify", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    export = subprocess.run(
        [*OTGATE, "audit", "export", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    records = {json.loads(line)["seq"]: json.loads(line) for line in export.stdout.splitlines()}
    for decision in answered:
        record = records[decision["audit_seq"]]
        assert record["kind"] == "decision" and record["data"]["id"] == decision["id"]


def test_demo_with_duration_prints_json_summary_and_trail_verifies(tmp_path: Path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [*OTGATE, "demo", "--plant", "cstr", "--duration", "12", "--json", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"recommendations", "accepted", "rejected", "fallbacks", "audit_records"}
    assert summary["accepted"] > 0 and summary["rejected"] > 0
    assert main(["audit", "verify", "--data-dir", str(tmp_path)]) == 0
