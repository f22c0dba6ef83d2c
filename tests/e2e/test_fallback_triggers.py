"""Every anomaly trigger, against the simulator over real sockets with a simulated clock.

For each: the PLC loop is in its local mode within two scans of detection (read from the simulator, not
the gateway), the trail records the trigger, and no AI write reaches the PLC afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from otgate.audit.store import AuditStoreError
from otgate.config.loader import load_config_file
from otgate.core.config import PlantConfig
from otgate_simulator.faults import ActuatorStuck, Bias, Dropout, Freeze
from tests.conftest import PLANT_CONFIGS
from tests.e2e.harness import Harness, running

Induce = Callable[[Harness], Awaitable[None]]


def tank_rules(**changes: object) -> Callable[[PlantConfig], PlantConfig]:
    def adjust(config: PlantConfig) -> PlantConfig:
        tag = config.tags["LIC-101.RSP"]
        assert tag.setpoint is not None
        rules = tag.setpoint.model_copy(update=changes)
        return config.model_copy(
            update={"tags": {**config.tags, "LIC-101.RSP": tag.model_copy(update={"setpoint": rules})}}
        )

    return adjust


def tank_loop(**changes: object) -> Callable[[PlantConfig], PlantConfig]:
    def adjust(config: PlantConfig) -> PlantConfig:
        loop = config.loops["LIC-101"].model_copy(update=changes)
        return config.model_copy(update={"loops": {**config.loops, "LIC-101": loop}})

    return adjust


async def nothing(h: Harness) -> None:
    return None


async def frozen_issue_time(h: Harness) -> None:
    h.frozen_at = h.clock.now()  # type: ignore[attr-defined]


async def out_of_range_burst(h: Harness) -> None:
    for _ in range(10):
        h.submit(h.propose("LIC-101.RSP", 950.0))


async def flood(h: Harness) -> None:
    for _ in range(50):
        h.gateway.note_refusal("optimizer")


async def safety_tag_write(h: Harness) -> None:
    h.submit(h.propose("LSHH-101", 0.0))


async def restart_plc(h: Harness) -> None:
    h.sim.restart_plc()


async def clock_jump(h: Harness) -> None:
    h.clock.jump(10.0)


async def audit_failure(h: Harness) -> None:
    def broken(*args: object) -> None:
        raise AuditStoreError("disk full")

    h.gateway.audit.append_many = broken  # type: ignore[method-assign]


def fault(made: Callable[[], object]) -> Induce:
    async def inject(h: Harness) -> None:
        h.sim.inject(made())  # type: ignore[arg-type]

    return inject


@dataclass(frozen=True)
class Trigger:
    code: str
    plant: str
    loop: str
    induce: Induce
    keepalive: bool = True
    adjust: Callable[[PlantConfig], PlantConfig] | None = None
    every_scan: Callable[[Harness], None] | None = None


def oscillate(h: Harness) -> None:
    base = h.setpoint("LIC-101")
    h.submit(h.propose("LIC-101.RSP", base + (0.4 if h.gateway.scans % 2 else -0.4)))


def creep(h: Harness) -> None:
    h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.45))


def same_issue_time(h: Harness) -> None:
    at = getattr(h, "frozen_at", None)
    if at is not None:
        h.ids += 1
        from otgate.core.proposal import Proposal

        h.submit(Proposal(f"frozen-{h.ids}", "optimizer", "LIC-101.RSP", h.setpoint("LIC-101"), at))


TRIGGERS = {
    "engine silent": Trigger("ENGINE_SILENT", "tank", "LIC-101", nothing, keepalive=False),
    "recommendations frozen": Trigger(
        "AI_FROZEN", "tank", "LIC-101", frozen_issue_time, keepalive=False, every_scan=same_issue_time
    ),
    "rejection burst": Trigger("REJECTION_BURST", "tank", "LIC-101", out_of_range_burst),
    "flood": Trigger("FLOOD", "tank", "LIC-101", flood),
    "oscillation": Trigger("OSCILLATION", "tank", "LIC-101", nothing, keepalive=False, every_scan=oscillate),
    "slow drift": Trigger(
        "DRIFT",
        "tank",
        "LIC-101",
        nothing,
        keepalive=False,
        adjust=tank_rules(max_drift=5.0),
        every_scan=creep,
    ),
    "safety tag write": Trigger("SECURITY_VIOLATION", "tank", "LIC-101", safety_tag_write),
    "PV outside alarm band": Trigger("PV_ALARM", "tank", "LIC-101", fault(lambda: Bias("LIT-101", 400.0))),
    "PV faster than possible": Trigger("PV_RATE", "tank", "LIC-101", fault(lambda: Bias("LIT-101", 40.0))),
    "PV frozen": Trigger("PV_FROZEN", "tank", "LIC-101", fault(lambda: Freeze("LIT-101"))),
    "PV fail-low": Trigger("PV_FAIL_LOW", "tank", "LIC-101", fault(lambda: Dropout("LIT-101"))),
    "redundant sensors disagree": Trigger(
        "PV_DISAGREE", "cstr", "TIC-101", fault(lambda: Bias("TT-101", 3.0))
    ),
    "PV not following SP": Trigger(
        "PV_SP_DEVIATION",
        "tank",
        "LIC-101",
        fault(lambda: ActuatorStuck("LIC-101.OUT", 0.0)),
        adjust=tank_loop(max_deviation=5.0, deviation_time_s=20.0),
    ),
    "PLC restart": Trigger("PLC_RESTART", "tank", "LIC-101", restart_plc),
    "clock jump": Trigger("CLOCK_JUMP", "tank", "LIC-101", clock_jump),
    "audit store failing": Trigger("AUDIT_FAILURE", "tank", "LIC-101", audit_failure),
}


def rsp_writes_after(h: Harness, tag: str, t: float) -> list[object]:
    return [w for w in h.sim.write_log if w.tag == tag and w.sim_time_s > t]


@pytest.mark.parametrize("name", list(TRIGGERS))
@pytest.mark.requirement("R-15")
async def test_trigger_sends_plc_loop_local_within_two_scans(name: str, tmp_path: Path):
    trigger = TRIGGERS[name]
    async with running(trigger.plant, tmp_path, adjust=trigger.adjust) as h:
        await h.engage(trigger.loop)
        await trigger.induce(h)
        detected_at = None
        for _ in range(60):
            if trigger.keepalive and trigger.code != "AUDIT_FAILURE":
                h.keepalive()
            if trigger.every_scan is not None:
                trigger.every_scan(h)
            await h.step()
            if any(
                code.startswith(trigger.code) for code in h.gateway.alarms if h.gateway.alarms[code].active
            ):
                detected_at = h.sim.time_s
                break
        assert detected_at is not None, f"{trigger.code} not detected; alarms: {list(h.gateway.alarms)}"
        await h.step(2)
        assert h.sim.loop_modes()[trigger.loop] == "AUTO"
        if trigger.code != "AUDIT_FAILURE":
            anomalies = [r.data for r in h.gateway.audit.records() if r.kind == "anomaly"]
            assert any(a.get("anomaly") == trigger.code for a in anomalies), anomalies
        sp = h.gateway.plant.config.loops[trigger.loop].sp
        for _ in range(5):
            if trigger.code != "AUDIT_FAILURE":
                h.submit(h.propose(sp, h.setpoint(trigger.loop) + 0.001))
            await h.step()
        assert rsp_writes_after(h, sp, detected_at) == []


@pytest.mark.requirement("R-48")
async def test_config_file_changed_on_disk_disengages_ai(tmp_path: Path):
    copy = tmp_path / "tank.yaml"
    copy.write_bytes((PLANT_CONFIGS / "tank.yaml").read_bytes())
    async with running("tank", tmp_path) as h:
        h.gateway.watch_config_file(load_config_file(copy))
        await h.engage("LIC-101")
        copy.write_text(copy.read_text().replace("max_move_up: 20.0", "max_move_up: 200.0"))
        for _ in range(15):
            h.keepalive()
            await h.step()
        assert h.gateway.alarms.is_active("CONFIG_CHANGED:config")
        assert h.sim.loop_modes()["LIC-101"] == "AUTO"


@pytest.mark.requirement("R-13", "R-19")
async def test_plc_link_lost_gateway_falls_back_and_plc_sheds_by_itself(tmp_path: Path):
    from otgate_simulator.proxy import FaultProxy, LinkFaults
    from tests.e2e.harness import pointed_at_port

    async with running("tank", tmp_path) as h:
        proxy = FaultProxy("127.0.0.1", h.runtime.endpoints.modbus_port)
        await proxy.start()
        try:
            await pointed_at_port(h, proxy.port, timeout_s=0.05)
            await h.engage("LIC-101")
            proxy.faults = LinkFaults(blackhole=True)  # the cable is cut: nothing gets through either way
            lost_at = h.sim.time_s
            while h.sim.loop_modes()["LIC-101"] == "REMOTE" and h.sim.time_s - lost_at < 30:
                await h.step()
            assert h.sim.loop_modes()["LIC-101"] == "AUTO"
            assert h.sim.time_s - lost_at <= 10.0 + 0.5 + 1.0  # shed timeout + one PLC scan (+ one tick)
            assert h.gateway.loops["LIC-101"].state.mode.value == "fallback"
            assert h.gateway.alarms.is_active("PLC_LINK_LOST:plc1")
        finally:
            await proxy.stop()


@pytest.mark.requirement("R-18")
async def test_no_ai_write_after_fallback_until_operator_reset(tmp_path: Path):
    from otgate.core.modes import ModeEvent

    async with running("tank", tmp_path) as h:
        await h.engage("LIC-101")
        h.clock.jump(10.0)
        await h.step(2)
        for _ in range(3):
            h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.3))
            await h.step()
        assert h.writes_to("LIC-101.RSP") == []
        h.gateway.operator_action("operator", ["LIC-101"], ModeEvent.RESET, "clock fixed")
        await h.engage("LIC-101")
        h.submit(h.propose("LIC-101.RSP", h.setpoint("LIC-101") + 0.3))
        await h.step(2)
        assert len(h.writes_to("LIC-101.RSP")) == 1
