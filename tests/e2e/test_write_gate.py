"""The write gate and the mode authority against the simulator over real Modbus TCP (issue 12's defects).

Each test names the defect it pins. An operator action "during an awaited write" is an HMI handler that
runs while the scan awaits the PLC's answer: the test wraps the link's write so the action happens
exactly there, as the event loop would interleave it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from otgate.audit.store import AuditStoreError
from otgate.config.loader import LoadedConfig
from otgate.core.codec import DataType
from otgate.core.config import Interlock, PlantConfig, Tag
from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode, ModeEvent
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import AuditUnavailable
from tests.e2e.harness import Harness, running

pytestmark = pytest.mark.requirement("R-09", "R-11", "R-16", "R-18", "R-37", "R-10", "R-03")


def with_tag(config: PlantConfig, name: str, **updates: Any) -> PlantConfig:
    tag = config.tags[name]
    rules = updates.pop("setpoint", {})
    if rules:
        assert tag.setpoint is not None
        updates["setpoint"] = tag.setpoint.model_copy(update=rules)
    changed: Tag = tag.model_copy(update=updates)
    return config.model_copy(update={"tags": {**config.tags, name: changed}})


def during_write(h: Harness, tag: str, action: Callable[[], object]) -> list[str]:
    """Run `action` while the gateway awaits the PLC's answer to its next write of `tag`."""
    link = h.gateway.links["plc1"]
    write: Callable[[str, float], Awaitable[float]] = link.write
    fired: list[str] = []

    async def interleaved(name: str, value: float) -> float:
        readback = await write(name, value)
        if name == tag and not fired:
            fired.append(name)
            action()
        return readback

    link.write = interleaved  # type: ignore[method-assign]
    return fired


def rsp_writes(h: Harness, tag: str) -> list[float]:
    return [w.value for w in h.writes_to(tag) if w.protocol == "modbus"]


def break_trail(gateway: Gateway) -> None:
    def broken(*args: object) -> None:
        raise AuditStoreError("disk full")

    gateway.audit.append_many = broken  # type: ignore[method-assign]


# ------------------------------------------------------------------------------------------- defect 1


async def test_plant_fallback_during_an_awaited_write_stops_the_scans_next_write(tmp_path: Path):
    async with running("ricker", tmp_path) as h:
        await h.engage("PIC-201", "AIC-201")
        fired = during_write(
            h,
            "PIC-201.RSP",
            lambda: h.gateway.operator_action("op", ["AIC-201"], ModeEvent.FALLBACK, "hmi"),
        )
        answers = h.submit(
            h.propose("PIC-201.RSP", round(h.setpoint("PIC-201") + 0.1, 3)),
            h.propose("AIC-201.RSP", round(h.setpoint("AIC-201") + 0.01, 4)),
        )
        assert [a.decision.verdict for a in answers] == [Verdict.ACCEPTED, Verdict.ACCEPTED]
        await h.step(2)
        assert fired and len(rsp_writes(h, "PIC-201.RSP")) == 1
        assert rsp_writes(h, "AIC-201.RSP") == []
        assert h.gateway.loops["AIC-201"].state.mode is LoopMode.FALLBACK


async def test_config_reload_during_an_awaited_write_stops_the_scans_next_write(tmp_path: Path):
    async with running("ricker", tmp_path) as h:
        await h.engage("PIC-201", "AIC-201")
        loaded = LoadedConfig(h.gateway.plant.config, tmp_path / "ricker.yaml", "0" * 64)
        fired = during_write(h, "PIC-201.RSP", lambda: h.gateway.reload_config("engineer", loaded))
        h.submit(
            h.propose("PIC-201.RSP", round(h.setpoint("PIC-201") + 0.1, 3)),
            h.propose("AIC-201.RSP", round(h.setpoint("AIC-201") + 0.01, 4)),
        )
        await h.step(2)
        assert fired and rsp_writes(h, "AIC-201.RSP") == []


