"""A hypothesis state machine that drives the whole gateway in random order (issue 9 item 2; REQ #55).

Rules: recommendations through the real HTTP parse path (valid, small and huge moves, out of range,
non-finite and other hostile numbers as raw JSON, replays, stale or future times, unknown, look-alike and
safety tags, batches), engine heartbeats, operator actions (engage, fallback, manual, reset, manual
setpoints, approvals right and wrong), scans, and faults (PLC link down and up, writes silently ignored
or refused, PV bad quality, PV jumps, the PLC panel taking the loop to local, a local setpoint change).

Each example builds a tank gateway on the in-memory fake PLC, with a small PLC model that runs between
scans in lock-step with a manual clock: the mode follows the mode request, the working setpoint follows
the remote setpoint in REMOTE, the heartbeat watchdog sheds to AUTO, the level follows the setpoint. The
tag's autonomy, rate policy and fallback policy are drawn per example (so approvals and safe-value ramps
happen too).

Invariants after every step: no exception escapes, no 5xx, and every value ever written to the setpoint
register is finite, inside the hard limits, within max move and rate × write period of the working
setpoint the PLC held when it was written, and written only while the gateway holds the loop in ai or
manual with the PLC in REMOTE. Nothing but the setpoint, the mode request and the heartbeat is ever
written; the mode request only ever asks for AUTO or REMOTE.

Default run: STATEFUL_EXAMPLES examples; `make fuzz` raises it (OTGATE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from otgate.api.ai import create_ai_app
from otgate.audit.store import AuditStore
from otgate.core.approval import proposal_digest
from otgate.core.config import (
    Autonomy,
    FallbackAction,
    FallbackPolicy,
    PlantConfig,
    RatePolicy,
    SetpointRules,
)
from otgate.core.modes import LoopMode, ModeEvent, PlcMode
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate_simulator.faults import Bias, Dropout
from tests.e2e.harness import Harness, running
from tests.fuzz.support import (
    ENGINE_AUTH,
    LOOP,
    SETPOINT,
    START,
    TANK_WITH_ACCOUNTS,
    check_answer,
    examples,
    iso,
)

STATEFUL_EXAMPLES = examples(100)
SIMULATOR_EXAMPLES = examples(25, fuzz_share=0.1)
SIMULATOR_STEPS = 30
STEPS = 40
WORKING_SP, MODE, MODE_REQ, PV, HEARTBEAT = (
    "LIC-101.SP",
    "LIC-101.MODE",
    "LIC-101.MODE_REQ",
    "LIT-101",
    "PLC.HEARTBEAT",
)
WRITABLE = {SETPOINT, MODE_REQ, HEARTBEAT}
PLC_SHED_S = 10.0
SCAN_S = TANK_WITH_ACCOUNTS.gateway.scan_interval_s
LOOKALIKES = [
    "L\u0406C-101.RSP",
    "LIC-\uff11\uff10\uff11.RSP",
    "LIC\u2010101.RSP",
    "lic-101.rsp",
    "LIC-101.RSP\u0000",
]
OTHER_TAGS = ["LSHH-101", "LSLL-101", WORKING_SP, MODE_REQ, HEARTBEAT, PV, "FIC-999.SP", "40001"]
# Raw JSON number tokens for the value. The 400-digit integer (a 500, OverflowError) is left out here:
# it is pinned by test_hostile_input::test_hostile_body_refused_and_nothing_written[value_400_digit_integer].
RAW_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "-1e309",
    "1e308",
    "-0.0",
    "5e-324",
    "1" * 30,
    '"650"',
    "true",
    "null",
]
STATS: dict[str, int] = {}


def _count(key: str, n: int = 1) -> None:
    STATS[key] = STATS.get(key, 0) + n


@dataclass(frozen=True)
class SetpointWrite:
    value: float
    readback: float  # the PLC's working setpoint when the write arrived
    plc_mode: float
    gateway_mode: LoopMode
    at: float


class PlcModel(FakeLink):
    """The fake PLC plus the little PLC logic the gateway relies on, run by `tick()` between scans."""

    def __init__(self, config: PlantConfig, gateway_mode: Any) -> None:
        super().__init__(
            config.tags, {WORKING_SP: 650.0, SETPOINT: 650.0, MODE: float(PlcMode.AUTO), PV: 650.0}
        )
        self.gateway_mode = gateway_mode
        self.log: list[SetpointWrite] = []
        self.last_beat = (0.0, 0.0)  # (value, when it changed)
        self.panel_local = False  # an operator at the PLC panel holds the loop in local
        self.now = START

    async def write(self, tag: str, value: float) -> float:
        if tag == SETPOINT and not self.down:
            self.log.append(
                SetpointWrite(
                    value, self.values[WORKING_SP], self.values[MODE], self.gateway_mode(), self.now
                )
            )
        return await super().write(tag, value)

    def tick(self, now: float) -> None:
        self.now = now
        beat = self.values[HEARTBEAT]
        if beat != self.last_beat[0]:
            self.last_beat = (beat, now)
        requested = self.values[MODE_REQ]
        if self.panel_local:
            self.values[MODE] = float(PlcMode.AUTO)
        elif requested in (PlcMode.AUTO, PlcMode.REMOTE):
            self.values[MODE] = requested
        if self.values[MODE] == PlcMode.REMOTE and now - self.last_beat[1] > PLC_SHED_S:
            self.values[MODE] = float(PlcMode.AUTO)  # the watchdog sheds; the gateway must re-request
            self.values[MODE_REQ] = float(PlcMode.AUTO)
        if self.values[MODE] == PlcMode.REMOTE:
            rsp = self.values[SETPOINT]
            if math.isfinite(rsp):
                self.values[WORKING_SP] = min(800.0, max(500.0, rsp))  # the PLC's own clamp
        pv, sp = self.values[PV], self.values[WORKING_SP]
        wiggle = 0.3 if int(now) % 2 else -0.3  # never frozen
        self.values[PV] = pv + max(-0.5, min(0.5, 0.05 * (sp - pv))) + wiggle


def _config(
    autonomy: Autonomy, policy: RatePolicy, fallback: FallbackPolicy, base: PlantConfig = TANK_WITH_ACCOUNTS
) -> PlantConfig:
    tag = base.tags[SETPOINT]
    assert tag.setpoint is not None
    rules: SetpointRules = tag.setpoint.model_copy(
        update={"autonomy": autonomy, "on_rate_violation": policy, "fallback": fallback}
    )
    tags = {**TANK_WITH_ACCOUNTS.tags, SETPOINT: tag.model_copy(update={"setpoint": rules})}
    return base.model_copy(update={"tags": tags})


FALLBACKS = [
    FallbackPolicy(action=FallbackAction.PLC_LOCAL),
    FallbackPolicy(action=FallbackAction.HOLD),
    FallbackPolicy(action=FallbackAction.SAFE_VALUE, safe_value=600.0),
]
finite_offsets = st.one_of(
    st.floats(-0.5, 0.5),
    st.floats(-0.6, 0.6),
    st.floats(-25, 25),
    st.floats(-300, 300),
    st.sampled_from([0.0, 0.2, 0.5, -0.5, 0.5000001, 20.0, 20.01]),
)


class GatewayMachine(RuleBasedStateMachine):
    """The rules and invariants; the PLC behind the gateway comes from a subclass (fake or simulator)."""

    sent_ids = Bundle("sent_ids")
    backend = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="otgate-stateful-")
        self.ids = 0
        self.checked = 0
        self.gateway: Gateway | None = None

    # ------------------------------------------------------------------------------ set-up

    @initialize(
        autonomy=st.sampled_from(
            [Autonomy.AUTONOMOUS, Autonomy.AUTONOMOUS, Autonomy.SUPERVISED, Autonomy.ADVISORY]
        ),
        policy=st.sampled_from(list(RatePolicy)),
        fallback=st.sampled_from(FALLBACKS),
        engage=st.sampled_from([True, True, True, False]),
    )
    def build(self, autonomy: Autonomy, policy: RatePolicy, fallback: FallbackPolicy, engage: bool) -> None:
        config = _config(autonomy, policy, fallback)
        self.rules = config.tags[SETPOINT].setpoint
        self._start(lambda base: _config(autonomy, policy, fallback, base))
        assert self.gateway is not None
        self.app = create_ai_app(self.gateway)
        _count(f"{self.backend}: examples")
        _count(f"{self.backend}: examples {autonomy.value}/{policy.value}/{fallback.action.value}")
        self._scan()
        if engage:
            self._operator(ModeEvent.ENGAGE)
            self._scan(2)

    def teardown(self) -> None:
        try:
            if self.gateway is not None:
                self._stop()
        finally:
            self.tmp.cleanup()

    # ------------------------------------------------------------------------------ the PLC behind (fake)

    def _start(self, adjust: Callable[[PlantConfig], PlantConfig]) -> None:
        config = adjust(TANK_WITH_ACCOUNTS)
        self.clock = ManualClock(START)
        self.store = AuditStore(Path(self.tmp.name), None)
        self.plc = PlcModel(
            config, lambda: self.gateway.loops[LOOP].state.mode if self.gateway else LoopMode.FALLBACK
        )
        self.gateway = Gateway(compile_plant(config), {"plc1": self.plc}, self.store, self.clock)

    def _stop(self) -> None:
        self.store.close()

    def _run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    def _scan(self, scans: int = 1) -> None:
        async def run() -> None:
            for _ in range(scans):
                self.plc.tick(self.clock.now())
                self.clock.advance(SCAN_S)
                self.plc.now = self.clock.now()
                await self.gateway.scan(self.clock.monotonic())

        self._run(run())
        _count(f"{self.backend}: scans", scans)

    def _readback(self) -> float:
        return self.plc.values[WORKING_SP]

    def _setpoint_log(self) -> list[SetpointWrite]:
        return self.plc.log

    def _plc_writes(self) -> list[tuple[str, float]]:
        return [(w.tag, w.value) for w in self.plc.writes]

    def _fault(self, fault: str, amount: float) -> None:
        plc = self.plc
        if fault in {"link_down", "link_up"}:
            plc.down = fault == "link_down"
        elif fault in {"ignore_writes", "refuse_writes", "writes_ok"}:
            plc.ignore_writes = {SETPOINT} if fault == "ignore_writes" else set()
            plc.refuse = {SETPOINT} if fault == "refuse_writes" else set()
        elif fault in {"pv_bad", "sp_bad", "mode_bad"}:
            plc.bad.add({"pv_bad": PV, "sp_bad": WORKING_SP, "mode_bad": MODE}[fault])
        elif fault == "quality_ok":
            plc.bad.clear()
        elif fault == "pv_jump":
            plc.values[PV] += amount
        elif fault in {"panel_local", "panel_remote"}:
            plc.panel_local = fault == "panel_local"
        else:  # someone at the PLC moves the working setpoint: the next write is judged against this
            value = min(800.0, max(500.0, plc.values[WORKING_SP] + amount))
            plc.values[WORKING_SP] = plc._stored(WORKING_SP, value)

    # ------------------------------------------------------------------------------ helpers

    def _post(self, path: str, body: bytes) -> httpx.Response:
        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                return await http.post(
                    path, content=body, headers={**ENGINE_AUTH, "Content-Type": "application/json"}
                )

        response = self._run(run())
        check_answer(
            response.status_code, response.headers, response.text, sent=body.decode("utf-8", "replace")
        )
        _count(f"{self.backend}: http {response.status_code}")
        return response

    def _next_id(self) -> str:
        self.ids += 1
        return f"st-{self.ids}"

    def _item(self, value: str, tag: str = SETPOINT, rid: str | None = None, skew: float = 0.0) -> str:
        rid = rid or self._next_id()
        issued = iso(self.clock.now() + skew)
        return f'{{"id": "{rid}", "tag": {json.dumps(tag)}, "value": {value}, "issued_at": "{issued}"}}'

    def _recommend(self, items: list[str]) -> httpx.Response:
        raw = items[0] if len(items) == 1 else '{"recommendations": [' + ",".join(items) + "]}"
        response = self._post("/v1/recommendations", raw.encode("utf-8", "surrogatepass"))
        if response.status_code == 200:
            for decision in response.json()["decisions"]:
                _count(f"{self.backend}: decision {decision['decision']}")
                if decision["reasons"]:
                    _count(f"{self.backend}: reason {decision['reasons'][0]['code']}")
        return response

    def _operator(self, event: ModeEvent) -> None:
        self.gateway.operator_action("operator", [LOOP], event, f"fuzz {event.value}")
        _count(f"{self.backend}: operator {event.value}")

    # ------------------------------------------------------------------------------ AI rules

    @rule(
        target=sent_ids,
        kind=st.sampled_from(
            ["near"] * 8 + ["any_finite", "hostile_number", "other_tag", "batch", "batch_same_id"]
        ),
        offset=finite_offsets,
        offsets=st.lists(finite_offsets, min_size=2, max_size=6),
        value=st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from([499.999, 800.0001, 500.0, 800.0, -1e308, 1e308]),
        ),
        raw=st.sampled_from(RAW_VALUES),
        tag=st.sampled_from(LOOKALIKES + OTHER_TAGS),
        skew=st.sampled_from([0.0] * 6 + [-5.0, -40.0, 5.0, 600.0]),
        scans=st.sampled_from([0, 1, 1, 1, 2, 5]),
    )
    def recommend(
        self,
        kind: str,
        offset: float,
        offsets: list[float],
        value: float,
        raw: str,
        tag: str,
        skew: float,
        scans: int,
    ) -> Any:
        rid = self._next_id()
        readback = self._readback()
        if kind == "near":
            response = self._recommend([self._item(repr(readback + offset), rid=rid, skew=skew)])
        elif kind == "any_finite":
            response = self._recommend([self._item(repr(value), rid=rid)])
        elif kind == "hostile_number":
            response = self._recommend([self._item(raw, rid=rid)])
        elif kind == "other_tag":
            response = self._recommend([self._item(repr(readback + offset), tag=tag, rid=rid)])
            if response.status_code == 200:
                (decision,) = response.json()["decisions"]
                assert decision["decision"] == "rejected" and decision["written_value"] is None, decision
        else:
            same = kind == "batch_same_id"
            response = self._recommend(
                [self._item(repr(readback + o), rid=rid if same else None) for o in offsets]
            )
            rid = rid if same else f"st-{self.ids}"
        if scans:
            self._scan(scans)  # the scan loop runs on while engines talk: most answers see a scan or more
        # Only an id the gateway answered (200) is remembered, hence a replay afterwards.
        return rid if response.status_code == 200 else multiple()

    @rule(rid=sent_ids, offset=finite_offsets)
    def replay(self, rid: str, offset: float) -> None:
        response = self._recommend([self._item(repr(self._readback() + offset), rid=rid)])
        if response.status_code == 200:
            (decision,) = response.json()["decisions"]
            assert decision["decision"] == "rejected" and decision["written_value"] is None, decision
            assert "REPLAY" in {r["code"] for r in decision["reasons"]}, decision

    @rule()
    def heartbeat(self) -> None:
        self._post("/v1/heartbeat", b"")

    # ------------------------------------------------------------------------------ operator rules

    @rule(event=st.sampled_from(list(ModeEvent)), scans=st.integers(0, 2))
    def operator_mode(self, event: ModeEvent, scans: int) -> None:
        self._operator(event)
        if scans:
            self._scan(scans)

    @rule(lift=st.booleans())
    def operator_reengages(self, lift: bool) -> None:
        """What an operator does after a fallback: reset with a reason, engage, and the PLC confirms."""
        if lift:
            self.gateway.lift_quarantine("operator", "optimizer", "fuzz")
        self._operator(ModeEvent.RESET)
        self._operator(ModeEvent.ENGAGE)
        self._scan(2)

    @rule(offset=finite_offsets, scans=st.integers(0, 3))
    def operator_manual_setpoint(self, offset: float, scans: int) -> None:
        self.gateway.set_manual_setpoint("operator", LOOP, self._readback() + offset)
        _count(f"{self.backend}: operator setpoint")
        if scans:
            self._scan(scans)

    @rule(value=st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324, 499.0, 801.0]))
    def operator_manual_setpoint_hostile(self, value: float) -> None:
        decision = self.gateway.set_manual_setpoint("operator", LOOP, value)
        assert decision.value is None, decision
        _count(f"{self.backend}: operator setpoint hostile")

    @precondition(lambda self: self.gateway is not None and bool(self.gateway.awaiting))
    @rule(approve=st.booleans(), right_digest=st.booleans(), pick=st.integers(0, 10))
    def operator_answers_approval(self, approve: bool, right_digest: bool, pick: int) -> None:
        items = list(self.gateway.awaiting.values())
        item = items[pick % len(items)]
        digest = proposal_digest(item.proposal) if right_digest else "0" * 64
        outcome = self.gateway.decide_approval("operator", item.proposal.id, digest, approve)
        _count(f"{self.backend}: approval {outcome.value}")

    @rule(rid=st.sampled_from(["nope", "st-1", ""]))
    def operator_approves_unknown(self, rid: str) -> None:
        self.gateway.decide_approval("operator", rid, "0" * 64, True)

    @rule()
    def operator_lifts_quarantine(self) -> None:
        self.gateway.lift_quarantine("operator", "optimizer", "fuzz")

    # ------------------------------------------------------------------------------ time and scans

    @rule(scans=st.integers(1, 6))
    def scan(self, scans: int) -> None:
        self._scan(scans)

    @rule(seconds=st.sampled_from([0.3, 2.0, 15.0]))
    def time_passes_without_scan(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # ------------------------------------------------------------------------------ faults

    @rule(
        fault=st.sampled_from(
            [
                "link_down",
                "link_up",
                "ignore_writes",
                "refuse_writes",
                "writes_ok",
                "pv_bad",
                "sp_bad",
                "mode_bad",
                "quality_ok",
                "pv_jump",
                "panel_local",
                "panel_remote",
                "local_setpoint",
            ]
        ),
        amount=st.floats(-200, 200),
    )
    def fault(self, fault: str, amount: float) -> None:
        """One fault at a time, or its end (a single rule, so faults are not most of what happens)."""
        self._fault(fault, amount)
        _count(f"{self.backend}: fault {fault}")

    # ------------------------------------------------------------------------------ invariants

    @invariant()
    def every_setpoint_write_within_the_rules(self) -> None:
        if self.gateway is None:
            return
        rules = self.rules
        assert rules is not None
        log = self._setpoint_log()
        for write in log[self.checked :]:
            assert math.isfinite(write.value), write
            assert rules.limits.lo <= write.value <= rules.limits.hi, write
            move = write.value - write.readback
            period = max(SCAN_S, rules.min_write_interval_s)
            limit = min(
                rules.max_move_up if move > 0 else rules.max_move_down,
                (rules.rate_up_per_s if move > 0 else rules.rate_down_per_s) * period,
            )
            slack = 1e-9 + abs(write.readback) * 2.0**-22
            assert abs(move) <= limit + slack, (
                f"move {move:+g} from {write.readback:g} exceeds {limit:g}: {write}"
            )
            assert write.plc_mode == PlcMode.REMOTE, write
            assert write.gateway_mode in (LoopMode.AI, LoopMode.MANUAL, LoopMode.FALLBACK), write
            if write.gateway_mode is LoopMode.FALLBACK:  # only the safe-value ramp writes in fallback
                assert rules.fallback.action is FallbackAction.SAFE_VALUE, write
        _count(f"{self.backend}: setpoint writes checked", len(log) - self.checked)
        self.checked = len(log)

    @invariant()
    def only_writable_tags_written(self) -> None:
        if self.gateway is None:
            return
        for tag, value in self._plc_writes():
            assert tag in WRITABLE, (tag, value)
            if tag == MODE_REQ:
                assert value in (PlcMode.AUTO, PlcMode.REMOTE), (tag, value)


class SimulatorGatewayMachine(GatewayMachine):
    """The same rules against the real plant simulator over Modbus TCP on loopback, in lock-step
    (tests/e2e/harness.py): the ground truth is the simulator's own PLC write log."""

    backend = "simulator"

    def _start(self, adjust: Callable[[PlantConfig], PlantConfig]) -> None:
        self.runner = asyncio.Runner()
        self.harness_cm = running("tank", Path(self.tmp.name), adjust=adjust)
        self.h: Harness = self.runner.run(self.harness_cm.__aenter__())
        self.gateway, self.clock = self.h.gateway, self.h.clock
        self.log: list[SetpointWrite] = []
        link = self.gateway.links["plc1"]
        write = link.write

        async def recording(tag: str, value: float) -> float:
            if tag == SETPOINT:
                sim = self.h.sim
                mode = self.gateway.loops[LOOP].state.mode
                self.log.append(
                    SetpointWrite(value, sim.read_tag(WORKING_SP), sim.read_tag(MODE), mode, sim.time_s)
                )
            return await write(tag, value)

        link.write = recording  # type: ignore[method-assign]

    def _stop(self) -> None:
        try:
            self.runner.run(self.harness_cm.__aexit__(None, None, None))
        finally:
            self.runner.close()

    def _run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    def _scan(self, scans: int = 1) -> None:
        self.runner.run(self.h.step(scans))
        _count(f"{self.backend}: scans", scans)

    def _readback(self) -> float:
        return self.h.sim.read_tag(WORKING_SP)

    def _setpoint_log(self) -> list[SetpointWrite]:
        external = [w for w in self.h.sim.write_log if w.tag == SETPOINT and w.protocol != "internal"]
        sent = self.log[: len(external)]
        # What reached the simulated PLC is what the gateway sent (as a float32 register carries it), and
        # the PLC's own record is held to the hard limits too.
        assert len(external) == len(sent), (external, self.log)
        for landed, write in zip(external, sent, strict=True):
            assert math.isclose(landed.value, write.value, rel_tol=2.0**-22), (landed, write)
            assert self.rules is not None and self.rules.limits.lo <= landed.value <= self.rules.limits.hi, (
                landed
            )
        return sent

    def _plc_writes(self) -> list[tuple[str, float]]:
        return [(w.tag, w.value) for w in self.h.sim.write_log if w.protocol != "internal"]

    def _fault(self, fault: str, amount: float) -> None:
        sim, plc = self.h.sim, self.h.runtime.sim
        if fault in {"ignore_writes", "refuse_writes"}:
            plc.ignored.add(SETPOINT)
        elif fault == "writes_ok":
            plc.ignored.discard(SETPOINT)
        elif fault in {"pv_bad", "sp_bad", "mode_bad"}:
            sim.inject(Dropout(PV))
        elif fault == "pv_jump":
            sim.inject(Bias(PV, amount))
        elif fault == "quality_ok":
            sim.clear_faults()
        elif fault in {"panel_local", "link_down"}:
            sim.set_loop_mode(LOOP, "AUTO")  # the panel operator takes the loop back to local
        elif fault in {"panel_remote", "link_up"}:
            pass  # the PLC returns to REMOTE only when the gateway asks after an engage
        else:
            sim.set_local_setpoint(LOOP, min(800.0, max(500.0, sim.read_tag(WORKING_SP) + amount)))


