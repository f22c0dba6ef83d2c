"""Carrying out the PLC engage/release handshake each scan (the pure table is `otgate.core.handshake`)."""

from __future__ import annotations

import contextlib
import logging

from otgate.core.audit_chain import AuditKind
from otgate.core.config import Loop
from otgate.core.handshake import Action, PlcState, next_action, plc_state
from otgate.core.modes import PlcMode
from otgate.core.proposal import Proposal
from otgate.core.supervision import (
    on_engaged,
)
from otgate.core.validation import WriteSource
from otgate.field.link import FieldError
from otgate.runtime.intent import GateResult, WriteIntent
from otgate.runtime.state import GATEWAY, REMOTE_MODES, LoopRuntime
from otgate.runtime.write_gate import WriteGate

log = logging.getLogger(__name__)
ENGAGE_DEADLINE_SCANS = 5  # the PLC must confirm REMOTE within this many scans of an engage
FALLBACK_DEADLINE_SCANS = 3  # the PLC must confirm its local mode within this many scans of a fallback


class PlcHandshake(WriteGate):
    """Each loop's engage/release handshake with its PLC, one loop's trouble never stopping another's."""

    async def _reconcile_modes(self, now: float) -> None:
        """Each loop's handshake on its own: one loop's trouble never stops another's release."""
        for name in list(self.loops):
            try:
                await self._reconcile_loop(name, now)
            except Exception as error:
                log.exception("mode handshake failed for %s", name)
                detail = f"mode handshake failed: {type(error).__name__}"
                self.raise_alarm(f"HANDSHAKE_FAILURE:{name}", detail, "high")
                if self.loops[name].state.mode in REMOTE_MODES:
                    self.fall_back([name], detail, now)

    async def _reconcile_loop(self, name: str, now: float) -> None:
        loop, runtime = self.plant.config.loops[name], self.loops[name]
        raw = self.snapshot.values.get(loop.mode)
        if raw is None or loop.mode in self.snapshot.bad_quality:
            return  # no reading: link loss and bad quality have their own handling
        plc = plc_state(raw)
        if plc is PlcState.UNKNOWN:
            message = f"PLC loop {name} reports undefined mode {raw:g} (taken as not REMOTE)"
            self.raise_alarm(f"PLC_MODE_UNKNOWN:{name}", message, "high")
        else:
            self.clear_alarm(f"PLC_MODE_UNKNOWN:{name}")
        holds_remote = runtime.state.mode in REMOTE_MODES
        action = next_action(holds_remote, runtime.remote_confirmed, plc, self._overdue(runtime, plc, now))
        await self._perform(action, name, loop, runtime, raw, now)

    def _overdue(self, runtime: LoopRuntime, plc: PlcState, now: float) -> bool:
        scan_s = self.plant.config.gateway.scan_interval_s
        if runtime.state.mode in REMOTE_MODES:
            requested = runtime.engage_requested_at if runtime.engage_requested_at is not None else now
            return now - requested > ENGAGE_DEADLINE_SCANS * scan_s
        if plc is not PlcState.LOCAL and runtime.release_requested_at is None:
            runtime.release_requested_at = now
        released = runtime.release_requested_at
        return released is not None and now - released > FALLBACK_DEADLINE_SCANS * scan_s

    async def _perform(
        self, action: Action, name: str, loop: Loop, runtime: LoopRuntime, raw: float, now: float
    ) -> None:
        if action is Action.CONFIRM_REMOTE:
            self._remote_confirmed(name, loop, runtime, now)
        elif action is Action.REMOTE_LOST:
            # The PLC left REMOTE by itself: watchdog shed, panel operator, or restart. Never fight it.
            self.raise_alarm(f"REMOTE_LOST:{name}", f"PLC loop {name} left REMOTE", "high")
            self.fall_back([name], "PLC left REMOTE (operator override or shed)", now)
        elif action is Action.ENGAGE_REFUSED:
            self.raise_alarm(f"ENGAGE_REFUSED:{name}", f"PLC loop {name} did not accept REMOTE", "medium")
            self.fall_back([name], "PLC did not confirm REMOTE", now)
        elif action is Action.REQUEST_REMOTE:
            await self._request_mode(loop, PlcMode.REMOTE)
        elif action is Action.CONFIRM_LOCAL:
            self._local_confirmed(name, runtime, raw, now)
        elif action in (Action.REQUEST_LOCAL, Action.RELEASE_OVERDUE):
            if action is Action.RELEASE_OVERDUE:
                message = f"PLC loop {name} has not confirmed its local mode"
                self.raise_alarm(f"FALLBACK_UNCONFIRMED:{name}", message, "high")
            if not await self._ramp_to_safe_value(name, loop, now):
                await self._request_mode(loop, PlcMode.AUTO)

    def _remote_confirmed(self, name: str, loop: Loop, runtime: LoopRuntime, now: float) -> None:
        runtime.remote_confirmed = True
        runtime.engaged_at = now
        readback = self.snapshot.values.get(loop.working_sp)
        if readback is not None:
            on_engaged(self.plant, self.monitors, name, readback)
        data = {"loop": name, "plc_mode": "REMOTE", "confirmed": True}
        self._audit(AuditKind.MODE_CHANGE, GATEWAY, data)

    def _local_confirmed(self, name: str, runtime: LoopRuntime, raw: float, now: float) -> None:
        if runtime.release_requested_at is None:
            return
        elapsed = now - runtime.release_requested_at
        data = {"loop": name, "plc_mode": PlcMode(int(raw)).name, "confirmed": True, "after_s": elapsed}
        self._audit(AuditKind.MODE_CHANGE, GATEWAY, data)
        self.clear_alarm(f"FALLBACK_UNCONFIRMED:{name}")
        runtime.release_requested_at = None

    async def _ramp_to_safe_value(self, name: str, loop: Loop, now: float) -> bool:
        """The `safe_value` fallback policy: one step toward the safe setpoint per scan, through the gate.

        Returns False when there is nothing (more) to ramp, or the gate refuses the step, and the loop can
        be released to local control. If the gateway dies mid-ramp, the PLC watchdog sheds the loop anyway.
        """
        rules = self.plant.config.tags[loop.sp].setpoint
        if rules is None or rules.fallback.safe_value is None:
            return False
        proposal = Proposal(f"safe-value:{name}", GATEWAY, loop.sp, rules.fallback.safe_value, now)
        intent = WriteIntent(proposal, -1, WriteSource.SAFE_VALUE, self.generation)
        return await self._through_gate(intent, now) in (GateResult.WRITTEN, GateResult.WAITING)

    async def _request_mode(self, loop: Loop, mode: PlcMode) -> None:
        link = self.links[self.plant.config.tags[loop.mode_request].plc]
        with contextlib.suppress(FieldError):  # retried next scan; the PLC watchdog is the backstop
            await link.write(loop.mode_request, float(mode))