async def test_accepted_write_does_not_pop_a_newer_proposal_queued_during_its_await(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        start = h.setpoint("LIC-101")
        newer = round(start + 0.8, 3)
        during_write(h, "LIC-101.RSP", lambda: h.submit(h.propose("LIC-101.RSP", newer)))
        h.submit(h.propose("LIC-101.RSP", round(start + 0.4, 3)))
        await h.step(4)
        assert rsp_writes(h, "LIC-101.RSP")[-1] == pytest.approx(newer, abs=1e-4)


# ------------------------------------------------------------------------------------------- defect 2


async def test_undefined_plc_mode_on_one_loop_never_blocks_the_other_loops_release(tmp_path: Path):
    async with running("ricker", tmp_path) as h:
        await h.engage("PIC-201", "AIC-201")
        h.runtime.sim.overrides["PIC-201.MODE"] = 3.0  # a PLC program reporting outside the contract
        h.gateway.operator_action("op", ["PIC-201", "AIC-201"], ModeEvent.FALLBACK, "hmi")
        await h.step(2)
        assert h.sim.loop_modes()["AIC-201"] == "AUTO"  # released at the PLC despite PIC-201
        assert h.gateway.alarms.is_active("PLC_MODE_UNKNOWN:PIC-201")
        assert not h.gateway.alarms.is_active("SCAN_FAILURE")
        await h.step(4)
        assert h.gateway.alarms.is_active("FALLBACK_UNCONFIRMED:PIC-201")  # unknown is no confirmation


async def test_undefined_plc_mode_while_engaged_falls_back_that_loop_alone(tmp_path: Path):
    async with running("ricker", tmp_path) as h:
        await h.engage("PIC-201", "AIC-201")
        h.runtime.sim.overrides["AIC-201.MODE"] = 7.0
        await h.step()
        assert h.gateway.loops["AIC-201"].state.mode is LoopMode.FALLBACK
        assert h.gateway.loops["PIC-201"].state.mode is LoopMode.AI


# ------------------------------------------------------------------------------------------- defect 3


async def test_latched_fallback_through_manual_cannot_engage_without_reset(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.FALLBACK, "anomaly")
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.MANUAL, "take it by hand")
        outcome = h.gateway.operator_action("op", ["LIC-101"], ModeEvent.ENGAGE, "back to AI")
        assert outcome == {"LIC-101": "refused from manual (latched)"}
        assert h.gateway.operator_action("op", ["LIC-101"], ModeEvent.RESET, "checked") == {
            "LIC-101": "manual"
        }
        assert h.gateway.operator_action("op", ["LIC-101"], ModeEvent.ENGAGE, "ok") == {"LIC-101": "ai"}


# ------------------------------------------------------------------------------------------- defect 5


def _safe_value(safe: float, **rules: Any) -> Callable[[PlantConfig], PlantConfig]:
    def adjust(config: PlantConfig) -> PlantConfig:
        policy = {"action": "safe_value", "safe_value": safe}
        fallback = config.tags["LIC-101.RSP"].setpoint.fallback.model_validate(policy)  # type: ignore[union-attr]
        return with_tag(config, "LIC-101.RSP", setpoint={"fallback": fallback, **rules})

    return adjust


async def test_safe_value_ramp_respects_the_minimum_write_interval(tmp_path: Path):
    async with running("tank", tmp_path, adjust=_safe_value(600.0, min_write_interval_s=3.0)) as h:
        await h.engage("LIC-101")
        assert h.setpoint("LIC-101") > 620.0
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.FALLBACK, "hmi")
        await h.step(12)
        times = [w.sim_time_s for w in h.writes_to("LIC-101.RSP") if w.protocol == "modbus"]
        assert len(times) >= 3
        assert min(b - a for a, b in itertools.pairwise(times)) >= 3.0 - 1e-6


