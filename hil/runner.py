"""Runs one scenario: simulator, gateway and scripted engines in one process, lock-stepped over real sockets.

One tick (1 s of plant time), in this order every time:

    1. sim tick + publish      `SimRuntime.step()`: physics and two PLC scans, then the Modbus registers
                               and OPC UA nodes are published; writes received during the previous tick
                               were latched by this tick's first scan
    1b. link + profiles        write frames the fault proxy held back and that are due now reach the PLC;
                               disturbance profiles (ramp, periodic) take this tick's value
    2. injections              those due at this time, then those whose `when` held on the previous row
                               (applied in declaration order; the image is republished if they touched it)
    3. engines                 each due engine's bodies are POSTed to the gateway's API app
    4. gateway scan            at the same simulated instant: real socket reads, heartbeat, mode
                               handshake, writes and read-backs
    5. trace row               simulator-side truth, the PLC's image and modes, what the engines proposed,
                               writes that reached the PLC during this tick

Nothing reads the wall clock: the gateway's clock is a `ManualClock` set from simulation time (plus any
`clock.jump`), the link back-off runs on simulation time, every random draw comes from the scenario seed.
The same scenario therefore gives the same trace, and `trace_sha256` proves it.
"""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otgate.client.engine import Engine
from otgate.core.config import PlantConfig, Protocol
from otgate.runtime.clock import ManualClock
from otgate_hil.candidate import CandidateEngine
from otgate_hil.child import ChildGateway
from otgate_hil.conditions import parse_condition
from otgate_hil.derived import derived_names, with_derived_last
from otgate_hil.engines import DEMO_TOKENS, ScriptedEngine, Submission, model_of, one_off
from otgate_hil.faulty_plc import FaultySimulation
from otgate_hil.hmi_operator import OperatorAction
from otgate_hil.link_control import FRAME_ACTIONS, LinkControl
from otgate_hil.overrides import overridden_config
from otgate_hil.profiles import PeriodicProfile, Profile, RampProfile
from otgate_hil.record import Event, RunRecord, read_audit, trace_hash
from otgate_hil.reviewers import Reviewers
from otgate_hil.run_metrics import peak_rss_mb
from otgate_hil.scenario import Injection, Scenario
from otgate_hil.subjects import SUBJECTS, GatewayUnderTest, RealGateway
from otgate_hil.tracing import trace_row
from otgate_hil.wiring import (
    apply_plc_action,
    describe,
    fault_of,
    operator_action_of,
    plant_model_of,
    pointed,
    quiet,
    scratch,
    url_port,
    with_port,
)
from otgate_simulator import faults as sim_faults
from otgate_simulator.faults import generator
from otgate_simulator.programs import PlantBinding
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import default_config

EPOCH = 1_800_000_000.0  # simulated t = 0 as a UNIX time (2027-01-15)
__all__ = ["EPOCH", "pointed", "run_scenario"]