TestGatewayStateMachine = GatewayMachine.TestCase
TestGatewayStateMachine.settings = settings(
    max_examples=STATEFUL_EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize="OTGATE_FUZZ_EXAMPLES" not in os.environ,  # reproducible in CI, fresh seeds under make fuzz
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no `explain`: its tracer is slow before 3.12
)


TestSimulatorGatewayStateMachine = SimulatorGatewayMachine.TestCase
TestSimulatorGatewayStateMachine.settings = settings(
    TestGatewayStateMachine.settings,
    max_examples=SIMULATOR_EXAMPLES,
    stateful_step_count=SIMULATOR_STEPS,
)


def test_invariant_catches_a_gateway_that_skips_move_and_rate(monkeypatch: Any) -> None:
    """The oracle itself: with the move and rate rules switched off in the core, the machine must find a
    write that breaks them (otherwise a green run would prove nothing)."""
    from hypothesis.stateful import run_state_machine_as_test

    from otgate.core import rules, validation

    switched_off = (rules.check_move, rules.check_rate)  # two rows out of the chain's table
    kept = tuple(row for row in validation.SETPOINT_RULES if row.check not in switched_off)
    assert len(kept) == len(validation.SETPOINT_RULES) - 2
    monkeypatch.setattr(validation, "SETPOINT_RULES", kept)
    before = dict(STATS)
    try:
        run_state_machine_as_test(
            GatewayMachine,
            settings=settings(
                max_examples=200,
                stateful_step_count=STEPS,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
                report_multiple_bugs=False,
            ),
        )
    except AssertionError as error:
        assert "exceeds" in str(error), error
    else:
        raise AssertionError("the state machine did not notice a gateway without move and rate limits")
    finally:
        STATS.clear()
        STATS.update(before)


def test_zz_report_stateful_counts(capsys: Any) -> None:
    """Not a check: prints what the state machine ran (read by `make fuzz` and the report)."""
    with capsys.disabled():
        print(f"\nstateful gateway: fake PLC {STATEFUL_EXAMPLES} examples x up to {STEPS} steps;")
        print(f"  simulator {SIMULATOR_EXAMPLES} examples x up to {SIMULATOR_STEPS} steps")
        for key, count in sorted(STATS.items()):
            print(f"  {count:7d}  {key}")
