"""The anomaly monitors, one condition at a time, with plain data and no clock."""

from __future__ import annotations

import pytest

from otgate.core.config import Band, Engine, EngineMonitor, Loop, MeasurementMonitor
from otgate.core.monitors import (
    AnomalyCode,
    ClockState,
    EngineState,
    LoopWatch,
    MeasurementState,
    SetpointState,
    check_clock,
    check_deviation,
    check_engine,
    check_measurement,
    check_restart,
    check_setpoint,
    engage_setpoint,
    observe_heartbeat,
    observe_measurement,
    observe_refusal,
    observe_request,
    observe_setpoint,
)

ENGINE = Engine(token_sha256="sha256:" + "0" * 64, stale_after_s=30.0, monitor=EngineMonitor())


def codes(anomalies: list) -> list[AnomalyCode]:
    return [a.code for a in anomalies]


@pytest.mark.requirement("R-14")
def test_engine_silent_after_stale_time_since_engagement():
    assert codes(check_engine("e", EngineState(), ENGINE, engaged_since=100.0, now=130.0)) == []
    assert codes(check_engine("e", EngineState(), ENGINE, engaged_since=100.0, now=131.0)) == [
        AnomalyCode.ENGINE_SILENT
    ]


def test_engine_heartbeat_keeps_it_from_silent():
    state = observe_heartbeat(EngineState(), now=120.0)
    assert codes(check_engine("e", state, ENGINE, engaged_since=100.0, now=140.0)) == []


def test_engine_not_engaged_is_never_silent():
    assert check_engine("e", EngineState(), ENGINE, engaged_since=None, now=1e6) == []


def test_engine_issue_time_not_advancing_frozen():
    state = observe_request(EngineState(), [50.0], [False], now=100.0, window_s=60)
    for t in range(101, 140):
        state = observe_request(state, [50.0], [False], now=float(t), window_s=60)
    assert AnomalyCode.AI_FROZEN in codes(check_engine("e", state, ENGINE, engaged_since=90.0, now=140.0))


@pytest.mark.requirement("R-15", "R-40")
def test_engine_rejection_burst_quarantines():
    state = observe_request(EngineState(), [1.0] * 10, [True] * 10, now=10.0, window_s=60)
    (anomaly,) = check_engine("e", state, ENGINE, engaged_since=None, now=10.0)
    assert anomaly.code is AnomalyCode.REJECTION_BURST and anomaly.quarantine


def test_engine_rejections_outside_window_forgotten():
    state = observe_request(EngineState(), [1.0] * 9, [True, False] * 4 + [True], now=10.0, window_s=60)
    state = observe_request(state, [80.0], [True], now=80.0, window_s=60)
    assert check_engine("e", state, ENGINE, engaged_since=None, now=80.0) == []


def test_engine_flood_of_refusals():
    state = EngineState()
    for k in range(50):
        state = observe_refusal(state, now=k * 0.1, window_s=60)
    assert codes(check_engine("e", state, ENGINE, engaged_since=None, now=5.0)) == [AnomalyCode.FLOOD]


def test_setpoint_oscillation_counts_direction_reversals():
    state = engage_setpoint(500.0)
    for k, value in enumerate([510, 500, 510, 500, 510, 500, 510]):
        state = observe_setpoint(state, float(value), now=float(k * 60), window_s=600)
    assert len(state.reversals) == 6
    assert codes(check_setpoint("t", state, None, ENGINE, now=400.0)) == [AnomalyCode.OSCILLATION]


def test_setpoint_monotonic_moves_do_not_oscillate():
    state = engage_setpoint(500.0)
    for k in range(50):
        state = observe_setpoint(state, 500.0 + k, now=float(k), window_s=600)
    assert check_setpoint("t", state, None, ENGINE, now=50.0) == []


@pytest.mark.requirement("R-41")
def test_setpoint_drift_from_engagement_baseline():
    state = observe_setpoint(engage_setpoint(500.0), 506.0, now=1.0, window_s=600)
    assert codes(check_setpoint("t", state, 5.0, ENGINE, now=1.0)) == [AnomalyCode.DRIFT]
    assert check_setpoint("t", state, 10.0, ENGINE, now=1.0) == []


MONITOR = MeasurementMonitor(alarm=Band(lo=400, hi=1000), max_rate_per_s=25, frozen_after_s=30, fail_low=10)


def measure(values: list[float]) -> tuple[MeasurementState, MeasurementState]:
    previous, current = MeasurementState(), MeasurementState()
    for t, value in enumerate(values):
        previous, current = current, observe_measurement(current, value, float(t))
    return previous, current