class _Run:
    def __init__(
        self,
        scenario: Scenario,
        subject: str,
        protocol: Protocol,
        data_dir: Path,
        binding: PlantBinding | None = None,
        candidate: Engine | None = None,
    ) -> None:
        self.scenario = scenario
        self.subject_kind = subject
        self.protocol = protocol
        self.data_dir = data_dir
        self.sim = FaultySimulation(scenario.plant, seed=scenario.seed, binding=binding)
        self.base_config = (
            overridden_config(scenario.plant, scenario.overrides)
            if scenario.overrides
            else default_config(scenario.plant)
        )
        self.clock = ManualClock(EPOCH)
        self.jump_s = 0.0
        self._clock_sim_s = 0.0
        self.proposals: list[tuple[float, str, float]] = []
        self.gateway: GatewayUnderTest | None = None
        self.config: PlantConfig | None = None
        self.link: LinkControl | None = None
        self.ports: tuple[int, ...] = ()
        self.runtime: SimRuntime[FaultySimulation] | None = None
        self.engines: list[ScriptedEngine | CandidateEngine] = [
            self._engine(i, spec) for i, spec in enumerate(scenario.engines)
        ]
        if candidate is not None:  # otgate hil certify: the engine under test speaks instead
            self.engines = [self._candidate(candidate, spec) for spec in scenario.engines[:1]]
        self.offsets = {spec.id: spec.clock_offset for spec in scenario.engines}
        self.events: list[Event] = []
        self.rows: list[dict[str, float]] = []
        self.audit_marks: list[tuple[int, float]] = []  # (last seq after the tick, t)
        self.proposed: dict[str, float] = {}
        self.statuses: dict[int, int] = {}
        self.latencies_s: list[float] = []  # wall time of each POST, answer included
        self.profiles: dict[str, Profile] = {}
        self.pending = list(scenario.timeline)
        self.triggered: list[Injection] = []
        self.conditions = {id(i): parse_trigger(i.when) for i in scenario.timeline if i.when is not None}
        self.one_offs = 0
        self.reviewers = Reviewers()

    def _engine(self, index: int, spec: Any) -> ScriptedEngine:
        token = spec.token or DEMO_TOKENS[self.scenario.plant]
        return ScriptedEngine(
            id=spec.id,
            tag=spec.tag,
            token=token,
            behaviour=spec.behaviour,
            start_s=spec.start,
            stop_s=spec.stop,
            period_s=spec.period,
            rng=generator(self.scenario.seed, f"engine:{spec.id}", index),
            model=None if spec.model_version is None else model_of(spec.engine, spec.model_version),
        )

    def _candidate(self, candidate: Engine, spec: Any) -> CandidateEngine:
        token = spec.token or DEMO_TOKENS[self.scenario.plant]
        return CandidateEngine(spec.id, spec.tag, token, candidate, spec.start, spec.stop, spec.period)

    # ---------------------------------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        opcua_port = 0 if self.protocol is Protocol.OPCUA else None
        async with SimRuntime(self.sim, modbus_port=0, opcua_port=opcua_port) as runtime:
            self.runtime = runtime
            self.sim.republish = runtime.publish
            self.config = await self._point(runtime)
            try:
                await self._start_gateway()
                ticks = round(self.scenario.duration / self.sim.dt_s)
                for _ in range(ticks):
                    await self._tick()
            finally:
                if self.gateway is not None:
                    await self.gateway.kill()
                if self.link is not None:
                    await self.link.stop()

    async def _point(self, runtime: SimRuntime[FaultySimulation]) -> PlantConfig:
        endpoints = runtime.endpoints
        port, url = endpoints.modbus_port, endpoints.opcua_url
        self.ports = (port,) if url is None else (port, url_port(url))
        if any(i.do.startswith("link.") for i in self.scenario.timeline):
            target = port if self.protocol is Protocol.MODBUS else url_port(url)
            frames = any(i.do in FRAME_ACTIONS for i in self.scenario.timeline)
            self.link = LinkControl(target, self.scenario.seed, lambda: self.sim.time_s, frames)
            await self.link.start()
            self.ports = (*self.ports, self.link.port)
            if self.protocol is Protocol.MODBUS:
                port = self.link.port
            elif url is not None:
                url = with_port(url, self.link.port)
        return pointed(self.base_config, self.protocol, port, url)

    async def _start_gateway(self) -> None:
        assert self.config is not None
        if self.scenario.gateway_process == "child":
            plc = next(iter(self.config.plcs.values()))
            port = plc.modbus.port if plc.modbus else 0
            url = plc.opcua.endpoint if plc.opcua else None
            self.gateway = await ChildGateway.start(
                self.subject_kind, self.scenario.plant, self.protocol, port, url, self.data_dir, self.clock
            )
            return
        factory = SUBJECTS[self.subject_kind]
        self.gateway = factory(
            self.config,
            self.data_dir,
            self.clock,
            lambda: self.sim.time_s,
            f"plant_configs/{self.scenario.plant}.yaml",
        )

    # ---------------------------------------------------------------------------------------- one tick

    async def _tick(self) -> None:
        assert self.runtime is not None
        await self.runtime.step()
        t = self.sim.time_s
        self.clock.advance(t - self._clock_sim_s)
        self._clock_sim_s = t
        writes_before = len(self.sim.write_log)
        touched = self._step_profiles(t)
        if self.link is not None and await self.link.deliver_due():
            touched = True
        if await self._inject(t) or touched:
            await self.runtime.publish()
        state = {f"plc.{tag}": value for tag, value in self.sim.image().items()}
        for engine in self.engines:
            sp = self._working_sp(engine.tag)
            epoch = EPOCH + t + self.offsets.get(engine.id, 0.0)
            if isinstance(engine, CandidateEngine) and isinstance(self.gateway, RealGateway):
                await engine.prepare(self.gateway, t, epoch)
            for submission in engine.act(t, epoch, sp, state):
                reply = await self._post(submission)
                if reply is not None:
                    engine.observe(reply)
        if self.gateway is not None:
            await self.gateway.scan(self.clock.monotonic())
        self._record(t, writes_before)

    def _step_profiles(self, t: float) -> bool:
        for name, profile in self.profiles.items():
            self.sim.set_disturbance(name, profile.value_at(t))
        return bool(self.profiles)

    def _working_sp(self, tag: str) -> float:
        assert self.config is not None
        for loop in self.config.loops.values():
            if loop.sp == tag:
                return self.sim.read_tag(loop.working_sp)
        return math.nan

    async def _post(self, submission: Submission) -> bytes | None:
        for tag, value in submission.proposed:
            self.proposed[tag] = value
            self.proposals.append((self.sim.time_s, tag, value))
        if self.gateway is None:
            return None
        started = time.perf_counter()
        reply = await self.gateway.post(submission.token, submission.body)
        self.latencies_s.append(time.perf_counter() - started)
        self.statuses[reply.status] = self.statuses.get(reply.status, 0) + 1
        return reply.body

    async def _inject(self, t: float) -> bool:
        due = [i for i in self.pending if i.at is not None and i.at <= t + 1e-9]
        due += self.triggered
        self.triggered = []
        touched = False
        for item in due:
            if item in self.pending:
                self.pending.remove(item)
            touched |= await self._apply(item, t)
        if t == self.sim.dt_s and self.scenario.engage:
            loops = tuple(self.scenario.engage)
            answer = await self._operate(OperatorAction("engage", reason="HIL start", loops=loops))
            self._event(t, "engage", "operator.engage", f"{','.join(loops)}: {answer}")
        for review in self.reviewers.due(t):
            answer = await self._operate(review)
            if answer:  # an empty queue is not an event
                self._event(t, f"review:{review.tag}", "operator.reviews", answer)
        return touched

    def _event(self, t: float, label: str, action: str, detail: str = "") -> None:
        self.events.append(Event(t, label, action, detail))

    async def _apply(self, item: Injection, t: float) -> bool:
        action = item.do
        if action in {"operator.reviews", "operator.reviews_stop"}:
            self.reviewers.apply(item, t)
            self._event(t, item.label, item.do, describe(item))
            return False
        if action.startswith("operator.") or action.startswith("engineer."):
            answer = await self._operate(operator_action_of(item))
            self._event(t, item.label, item.do, f"{describe(item)} -> {answer}".lstrip())
            return False
        self._event(t, item.label, item.do, describe(item))
        if action == "mark":
            return False
        if action in {"process.ramp", "process.periodic"}:
            self._start_profile(item, t)
            return True
        if action.startswith("sensor.") or action.startswith("actuator.") or action == "process.disturbance":
            self.profiles.pop(item.name or "", None)
            self.sim.inject(fault_of(item))
            return True
        if action == "faults.clear":
            self.sim.clear_faults(item.tag)
            self.profiles = (
                {} if item.tag is None else {k: v for k, v in self.profiles.items() if k != item.tag}
            )
            return True
        if action.startswith("plc."):
            return apply_plc_action(self.sim, item)
        if action.startswith("link."):
            if self.link is not None:
                await self.link.act(item, self.base_config)
            return False
        if action == "engine.model":
            names = {spec.id: spec.engine for spec in self.scenario.engines}
            for engine in self.engines:
                if engine.id == item.engine and isinstance(engine, ScriptedEngine):
                    engine.model = model_of(names[engine.id], item.version or "")
            return False
        if action.startswith("engine."):
            for engine in self.engines:
                if engine.id == item.engine:
                    engine.silenced = action == "engine.stop"
            return False
        if action == "ai.propose":
            await self._propose(item)
            return False
        await self._gateway_action(item)
        return False

    def _start_profile(self, item: Injection, t: float) -> None:
        name = item.name or ""
        now = self.sim.disturbance(name)
        if name not in self.profiles:
            self.sim.inject(sim_faults.Disturbance(name, now))
        if item.do == "process.ramp":
            self.profiles[name] = RampProfile(t, now, float(item.value), float(item.over or 0.0))
        else:
            base = now if item.value is None else float(item.value)
            period = float(item.period or 1.0)
            self.profiles[name] = PeriodicProfile(t, base, float(item.amplitude or 0.0), period)
        self.sim.set_disturbance(name, self.profiles[name].value_at(t))

    async def _operate(self, action: OperatorAction) -> str:
        if self.gateway is None:
            return "no gateway running"
        return await self.gateway.act(action)

    async def _propose(self, item: Injection) -> None:
        self.one_offs += 1
        raw = item.raw if item.raw is not None else json.dumps(item.value)
        token = DEMO_TOKENS[self.scenario.plant]
        rec_id = f"{item.label}-{self.one_offs}"
        assert item.tag is not None
        model = next(
            (e.model for e in self.engines if isinstance(e, ScriptedEngine) and e.tag == item.tag), None
        )
        await self._post(one_off(rec_id, item.tag, raw, token, self.clock.now(), item.rationale, model))

    async def _gateway_action(self, item: Injection) -> None:
        if item.do == "gateway.kill" and self.gateway is not None:
            await self.gateway.kill()
            self.gateway = None
        elif item.do == "gateway.start" and self.gateway is None:
            await self._start_gateway()
        elif item.do == "clock.jump" and item.by is not None:
            self.jump_s += item.by
            jump = getattr(self.clock, "jump", None)  # ManualClock.jump steps the wall clock only
            if jump is not None:
                jump(item.by)
            else:
                self.clock.time += item.by

    # ---------------------------------------------------------------------------------------- the trace

    def _record(self, t: float, writes_before: int) -> None:
        row = trace_row(
            self.sim,
            t,
            writes_before,
            self.base_config,
            {*(e.tag for e in self.engines)},
            self.proposed,
            self.gateway,
        )
        self.rows.append(row)
        seq = None if self.gateway is None else self.gateway.audit_seq()
        if seq is not None:
            self.audit_marks.append((seq, t))
        for item in list(self.pending):
            if item.when is not None and self.conditions[id(item)](self.rows):
                self.pending.remove(item)
                if item.do == "mark":  # nothing to apply: the moment is the row where it held
                    self._event(t, item.label, item.do, item.when)
                else:
                    self.triggered.append(item)


