"""`otgate demo` and `otgate run` stop the same way on SIGTERM and SIGINT: every loop back to
conventional control first, `gateway_stop` last in the trail, the summary printed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore
from otgate.core.audit_chain import AuditRecord
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation
from tests.cli.test_gateway_process import SPEED, fast_config, gateway_process, operator, wait_for
from tests.conftest import ROOT

SIGNALS = [signal.SIGTERM, signal.SIGINT]


def trail(data_dir: Path) -> list[AuditRecord]:
    store = AuditStore(data_dir, None, read_only=True)
    try:
        return list(store.records())
    finally:
        store.close()


def assert_clean_stop(records: list[AuditRecord], loops: set[str]) -> None:
    """Loops released to the PLC's local control and confirmed before the gateway's last record."""
    assert records[-1].kind == "gateway_stop"
    stop = records[-1].data
    assert set(stop["loops"].values()) == {"fallback"} and stop["plc_remote"] == []
    released = {
        r.data["loop"]
        for r in records
        if r.kind == "mode_change" and r.data.get("reason") == "gateway stopping"
    }
    assert released == loops
    confirmed = {
        r.data["loop"]
        for r in records
        if r.kind == "mode_change" and r.data.get("plc_mode") in ("AUTO", "MAN")
    }
    assert loops <= confirmed


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
async def test_demo_signal_releases_loops_records_stop_and_prints_summary(
    sig: signal.Signals, tmp_path: Path
):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "otgate",
        "demo",
        "--plant",
        "tank",
        "--data-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            while b"engaged AI control" not in await process.stdout.readline():
                pass
            # Wait until the PLC has confirmed REMOTE, so there is something to release.
            while not [
                r for r in trail(tmp_path) if r.kind == "mode_change" and r.data.get("plc_mode") == "REMOTE"
            ]:
                await asyncio.sleep(0.1)
        process.send_signal(sig)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert b"summary    recommendations" in out
    assert b"Traceback" not in err
    assert_clean_stop(trail(tmp_path), {"LIC-101"})


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
async def test_run_signal_releases_loops_records_stop_and_prints_summary(sig: signal.Signals, tmp_path: Path):
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
                process.send_signal(sig)
                assert process.stdout is not None
                out = await asyncio.wait_for(process.stdout.read(), 30)
                assert await process.wait() == 0
        finally:
            ticking.cancel()
    assert b"summary    scans" in out
    assert_clean_stop(trail(tmp_path / "data"), {"LIC-101"})
