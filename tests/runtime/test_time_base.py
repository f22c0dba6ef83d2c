"""Wall-clock steps of +-10 min during operation (issue 13, item 1): every duration runs on the monotonic
clock, so the heartbeat never pauses and no timer fires early or late; the step itself is recorded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.core.approval import ApprovalOutcome, proposal_digest
from otgate.core.config import Autonomy
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.conftest import TANK_CONFIG

pytestmark = pytest.mark.requirement("R-13", "R-39")

STEPS = [600.0, -600.0, -300.0]


def clock_of(gateway: Gateway) -> ManualClock:
    assert isinstance(gateway.clock, ManualClock)
    return gateway.clock


async def run_scans(gateway: Gateway, seconds: int) -> None:
    clock = clock_of(gateway)
    for _ in range(seconds):
        clock.advance(1.0)
        await gateway.scan(clock.monotonic())


@pytest.mark.parametrize("step_s", STEPS)
async def test_wall_clock_step_never_pauses_the_heartbeat(gateway: Gateway, fake: FakeLink, step_s: float):
    await run_scans(gateway, 3)
    clock_of(gateway).jump(step_s)
    await run_scans(gateway, 20)
    beats = [w for w in fake.writes if w.tag == "PLC.HEARTBEAT"]
    assert len(beats) == 23  # one per 1 s period, before and after the step alike


@pytest.mark.parametrize("step_s", STEPS)
async def test_wall_clock_step_recorded_once_as_clock_jump(gateway: Gateway, step_s: float):
    await run_scans(gateway, 3)
    clock_of(gateway).jump(step_s)
    await run_scans(gateway, 5)
    jumps = [
        r for r in gateway.audit.records() if r.kind == "anomaly" and r.data.get("anomaly") == "CLOCK_JUMP"
    ]
    assert len(jumps) == 1 and f"{step_s:+.1f} s" in jumps[0].data["detail"]


async def test_forward_step_does_not_make_an_engine_look_silent(gateway: Gateway):
    await run_scans(gateway, 1)
    gateway.operator_action("op", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await run_scans(gateway, 2)
    gateway.heartbeat_from("optimizer")
    clock_of(gateway).jump(600.0)
    await run_scans(gateway, 1)
    assert not any(code.startswith("ENGINE_SILENT") for code in gateway.alarms)


@pytest.mark.parametrize(
    ("step_s", "after_s", "expected"),
    [
        (600.0, 10.0, ApprovalOutcome.APPROVED),  # not early
        (-600.0, 10.0, ApprovalOutcome.APPROVED),
        (-600.0, 301.0, ApprovalOutcome.EXPIRED),  # not late
    ],
)
async def test_wall_clock_step_moves_no_approval_expiry(
    fake: FakeLink, tmp_path: Any, step_s: float, after_s: float, expected: ApprovalOutcome
):
    from otgate.audit.store import AuditStore

    rules = TANK_CONFIG.tags["LIC-101.RSP"].setpoint
    assert rules is not None
    tag = TANK_CONFIG.tags["LIC-101.RSP"].model_copy(
        update={"setpoint": rules.model_copy(update={"autonomy": Autonomy.SUPERVISED})}
    )
    config = TANK_CONFIG.model_copy(update={"tags": {**TANK_CONFIG.tags, "LIC-101.RSP": tag}})
    clock = ManualClock(1_800_000_000.0)
    with AuditStore(tmp_path, None) as store:
        gateway = Gateway(compile_plant(config), {"plc1": fake}, store, clock)
        await run_scans(gateway, 1)
        gateway.operator_action("op", ["LIC-101"], ModeEvent.ENGAGE, "test")
        await run_scans(gateway, 2)
        proposal = Proposal("rec-1", "optimizer", "LIC-101.RSP", 650.4, clock.now())
        gateway.submit([proposal])
        clock.jump(step_s)
        clock.advance(after_s)  # against the 300 s time-to-live, whatever the wall clock says
        outcome = gateway.decide_approval("op", "rec-1", proposal_digest(proposal), approve=True)
        assert outcome is expected


async def test_backward_step_does_not_starve_the_rate_limiter(gateway: Gateway):
    await run_scans(gateway, 1)
    app = create_ai_app(gateway)
    auth = {"Authorization": "Bearer demo-tank-engine-token"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        for _ in range(60):  # empty the bucket (burst 40)
            await http.post("/v1/heartbeat", headers=auth)
        clock_of(gateway).jump(-600.0)
        clock_of(gateway).advance(5.0)  # 5 s at 20/s refills it, whatever the wall clock did
        answer = await http.post("/v1/heartbeat", headers=auth)
    assert answer.status_code != 429