def parse_trigger(text: str) -> Callable[[list[dict[str, float]]], bool]:
    """A `when` trigger over the rows so far (the last is the current one; trace functions look back)."""
    condition = parse_condition(text)
    names = derived_names(condition.names())
    if not names:
        return lambda rows: condition.holds(rows[-1])
    return lambda rows: condition.holds(with_derived_last(rows, names))


async def run_scenario(
    scenario: Scenario,
    *,
    subject: str = "otgate",
    protocol: str | None = None,
    data_dir: Path | None = None,
    plant_model: Path | None = None,
    candidate: Engine | None = None,
) -> RunRecord:
    """Run `scenario` against `subject` ("otgate" or "passthrough"); `protocol` overrides the file's, and
    `plant_model` (an FMU plant spec, simulator.fmu_plant) the scenario's `plant_model`."""
    chosen = Protocol(protocol or scenario.protocol)
    if any(i.do in FRAME_ACTIONS for i in scenario.timeline):
        chosen = Protocol.MODBUS  # frame-level link faults act on Modbus TCP frames only
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="otgate-hil-", dir=scratch()))
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        binding = plant_model_of(scenario, plant_model)
        if binding is not None:
            stack.callback(binding.close)
        run = _Run(scenario, subject, chosen, data_dir, binding, candidate)
        if any(i.do in FRAME_ACTIONS for i in scenario.timeline):
            # Held and cut frames make the gateway's Modbus client time out on purpose; its error log
            # (with a frame dump) would bury the run's own report. The gateway's audit records each one.
            stack.enter_context(quiet("pymodbus"))
        await run.run()
        audit = read_audit(data_dir, run.audit_marks)
    columns = sorted({key for row in run.rows for key in row})
    record = RunRecord(
        scenario=scenario,
        subject=subject,
        protocol=chosen.value,
        columns=columns,
        rows=run.rows,
        events=run.events,
        writes=list(run.sim.write_log),
        audit=audit,
        statuses=run.statuses,
        proposals=run.proposals,
        ports=run.ports,
        deliveries=list(run.link.gate.deliveries)
        if run.link is not None and run.link.gate is not None
        else [],
        latencies_s=run.latencies_s,
    )
    record.trace_sha256 = trace_hash(record)
    record.wall_s = time.perf_counter() - started
    record.peak_rss_mb = peak_rss_mb()
    return record
