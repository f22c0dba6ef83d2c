"""The gateway: the imperative shell that connects the validation core to PLCs, the audit trail and the APIs.

One asyncio loop owns all of this state; the HTTP handlers and the scan loop never run concurrently
with each other's synchronous sections, so no locks are needed.

Each scan (every `scan_interval_s`):
1. read every configured tag from every PLC (block reads) into a fresh `Snapshot`;
2. beat the heartbeat the PLC watchdog watches;
3. reconcile loop modes with the PLC (engage handshake, release to local, detect lost REMOTE);
4. for each pending accepted setpoint, re-validate it against this scan's snapshot (time of check =
   time of use), write it (or the next ramp step) and confirm it by read-back.

Anything unexpected takes the affected loops to fallback: an exception in a scan, a lost PLC link, a
write not confirmed, a PLC that drops REMOTE, an audit store that cannot write.

The gateway is built in layers, each a module: state, mode authority, write gate, PLC handshake, scan
cycle, engine side, and here the operators' actions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from otgate.audit.store import AuditStoreError
from otgate.config.loader import LoadedConfig
from otgate.core.approval import ApprovalOutcome, judge
from otgate.core.audit_chain import AuditKind
from otgate.core.autonomy import Key, Transition
from otgate.core.decision import Decision
from otgate.core.modes import Direction, ModeEvent, direction
from otgate.core.monitors import AnomalyCode
from otgate.core.plant import compile_plant
from otgate.core.process_memory import ProcessMemory
from otgate.core.proposal import Proposal
from otgate.core.supervision import (
    on_quarantine_lifted,
)
from otgate.core.validation import WriteSource, validate_operator_setpoint
from otgate.runtime.engine_side import EngineSide
from otgate.runtime.intent import WriteIntent
from otgate.runtime.ledger_restore import restore_ledger
from otgate.runtime.records import decision_data, describe, start_entries
from otgate.runtime.state import REMOTE_MODES, AuditUnavailable, LoopRuntime

log = logging.getLogger(__name__)

# Approval answers after which the proposal stays queued (a wrong digest, or a dual approval's first half).
KEEP_QUEUED = frozenset(
    {ApprovalOutcome.MISMATCH, ApprovalOutcome.NEEDS_ANOTHER, ApprovalOutcome.SAME_OPERATOR}
)


class Gateway(EngineSide):
    """The whole gateway: every layer below, plus what operators and engineers do through the HMI."""

    def record_start(self, file: str, sha256: str) -> int:
        """A start in the trail: the config in force and every loop in fallback (a gateway starts in
        fallback), after remembering the replay ids of the window. Returns how many it remembered."""
        remembered = self.recover()
        # Earned autonomy survives a restart only as far as the verified trail carries it (docs/AUTONOMY.md).
        restored = restore_ledger(self.ledger, self.audit, self.clock.now(), self.clock.monotonic())
        config = self.plant.config
        entries = start_entries(
            config.plant, list(config.loops), file, sha256, remembered, self.clock.now(), autonomy=restored
        )
        try:
            self.audit.append_many(entries)
        except AuditStoreError as error:
            self._audit_failure(str(error))
            raise AuditUnavailable from error
        return remembered

    def operator_action(
        self, user: str, loop_names: Sequence[str], event: ModeEvent, reason: str
    ) -> dict[str, str]:
        """Apply an operator's mode change to each loop; returns each loop's outcome.

        Raises AuditUnavailable when the trail could not record it: toward-safety changes have then
        taken effect anyway, changes away from conventional control have not."""
        now = self.clock.monotonic()
        outcome = {}
        toward_safety = False
        for name in loop_names:
            before = self.loops[name].state
            after = self._change_mode(name, event, f"{user}: {reason}", now, actor=f"operator:{user}")
            outcome[name] = after.mode.value if after is not None else f"refused from {describe(before)}"
            moved = after is not None and after != before
            toward_safety |= moved and direction(before, event) is Direction.TOWARD_SAFETY
        if toward_safety:
            self.scan_now()
        data = {"event": event.value, "loops": list(loop_names), "reason": reason, "outcome": outcome}
        if self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data) < 0:
            raise AuditUnavailable
        return outcome

    def decide_approval(self, user: str, proposal_id: str, digest: str, approve: bool) -> ApprovalOutcome:
        """An operator's answer to a queued supervised recommendation: bound, single-use, expiring."""
        now = self.clock.monotonic()
        item = self.awaiting.get(proposal_id)
        problem = judge(item, digest, self.plant.config.gateway.approval_ttl_s, now)
        outcome = problem or (ApprovalOutcome.APPROVED if approve else ApprovalOutcome.REJECTED)
        if item is not None and problem is None:  # earned autonomy: dual approval, evidence, rubber stamps
            outcome = self.ledger.settle(user, item, approve, now)
            if approve and proposal_id not in self.awaiting:  # the answer's evidence demoted the engine
                outcome = ApprovalOutcome.WITHDRAWN
        if item is not None and outcome not in KEEP_QUEUED:
            self.awaiting.pop(proposal_id, None)  # single use: approved, rejected or expired, it is gone
            self.ledger.forget(proposal_id)
        data = {"id": proposal_id, "outcome": outcome.value, "digest": digest}
        seq = self._audit(AuditKind.APPROVAL, f"operator:{user}", data)
        if seq < 0:
            raise AuditUnavailable
        if item is not None and outcome is ApprovalOutcome.APPROVED:
            self._queue(WriteIntent(item.proposal, seq, WriteSource.APPROVED, self.generation))
        return outcome

    def set_manual_setpoint(self, user: str, loop_name: str, value: float) -> Decision:
        """An operator's own setpoint for a loop in manual, through the same rules as any write."""
        now = self.clock.monotonic()
        loop = self.plant.config.loops[loop_name]
        self.manual_ids += 1
        proposal = Proposal(f"manual-{self.manual_ids}", f"operator:{user}", loop.sp, value, self.clock.now())
        decision = validate_operator_setpoint(
            proposal, self.current_snapshot(), self.plant, self.history(), now
        )
        data = {**decision_data(decision), "requested": value if math.isfinite(value) else repr(value)}
        seq = self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", {"event": "manual_setpoint", **data})
        if seq < 0:
            raise AuditUnavailable
        if decision.is_write:
            self._queue(WriteIntent(proposal, seq, WriteSource.OPERATOR, self.generation))
        return decision

    def lift_quarantine(self, user: str, engine: str, reason: str) -> bool:
        lifted = engine in self.quarantined
        self.quarantined.discard(engine)
        # Lifting must stick: the counters that quarantined it are reset, and its anomaly alarms clear
        # so that new evidence is alarmed and recorded afresh.
        on_quarantine_lifted(self.monitors, engine)
        for code in (AnomalyCode.REJECTION_BURST, AnomalyCode.FLOOD, AnomalyCode.SECURITY_VIOLATION):
            self.clear_alarm(f"{code.value}:{engine}")
        data = {"event": "lift_quarantine", "engine": engine, "lifted": lifted, "reason": reason}
        self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data)
        return lifted

    def acknowledge_alarm(self, user: str, code: str) -> bool:
        if not self.alarms.acknowledge(code, user, self.clock.now()):
            return False
        data = {"event": "acknowledge_alarm", "code": code}
        self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data)
        return True

    def shelve_alarm(self, user: str, code: str, reason: str, until: float) -> None:
        """Shelve an alarm until `until` (wall clock, as shown); the HMI has recorded the request."""
        self.alarms.shelve(code, user, reason, until)

    def unshelve_expired_alarms(self) -> list[tuple[str, str]]:
        """Bring back every alarm whose shelving has expired: (code, who shelved it) each."""
        return self.alarms.unshelve_expired(self.clock.now())

    def sign_off_autonomy(self, user: str, key: Key) -> Transition | None:
        """An engineer's sign-off of an eligible engine's promotion (None: refused; docs/AUTONOMY.md)."""
        return self.ledger.sign_off(user, key, self.clock.monotonic())

    def demote_autonomy(self, user: str, key: Key, reason: str) -> Transition | None:
        return self.ledger.demote(user, key, reason, self.clock.monotonic())

    def attach_certificate(self, user: str, key: Key, scorecard: dict[str, Any]) -> str | None:
        """A certification scorecard as evidence on the ledger; its digest, or None for an unknown entry."""
        return self.ledger.attach_certificate(user, key, scorecard)

    def reload_config(self, user: str, loaded: LoadedConfig) -> None:
        """An engineer's reload of an already checked config: every loop goes back to conventional control.

        A new generation: whatever was decided under the old config is never written under the new one."""
        now = self.clock.monotonic()
        self.fall_back(
            [n for n, r in self.loops.items() if r.state.mode in REMOTE_MODES], "config reload", now
        )
        self.plant = compile_plant(loaded.config)
        self.ledger.reload(self.plant)
        self.memory = ProcessMemory(self.plant)
        self.generation += 1
        self.loops = {n: self.loops.get(n, LoopRuntime()) for n in loaded.config.loops}
        self.pending.clear()
        self.awaiting.clear()
        if self.config_file is not None:
            self.watch_config_file(loaded)
        data = {"file": str(loaded.path), "sha256": loaded.sha256, "plant": loaded.config.plant, "by": user}
        if self._audit(AuditKind.CONFIG_LOAD, f"operator:{user}", data) < 0:
            raise AuditUnavailable

    def record_operator_event(self, user: str, kind: str, data: dict[str, Any]) -> bool:
        """An operator event with no effect on the plant (login, logout, a refused login) into the trail.

        False when the trail cannot record; the gateway has then already closed the AI path."""
        return self._audit(kind, f"operator:{user}", data) >= 0
