"""End to end over real sockets: recommendation in, validated, audited, written to the simulated PLC."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from otgate.core.audit_chain import verify
from otgate.core.config import Protocol
from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode
from tests.e2e.harness import running

PROTOCOLS = [Protocol.MODBUS, Protocol.OPCUA]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_accepted_recommendation_reaches_plc_within_two_scans(protocol: Protocol, tmp_path: Path):
    async with running("tank", tmp_path, protocol) as h:
        await h.engage("LIC-101")
        target = round(h.setpoint("LIC-101") + 0.4, 3)
        (answer,) = h.submit(h.propose("LIC-101.RSP", target))
        assert answer.decision.verdict is Verdict.ACCEPTED
        await h.step(2)
        writes = h.writes_to("LIC-101.RSP")
        assert [w.value for w in writes] == [pytest.approx(target, abs=1e-4)]
        assert writes[0].protocol == protocol.value
        assert h.sim.read_tag("LIC-101.SP") == pytest.approx(target, abs=1e-3)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.requirement("R-03")
async def test_rejected_recommendation_never_reaches_plc(protocol: Protocol, tmp_path: Path):
    async with running("cstr", tmp_path, protocol) as h:
        await h.engage("TIC-101")
        (answer,) = h.submit(h.propose("TIC-101.RSP", 345.0))
        assert answer.decision.verdict is Verdict.REJECTED
        assert ReasonCode.OUT_OF_RANGE in answer.decision.codes
        await h.step(3)
        assert h.writes_to("TIC-101.RSP") == []


async def test_batch_with_one_bad_item_writes_only_the_good_ones(tmp_path: Path):
    async with running("ricker", tmp_path) as h:
        await h.engage("PIC-201", "AIC-201")
        good_p = round(h.setpoint("PIC-201") + 0.1, 3)
        good_a = round(h.setpoint("AIC-201") + 0.01, 4)
        answers = h.submit(
            h.propose("PIC-201.RSP", good_p),
            h.propose("AIC-201.RSP", good_a),
            h.propose("PIC-201.OUT", 100.0),  # a direct valve write: never allowed
        )
        assert [a.decision.verdict for a in answers] == [Verdict.ACCEPTED, Verdict.ACCEPTED, Verdict.REJECTED]
        await h.step(2)
        assert [w.tag for w in h.sim.write_log if w.protocol == "modbus" and w.tag.endswith(".RSP")] == [
            "PIC-201.RSP",
            "AIC-201.RSP",
        ]
        assert not [w for w in h.sim.write_log if w.tag == "PIC-201.OUT"]


@pytest.mark.requirement("R-18")
async def test_gateway_starts_in_fallback_and_writes_nothing_until_engaged(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        assert all(r.state.mode is LoopMode.FALLBACK for r in h.gateway.loops.values())
        (answer,) = h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.4))
        assert answer.decision.codes == (ReasonCode.MODE_BLOCKED,)
        await h.step(3)
        assert h.writes_to("LIC-101.RSP") == []
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"


@pytest.mark.requirement("R-04")
async def test_large_move_ramps_one_legal_step_per_scan(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        start = h.setpoint("LIC-101")
        (answer,) = h.submit(h.propose("LIC-101.RSP", start + 3.0))
        assert answer.decision.verdict is Verdict.RAMPING
        await h.step(10)
        values = [start] + [w.value for w in h.writes_to("LIC-101.RSP")]
        steps = [b - a for a, b in itertools.pairwise(values)]
        assert max(steps) <= 0.5 + 1e-3
        assert values[-1] == pytest.approx(start + 3.0, abs=1e-3)


@pytest.mark.requirement("R-21")
async def test_operator_fallback_releases_plc_loop_and_blocks_ai(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        from otgate.core.modes import ModeEvent

        h.gateway.operator_action("operator", ["LIC-101"], ModeEvent.FALLBACK, "test")
        await h.step(2)
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"
        (answer,) = h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.4))
        assert ReasonCode.MODE_BLOCKED in answer.decision.codes
        assert h.gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "no reset")[
            "LIC-101"
        ].startswith("refused")


async def test_plc_leaving_remote_takes_loop_out_of_ai_control(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.sim.set_loop_mode("LIC-101", "AUTO")  # the panel operator takes the loop back
        await h.step(2)
        state = h.gateway.loops["LIC-101"].state
        assert state.mode is LoopMode.FALLBACK and state.latched
        assert any(code.startswith("REMOTE_LOST") for code in h.gateway.alarms)


@pytest.mark.requirement("R-35", "R-36")
async def test_trail_records_every_step_and_verifies(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.4), h.propose("LIC-101.RSP", 900.0))
        await h.step(2)
        records = list(h.gateway.audit.records())
        kinds = [r.kind for r in records]
        for kind in (
            "mode_change",
            "operator_action",
            "recommendation",
            "decision",
            "plc_write",
            "write_confirmed",
        ):
            assert kind in kinds
        assert verify(records, None).ok


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.requirement("R-11")
async def test_plc_silently_ignoring_write_raises_readback_alarm_and_falls_back(
    protocol: Protocol, tmp_path: Path
):
    async with running("tank", tmp_path, protocol, ignoring=frozenset({"LIC-101.RSP"})) as h:
        await h.engage("LIC-101")
        (answer,) = h.submit(h.propose("LIC-101.RSP", round(h.setpoint("LIC-101") + 0.4, 3)))
        assert answer.decision.verdict is Verdict.ACCEPTED
        await h.step(2)
        assert "WRITE_UNCONFIRMED:LIC-101.RSP" in h.gateway.alarms
        assert h.gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
        await h.step(2)
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"
        assert any(r.kind == "write_failed" for r in h.gateway.audit.records())
