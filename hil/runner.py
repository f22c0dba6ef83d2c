"""Runs one scenario: simulator, gateway and scripted engines in one process, lock-stepped over real sockets.

One tick (1 s of plant time), in this order every time:

    1. sim tick + publish      `SimRuntime.step()`: physics and two PLC scans, then the Modbus registers
                               and OPC UA nodes are published; writes received during the previous tick
                               were latched by this tick's first scan
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
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hil.child import ChildGateway
from hil.conditions import parse_condition
from hil.engines import DEMO_TOKENS, ScriptedEngine, Submission, one_off
from hil.faulty_plc import FaultySimulation
from hil.record import Event, RunRecord, read_audit, trace_hash
from hil.scenario import Injection, Scenario
from hil.subjects import SUBJECTS, GatewayUnderTest
from otgate.clock import ManualClock
from otgate.core.config import PlantConfig, Protocol
from otgate.core.modes import ModeEvent
from simulator import faults as sim_faults
from simulator.faults import generator
from simulator.proxy import FaultProxy
from simulator.runtime import SimRuntime
from simulator.simulation import default_config

EPOCH = 1_800_000_000.0  # simulated t = 0 as a UNIX time (2027-01-15)
OPERATOR_EVENTS = {
    "operator.engage": ModeEvent.ENGAGE,
    "operator.fallback": ModeEvent.FALLBACK,
    "operator.reset": ModeEvent.RESET,
    "operator.manual": ModeEvent.MANUAL,
}


def pointed(config: PlantConfig, protocol: Protocol, modbus_port: int, opcua_url: str | None) -> PlantConfig:
    """The plant config re-targeted at the simulator's (or the fault proxy's) ports."""
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = plc.modbus.model_copy(update={"port": modbus_port}) if plc.modbus else None
        opcua = plc.opcua
        if protocol is Protocol.OPCUA and opcua is not None and opcua_url:
            opcua = opcua.model_copy(update={"endpoint": opcua_url})
        plcs[name] = plc.model_copy(update={"protocol": protocol, "modbus": modbus, "opcua": opcua})
    return config.model_copy(update={"plcs": plcs})


class _Run:
    def __init__(self, scenario: Scenario, subject: str, protocol: Protocol, data_dir: Path) -> None:
        self.scenario = scenario
        self.subject_kind = subject
        self.protocol = protocol
        self.data_dir = data_dir
        self.sim = FaultySimulation(scenario.plant, seed=scenario.seed)
        self.base_config = default_config(scenario.plant)
        self.clock = ManualClock(EPOCH)
        self.jump_s = 0.0
        self._clock_sim_s = 0.0
        self.proposals: list[tuple[float, str, float]] = []
        self.gateway: GatewayUnderTest | None = None
        self.config: PlantConfig | None = None
        self.proxy: FaultProxy | None = None
        self.proxy_target = self.proxy_port = 0
        self.proxy_up = False
        self.ports: tuple[int, ...] = ()
        self.runtime: SimRuntime[FaultySimulation] | None = None
        self.engines = [self._engine(i, spec) for i, spec in enumerate(scenario.engines)]
        self.events: list[Event] = []
        self.rows: list[dict[str, float]] = []
        self.audit_marks: list[tuple[int, float]] = []  # (last seq after the tick, t)
        self.proposed: dict[str, float] = {}
        self.statuses: dict[int, int] = {}
        self.pending = list(scenario.timeline)
        self.triggered: list[Injection] = []
        self.conditions = {id(i): parse_trigger(i.when) for i in scenario.timeline if i.when is not None}
        self.one_offs = 0

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
        )

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
                if self.proxy is not None and self.proxy_up:
                    await self.proxy.stop()

    async def _point(self, runtime: SimRuntime[FaultySimulation]) -> PlantConfig:
        endpoints = runtime.endpoints
        port, url = endpoints.modbus_port, endpoints.opcua_url
        self.ports = (port,) if url is None else (port, _url_port(url))
        if any(i.do.startswith("link.") for i in self.scenario.timeline):
            target = port if self.protocol is Protocol.MODBUS else _url_port(url)
            self.proxy = FaultProxy("127.0.0.1", target, seed=self.scenario.seed)
            await self.proxy.start()
            self.proxy_target, self.proxy_port, self.proxy_up = target, self.proxy.port, True
            self.ports = (*self.ports, self.proxy.port)
            if self.protocol is Protocol.MODBUS:
                port = self.proxy.port
            elif url is not None:
                url = _with_port(url, self.proxy.port)
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
        if await self._inject(t):
            await self.runtime.publish()
        for engine in self.engines:
            sp = self._working_sp(engine.tag)
            for submission in engine.act(t, EPOCH + t, sp):
                await self._post(submission)
        if self.gateway is not None:
            await self.gateway.scan(self.clock.monotonic())
        self._record(t, writes_before)

    def _working_sp(self, tag: str) -> float:
        assert self.config is not None
        for loop in self.config.loops.values():
            if loop.sp == tag:
                return self.sim.read_tag(loop.working_sp)
        return math.nan

    async def _post(self, submission: Submission) -> None:
        for tag, value in submission.proposed:
            self.proposed[tag] = value
            self.proposals.append((self.sim.time_s, tag, value))
        if self.gateway is None:
            return
        status = await self.gateway.post(submission.token, submission.body)
        self.statuses[status] = self.statuses.get(status, 0) + 1

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
            self._event(t, "engage", "operator.engage", ",".join(self.scenario.engage))
            if self.gateway is not None:
                await self.gateway.operate("operator", self.scenario.engage, ModeEvent.ENGAGE, "HIL start")
        return touched

    def _event(self, t: float, label: str, action: str, detail: str = "") -> None:
        self.events.append(Event(t, label, action, detail))

    async def _apply(self, item: Injection, t: float) -> bool:
        self._event(t, item.label, item.do, _describe(item))
        action = item.do
        if action == "mark":
            return False
        if action.startswith("sensor.") or action.startswith("actuator.") or action == "process.disturbance":
            self.sim.inject(_fault(item))
            return True
        if action == "faults.clear":
            self.sim.clear_faults(item.tag)
            return True
        if action.startswith("plc."):
            return self._plc_action(item)
        if action.startswith("link."):
            await self._link_action(item)
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

    def _plc_action(self, item: Injection) -> bool:
        if item.do == "plc.restart":
            self.sim.inject(sim_faults.PlcRestart())
        elif item.do == "plc.operator_mode" and item.loop and item.mode:
            self.sim.set_loop_mode(item.loop, item.mode)
        elif item.do == "plc.operator_sp" and item.loop:
            self.sim.set_local_setpoint(item.loop, float(item.value))
        elif item.do == "plc.reset_trips":
            self.sim.reset_trips()
        elif item.do == "plc.ignore_writes" and item.tag:
            self.sim.ignored.add(item.tag)
        elif item.do == "plc.accept_writes" and item.tag:
            self.sim.ignored.discard(item.tag)
        return True

    async def _link_action(self, item: Injection) -> None:
        """link.down: the proxy stops listening and cuts every connection, so the PLC refuses connections
        (a pulled cable with the switch still up); link.up: a new proxy on the same port."""
        if self.proxy is None:
            return
        if item.do == "link.down" and self.proxy_up:
            await self.proxy.stop()
            self.proxy_up = False
        elif item.do == "link.up" and not self.proxy_up:
            self.proxy = FaultProxy(
                "127.0.0.1", self.proxy_target, port=self.proxy_port, seed=self.scenario.seed
            )
            await self.proxy.start()
            self.proxy_up = True

    async def _propose(self, item: Injection) -> None:
        self.one_offs += 1
        raw = item.raw if item.raw is not None else json.dumps(item.value)
        token = DEMO_TOKENS[self.scenario.plant]
        rec_id = f"{item.label}-{self.one_offs}"
        assert item.tag is not None
        await self._post(one_off(rec_id, item.tag, raw, token, self.clock.now(), item.rationale))

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
        elif item.do in OPERATOR_EVENTS and self.gateway is not None and item.loops:
            await self.gateway.operate(item.user, item.loops, OPERATOR_EVENTS[item.do], item.reason)

    # ---------------------------------------------------------------------------------------- the trace

    def _record(self, t: float, writes_before: int) -> None:
        sim = self.sim
        row: dict[str, float] = {"t": t}
        for tag, value in sim.image().items():
            row[f"plc.{tag}"] = value
        for key, value in sim.true_values().items():
            row[f"true.{key}"] = value
        for loop, mode in sim.loop_modes().items():
            row[f"mode.{loop}"] = float({"MAN": 0, "AUTO": 1, "REMOTE": 2}[mode])
        for trip, tripped in sim.trips().items():
            row[f"trip.{trip}"] = 1.0 if tripped else 0.0
        for tag in self._proposal_tags():
            row[f"ai.{tag}"] = self.proposed.get(tag, math.nan)
        counts: dict[str, float] = {}
        for record in sim.write_log[writes_before:]:
            counts[record.tag] = counts.get(record.tag, 0.0) + 1.0
        for tag in self._setpoint_tags():
            row[f"writes.{tag}"] = counts.get(tag, 0.0)
        row["gw.up"] = 0.0 if self.gateway is None else 1.0
        for loop in sorted(self.base_config.loops):
            row[f"gw.{loop}"] = math.nan if self.gateway is None else self.gateway.mode_code(loop)
        self.rows.append(row)
        seq = None if self.gateway is None else self.gateway.audit_seq()
        if seq is not None:
            self.audit_marks.append((seq, t))
        for item in list(self.pending):
            if item.when is not None and self.conditions[id(item)](row):
                self.pending.remove(item)
                if item.do == "mark":  # nothing to apply: the moment is the row where it held
                    self._event(t, item.label, item.do, item.when)
                else:
                    self.triggered.append(item)

    def _proposal_tags(self) -> list[str]:
        return sorted({*self._setpoint_tags(), *(e.tag for e in self.engines)})

    def _setpoint_tags(self) -> list[str]:
        return sorted(loop.sp for loop in self.base_config.loops.values())


def parse_trigger(text: str) -> Callable[[dict[str, float]], bool]:
    return parse_condition(text).holds


def _fault(item: Injection) -> sim_faults.Fault:
    tag = item.tag or ""
    match item.do:
        case "sensor.freeze":
            return sim_faults.Freeze(tag)
        case "sensor.bias":
            return sim_faults.Bias(tag, float(item.offset or 0.0))
        case "sensor.drift":
            return sim_faults.Drift(tag, float(item.rate_per_s or 0.0))
        case "sensor.noise":
            return sim_faults.NoiseBurst(tag, float(item.sigma or 0.0))
        case "sensor.dropout":
            return sim_faults.Dropout(tag, float(item.value or 0.0))
        case "actuator.stuck":
            return sim_faults.ActuatorStuck(tag, item.position)
        case "actuator.sluggish":
            return sim_faults.ActuatorSluggish(tag, float(item.tau_factor or 1.0))
        case _:
            return sim_faults.Disturbance(item.name or "", float(item.value))


def _describe(item: Injection) -> str:
    fields = item.model_dump(exclude_none=True, exclude={"id", "at", "when", "do", "user", "reason"})
    return ", ".join(f"{k}={v}" for k, v in sorted(fields.items()))


def _url_port(url: str | None) -> int:
    if url is None:
        raise ValueError("no OPC UA endpoint")
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _with_port(url: str, port: int) -> str:
    scheme, rest = url.split("://", 1)
    host_port, _, path = rest.partition("/")
    host = host_port.rsplit(":", 1)[0]
    return f"{scheme}://{host}:{port}/{path}"


def _scratch() -> str | None:
    """RAM-backed scratch space when there is one: the audit store fsyncs every record."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


async def run_scenario(
    scenario: Scenario,
    *,
    subject: str = "otgate",
    protocol: str | None = None,
    data_dir: Path | None = None,
) -> RunRecord:
    """Run `scenario` against `subject` ("otgate" or "passthrough"); `protocol` overrides the file's."""
    chosen = Protocol(protocol or scenario.protocol)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="otgate-hil-", dir=_scratch()))
            )
        data_dir.mkdir(parents=True, exist_ok=True)
        run = _Run(scenario, subject, chosen, data_dir)
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
    )
    record.trace_sha256 = trace_hash(record)
    record.wall_s = time.perf_counter() - started
    return record
