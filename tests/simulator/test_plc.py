"""The virtual PLC on its own: mode table, setpoint ramp and clamp, PI, watchdog, trips (no physics)."""

from __future__ import annotations

import math

import pytest

from otgate_simulator.pid import PiState, PiTuning, pi_step, pi_track
from otgate_simulator.plc import MODE_TRANSITIONS, LoopState, Mode, ModeEvent, Plc, next_mode, ramp_setpoint
from otgate_simulator.programs.tank import LEVEL_LOOP, TankBinding


def _plc() -> tuple[Plc, dict[str, float]]:
    registers: dict[str, float] = {}
    return Plc(TankBinding(), registers, {"LIC-101.OUT": 49.0}), registers


def _scan(plc: Plc, now_s: float, level_mm: float = 650.0, **trips: bool) -> None:
    conditions = {"LSHH-101": False, "LSLL-101": False} | {k.replace("_", "-"): v for k, v in trips.items()}
    plc.scan(now_s, {"LIT-101": level_mm, "FT-101": 2.45, "FT-102": 2.45}, conditions)


def _mode(plc: Plc) -> Mode:
    return plc.states["LIC-101"].mode


# ---------------------------------------------------------------------------------------------- modes


@pytest.mark.parametrize(
    ("mode", "event", "expected"),
    [
        (Mode.AUTO, ModeEvent.REQUEST_REMOTE, Mode.REMOTE),
        (Mode.REMOTE, ModeEvent.REQUEST_AUTO, Mode.AUTO),
        (Mode.REMOTE, ModeEvent.HEARTBEAT_LOST, Mode.AUTO),
        (Mode.AUTO, ModeEvent.HEARTBEAT_LOST, Mode.AUTO),
        (Mode.MAN, ModeEvent.REQUEST_REMOTE, Mode.MAN),
        (Mode.MAN, ModeEvent.REQUEST_AUTO, Mode.MAN),
        (Mode.MAN, ModeEvent.OPERATOR_AUTO, Mode.AUTO),
        (Mode.REMOTE, ModeEvent.OPERATOR_MAN, Mode.MAN),
        (Mode.REMOTE, ModeEvent.RESTART, Mode.AUTO),
    ],
)
def test_next_mode_event_gives_table_mode(mode: Mode, event: ModeEvent, expected: Mode) -> None:
    assert next_mode(mode, event) is expected


def test_mode_table_no_event_enters_remote_except_a_gateway_request_from_auto() -> None:
    into_remote = [key for key, target in MODE_TRANSITIONS.items() if target is Mode.REMOTE]
    assert into_remote == [(Mode.AUTO, ModeEvent.REQUEST_REMOTE)]


def test_plc_remote_request_with_live_heartbeat_is_granted_and_consumed() -> None:
    plc, regs = _plc()
    regs["PLC.HEARTBEAT"] = 1.0
    regs["LIC-101.MODE_REQ"] = 2.0
    _scan(plc, 0.5)
    assert plc.states["LIC-101"].mode is Mode.REMOTE
    assert regs["LIC-101.MODE"] == 2.0
    assert regs["LIC-101.MODE_REQ"] == 0.0


@pytest.mark.requirement("R-13")
def test_plc_remote_request_with_stale_heartbeat_is_refused() -> None:
    plc, regs = _plc()
    regs["LIC-101.MODE_REQ"] = 2.0
    _scan(plc, 10.5)  # the heartbeat register never changed since t = 0
    assert plc.states["LIC-101"].mode is Mode.AUTO