def test_measurement_plausible_no_anomaly():
    previous, current = measure([600.0, 601.5, 599.8])
    assert check_measurement("LIT", previous, current, MONITOR, {}, frozenset()) == []


def test_measurement_outside_alarm_band():
    previous, current = measure([990.0, 1001.0])
    assert codes(check_measurement("LIT", previous, current, MONITOR, {}, frozenset())) == [
        AnomalyCode.PV_ALARM
    ]


@pytest.mark.requirement("R-42")
def test_measurement_faster_than_possible():
    previous, current = measure([600.0, 640.0])
    assert codes(check_measurement("LIT", previous, current, MONITOR, {}, frozenset())) == [
        AnomalyCode.PV_RATE
    ]


@pytest.mark.requirement("R-42")
def test_measurement_frozen_for_too_long():
    previous, current = measure([600.0] * 31)
    assert codes(check_measurement("LIT", previous, current, MONITOR, {}, frozenset())) == [
        AnomalyCode.PV_FROZEN
    ]


@pytest.mark.requirement("R-06", "R-42")
def test_measurement_fail_low_and_bad_quality():
    previous, current = measure([600.0, 590.0, 5.0])
    assert AnomalyCode.PV_FAIL_LOW in codes(
        check_measurement("LIT", previous, current, MONITOR, {}, frozenset())
    )
    assert codes(check_measurement("LIT", previous, current, MONITOR, {}, {"LIT"})) == [
        AnomalyCode.PV_BAD_QUALITY
    ]


@pytest.mark.requirement("R-42")
def test_measurement_redundant_sensors_disagree():
    monitor = MeasurementMonitor(redundant_with="B", max_disagreement=2.0)
    previous, current = measure([325.0])
    assert check_measurement("A", previous, current, monitor, {"B": 326.0}, frozenset()) == []
    assert codes(check_measurement("A", previous, current, monitor, {"B": 328.0}, frozenset())) == [
        AnomalyCode.PV_DISAGREE
    ]
    assert codes(check_measurement("A", previous, current, monitor, {"B": 325.0}, {"B"})) == [
        AnomalyCode.PV_DISAGREE
    ]


LOOP = Loop(
    pv="PV", sp="RSP", working_sp="SP", mode="M", mode_request="MR", max_deviation=5.0, deviation_time_s=20.0
)


def test_deviation_must_persist_before_anomaly():
    watch, found = check_deviation("L", LoopWatch(), LOOP, {"PV": 600.0, "SP": 610.0}, now=0.0)
    assert found == []
    watch, found = check_deviation("L", watch, LOOP, {"PV": 600.0, "SP": 610.0}, now=20.0)
    assert codes(found) == [AnomalyCode.PV_SP_DEVIATION]
    watch, found = check_deviation("L", watch, LOOP, {"PV": 609.0, "SP": 610.0}, now=21.0)
    assert found == [] and watch.deviating_since is None


@pytest.mark.requirement("R-39")
def test_clock_step_against_monotonic_time():
    state, found = check_clock(ClockState(), 1000.0, 5.0, 2.0)
    state, found = check_clock(state, 1001.0, 6.0, 2.0)
    assert found == []
    state, found = check_clock(state, 1012.0, 7.0, 2.0)
    assert codes(found) == [AnomalyCode.CLOCK_JUMP]
    _, found = check_clock(state, 1000.0, 8.0, 2.0)
    assert codes(found) == [AnomalyCode.CLOCK_JUMP]


def test_restart_counter_change():
    assert check_restart("plc1", None, 3.0) == []
    assert check_restart("plc1", 3.0, 3.0) == []
    assert codes(check_restart("plc1", 3.0, 4.0)) == [AnomalyCode.PLC_RESTART]


def test_setpoint_state_default_has_no_baseline():
    assert check_setpoint("t", SetpointState(), 1.0, ENGINE, now=0.0) == []


@pytest.mark.requirement("R-15")
def test_engine_consecutive_rejections_however_slow_quarantine():
    state = EngineState()
    for k in range(5):
        state = observe_request(state, [float(k)], [True], now=k * 30.0, window_s=60)
    (anomaly,) = check_engine("e", state, ENGINE, engaged_since=None, now=150.0)
    assert anomaly.code is AnomalyCode.REJECTION_BURST and anomaly.quarantine


def test_engine_neutral_rejections_neither_count_nor_reset():
    state = EngineState()
    for verdicts in ([True], [None], [True], [None, None], [True], [True]):
        state = observe_request(state, [1.0], verdicts, now=1.0, window_s=60)
    assert state.consecutive_rejections == 4
    state = observe_request(state, [1.0], [False], now=2.0, window_s=60)
    assert state.consecutive_rejections == 0
