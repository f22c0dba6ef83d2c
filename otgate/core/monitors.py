"""Anomaly monitors: pure checks that decide when control must go back to conventional automation.

Each monitor reads plain data (the scan's snapshot, the decisions an engine received, the time) and its
own small state, and returns the new state and the anomalies it found. None of them writes anything:
the gateway acts on the anomalies (fallback, quarantine, alarm, audit).

AI side (per engine, per tag): engine silent, recommendations frozen (issue time not advancing),
rejection burst, flood, oscillation (setpoint direction reversals per window), drift from the setpoint
at engagement. Process side (per measurement, per loop): PV outside its alarm band, PV changing faster
than the process can, PV frozen, fail-low / bad quality, redundant sensors disagreeing, PV not following
SP after AI moves. Infrastructure: PLC restart counter changed, clock jump.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from enum import StrEnum

from otgate.core.config import Engine, Loop, MeasurementMonitor


class AnomalyCode(StrEnum):
    ENGINE_SILENT = "ENGINE_SILENT"
    AI_FROZEN = "AI_FROZEN"
    REJECTION_BURST = "REJECTION_BURST"
    FLOOD = "FLOOD"
    OSCILLATION = "OSCILLATION"
    DRIFT = "DRIFT"
    SECURITY_VIOLATION = "SECURITY_VIOLATION"
    PV_ALARM = "PV_ALARM"
    PV_RATE = "PV_RATE"
    PV_FROZEN = "PV_FROZEN"
    PV_FAIL_LOW = "PV_FAIL_LOW"
    PV_BAD_QUALITY = "PV_BAD_QUALITY"
    PV_DISAGREE = "PV_DISAGREE"
    PV_SP_DEVIATION = "PV_SP_DEVIATION"
    PLC_RESTART = "PLC_RESTART"
    CLOCK_JUMP = "CLOCK_JUMP"
    ENGINE_CLOCK_SKEW = "ENGINE_CLOCK_SKEW"
    CONFIG_CHANGED = "CONFIG_CHANGED"
    ENVELOPE_EXIT = "ENVELOPE_EXIT"  # a constrained variable outside its operating envelope too long
    ENVELOPE_APPROACH = "ENVELOPE_APPROACH"  # predicted to leave it soon on its present course
    LOOP_NOT_RESPONDING = "LOOP_NOT_RESPONDING"  # the PV does not follow its setpoint as the model says
    MODEL_MISMATCH = "MODEL_MISMATCH"  # a modelled variable persistently outside its prediction band


@dataclass(frozen=True, slots=True)
class Anomaly:
    code: AnomalyCode
    subject: str  # the engine, tag, loop or PLC it is about
    detail: str
    quarantine: bool = False  # the engine should be quarantined until an operator lifts it
    fallback: bool = True  # the loops it concerns go back to conventional control (else: alarm only)


# ----------------------------------------------------------------------------------------------- engines


@dataclass(frozen=True, slots=True)
class EngineState:
    last_heard_at: float | None = None  # any sign of life: a recommendation or a heartbeat
    last_request_at: float | None = None  # the last recommendation
    newest_issued_at: float = -math.inf
    issued_advanced_at: float | None = None  # when the newest issue time last moved forward
    rejections: tuple[float, ...] = ()
    consecutive_rejections: int = 0
    refusals: tuple[float, ...] = ()


def _recent(times: Iterable[float], window_s: float, now: float) -> tuple[float, ...]:
    return tuple(t for t in times if now - t <= window_s)


def observe_request(
    state: EngineState,
    issued_at: Iterable[float],
    verdicts: Sequence[bool | None],
    now: float,
    window_s: float,
) -> EngineState:
    """An engine's answered batch: its issue times, and per recommendation whether the engine got it wrong
    (True), right (False) or neither (None: refused for the plant's or the gateway's state)."""
    rejected = sum(1 for wrong in verdicts if wrong)
    consecutive = state.consecutive_rejections
    for wrong in verdicts:
        if wrong is not None:
            consecutive = consecutive + 1 if wrong else 0
    newest = max(issued_at, default=-math.inf)
    advanced = state.issued_advanced_at
    if newest > state.newest_issued_at:
        advanced = now
    rejections = _recent(state.rejections, window_s, now) + (now,) * rejected
    return replace(
        state,
        last_heard_at=now,
        last_request_at=now,
        newest_issued_at=max(newest, state.newest_issued_at),
        issued_advanced_at=advanced,
        rejections=rejections,
        consecutive_rejections=consecutive,
    )


def observe_heartbeat(state: EngineState, now: float) -> EngineState:
    """An engine with nothing to propose says it is alive; that keeps it from being taken for silent."""
    return replace(state, last_heard_at=now)


def observe_refusal(state: EngineState, now: float, window_s: float) -> EngineState:
    return replace(state, refusals=(*_recent(state.refusals, window_s, now), now))


def forgive(state: EngineState) -> EngineState:
    """An operator lifted the engine's quarantine: the evidence that led to it is spent. Liveness and
    issue-time tracking stay (they are not evidence against the engine); only new rejections, refusals
    or violations can quarantine it again."""
    return replace(state, rejections=(), consecutive_rejections=0, refusals=())


def check_engine(
    name: str, state: EngineState, engine: Engine, engaged_since: float | None, now: float
) -> list[Anomaly]:
    """Anomalies of one engine; `engaged_since` is when its first loop entered AI control (None: none is)."""
    monitor = engine.monitor
    found = []
    if len(_recent(state.rejections, monitor.rejection_window_s, now)) >= monitor.rejection_burst:
        detail = f"{monitor.rejection_burst} or more rejections within {monitor.rejection_window_s:g} s"
        found.append(Anomaly(AnomalyCode.REJECTION_BURST, name, detail, quarantine=True))
    elif state.consecutive_rejections >= monitor.consecutive_rejections:
        detail = f"{state.consecutive_rejections} rejections in a row"
        found.append(Anomaly(AnomalyCode.REJECTION_BURST, name, detail, quarantine=True))
    if len(_recent(state.refusals, monitor.flood_window_s, now)) >= monitor.flood_refusals:
        detail = (
            f"{monitor.flood_refusals} or more requests over its rate within {monitor.flood_window_s:g} s"
        )
        found.append(Anomaly(AnomalyCode.FLOOD, name, detail, quarantine=True))
    if engaged_since is None:
        return found
    silent_after = monitor.silent_after_s or engine.stale_after_s
    heard = max(state.last_heard_at or engaged_since, engaged_since)
    if now - heard > silent_after:
        detail = f"no recommendation or heartbeat for {now - heard:.0f} s"
        found.append(Anomaly(AnomalyCode.ENGINE_SILENT, name, detail))
    advanced = max(state.issued_advanced_at or engaged_since, engaged_since)
    if (
        state.last_request_at is not None
        and state.last_request_at > advanced
        and now - advanced > engine.stale_after_s
    ):
        found.append(
            Anomaly(AnomalyCode.AI_FROZEN, name, f"issue time has not advanced for {now - advanced:.0f} s")
        )
    return found


# ----------------------------------------------------------------------------------------------- AI setpoints


@dataclass(frozen=True, slots=True)
class SetpointState:
    baseline: float | None = None  # the working setpoint when AI control was engaged
    last_value: float | None = None
    direction: int = 0
    reversals: tuple[float, ...] = ()


def engage_setpoint(readback: float) -> SetpointState:
    return SetpointState(baseline=readback, last_value=readback)


def observe_setpoint(state: SetpointState, value: float, now: float, window_s: float) -> SetpointState:
    """An accepted AI setpoint (a new target): count reversals of direction."""
    if state.last_value is None or value == state.last_value:
        return replace(state, last_value=value)
    direction = 1 if value > state.last_value else -1
    reversals = _recent(state.reversals, window_s, now)
    if state.direction and direction != state.direction:
        reversals = (*reversals, now)
    return replace(state, last_value=value, direction=direction, reversals=reversals)


def check_setpoint(
    tag: str, state: SetpointState, max_drift: float | None, engine: Engine, now: float
) -> list[Anomaly]:
    found = []
    monitor = engine.monitor
    reversals = len(_recent(state.reversals, monitor.reversal_window_s, now))
    if reversals > monitor.max_reversals:
        detail = f"{reversals} direction reversals within {monitor.reversal_window_s:g} s (max {monitor.max_reversals})"
        found.append(Anomaly(AnomalyCode.OSCILLATION, tag, detail))
    if max_drift is not None and state.baseline is not None and state.last_value is not None:
        drift = state.last_value - state.baseline
        if abs(drift) > max_drift:
            found.append(
                Anomaly(
                    AnomalyCode.DRIFT,
                    tag,
                    f"{drift:+g} from {state.baseline:g} since engagement (max {max_drift:g})",
                )
            )
    return found


# ----------------------------------------------------------------------------------------------- measurements


@dataclass(frozen=True, slots=True)
class MeasurementState:
    value: float | None = None
    at: float | None = None
    unchanged_since: float | None = None


def observe_measurement(state: MeasurementState, value: float, now: float) -> MeasurementState:
    unchanged_since = (
        state.unchanged_since if value == state.value and state.unchanged_since is not None else now
    )
    return MeasurementState(value, now, unchanged_since)


def check_measurement(
    tag: str,
    previous: MeasurementState,
    current: MeasurementState,
    monitor: MeasurementMonitor,
    values: Mapping[str, float],
    bad: Set[str],
) -> list[Anomaly]:
    """Plausibility of one process value, given its previous and current observation."""
    if tag in bad or current.value is None:
        return [Anomaly(AnomalyCode.PV_BAD_QUALITY, tag, "no good reading")]
    found = [
        _band(tag, current.value, monitor),
        _fail_low(tag, current.value, monitor),
        _rate(tag, previous, current, monitor),
        _frozen(tag, current, monitor),
        _disagreement(tag, current.value, monitor, values, bad),
    ]
    return [anomaly for anomaly in found if anomaly is not None]


def _band(tag: str, value: float, monitor: MeasurementMonitor) -> Anomaly | None:
    band = monitor.alarm
    if band is None or band.contains(value):
        return None
    return Anomaly(AnomalyCode.PV_ALARM, tag, f"{value:g} outside {band.lo:g}..{band.hi:g}")


def _fail_low(tag: str, value: float, monitor: MeasurementMonitor) -> Anomaly | None:
    if monitor.fail_low is None or value > monitor.fail_low:
        return None
    return Anomaly(AnomalyCode.PV_FAIL_LOW, tag, f"{value:g} at or below fail-low {monitor.fail_low:g}")


def _rate(
    tag: str, previous: MeasurementState, current: MeasurementState, monitor: MeasurementMonitor
) -> Anomaly | None:
    limit = monitor.max_rate_per_s
    if limit is None or previous.value is None or previous.at is None:
        return None
    if current.value is None or current.at is None or current.at <= previous.at:
        return None
    elapsed = current.at - previous.at
    change = current.value - previous.value
    # Physics bounds the trend; between two samples the transmitter's noise comes on top of it.
    if abs(change) <= limit * elapsed + monitor.rate_noise_band:
        return None
    rate = change / elapsed
    detail = f"changing at {rate:+g}/s, faster than the process can ({limit:g}/s)"
    return Anomaly(AnomalyCode.PV_RATE, tag, detail)


def _frozen(tag: str, current: MeasurementState, monitor: MeasurementMonitor) -> Anomaly | None:
    after = monitor.frozen_after_s
    if after is None or current.unchanged_since is None or current.at is None:
        return None
    unchanged = current.at - current.unchanged_since
    return (
        Anomaly(AnomalyCode.PV_FROZEN, tag, f"unchanged for {unchanged:.0f} s")
        if unchanged >= after
        else None
    )


def _disagreement(
    tag: str, value: float, monitor: MeasurementMonitor, values: Mapping[str, float], bad: Set[str]
) -> Anomaly | None:
    partner, limit = monitor.redundant_with, monitor.max_disagreement
    if partner is None or limit is None:
        return None
    other = None if partner in bad else values.get(partner)
    if other is not None and abs(value - other) <= limit:
        return None
    shown = "no reading" if other is None else f"{other:g}"
    return Anomaly(
        AnomalyCode.PV_DISAGREE, tag, f"{tag}={value:g} and {partner}={shown} differ by more than {limit:g}"
    )


# ----------------------------------------------------------------------------------------------- loops


@dataclass(frozen=True, slots=True)
class LoopWatch:
    deviating_since: float | None = None


def check_deviation(
    name: str, watch: LoopWatch, loop: Loop, values: Mapping[str, float], now: float
) -> tuple[LoopWatch, list[Anomaly]]:
    """PV not following SP for `deviation_time_s` while AI drives the loop: the model or the plant is off."""
    pv, sp = values.get(loop.pv), values.get(loop.working_sp)
    if loop.max_deviation is None or pv is None or sp is None or abs(pv - sp) <= loop.max_deviation:
        return LoopWatch(None), []
    since = watch.deviating_since if watch.deviating_since is not None else now
    if now - since >= loop.deviation_time_s:
        detail = f"|PV - SP| = {abs(pv - sp):g} above {loop.max_deviation:g} for {now - since:.0f} s"
        return LoopWatch(since), [Anomaly(AnomalyCode.PV_SP_DEVIATION, name, detail)]
    return LoopWatch(since), []


# ----------------------------------------------------------------------------------------------- infrastructure


@dataclass(frozen=True, slots=True)
class ClockState:
    wall: float | None = None
    monotonic: float | None = None


def check_clock(
    state: ClockState, wall: float, monotonic: float, tolerance_s: float
) -> tuple[ClockState, list[Anomaly]]:
    """Wall time must advance with monotonic time: a step either way breaks staleness, rates and the trail's order."""
    current = ClockState(wall, monotonic)
    if state.wall is None or state.monotonic is None:
        return current, []
    jump = (wall - state.wall) - (monotonic - state.monotonic)
    if abs(jump) > tolerance_s:
        return current, [Anomaly(AnomalyCode.CLOCK_JUMP, "clock", f"wall clock stepped {jump:+.1f} s")]
    return current, []


def check_restart(plc: str, previous: float | None, current: float | None) -> list[Anomaly]:
    if previous is not None and current is not None and current != previous:
        return [Anomaly(AnomalyCode.PLC_RESTART, plc, f"restart counter {previous:g} -> {current:g}")]
    return []


@dataclass
class MonitorStates:
    """All monitor states of one gateway, owned by the shell and replaced value by value."""

    engines: dict[str, EngineState] = field(default_factory=dict)
    setpoints: dict[str, SetpointState] = field(default_factory=dict)
    measurements: dict[str, MeasurementState] = field(default_factory=dict)
    loops: dict[str, LoopWatch] = field(default_factory=dict)
    clock: ClockState = ClockState()
    restart_counters: dict[str, float] = field(default_factory=dict)
