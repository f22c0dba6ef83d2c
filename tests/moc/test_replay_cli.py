"""`otgate config replay` on a known trail: a real tank gateway (fake PLC, manual clock, real audit store)
records its decisions; a candidate with a tightened limit must flag exactly the recommendations above it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore
from otgate.cli import main
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC, TANK_CONFIG

# Recommendations for LIC-101.RSP (limits 500..800 mm), one per 20 s (within the rate limit), each from the setpoint just written.
VALUES = [652.0, 656.0, 662.0, 658.0, 664.0, 659.0, 655.0, 661.0, 650.0]
TIGHTENED_HI = 660.0


async def record_trail(data_dir: Path) -> None:
    store = AuditStore(data_dir, None)
    clock = ManualClock(1_800_000_000.0)
    fake = FakeLink(TANK_CONFIG.tags, REMOTE_PLC)
    gateway = Gateway(compile_plant(TANK_CONFIG), {"plc1": fake}, store, clock)
    try:
        await gateway.scan(clock.monotonic())
        gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
        for k, value in enumerate(VALUES):
            for i in range(20):  # scans keep the heartbeat and the read-backs fresh
                clock.advance(1.0)
                fake.values["LIT-101"] = 640.0 + 0.1 * (i % 3)  # a live level: a frozen PV would fall back
                await gateway.scan(clock.monotonic())
            gateway.submit([Proposal(f"rec-{k}", "optimizer", "LIC-101.RSP", value, clock.now())])
    finally:
        store.close()


def candidate_file(tmp_path: Path, hi: float) -> Path:
    text = (PLANT_CONFIGS / "tank.yaml").read_text()
    assert "limits: {lo: 500.0, hi: 800.0}" in text
    path = tmp_path / "candidate.yaml"
    path.write_text(text.replace("limits: {lo: 500.0, hi: 800.0}", f"limits: {{lo: 500.0, hi: {hi}}}"))
    return path


def run_replay(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["config", "replay", *args, "--json"]) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


async def test_config_replay_tightened_limit_reports_exactly_the_recommendations_above_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record_trail(tmp_path / "data")
    report = run_replay(
        capsys, str(candidate_file(tmp_path, TIGHTENED_HI)), "--data-dir", str(tmp_path / "data")
    )
    above = {f"rec-{k}" for k, v in enumerate(VALUES) if v > TIGHTENED_HI}
    assert report["replayed"] == len(VALUES)
    decisions = report["decisions"]
    assert isinstance(decisions, list)
    assert {d["id"] for d in decisions} == above
    assert all(
        d["was"] == "ramping" and d["now"] == "rejected" and "OUT_OF_RANGE" in d["now_codes"]
        for d in decisions
    )
    assert report["by_reason"] == {"OUT_OF_RANGE": len(above)}
    assert report["affected_loops"] == ["LIC-101"]


async def test_config_replay_unchanged_config_reproduces_every_recorded_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record_trail(tmp_path / "data")
    report = run_replay(capsys, str(PLANT_CONFIGS / "tank.yaml"), "--data-dir", str(tmp_path / "data"))
    assert (report["replayed"], report["changed"], report["decisions"]) == (len(VALUES), 0, [])


async def test_config_replay_since_after_the_trail_replays_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await record_trail(tmp_path / "data")
    since = "2030-01-01T00:00:00Z"  # the manual clock started in 2027
    report = run_replay(
        capsys,
        str(candidate_file(tmp_path, TIGHTENED_HI)),
        "--data-dir",
        str(tmp_path / "data"),
        "--since",
        since,
    )
    assert (report["replayed"], report["changed"]) == (0, 0)


def test_config_replay_invalid_candidate_prints_file_line_col_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = candidate_file(tmp_path, 9999.0)  # above the alarm and trip limits
    (tmp_path / "data").mkdir()
    AuditStore(tmp_path / "data", None).close()
    assert main(["config", "replay", str(bad), "--data-dir", str(tmp_path / "data")]) == 2
    assert f"{bad}:" in capsys.readouterr().err


def test_config_replay_without_trail_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "replay", str(PLANT_CONFIGS / "tank.yaml"), "--data-dir", str(tmp_path)]) == 2
    assert "no audit trail" in capsys.readouterr().err