async def test_safe_value_ramp_never_writes_with_the_trail_down(tmp_path: Path):
    async with running("tank", tmp_path, adjust=_safe_value(600.0)) as h:
        await h.engage("LIC-101")
        before = len(rsp_writes(h, "LIC-101.RSP"))
        break_trail(h.gateway)
        with pytest.raises(AuditUnavailable):
            h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.4))
        await h.step(5)
        assert len(rsp_writes(h, "LIC-101.RSP")) == before  # released to local, nothing unrecorded
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"


async def test_safe_value_ramp_never_raises_against_a_raise_blocking_interlock(tmp_path: Path):
    def adjust(config: PlantConfig) -> PlantConfig:
        config = _safe_value(700.0)(config)
        interlock = Interlock(when="LIT-101 >= 0", blocks=["LIC-101.RSP"], direction="increase")
        return config.model_copy(update={"interlocks": {**config.interlocks, "ALWAYS": interlock}})

    async with running("tank", tmp_path, adjust=adjust) as h:
        await h.engage("LIC-101")
        start = h.setpoint("LIC-101")
        assert start < 690.0
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.FALLBACK, "hmi")
        await h.step(4)
        assert all(v <= start + 1e-3 for v in rsp_writes(h, "LIC-101.RSP"))
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"


# ------------------------------------------------------------------------------------------- defect 6


async def test_daily_change_budget_holds_beyond_two_hours(tmp_path: Path):
    daily = {"change_budget": {"max_change": 30.0, "window_s": 86_400.0}}

    def adjust(config: PlantConfig) -> PlantConfig:
        budget = config.tags["LIC-101.RSP"].setpoint.change_budget.model_validate(daily["change_budget"])  # type: ignore[union-attr]
        return with_tag(config, "LIC-101.RSP", setpoint={"change_budget": budget})

    async with running("tank", tmp_path, adjust=adjust) as h:
        await h.engage("LIC-101")
        start = h.setpoint("LIC-101")
        for k in range(1, 4):  # +10 every three hours: the day's budget (30) is spent
            h.submit(h.propose("LIC-101.RSP", start + 10.0 * k))
            await h.step(25)
            h.clock.advance(3 * 3600.0)  # gateway time only; the heartbeat keeps the PLC engaged
            h.keepalive()
            await h.step()
        (answer,) = h.submit(h.propose("LIC-101.RSP", start + 40.0))
        assert ReasonCode.WINDOW_CHANGE_EXCEEDED in answer.decision.codes
        assert max(rsp_writes(h, "LIC-101.RSP")) <= start + 30.0 + 1e-3


# ------------------------------------------------------------------------------------------- defect 7


async def test_with_the_trail_dead_reset_and_engage_do_not_act(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.FALLBACK, "latched")
        break_trail(h.gateway)
        for event in (ModeEvent.RESET, ModeEvent.ENGAGE):
            with pytest.raises(AuditUnavailable):
                h.gateway.operator_action("op", ["LIC-101"], event, "try")
        await h.step(3)
        state = h.gateway.loops["LIC-101"].state
        assert state.mode is LoopMode.FALLBACK and state.latched
        assert h.sim.loop_modes()["LIC-101"] != "REMOTE"


# ------------------------------------------------------------------------------------------- defect 8