@pytest.mark.requirement("R-13", "R-18")
def test_plc_heartbeat_stops_sheds_at_timeout_and_never_returns() -> None:
    plc, regs = _plc()
    regs["PLC.HEARTBEAT"], regs["LIC-101.MODE_REQ"] = 1.0, 2.0
    _scan(plc, 0.5)
    t = 0.5
    while _mode(plc) is Mode.REMOTE:
        t += 0.5
        _scan(plc, t)
    assert t == 10.5  # last change seen at 0.5 s, timeout 10 s
    regs["PLC.HEARTBEAT"] = 2.0  # heartbeat resumes, but no new request
    for _ in range(40):
        t += 0.5
        _scan(plc, t)
    assert plc.states["LIC-101"].mode is Mode.AUTO


@pytest.mark.requirement("R-13")
def test_plc_nan_heartbeat_does_not_count_as_alive() -> None:
    plc, regs = _plc()
    regs["PLC.HEARTBEAT"], regs["LIC-101.MODE_REQ"] = 1.0, 2.0
    _scan(plc, 0.5)
    regs["PLC.HEARTBEAT"] = math.nan
    for k in range(2, 30):
        _scan(plc, 0.5 * k)
    assert _mode(plc) is Mode.AUTO


@pytest.mark.requirement("R-21")
def test_plc_man_ignores_gateway_requests() -> None:
    plc, regs = _plc()
    plc.set_mode("LIC-101", Mode.MAN)
    regs["PLC.HEARTBEAT"], regs["LIC-101.MODE_REQ"] = 1.0, 2.0
    _scan(plc, 0.5)
    assert plc.states["LIC-101"].mode is Mode.MAN


def test_plc_operator_cannot_select_remote() -> None:
    plc, _ = _plc()
    with pytest.raises(ValueError, match="REMOTE"):
        plc.set_mode("LIC-101", Mode.REMOTE)


# ------------------------------------------------------------------------------------------ setpoints


def test_ramp_setpoint_remote_target_moves_at_rate_limit() -> None:
    state = ramp_setpoint(LEVEL_LOOP, _loop_state(Mode.REMOTE, 650.0), 700.0, 0.5)
    assert state.working_sp == 650.5
    assert state.local_sp == 650.5  # the local setpoint tracks outside AUTO


@pytest.mark.parametrize(("remote", "expected"), [(900.0, 800.0), (100.0, 500.0), (math.nan, 650.0)])
@pytest.mark.requirement("R-53")
def test_ramp_setpoint_remote_target_clamped_or_ignored(remote: float, expected: float) -> None:
    state = _loop_state(Mode.REMOTE, 650.0)
    for _ in range(1000):
        state = ramp_setpoint(LEVEL_LOOP, state, remote, 0.5)
    assert state.working_sp == expected


def test_ramp_setpoint_auto_ignores_remote() -> None:
    state = ramp_setpoint(LEVEL_LOOP, _loop_state(Mode.AUTO, 650.0), 700.0, 0.5)
    assert state.working_sp == 650.0


@pytest.mark.requirement("R-17")
def test_plc_not_remote_rsp_tracks_working_sp() -> None:
    plc, regs = _plc()
    regs["LIC-101.RSP"] = 790.0  # written while in AUTO: overwritten by tracking, never acted on
    _scan(plc, 0.5)
    assert regs["LIC-101.RSP"] == 650.0
    assert regs["LIC-101.SP"] == 650.0


@pytest.mark.requirement("R-17")
def test_plc_shed_keeps_working_sp_as_local_sp() -> None:
    plc, regs = _plc()
    regs["PLC.HEARTBEAT"], regs["LIC-101.MODE_REQ"], regs["LIC-101.RSP"] = 1.0, 2.0, 700.0
    for k in range(1, 21):
        _scan(plc, 0.5 * k)
    assert _mode(plc) is Mode.REMOTE
    assert regs["LIC-101.SP"] == pytest.approx(650.0 + 10.0)
    for k in range(21, 60):
        _scan(plc, 0.5 * k)
    assert _mode(plc) is Mode.AUTO
    assert regs["LIC-101.SP"] == pytest.approx(650.0 + 10.0)  # shed at 10.5 s and held there
    assert regs["LIC-101.RSP"] == regs["LIC-101.SP"]


def _loop_state(mode: Mode, sp: float) -> LoopState:
    return LoopState(mode, sp, sp, PiState(50.0))


# ---------------------------------------------------------------------------------------------- PI


TUNING = PiTuning(kc=2.0, ti_s=10.0, direct=False, out_lo=0.0, out_hi=100.0)


def test_pi_step_constant_error_integrates_at_kc_over_ti() -> None:
    state = PiState(50.0, last_error=1.0)
    state = pi_step(TUNING, state, sp=1.0, pv=0.0, dt_s=1.0)
    assert state.output == pytest.approx(50.0 + 2.0 * 0.1)


def test_pi_step_error_jump_gives_proportional_kick() -> None:
    state = pi_step(TUNING, PiState(50.0, last_error=0.0), sp=5.0, pv=0.0, dt_s=0.0 + 1e-12)
    assert state.output == pytest.approx(60.0)


def test_pi_step_direct_acting_opens_on_high_pv() -> None:
    direct = PiTuning(kc=1.0, ti_s=10.0, direct=True, out_lo=0.0, out_hi=100.0)
    assert pi_step(direct, PiState(50.0, 0.0), sp=0.0, pv=1.0, dt_s=1.0).output > 50.0


def test_pi_step_output_clamped_without_windup() -> None:
    state = PiState(99.0, last_error=0.0)
    for _ in range(100):
        state = pi_step(TUNING, state, sp=10.0, pv=0.0, dt_s=1.0)
    assert state.output == 100.0
    state = pi_step(TUNING, state, sp=-1.0, pv=0.0, dt_s=1.0)  # reverses at once
    assert state.output < 100.0


def test_pi_track_forced_output_resumes_without_kick() -> None:
    state = pi_track(PiState(50.0, last_error=3.0), 0.0)
    assert pi_step(TUNING, state, sp=3.0, pv=0.0, dt_s=1e-9).output == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------------------------------------- trips


def test_plc_trip_latches_until_reset_and_forces_output() -> None:
    plc, regs = _plc()
    _scan(plc, 0.5, LSHH_101=True)
    _scan(plc, 1.0)
    assert plc.trips["LSHH-101"] and regs["LSHH-101"] == 1.0
    assert regs["LIC-101.OUT"] == 0.0
    plc.reset_trips()
    _scan(plc, 1.5)
    assert not plc.trips["LSHH-101"] and regs["LSHH-101"] == 0.0


@pytest.mark.requirement("R-53")
def test_plc_restart_counts_and_returns_to_auto_defaults() -> None:
    plc, regs = _plc()
    regs["PLC.HEARTBEAT"], regs["LIC-101.MODE_REQ"], regs["LIC-101.RSP"] = 7.0, 2.0, 700.0
    _scan(plc, 0.5)
    plc.restart(1.0)
    assert plc.states["LIC-101"].mode is Mode.AUTO
    assert regs["PLC.RESTARTS"] == 1.0 and regs["PLC.HEARTBEAT"] == 0.0
    assert regs["LIC-101.SP"] == 650.0 and regs["LIC-101.RSP"] == 650.0  # RSP tracks the default SP
    assert regs["LIC-101.SP_LO_LIM"] == 500.0 and regs["LIC-101.SP_HI_LIM"] == 800.0


def test_plc_watchdog_broken_never_sheds_until_repaired():
    plc, registers = _plc()
    registers["PLC.HEARTBEAT"] = 1.0
    registers["LIC-101.MODE_REQ"] = float(Mode.REMOTE)
    _scan(plc, 0.5)
    plc.watchdog_broken = True
    for k in range(2, 60):
        _scan(plc, k * 0.5)
    assert _mode(plc) is Mode.REMOTE
    plc.watchdog_broken = False
    _scan(plc, 30.0)
    assert _mode(plc) is Mode.AUTO
