"""The virtual PLC: the conventional automation the gateway sits on top of.

Every scan (0.5 s) the PLC reads its process image, runs the heartbeat watchdog, latches the trips, handles
mode requests, ramps and clamps each loop's setpoint, runs the PI blocks and publishes the results back into
the image. It owns no physics and no I/O; `Simulation` feeds it measurements and applies its outputs.

Loop modes (the FOUNDATION Fieldbus MAN / AUTO / RCAS pattern, here MAN = 0, AUTO = 1, REMOTE = 2):
- The gateway asks for a mode by writing `<loop>.MODE_REQ` (1 AUTO, 2 REMOTE). The request is consumed at the
  next scan (the register reads 0 again), so a stale request can never re-enter REMOTE later on its own.
- REMOTE is granted only while the heartbeat is healthy: `PLC.HEARTBEAT` changed less than
  `PLC.SHED_TIMEOUT` seconds ago. When it goes stale every REMOTE loop sheds to AUTO and stays there.
- MAN belongs to the operator: gateway requests are ignored in MAN.
- Bumpless transfer: outside REMOTE the remote setpoint register tracks the working setpoint, so entering
  REMOTE changes nothing until the gateway writes; outside AUTO the local setpoint tracks the working
  setpoint, so a shed to AUTO holds the setpoint the plant was at.
- The working setpoint moves towards its target at no more than the loop's rate limit, inside the PLC's own
  clamp, whatever the target is (a non-finite remote setpoint is ignored).

Trips are latched from the plant's independent switches (true values, not the transmitters the gateway
sees) and stay latched until `reset_trips`; a bypass register masks a trip only while it is set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum, IntEnum
from typing import Protocol

from otgate_simulator.pid import PiState, PiTuning, pi_step, pi_track

SCAN_S = 0.5
HEARTBEAT_TAG = "PLC.HEARTBEAT"
SHED_TIMEOUT_TAG = "PLC.SHED_TIMEOUT"
RESTARTS_TAG = "PLC.RESTARTS"
DEFAULT_SHED_TIMEOUT_S = 10.0


class Mode(IntEnum):
    MAN = 0
    AUTO = 1
    REMOTE = 2


class ModeEvent(Enum):
    REQUEST_AUTO = "request_auto"  # gateway, MODE_REQ = 1
    REQUEST_REMOTE = "request_remote"  # gateway, MODE_REQ = 2, only raised while the heartbeat is healthy
    HEARTBEAT_LOST = "heartbeat_lost"  # watchdog
    OPERATOR_MAN = "operator_man"
    OPERATOR_AUTO = "operator_auto"
    RESTART = "restart"


# Transitions not listed leave the mode unchanged.
MODE_TRANSITIONS: dict[tuple[Mode, ModeEvent], Mode] = {
    (Mode.AUTO, ModeEvent.REQUEST_REMOTE): Mode.REMOTE,
    (Mode.REMOTE, ModeEvent.REQUEST_AUTO): Mode.AUTO,
    (Mode.REMOTE, ModeEvent.HEARTBEAT_LOST): Mode.AUTO,
    (Mode.AUTO, ModeEvent.OPERATOR_MAN): Mode.MAN,
    (Mode.REMOTE, ModeEvent.OPERATOR_MAN): Mode.MAN,
    (Mode.MAN, ModeEvent.OPERATOR_AUTO): Mode.AUTO,
    (Mode.REMOTE, ModeEvent.OPERATOR_AUTO): Mode.AUTO,
    (Mode.MAN, ModeEvent.RESTART): Mode.AUTO,
    (Mode.REMOTE, ModeEvent.RESTART): Mode.AUTO,
}


def next_mode(mode: Mode, event: ModeEvent) -> Mode:
    return MODE_TRANSITIONS.get((mode, event), mode)


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """One PI loop of the PLC program; the tag fields are None for loops the gateway cannot see."""

    name: str
    pv_tag: str
    out_tag: str
    tuning: PiTuning
    default_sp: float
    sp_lo: float
    sp_hi: float
    sp_rate_per_s: float
    rsp_tag: str | None = None
    sp_tag: str | None = None
    mode_tag: str | None = None
    mode_req_tag: str | None = None
    sp_lo_tag: str | None = None
    sp_hi_tag: str | None = None


@dataclass(frozen=True, slots=True)
class LoopState:
    mode: Mode
    local_sp: float
    working_sp: float
    pi: PiState


class PlcProgram(Protocol):
    """The plant-specific part of the PLC program."""

    @property
    def loops(self) -> tuple[LoopSpec, ...]: ...
    @property
    def trip_tags(self) -> tuple[str, ...]: ...
    @property
    def bypass_tags(self) -> Mapping[str, str]: ...  # trip tag -> bypass register
    @property
    def constants(self) -> Mapping[str, float]: ...  # read-only registers and their defaults

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float: ...
    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]: ...


def ramp_setpoint(spec: LoopSpec, state: LoopState, remote_sp: float, dt_s: float) -> LoopState:
    """Move the working setpoint towards its target, clamped and rate limited."""
    target = remote_sp if state.mode is Mode.REMOTE and math.isfinite(remote_sp) else state.local_sp
    target = min(spec.sp_hi, max(spec.sp_lo, target))
    max_move = spec.sp_rate_per_s * dt_s
    working = state.working_sp + min(max_move, max(-max_move, target - state.working_sp))
    local = state.local_sp if state.mode is Mode.AUTO else working
    return replace(state, working_sp=working, local_sp=local)


def change_mode(state: LoopState, event: ModeEvent) -> LoopState:
    mode = next_mode(state.mode, event)
    if mode is state.mode:
        return state
    # Leaving REMOTE or MAN for AUTO: AUTO starts from the setpoint in effect, not an old local one.
    return replace(state, mode=mode, local_sp=state.working_sp)


class Plc:
    """Scan logic over a process image shared with the caller (`registers`, tag -> engineering value)."""

    def __init__(
        self, program: PlcProgram, registers: dict[str, float], outputs: Mapping[str, float]
    ) -> None:
        self._program = program
        self._registers = registers
        self._loops = {spec.name: spec for spec in program.loops}
        self.trips: dict[str, bool] = dict.fromkeys(program.trip_tags, False)
        self.restarts = 0
        self.outputs = dict(outputs)
        self._measured: Mapping[str, float] = {}
        self._load_defaults()
        self._heartbeat = self._registers.get(HEARTBEAT_TAG, 0.0)
        self._heartbeat_changed_s = 0.0
        # Fault injection only (`WatchdogBroken`): a PLC program without the shed, for the self-test.
        self.watchdog_broken = False

    def _load_defaults(self) -> None:
        self._registers.update(self._program.constants)
        self._registers.setdefault(SHED_TIMEOUT_TAG, DEFAULT_SHED_TIMEOUT_S)
        self.states = {
            name: LoopState(Mode.AUTO, spec.default_sp, spec.default_sp, PiState(self.outputs[spec.out_tag]))
            for name, spec in self._loops.items()
        }
        for spec in self._loops.values():
            for tag in (spec.rsp_tag, spec.mode_req_tag):
                if tag is not None:
                    self._registers[tag] = 0.0
            if spec.sp_lo_tag is not None and spec.sp_hi_tag is not None:
                self._registers[spec.sp_lo_tag] = spec.sp_lo
                self._registers[spec.sp_hi_tag] = spec.sp_hi
        self._publish()

    def is_heartbeat_healthy(self, now_s: float) -> bool:
        if self.watchdog_broken:
            return True
        return now_s - self._heartbeat_changed_s < self._registers.get(
            SHED_TIMEOUT_TAG, DEFAULT_SHED_TIMEOUT_S
        )

    def scan(self, now_s: float, measured: Mapping[str, float], trip_conditions: Mapping[str, bool]) -> None:
        beat = self._registers.get(HEARTBEAT_TAG, 0.0)
        # NaN differs from itself: without the finiteness check a NaN heartbeat would look alive forever.
        if beat != self._heartbeat and math.isfinite(beat):
            self._heartbeat, self._heartbeat_changed_s = beat, now_s
        healthy = self.is_heartbeat_healthy(now_s)
        for tag, condition in trip_conditions.items():
            bypass = self._program.bypass_tags.get(tag)
            if condition and not (bypass is not None and self._registers.get(bypass, 0.0) != 0.0):
                self.trips[tag] = True
        raw: dict[str, float] = {}
        for name, spec in self._loops.items():
            state = self._apply_requests(spec, self.states[name], healthy)
            remote = self._registers[spec.rsp_tag] if spec.rsp_tag else math.nan
            state = ramp_setpoint(spec, state, remote, SCAN_S)
            if state.mode is not Mode.MAN:
                sp = self._program.effective_sp(name, state.working_sp, measured)
                state = replace(state, pi=pi_step(spec.tuning, state.pi, sp, measured[spec.pv_tag], SCAN_S))
            self.states[name] = state
            raw[spec.out_tag] = state.pi.output
        self.outputs = self._program.force_outputs(raw, self.trips)
        for name, spec in self._loops.items():
            forced = self.outputs[spec.out_tag]
            if forced != raw[spec.out_tag]:
                self.states[name] = replace(self.states[name], pi=pi_track(self.states[name].pi, forced))
        self._measured = measured
        self._publish()

    def _apply_requests(self, spec: LoopSpec, state: LoopState, healthy: bool) -> LoopState:
        if spec.mode_req_tag is not None:
            request = self._registers[spec.mode_req_tag]
            self._registers[spec.mode_req_tag] = 0.0
            if request == Mode.AUTO:
                state = change_mode(state, ModeEvent.REQUEST_AUTO)
            elif request == Mode.REMOTE and healthy:
                state = change_mode(state, ModeEvent.REQUEST_REMOTE)
        if not healthy:
            state = change_mode(state, ModeEvent.HEARTBEAT_LOST)
        return state

    def _publish(self) -> None:
        regs = self._registers
        for name, spec in self._loops.items():
            state = self.states[name]
            if spec.rsp_tag is not None and state.mode is not Mode.REMOTE:
                regs[spec.rsp_tag] = state.working_sp
            if spec.sp_tag is not None:
                regs[spec.sp_tag] = self._program.effective_sp(name, state.working_sp, self._measured)
            if spec.mode_tag is not None:
                regs[spec.mode_tag] = float(state.mode)
            regs[spec.out_tag] = self.outputs[spec.out_tag]
        for tag, tripped in self.trips.items():
            regs[tag] = 1.0 if tripped else 0.0
        regs[RESTARTS_TAG] = float(self.restarts)

    # ---------------------------------------------------------------------------- operator and maintenance

    def restart(self, now_s: float) -> None:
        """Cold restart: registers back to defaults, loops to AUTO at their default setpoints.

        Outputs are held (the PI blocks restart from the current valve positions) and latched trips stay
        latched: the trip relays are not part of the PLC's memory.
        """
        self.restarts += 1
        for tag in (HEARTBEAT_TAG, *self._program.bypass_tags.values()):
            if tag in self._registers:
                self._registers[tag] = 0.0
        self._heartbeat, self._heartbeat_changed_s = self._registers.get(HEARTBEAT_TAG, 0.0), now_s
        self._load_defaults()

    def reset_trips(self) -> None:
        self.trips = dict.fromkeys(self.trips, False)
        self._publish()

    def set_mode(self, loop: str, mode: Mode) -> None:
        event = {Mode.MAN: ModeEvent.OPERATOR_MAN, Mode.AUTO: ModeEvent.OPERATOR_AUTO}.get(mode)
        if event is None:
            raise ValueError("the operator can select MAN or AUTO; REMOTE is requested by the gateway")
        self.states[loop] = change_mode(self.states[loop], event)
        self._publish()

    def set_local_sp(self, loop: str, value: float) -> None:
        self.states[loop] = replace(self.states[loop], local_sp=value)

    def set_output(self, loop: str, value: float) -> None:
        """Operator output in MAN (ignored by the PI in AUTO/REMOTE, which continues from it bumplessly)."""
        spec = self._loops[loop]
        clamped = min(spec.tuning.out_hi, max(spec.tuning.out_lo, value))
        self.states[loop] = replace(self.states[loop], pi=pi_track(self.states[loop].pi, clamped))
        self.outputs[spec.out_tag] = clamped
        self._publish()