async def test_nan_read_back_over_modbus_confirms_nothing(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        plc = h.runtime.sim
        plc.ignored.add("LIC-101.RSP")
        plc.overrides["LIC-101.RSP"] = math.nan
        h.submit(h.propose("LIC-101.RSP", round(h.setpoint("LIC-101") + 0.4, 3)))
        await h.step(2)
        assert h.gateway.alarms.is_active("WRITE_UNCONFIRMED:LIC-101.RSP")
        assert h.gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK


# ------------------------------------------------------------------------------------------- defect 10


def _int16_rsp(config: PlantConfig) -> PlantConfig:
    limits = {"lo": 500.0, "hi": 799.6}
    rules = config.tags["LIC-101.RSP"].setpoint
    assert rules is not None
    return with_tag(
        config,
        "LIC-101.RSP",
        type=DataType.INT16,
        setpoint={
            "limits": rules.limits.model_validate(limits),
            "rate_up_per_s": 1.5,
            "rate_down_per_s": 1.5,
        },
    )


async def test_integer_tag_never_written_past_its_limit_after_rounding(tmp_path: Path):
    async with running("tank", tmp_path, adjust=_int16_rsp, adjust_plc=_int16_rsp) as h:
        await h.engage("LIC-101")
        start = h.setpoint("LIC-101")
        assert start == int(start)
        (answer,) = h.submit(h.propose("LIC-101.RSP", 799.5))  # encodes as 800 > 799.6
        assert answer.decision.verdict is Verdict.REJECTED
        assert ReasonCode.OUT_OF_RANGE in answer.decision.codes
        (ramp,) = h.submit(h.propose("LIC-101.RSP", start + 10.6))  # the register will hold start + 11
        assert ramp.decision.verdict is Verdict.RAMPING and ramp.decision.value == start + 1.0
        await h.step(15)
        written = rsp_writes(h, "LIC-101.RSP")
        assert all(v == int(v) for v in written)  # every step is what the register holds
        assert written == [start + k for k in range(1, 12)]  # one resolution step a scan, no stall


# ------------------------------------------------------------------------------------------- defect 11


async def test_duplicate_ids_inside_one_batch_write_once(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        first = h.propose("LIC-101.RSP", round(h.setpoint("LIC-101") + 0.4, 3))
        again = h.propose("LIC-101.RSP", round(h.setpoint("LIC-101") + 0.3, 3))
        answers = h.submit(
            first, type(again)(first.id, again.engine, again.tag, again.value, again.issued_at)
        )
        assert answers[0].decision.verdict is Verdict.ACCEPTED
        assert answers[1].decision.codes == (ReasonCode.REPLAY,)
        await h.step(2)
        assert rsp_writes(h, "LIC-101.RSP") == [pytest.approx(first.value, abs=1e-4)]


# ------------------------------------------------------------------------------------------- defect 12


def _offset_rsp(config: PlantConfig) -> PlantConfig:
    return with_tag(config, "LIC-101.RSP", offset=-100_000.0)


async def test_scaled_tag_with_offset_confirms_a_correct_write(tmp_path: Path):
    async with running("tank", tmp_path, adjust=_offset_rsp, adjust_plc=_offset_rsp) as h:
        await h.engage("LIC-101")
        target = round(h.setpoint("LIC-101") + 0.37, 3)
        h.submit(h.propose("LIC-101.RSP", target))
        await h.step(2)
        assert rsp_writes(h, "LIC-101.RSP")
        assert not h.gateway.alarms.is_active("WRITE_UNCONFIRMED:LIC-101.RSP")
        assert h.gateway.loops["LIC-101"].state.mode is LoopMode.AI


# ------------------------------------------------------------------------------------------- also examined


async def test_manual_to_ai_rebaselines_the_engagement(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.MANUAL, "by hand")
        await h.step()
        first = h.gateway.loops["LIC-101"].engaged_at
        await h.step(3)
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.ENGAGE, "back")
        await h.step()
        runtime = h.gateway.loops["LIC-101"]
        assert runtime.remote_confirmed and runtime.engaged_at is not None
        assert first is not None and runtime.engaged_at > first


async def test_plc_link_loss_releases_manual_loops_too(tmp_path: Path):
    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.gateway.operator_action("op", ["LIC-101"], ModeEvent.MANUAL, "by hand")
        await h.runtime.modbus.shutdown()  # the PLC is gone
        h.clock.advance(1.0)
        await h.gateway.scan(h.clock.monotonic())
        assert h.gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK
