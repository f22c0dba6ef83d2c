"""`otgate selftest` against the simulator over real Modbus TCP on 127.0.0.1, paced in real time.

The simulator runs 4x faster than the wall clock with a 2 s (simulated) shed timeout and the config beats
every 0.1 s, so a whole plant-action run takes a few wall seconds. Verdicts are asserted, never durations.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otgate.audit.store import AUDIT_KEY_ENV, AuditStore
from otgate.cli import build_parser, main
from otgate.cli.selftest import selftest_main
from otgate.core.canonical_json import canonical_json
from otgate_simulator.faults import WatchdogBroken
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
SPEED = 4.0
KEY = "selftest-test-key"


@dataclass
class Plant:
    sim: Simulation
    modbus_port: int
    opcua_url: str | None = None  # set: the config talks OPC UA instead of Modbus


async def _running(opcua: bool) -> AsyncIterator[Plant]:
    simulation = Simulation("tank", seed=3)
    simulation.set_shed_timeout(2.0)
    stop = asyncio.Event()
    async with SimRuntime(simulation, opcua_port=0 if opcua else None) as runtime:
        task = asyncio.create_task(runtime.run_realtime(speed=SPEED, stop=stop))
        endpoints = runtime.endpoints
        yield Plant(simulation, endpoints.modbus_port, endpoints.opcua_url if opcua else None)
        stop.set()
        await task


@pytest.fixture
async def plant() -> AsyncIterator[Plant]:
    async for running in _running(opcua=False):
        yield running


@pytest.fixture
async def opcua_plant() -> AsyncIterator[Plant]:
    async for running in _running(opcua=True):
        yield running


def _config(tmp_path: Path, plant: Plant) -> Path:
    text = (ROOT / "plant_configs" / "tank.yaml").read_text()
    text = text.replace("port: 5020", f"port: {plant.modbus_port}")
    if plant.opcua_url is not None:
        text = text.replace("protocol: modbus", "protocol: opcua")
        text = text.replace("opc.tcp://127.0.0.1:4840/otgate/tank", plant.opcua_url)
    text = text.replace("heartbeat_period_s: 1.0", "heartbeat_period_s: 0.1")
    path = tmp_path / "tank.yaml"
    path.write_text(text)
    return path


async def _selftest(tmp_path: Path, plant: Plant, *extra: str) -> tuple[int, dict[str, object]]:
    report = tmp_path / "report.json"
    argv = ["selftest", "--config", str(_config(tmp_path, plant)), "--report", str(report), *extra]
    if "--steady-s" not in extra:
        argv += ["--steady-s", "0.3"]  # more than one simulator tick at this speed
    code = await selftest_main(build_parser().parse_args(argv))
    return code, json.loads(report.read_text())


def _steps(signed: dict[str, object]) -> dict[str, tuple[str, str]]:
    report = signed["report"]
    assert isinstance(report, dict)
    return {s["name"]: (s["status"], s["detail"]) for s in report["steps"]}


@pytest.mark.requirement("R-56", "R-13")
async def test_selftest_simulator_every_step_passes_and_signed_report_audited(
    tmp_path: Path, plant: Plant, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(AUDIT_KEY_ENV, KEY)
    code, signed = await _selftest(
        tmp_path,
        plant,
        "--allow-plant-actions",
        "--operator",
        "operator",
        "--data-dir",
        str(tmp_path / "data"),
    )
    steps = _steps(signed)
    assert {name: status for name, (status, _) in steps.items()} == dict.fromkeys(
        ["reachability", "plausibility", "mode_handshake", "write_readback", "heartbeat_shed"], "pass"
    )
    assert code == 0
    assert hmac.compare_digest(
        str(signed["hmac_sha256"]),
        hmac.new(KEY.encode(), canonical_json(signed["report"]).encode(), hashlib.sha256).hexdigest(),
    )
    with AuditStore(tmp_path / "data", KEY.encode(), read_only=True) as store:
        [record] = list(store.records())
        assert store.verify().ok
    assert (record.kind, record.actor, record.data) == ("selftest", "operator:operator", signed)
    # The plant was handed back: loop in AUTO, and the only setpoint write was the value it already held.
    assert plant.sim.loop_modes()["LIC-101"] == "AUTO"
    writes = [w for w in plant.sim.write_log if w.tag not in ("PLC.HEARTBEAT", "LIC-101.MODE_REQ")]
    assert [(w.tag, w.accepted) for w in writes] == [("LIC-101.RSP", True)]
    # The evidence pack reads the signed report back from the trail, one site check per step.
    assert (
        main(
            [
                "evidence",
                "--out",
                str(tmp_path / "pack"),
                "--root",
                str(ROOT),
                "--data-dir",
                str(tmp_path / "data"),
            ]
        )
        == 0
    )
    pack = json.loads((tmp_path / "pack" / "evidence.json").read_text())
    checks = {c["name"]: c["passed"] for c in pack["checks"] if c["name"].startswith("selftest")}
    assert checks == {
        "selftest LIC-101 signature": True,
        **{
            f"selftest LIC-101 {name}": True
            for name in ("reachability", "plausibility", "mode_handshake", "write_readback", "heartbeat_shed")
        },
    }
    assert next(r for r in pack["requirements"] if r["id"] == "R-56")["status"] == "proven"


@pytest.mark.requirement("R-56")
async def test_selftest_over_opcua_every_step_passes(tmp_path: Path, opcua_plant: Plant):
    code, signed = await _selftest(tmp_path, opcua_plant, "--allow-plant-actions", "--operator", "engineer")
    assert {status for status, _ in _steps(signed).values()} == {"pass"}
    assert code == 0
    assert {w.protocol for w in opcua_plant.sim.write_log} == {"opcua"}


@pytest.mark.requirement("R-56")
async def test_selftest_broken_watchdog_shed_step_fails_clearly(tmp_path: Path, plant: Plant):
    plant.sim.inject(WatchdogBroken())
    data = str(tmp_path / "data")
    code, signed = await _selftest(
        tmp_path, plant, "--allow-plant-actions", "--operator", "operator", "--data-dir", data
    )
    status, detail = _steps(signed)["heartbeat_shed"]
    assert (code, status) == (1, "fail")
    assert "the PLC watchdog does not shed; do not commission" in detail
    assert _steps(signed)["mode_handshake"][0] == "pass"
    # Even when the watchdog fails, the self-test hands the loop back to local control.
    assert plant.sim.loop_modes()["LIC-101"] == "AUTO"
    # Recorded in the trail, the failed step turns the requirements it backs red in the evidence pack.
    assert main(["evidence", "--out", str(tmp_path / "pack"), "--root", str(ROOT), "--data-dir", data]) == 1
    pack = json.loads((tmp_path / "pack" / "evidence.json").read_text())
    assert {"R-13", "R-18", "R-56"} <= set(pack["summary"]["failed_ids"])


@pytest.mark.requirement("R-56")
async def test_selftest_without_plant_actions_writes_nothing(tmp_path: Path, plant: Plant):
    code, signed = await _selftest(tmp_path, plant)
    steps = _steps(signed)
    assert code == 0
    assert steps["reachability"][0] == steps["plausibility"][0] == "pass"
    assert {steps[n][0] for n in ("mode_handshake", "write_readback", "heartbeat_shed")} == {"skipped"}
    assert plant.sim.write_log == []


async def test_selftest_loop_already_remote_refused_without_touching_it(tmp_path: Path, plant: Plant):
    plant.sim.set_shed_timeout(1000.0)  # the other gateway's heartbeat stays fresh for the whole test
    plant.sim.write_tag("PLC.HEARTBEAT", 1.0, protocol="internal", address="")
    plant.sim.write_tag("LIC-101.MODE_REQ", 2.0, protocol="internal", address="")
    while plant.sim.loop_modes()["LIC-101"] != "REMOTE":
        await asyncio.sleep(0.05)
    before = len(plant.sim.write_log)
    _, signed = await _selftest(
        tmp_path, plant, "--allow-plant-actions", "--operator", "operator", "--loop", "LIC-101"
    )
    steps = _steps(signed)
    for name in ("mode_handshake", "write_readback", "heartbeat_shed"):
        assert steps[name] == ("fail", "loop LIC-101 must be in AUTO to start, it is in REMOTE: another "
                               "gateway may be in control; stop it first")  # fmt: skip
    assert plant.sim.write_log[before:] == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--allow-plant-actions"], "needs --operator NAME"),
        (["--allow-plant-actions", "--operator", "viewer"], "is not an operator or engineer"),
        (["--loop", "FIC-999"], "no loop 'FIC-999'"),
        (["--test-tag", "PLC.HEARTBEAT"], "must be a configured writable tag other than"),
    ],
)
def test_selftest_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
):
    args: argparse.Namespace = build_parser().parse_args(
        ["selftest", "--config", str(ROOT / "plant_configs" / "tank.yaml"), *extra]
    )
    assert asyncio.run(selftest_main(args)) == 2
    assert message in capsys.readouterr().err


async def test_selftest_loop_ramping_to_a_new_local_setpoint_left_alone(tmp_path: Path, plant: Plant):
    plant.sim.set_local_setpoint("LIC-101", 750.0)  # the PLC ramps the working setpoint at 1 mm/s
    before = len(plant.sim.write_log)
    _, signed = await _selftest(
        tmp_path, plant, "--allow-plant-actions", "--operator", "operator", "--steady-s", "1.0"
    )
    steps = _steps(signed)
    assert steps["mode_handshake"][0] == "fail"
    assert "LIC-101.SP is moving" in steps["mode_handshake"][1]
    assert "LIC-101.SP is moving" in steps["heartbeat_shed"][1]
    # No mode was requested and no heartbeat beaten; only the harmless write of the value RSP held.
    assert {w.tag for w in plant.sim.write_log[before:]} == {"LIC-101.RSP"}
