"""Random interleavings against the write gate (issue 12): operator actions, reloads and trail failures
that land *while a PLC write is being awaited*, between scans, proposals and approvals.

The machine reuses the whole-gateway state machine (tests/fuzz/test_stateful_gateway.py) and adds:
- an action armed to run inside the PLC's next setpoint write (the event loop can run an HMI handler or a
  reload there): fallback, manual, engage, reset, a reload with narrower limits, the trail failing;
- reloads and trail failures as rules of their own.

Invariants, checked at the instant of every setpoint write that reaches the PLC:
- the trail recorded it first: the last record appended is the `plc_write` of this tag and value;
- the write is for a source whose mode the loop is in at that instant: AI proposals and approved values
  only in `ai`, an operator's setpoint only in `manual`, the safe-value ramp only in `fallback`;
- it keeps the rules of the config in force at that instant (hard limits, move and rate from the PLC's
  working setpoint).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from otgate.audit.store import AuditRecord, AuditStore, AuditStoreError
from otgate.config.loader import LoadedConfig
from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.config import PlantConfig, SetpointRules
from otgate.core.decision import Decision, Verdict
from otgate.core.modes import LoopMode, ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import AuditUnavailable
from tests.fuzz.support import LOOP, SETPOINT, TANK_WITH_ACCOUNTS, examples
from tests.fuzz.test_stateful_gateway import (
    SCAN_S,
    STEPS,
    WORKING_SP,
    GatewayMachine,
    PlcModel,
    _count,
)

pytestmark = pytest.mark.requirement("R-09", "R-35", "R-37", "R-54", "R-55")

EXAMPLES = examples(150)
OFFSETS = st.one_of(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(-30.0, 30.0))
MODE_OF_SOURCE = {
    "ai": LoopMode.AI,
    "approved": LoopMode.AI,
    "operator": LoopMode.MANUAL,
    "safe_value": LoopMode.FALLBACK,
}
ARMED = ["fallback", "manual", "engage", "reset", "reload", "trail_fails", "submit"]


@dataclass(frozen=True)
class Observed:
    """What held at the instant a setpoint write reached the PLC."""

    value: float
    readback: float
    mode: LoopMode
    last_entry: AuditEntry | None
    rules: SetpointRules
    at: float


class Trail(AuditStore):
    """The real store, remembering the last entry it appended and able to fail on demand."""

    failing = False
    last: AuditEntry | None = None

    def append_many(self, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
        if self.failing:
            raise AuditStoreError("disk full")
        items = list(entries)
        records = super().append_many(items)
        self.last = items[-1] if items else self.last
        return records


class GatedPlc(PlcModel):
    def __init__(self, config: PlantConfig, machine: InterleavingMachine) -> None:
        super().__init__(config, lambda: machine.mode())
        self.machine = machine

    async def write(self, tag: str, value: float) -> float:
        if tag == SETPOINT and not self.down:
            self.machine.observe(value, self.values[WORKING_SP])
        readback = await super().write(tag, value)
        if tag == SETPOINT:
            self.machine.fire()  # the HMI handler or reload that the event loop runs during this await
        return readback


def _source_of(entry: AuditEntry) -> str:
    """For records written before writes carried their source (older trails): infer it."""
    if entry.data.get("fallback") == "safe_value":
        return "safe_value"
    return "operator" if str(entry.data.get("proposal_id", "")).startswith("manual-") else "ai"


def _as_hmi_answer(action: Callable[..., Any]) -> Callable[..., Any]:
    """An operator action as the HMI runs it: a trail that cannot record is a 503, not a crash."""

    def answered(*args: Any) -> Any:
        try:
            return action(*args)
        except AuditUnavailable:
            return Decision("refused", SETPOINT, Verdict.REJECTED)  # what the 503 leaves: nothing written

    return answered


class InterleavingMachine(GatewayMachine):
    backend = "interleaved"

    def _start(self, adjust: Any) -> None:
        config = adjust(TANK_WITH_ACCOUNTS)
        self.clock = ManualClock(1_800_000_000.0)
        self.trail = Trail(Path(self.tmp.name), None)
        self.store = self.trail
        self.observed: list[Observed] = []
        self.armed: str | None = None
        self.plc = GatedPlc(config, self)
        self.gateway = Gateway(compile_plant(config), {"plc1": self.plc}, self.trail, self.clock)
        for name in ("operator_action", "set_manual_setpoint", "decide_approval", "lift_quarantine"):
            setattr(self.gateway, name, _as_hmi_answer(getattr(self.gateway, name)))

    def mode(self) -> LoopMode:
        return self.gateway.loops[LOOP].state.mode if self.gateway else LoopMode.FALLBACK

    def observe(self, value: float, readback: float) -> None:
        assert self.gateway is not None
        rules = self.gateway.plant.config.tags[SETPOINT].setpoint
        assert rules is not None
        self.observed.append(Observed(value, readback, self.mode(), self.trail.last, rules, self.clock.now()))
        _count(f"{self.backend}: setpoint writes observed")

    def fire(self) -> None:
        action, self.armed = self.armed, None
        if action is not None:
            _count(f"{self.backend}: fired during a write: {action}")
            self._act(action)

    def _act(self, action: str) -> None:
        assert self.gateway is not None
        try:
            if action == "reload":
                self._reload()
            elif action == "trail_fails":
                self.trail.failing = True
            elif action == "submit":  # an engine's recommendation answered during the await
                self._submit(self._readback() + 5.0)
            else:
                self.gateway.operator_action("operator", [LOOP], ModeEvent(action), "interleaved")
        except AuditUnavailable:
            pass  # refused for the trail; what it did or did not do is what the invariants check

    def _reload(self) -> None:
        assert self.gateway is not None
        config = self.gateway.plant.config
        tag = config.tags[SETPOINT]
        assert tag.setpoint is not None
        lo, hi = sorted((self.data_lo, self.data_hi))
        limits = tag.setpoint.limits.model_copy(update={"lo": lo, "hi": max(hi, lo + 50.0)})
        fallback = tag.setpoint.fallback
        if fallback.safe_value is not None and not limits.contains(fallback.safe_value):
            fallback = fallback.model_copy(update={"safe_value": (limits.lo + limits.hi) / 2})
        rules = tag.setpoint.model_copy(update={"limits": limits, "fallback": fallback})
        changed = config.model_copy(
            update={"tags": {**config.tags, SETPOINT: tag.model_copy(update={"setpoint": rules})}}
        )
        self.gateway.reload_config("engineer", LoadedConfig(changed, Path("tank.yaml"), "0" * 64))

    # ------------------------------------------------------------------------------ new rules

    @rule(action=st.sampled_from(ARMED), lo=st.floats(500.0, 650.0), hi=st.floats(650.0, 750.0))
    def arm_during_next_write(self, action: str, lo: float, hi: float) -> None:
        self.data_lo, self.data_hi = lo, hi
        self.armed = action

    @rule(lo=st.floats(500.0, 650.0), hi=st.floats(650.0, 750.0))
    def reload_between_scans(self, lo: float, hi: float) -> None:
        self.data_lo, self.data_hi = lo, hi
        self._act("reload")

    def _write_with(self, action: str, offset: float, manual: bool) -> None:
        """Engage (or take manual), ask for a move, and have `action` land during its write."""
        assert self.gateway is not None
        self.gateway.lift_quarantine("operator", "optimizer", "interleavings")
        self._operator(ModeEvent.RESET)
        self._operator(ModeEvent.MANUAL if manual else ModeEvent.ENGAGE)
        self._scan(2)
        self.armed = action
        value = self._readback() + offset
        if manual:
            self.gateway.set_manual_setpoint("operator", LOOP, value)
        else:
            self._submit(value)
        self._scan(3)

    def _submit(self, value: float) -> None:
        assert self.gateway is not None
        with contextlib.suppress(AuditUnavailable):  # the API's 503
            self.gateway.submit([Proposal(self._next_id(), "optimizer", SETPOINT, value, self.clock.now())])

    @rule(action=st.sampled_from(["fallback", "manual", "engage", "reset", "submit"]), offset=OFFSETS)
    def ai_write_meets_an_operator(self, action: str, offset: float) -> None:
        self._write_with(action, offset, manual=False)

    @rule(
        action=st.sampled_from(["reload", "trail_fails"]),
        offset=OFFSETS,
        lo=st.floats(500.0, 650.0),
    )
    def ai_write_meets_a_reload_or_a_dead_trail(self, action: str, offset: float, lo: float) -> None:
        self.data_lo, self.data_hi = lo, 700.0
        self._write_with(action, offset, manual=False)

    @rule(action=st.sampled_from(ARMED), offset=OFFSETS, lo=st.floats(500.0, 650.0))
    def manual_write_meets_anything(self, action: str, offset: float, lo: float) -> None:
        self.data_lo, self.data_hi = lo, 700.0
        self._write_with(action, offset, manual=True)

    # ------------------------------------------------------------------------------ invariants

    @invariant()
    def every_setpoint_write_within_the_rules(self) -> None:
        """Replaces the base check: rules of the config in force at each write, not at the start."""
        for index in range(self.checked, len(self.observed)):
            seen = self.observed[index]
            entry = seen.last_entry
            assert entry is not None and entry.kind == AuditKind.PLC_WRITE, seen
            assert entry.data["tag"] == SETPOINT and entry.data["value"] == seen.value, seen
            source = str(entry.data.get("source") or _source_of(entry))
            assert seen.mode is MODE_OF_SOURCE[source], (source, seen)
            rules = seen.rules
            assert rules.limits.lo <= seen.value <= rules.limits.hi, seen
            move = seen.value - seen.readback
            upward = move > 0
            period = max(SCAN_S, rules.min_write_interval_s)
            limit = min(
                rules.max_move_up if upward else rules.max_move_down,
                (rules.rate_up_per_s if upward else rules.rate_down_per_s) * period,
            )
            assert abs(move) <= limit + 1e-9 + abs(seen.readback) * 2.0**-22, seen
            if index > 0:  # written no more often than the config in force allows
                assert seen.at - self.observed[index - 1].at >= rules.min_write_interval_s - 1e-9, seen
        self.checked = len(self.observed)


TestWriteGateInterleavings = InterleavingMachine.TestCase
TestWriteGateInterleavings.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize="OTGATE_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def test_zz_report_interleaving_counts(capsys: Any) -> None:
    """Not a check: what the interleavings exercised (read with -s, or by `make fuzz`)."""
    from tests.fuzz.test_stateful_gateway import STATS

    with capsys.disabled():
        print(f"\nwrite-gate interleavings: {EXAMPLES} examples x up to {STEPS} steps")
        for key, count in sorted(STATS.items()):
            if key.startswith("interleaved"):
                print(f"  {count:7d}  {key}")
