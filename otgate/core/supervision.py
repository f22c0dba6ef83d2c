"""Runs every monitor over one scan or one answered batch, and says which loops each anomaly concerns.

Pure: the gateway passes its monitor states, the snapshot and the time, and gets back new states and
anomalies to act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from otgate.core.config import PlantConfig, TagKind
from otgate.core.decision import Decision, ReasonCode, Verdict
from otgate.core.envelope_guard import loops_moving
from otgate.core.monitors import (
    Anomaly,
    AnomalyCode,
    EngineState,
    LoopWatch,
    MeasurementState,
    MonitorStates,
    SetpointState,
    check_clock,
    check_deviation,
    check_engine,
    check_measurement,
    check_restart,
    check_setpoint,
    engage_setpoint,
    forgive,
    observe_heartbeat,
    observe_measurement,
    observe_refusal,
    observe_request,
    observe_setpoint,
)
from otgate.core.plant import Plant
from otgate.core.proposal import Proposal, Snapshot
from otgate.core.text import visible

# Codes of a recommendation aimed at something an engine must never touch.
_FORBIDDEN = frozenset({ReasonCode.READ_ONLY, ReasonCode.NOT_AUTHORIZED, ReasonCode.UNKNOWN_TAG})
# Reaching for the safety layer or the mode handshake is not a mistake an optimiser makes: quarantine.
# A controller output or an unknown tag is refused and alarmed; the engine's other loops carry on.
_QUARANTINING_KINDS = frozenset({TagKind.SAFETY, TagKind.MODE, TagKind.HEARTBEAT})


@dataclass(frozen=True, slots=True)
class ScanView:
    """What the supervisor needs to know about the gateway at one scan."""

    snapshot: Snapshot
    engaged_at: Mapping[str, float]  # loop -> when AI (or manual) control of it was confirmed at the PLC
    ai_loops: Set[str]  # loops whose setpoint the AI drives now
    plcs_up: Set[str]
    wall: float
    monotonic: float


def on_answers(
    plant: Plant,
    states: MonitorStates,
    engine: str,
    answers: Sequence[tuple[Proposal, Decision]],
    now: float,
    *,
    clock_skewed: bool = False,
) -> list[Anomaly]:
    """Feed an answered batch to the engine and setpoint monitors (updates `states` in place).

    `clock_skewed`: the engine's clock is measured off by a steady amount, so its STALE and FUTURE
    refusals are the clock's doing (alarmed as ENGINE_CLOCK_SKEW), not the engine's mistakes."""
    config = plant.config.engines.get(engine)
    if config is None:
        return []
    verdicts = [_engine_verdict(d, clock_skewed) for _, d in answers]
    issued = [p.issued_at for p, _ in answers]
    current = states.engines.get(engine, EngineState())
    states.engines[engine] = observe_request(
        current, issued, verdicts, now, config.monitor.rejection_window_s
    )
    anomalies = []
    for proposal, decision in answers:
        if set(decision.codes) & _FORBIDDEN:
            anomalies.append(_forbidden(plant.config, engine, proposal, decision))
        if decision.is_write or decision.verdict is Verdict.PENDING_APPROVAL:
            setpoint = states.setpoints.get(proposal.tag, SetpointState())
            window = config.monitor.reversal_window_s
            states.setpoints[proposal.tag] = observe_setpoint(setpoint, proposal.value, now, window)
    return anomalies


def on_heartbeat(states: MonitorStates, engine: str, now: float) -> None:
    states.engines[engine] = observe_heartbeat(states.engines.get(engine, EngineState()), now)


# Rejections that say something about the engine's own output, whatever the plant is doing.
_ENGINE_FAULTS = frozenset(
    {
        ReasonCode.UNKNOWN_TAG,
        ReasonCode.NOT_AUTHORIZED,
        ReasonCode.MODEL_NOT_ALLOWED,
        ReasonCode.READ_ONLY,
        ReasonCode.NOT_FINITE,
        ReasonCode.OUT_OF_RANGE,
        ReasonCode.STALE,
        ReasonCode.FUTURE,
        ReasonCode.REPLAY,
    }
)
# Faults measured against the PLC's setpoint: they count only while the engine could act (no MODE_BLOCKED,
# PLC_UNAVAILABLE or ENGINE_QUARANTINED), since an engine whose loop was taken away drifts off it.
_MOVEMENT_FAULTS = frozenset(
    {ReasonCode.MOVE_TOO_LARGE, ReasonCode.RATE_EXCEEDED, ReasonCode.WINDOW_CHANGE_EXCEEDED}
)
_CIRCUMSTANCES = frozenset(
    {ReasonCode.MODE_BLOCKED, ReasonCode.PLC_UNAVAILABLE, ReasonCode.ENGINE_QUARANTINED}
)


_CLOCK_FAULTS = frozenset({ReasonCode.STALE, ReasonCode.FUTURE})


def _engine_verdict(decision: Decision, clock_skewed: bool = False) -> bool | None:
    """True: the engine got it wrong; False: it got it right; None: the outcome says nothing about it
    (refused for the plant's or the gateway's state, an interlock doing its job, or NO_CHANGE at an optimum)."""
    if decision.verdict is not Verdict.REJECTED:
        return False
    codes = set(decision.codes)
    if clock_skewed and codes & _CLOCK_FAULTS:
        codes -= _CLOCK_FAULTS  # the clock's doing: only the other reasons say something about the engine
    if codes & _ENGINE_FAULTS:
        return True
    if codes & _MOVEMENT_FAULTS and not codes & _CIRCUMSTANCES:
        return True
    return None


def on_refusal(plant: Plant, states: MonitorStates, engine: str, now: float) -> None:
    config = plant.config.engines.get(engine)
    if config is not None:
        current = states.engines.get(engine, EngineState())
        states.engines[engine] = observe_refusal(current, now, config.monitor.flood_window_s)


def on_quarantine_lifted(states: MonitorStates, engine: str) -> None:
    states.engines[engine] = forgive(states.engines.get(engine, EngineState()))


def on_engaged(plant: Plant, states: MonitorStates, loop: str, readback: float) -> None:
    """AI control confirmed at the PLC: the drift baseline is where the setpoint is now."""
    states.setpoints[plant.config.loops[loop].sp] = engage_setpoint(readback)


def _forbidden(config: PlantConfig, engine: str, proposal: Proposal, decision: Decision) -> Anomaly:
    tag = config.tags.get(proposal.tag)
    codes = ", ".join(code.value for code in decision.codes)
    if tag is not None and tag.kind in _QUARANTINING_KINDS:
        detail = f"tried to write {tag.kind} tag {proposal.tag} ({codes})"
        return Anomaly(AnomalyCode.SECURITY_VIOLATION, engine, detail, quarantine=True)
    detail = f"tried to write {visible(proposal.tag, 64)} ({codes})"
    return Anomaly(AnomalyCode.SECURITY_VIOLATION, engine, detail, fallback=False)


def on_scan(plant: Plant, states: MonitorStates, view: ScanView) -> list[Anomaly]:
    """Every scan-driven monitor (updates `states` in place)."""
    config = plant.config
    now = view.snapshot.taken_at
    tolerance = config.gateway.clock_skew_tolerance_s
    states.clock, anomalies = check_clock(states.clock, view.wall, view.monotonic, tolerance)
    anomalies += _restart_anomalies(config, states, view)
    anomalies += _measurement_anomalies(config, states, view)
    for name in sorted(view.ai_loops):
        watch, found = check_deviation(
            name, states.loops.get(name, LoopWatch()), config.loops[name], view.snapshot.values, now
        )
        states.loops[name] = watch
        anomalies += found
    anomalies += _engine_anomalies(plant, states, view, now)
    return anomalies


def _restart_anomalies(config: PlantConfig, states: MonitorStates, view: ScanView) -> list[Anomaly]:
    anomalies = []
    for name, plc in config.plcs.items():
        counter = view.snapshot.values.get(plc.restart_counter_tag) if plc.restart_counter_tag else None
        if name not in view.plcs_up or counter is None:
            continue
        anomalies += check_restart(name, states.restart_counters.get(name), counter)
        states.restart_counters[name] = counter
    return anomalies


def _measurement_anomalies(config: PlantConfig, states: MonitorStates, view: ScanView) -> list[Anomaly]:
    snapshot = view.snapshot
    anomalies = []
    for name, tag in config.tags.items():
        if tag.monitor is None or tag.plc not in view.plcs_up:
            continue
        previous = states.measurements.get(name, MeasurementState())
        value = snapshot.values.get(name)
        current = previous if value is None else observe_measurement(previous, value, snapshot.taken_at)
        states.measurements[name] = current
        anomalies += check_measurement(
            name, previous, current, tag.monitor, snapshot.values, snapshot.bad_quality
        )
    return anomalies


def _engine_anomalies(plant: Plant, states: MonitorStates, view: ScanView, now: float) -> list[Anomaly]:
    anomalies = []
    for name, engine in plant.config.engines.items():
        loops = [plant.loop_by_setpoint[t][0] for t in engine.writes if t in plant.loop_by_setpoint]
        engaged = [
            view.engaged_at[loop] for loop in loops if loop in view.ai_loops and loop in view.engaged_at
        ]
        state = states.engines.get(name, EngineState())
        anomalies += check_engine(name, state, engine, min(engaged) if engaged else None, now)
        for tag in engine.writes:
            loop = plant.loop_by_setpoint.get(tag)
            rules = plant.config.tags[tag].setpoint
            if loop is None or loop[0] not in view.ai_loops or rules is None:
                continue
            anomalies += check_setpoint(
                tag, states.setpoints.get(tag, SetpointState()), rules.max_drift, engine, now
            )
    return anomalies


def affected_loops(plant: Plant, anomaly: Anomaly) -> list[str]:
    """The loops an anomaly takes out of AI control."""
    config = plant.config
    code = anomaly.code
    if code in (AnomalyCode.CLOCK_JUMP, AnomalyCode.CONFIG_CHANGED):
        return list(config.loops)
    if code in (AnomalyCode.ENVELOPE_EXIT, AnomalyCode.ENVELOPE_APPROACH, AnomalyCode.MODEL_MISMATCH):
        return loops_moving(plant, anomaly.subject)
    if code is AnomalyCode.PLC_RESTART:
        return [n for n, loop in config.loops.items() if config.tags[loop.sp].plc == anomaly.subject]
    if anomaly.subject in config.loops:
        return [anomaly.subject]
    if anomaly.subject in config.engines:
        writes = config.engines[anomaly.subject].writes
        return [plant.loop_by_setpoint[t][0] for t in writes if t in plant.loop_by_setpoint]
    if anomaly.subject in plant.loop_by_setpoint:
        return [plant.loop_by_setpoint[anomaly.subject][0]]
    return _loops_relying_on(config, anomaly.subject)


def _loops_relying_on(config: PlantConfig, measurement: str) -> list[str]:
    """Loops whose PV is this measurement or is redundant with it; failing that, every loop on its PLC."""
    partners = {measurement}
    monitor = config.tags[measurement].monitor if measurement in config.tags else None
    if monitor is not None and monitor.redundant_with:
        partners.add(monitor.redundant_with)
    loops = [n for n, loop in config.loops.items() if loop.pv in partners]
    if loops or measurement not in config.tags:
        return loops
    plc = config.tags[measurement].plc
    return [n for n, loop in config.loops.items() if config.tags[loop.sp].plc == plc]
