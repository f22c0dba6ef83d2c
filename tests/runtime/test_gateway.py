"""The gateway's own reactions, against the in-memory fake PLC: every doubt ends in fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate.audit.store import AuditStoreError
from otgate.core.approval import ApprovalOutcome, proposal_digest
from otgate.core.config import Autonomy
from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode, ModeEvent, PlcMode
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import AuditUnavailable


async def engaged(gateway: Gateway) -> Gateway:
    await gateway.scan(gateway.clock.monotonic())
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await gateway.scan(gateway.clock.monotonic())
    return gateway


def proposal(gateway: Gateway, value: float, id: str = "rec-1") -> Proposal:
    return Proposal(id, "optimizer", "LIC-101.RSP", value, gateway.clock.now())


async def test_gateway_starts_with_every_loop_in_fallback(gateway: Gateway):
    await gateway.scan(gateway.clock.monotonic())
    assert {r.state.mode for r in gateway.loops.values()} == {LoopMode.FALLBACK}


async def test_gateway_in_fallback_asks_plc_for_local_mode(gateway: Gateway, fake: FakeLink):
    await gateway.scan(gateway.clock.monotonic())
    assert ("LIC-101.MODE_REQ", float(PlcMode.AUTO)) in [(w.tag, w.value) for w in fake.writes]


async def test_gateway_beats_heartbeat_once_per_period(gateway: Gateway, fake: FakeLink):
    for k in range(3):
        await gateway.scan(gateway.clock.monotonic() + k)
        await gateway.scan(gateway.clock.monotonic() + k + 0.5)  # a second scan within the heartbeat period
    assert [w.value for w in fake.writes if w.tag == "PLC.HEARTBEAT"] == [1.0, 2.0, 3.0]


async def test_silently_ignored_write_raises_readback_alarm_and_falls_back(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    fake.ignore_writes.add("LIC-101.RSP")
    gateway.submit([proposal(gateway, 650.4)])
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert "WRITE_UNCONFIRMED:LIC-101.RSP" in gateway.alarms
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    kinds = [r.kind for r in gateway.audit.records()]
    assert "write_failed" in kinds


async def test_link_lost_falls_back_and_answers_plc_unavailable(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    fake.down = True
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    assert "PLC_LINK_LOST:plc1" in gateway.alarms
    (answer,) = gateway.submit([proposal(gateway, 650.4)])
    assert ReasonCode.PLC_UNAVAILABLE in answer.decision.codes


async def test_audit_failure_closes_the_ai_path(gateway: Gateway, monkeypatch: pytest.MonkeyPatch):
    await engaged(gateway)

    def broken(*args: object, **kwargs: object) -> None:
        raise AuditStoreError("disk full")

    monkeypatch.setattr(gateway.audit, "append_many", broken)
    with pytest.raises(AuditUnavailable):
        gateway.submit([proposal(gateway, 650.4)])
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    assert "AUDIT_FAILURE" in gateway.alarms
    with pytest.raises(AuditUnavailable):
        gateway.submit([proposal(gateway, 650.4, "rec-2")])


async def test_core_exception_rejects_with_internal_error(gateway: Gateway, monkeypatch: pytest.MonkeyPatch):
    await engaged(gateway)

    def buggy(*args: object) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr("otgate.runtime.engine_side.validate", buggy)
    (answer,) = gateway.submit([proposal(gateway, 650.4)])
    assert answer.decision.verdict is Verdict.REJECTED
    assert answer.decision.codes == (ReasonCode.INTERNAL_ERROR,)
    assert gateway.pending == {}


async def test_exception_in_scan_falls_back(gateway: Gateway, monkeypatch: pytest.MonkeyPatch):
    await engaged(gateway)

    async def broken(now: float) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(gateway, "_reconcile_modes", broken)
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    assert "SCAN_FAILURE" in gateway.alarms


async def test_repeated_condition_raises_one_alarm_with_a_count(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    fake.down = True
    for k in range(5):
        await gateway.scan(gateway.clock.monotonic() + k)
    alarm = gateway.alarms["PLC_LINK_LOST:plc1"]
    assert alarm.count == 5
    assert sum(1 for r in gateway.audit.records() if r.kind == "alarm") == 1


async def test_engage_refused_from_latched_fallback_until_reset(gateway: Gateway):
    await engaged(gateway)
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.FALLBACK, "test")
    outcome = gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "again")
    assert outcome["LIC-101"].startswith("refused")
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.RESET, "checked the plant")
    assert gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "again")["LIC-101"] == "ai"


def supervised(gateway: Gateway) -> Gateway:
    tag = gateway.plant.config.tags["LIC-101.RSP"]
    if tag.setpoint is None:
        raise AssertionError("the tank setpoint has rules")
    rules = tag.setpoint.model_copy(update={"autonomy": Autonomy.SUPERVISED})
    tags = {**gateway.plant.config.tags, "LIC-101.RSP": tag.model_copy(update={"setpoint": rules})}
    gateway.plant = compile_plant(gateway.plant.config.model_copy(update={"tags": tags}))
    return gateway


def written(fake: FakeLink) -> list[float]:
    return [w.value for w in fake.writes if w.tag == "LIC-101.RSP"]


async def test_supervised_recommendation_waits_for_approval_then_is_written(gateway: Gateway, fake: FakeLink):
    await engaged(supervised(gateway))
    item = proposal(gateway, 650.4)
    (answer,) = gateway.submit([item])
    assert answer.decision.verdict is Verdict.PENDING_APPROVAL
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert written(fake) == []
    assert (
        gateway.decide_approval("operator", "rec-1", proposal_digest(item), approve=True)
        is ApprovalOutcome.APPROVED
    )
    await gateway.scan(gateway.clock.monotonic() + 2)
    assert written(fake) == [pytest.approx(650.4)]
    assert (
        gateway.decide_approval("operator", "rec-1", proposal_digest(item), approve=True)
        is ApprovalOutcome.UNKNOWN
    )


async def test_approval_bound_to_the_exact_recommendation_and_expires(gateway: Gateway):
    await engaged(supervised(gateway))
    first, second = proposal(gateway, 650.4, "a"), proposal(gateway, 650.3, "b")
    gateway.submit([first, second])
    assert gateway.decide_approval("operator", "a", proposal_digest(second), True) is ApprovalOutcome.MISMATCH
    clock = gateway.clock
    assert isinstance(clock, ManualClock)
    clock.advance(301)
    assert gateway.decide_approval("operator", "a", proposal_digest(first), True) is ApprovalOutcome.EXPIRED


async def test_approved_value_revalidated_before_the_write(gateway: Gateway, fake: FakeLink):
    await engaged(supervised(gateway))
    item = proposal(gateway, 650.4)
    gateway.submit([item])
    fake.values["LIT-101"] = 950.0  # the high-level interlock came on before the approval
    gateway.decide_approval("operator", "rec-1", proposal_digest(item), approve=True)
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert written(fake) == []


async def test_manual_setpoint_written_through_the_rules(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.MANUAL, "taking over")
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert gateway.set_manual_setpoint("operator", "LIC-101", 900.0).verdict is Verdict.REJECTED
    assert gateway.set_manual_setpoint("operator", "LIC-101", 650.4).verdict is Verdict.ACCEPTED
    await gateway.scan(gateway.clock.monotonic() + 2)
    assert written(fake) == [pytest.approx(650.4)]
    (ai,) = gateway.submit([proposal(gateway, 650.2)])
    assert ReasonCode.MODE_BLOCKED in ai.decision.codes


async def test_lift_quarantine_and_acknowledge_alarm_audited(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    gateway.quarantined.add("optimizer")
    assert gateway.lift_quarantine("operator", "optimizer", "engine fixed")
    fake.down = True
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert gateway.acknowledge_alarm("operator", "PLC_LINK_LOST:plc1")
    assert gateway.alarms["PLC_LINK_LOST:plc1"].acknowledged_by == "operator"
    events = [r.data["event"] for r in gateway.audit.records() if r.kind == "operator_action"]
    assert events[-2:] == ["lift_quarantine", "acknowledge_alarm"]


async def test_reload_config_returns_loops_to_fallback_and_records_hash(gateway: Gateway):
    from otgate.config.loader import load_config_file
    from tests.conftest import PLANT_CONFIGS

    await engaged(gateway)
    gateway.reload_config("engineer", load_config_file(PLANT_CONFIGS / "tank.yaml"))
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
    record = [r for r in gateway.audit.records() if r.kind == "config_load"][-1]
    assert len(record.data["sha256"]) == 64 and record.actor == "operator:engineer"


async def test_recover_remembers_recent_ids_across_a_restart(gateway: Gateway, fake: FakeLink):
    await engaged(gateway)
    gateway.submit([proposal(gateway, 650.4, "before-restart")])
    restarted = Gateway(gateway.plant, {"plc1": fake}, gateway.audit, gateway.clock)
    assert restarted.recover() == 1
    await engaged(restarted)
    (answer,) = restarted.submit([proposal(restarted, 650.4, "before-restart")])
    assert ReasonCode.REPLAY in answer.decision.codes


async def test_recover_forgets_ids_older_than_the_replay_window(gateway: Gateway, fake: FakeLink):
    gateway.submit([proposal(gateway, 650.4, "old")])
    clock = gateway.clock
    assert isinstance(clock, ManualClock)
    clock.advance(gateway.plant.config.gateway.replay_window_s + 1)
    assert Gateway(gateway.plant, {"plc1": fake}, gateway.audit, clock).recover() == 0


async def test_global_write_cap_defers_the_rest_to_the_next_scan(tmp_path: Path):
    from otgate.audit.store import AuditStore
    from otgate.config.loader import load_config
    from tests.conftest import PLANT_CONFIGS

    config = load_config(PLANT_CONFIGS / "ricker.yaml")
    config = config.model_copy(
        update={
            "gateway": config.gateway.model_copy(
                update={"max_plc_writes_per_s": 1.0, "heartbeat_period_s": 1e6}
            )
        }
    )
    remote = float(PlcMode.REMOTE)
    plc = FakeLink(
        config.tags,
        {
            "PT-201": 2700.0,
            "AT-201": 47.0,
            "FT-204": 100.0,
            "PIC-201.SP": 2700.0,
            "AIC-201.SP": 47.0,
            "PIC-201.MODE": remote,
            "AIC-201.MODE": remote,
        },
    )
    with AuditStore(tmp_path, None) as store:
        gateway = Gateway(compile_plant(config), {"plc1": plc}, store, ManualClock(1_800_000_000.0))
        await gateway.scan(gateway.clock.monotonic())
        gateway.operator_action("operator", ["PIC-201", "AIC-201"], ModeEvent.ENGAGE, "test")
        await gateway.scan(gateway.clock.monotonic())
        now = gateway.clock.now()
        gateway.submit(
            [
                Proposal("p", "optimizer", "PIC-201.RSP", 2700.1, now),
                Proposal("a", "optimizer", "AIC-201.RSP", 47.01, now),
            ]
        )
        setpoints = {"PIC-201.RSP", "AIC-201.RSP"}
        await gateway.scan(now + 1)
        assert [w.tag for w in plc.writes if w.tag in setpoints] == ["PIC-201.RSP"]
        await gateway.scan(now + 2)
        assert [w.tag for w in plc.writes if w.tag in setpoints] == ["PIC-201.RSP", "AIC-201.RSP"]


async def test_approval_queue_bounded_oldest_expires(gateway: Gateway):
    settings = gateway.plant.config.gateway.model_copy(update={"max_awaiting_approval": 2})
    gateway.plant = compile_plant(gateway.plant.config.model_copy(update={"gateway": settings}))
    await engaged(supervised(gateway))
    gateway.submit([proposal(gateway, 650.4, f"r{k}") for k in range(3)])
    assert list(gateway.awaiting) == ["r1", "r2"]


async def test_engine_proposing_while_loop_is_in_fallback_is_not_quarantined(gateway: Gateway):
    await engaged(gateway)
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.FALLBACK, "operator takes over")
    for k in range(30):
        (answer,) = gateway.submit([proposal(gateway, 650.4, f"r{k}")])
        assert answer.decision.codes == (ReasonCode.MODE_BLOCKED,)
    await gateway.scan(gateway.clock.monotonic() + 1)
    assert gateway.quarantined == set()
    assert not any(code.startswith("REJECTION_BURST") for code in gateway.alarms)
