"""The one gate every setpoint write passes, and the queue of writes waiting for it."""

from __future__ import annotations

import logging
from collections import deque

from otgate.core.audit_chain import AuditKind
from otgate.core.codec import is_confirmed
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.proposal import WriteEvent
from otgate.core.validation import WriteSource, judge_write
from otgate.field.link import FieldError
from otgate.runtime.intent import GateResult, WriteIntent
from otgate.runtime.mode_authority import ModeAuthority
from otgate.runtime.records import decision_data
from otgate.runtime.state import GATEWAY

log = logging.getLogger(__name__)


class WriteGate(ModeAuthority):
    """Pending writes and the gate: check and write with no await in between."""

    def _queue(self, intent: WriteIntent) -> None:
        self.pending[intent.proposal.tag] = intent

    async def _apply_pending(self, now: float) -> None:
        settings = self.plant.config.gateway
        budget = max(1, int(settings.max_plc_writes_per_s * settings.scan_interval_s))
        for tag_name, intent in list(self.pending.items()):
            if budget == 0:
                break  # the global write cap: the rest wait for the next scan, oldest first
            if self.pending.get(tag_name) is not intent:
                continue  # dropped or replaced while an earlier write of this scan was awaited
            if await self._through_gate(intent, now) is GateResult.WRITTEN:
                budget -= 1

    async def _through_gate(self, intent: WriteIntent, now: float) -> GateResult:
        """The one gate every setpoint write passes. Everything up to the write is one synchronous
        section: the loop's mode at this instant, the config in force, the whole validation chain and
        the trail's record of the intent are checked with no await in between, so no operator action,
        reload or mode change can slip between the check and the write."""
        tag_name = intent.proposal.tag
        decision = self._judge(intent, now)
        if decision.codes == (ReasonCode.NO_CHANGE,):  # the setpoint is where it was asked to go
            self._finish(intent)
            return GateResult.DONE
        if not decision.is_write or decision.value is None:
            if ReasonCode.WRITE_TOO_FREQUENT in decision.codes:
                return GateResult.WAITING
            self._finish(intent)
            self._audit(AuditKind.DECISION, GATEWAY, {**decision_data(decision), "revalidation": True})
            return GateResult.REFUSED
        tag = self.plant.config.tags[tag_name]
        loop_name, loop = self.plant.loop_by_setpoint[tag_name]
        previous = self.snapshot.values[loop.working_sp]
        data = {
            "tag": tag_name,
            "value": decision.value,
            "source": intent.source.value,
            "proposal_id": intent.proposal.id,
            "decision_seq": intent.decision_seq,
        }
        if self._audit(AuditKind.PLC_WRITE, GATEWAY, data) < 0:
            return GateResult.REFUSED  # nothing reaches a PLC that the trail has not recorded
        value = decision.value
        try:
            readback = await self.links[tag.plc].write(tag_name, value)
        except FieldError as error:
            self._write_failed(intent, loop_name, value, f"write failed: {error}", now)
            return GateResult.FAILED
        if not is_confirmed(value, readback, tag.type, tag.scale, tag.offset):
            self._write_failed(
                intent, loop_name, value, f"read-back {readback:g} differs from {value:g}", now
            )
            return GateResult.FAILED
        self.writes.setdefault(tag_name, deque()).append(WriteEvent(now, value, previous))
        self._prune_writes(tag_name, now)
        self._audit(
            AuditKind.WRITE_CONFIRMED, GATEWAY, {"tag": tag_name, "value": value, "readback": readback}
        )
        if decision.verdict is Verdict.ACCEPTED:
            self._finish(intent)
        return GateResult.WRITTEN

    def _judge(self, intent: WriteIntent, now: float) -> Decision:
        proposal = intent.proposal
        if intent.generation != self.generation:
            reason = Reason(ReasonCode.CONFIG_RELOADED, "decided under a config that has since been reloaded")
            return Decision(proposal.id, proposal.tag, Verdict.REJECTED, (reason,))
        loop_name, _ = self.plant.loop_by_setpoint[proposal.tag]
        if intent.source is not WriteSource.SAFE_VALUE and not self.loops[loop_name].remote_confirmed:
            reason = Reason(
                ReasonCode.MODE_BLOCKED, f"PLC loop {loop_name} has not confirmed this engagement"
            )
            return Decision(proposal.id, proposal.tag, Verdict.REJECTED, (reason,))
        try:
            return judge_write(
                intent.source, proposal, self.current_snapshot(), self.plant, self.history(), now
            )
        except Exception:  # a bug in the core must fail closed, never open
            log.exception("judge_write raised for %s", proposal.id)
            reason = Reason(ReasonCode.INTERNAL_ERROR, "internal error; recorded in the audit trail")
            return Decision(proposal.id, proposal.tag, Verdict.REJECTED, (reason,))

    def _finish(self, intent: WriteIntent) -> None:
        """Take `intent` off the queue, and only it: a newer proposal queued meanwhile stays."""
        if self.pending.get(intent.proposal.tag) is intent:
            del self.pending[intent.proposal.tag]

    def _write_failed(
        self, intent: WriteIntent, loop_name: str, value: float, detail: str, now: float
    ) -> None:
        tag_name = intent.proposal.tag
        self._finish(intent)
        self._audit(AuditKind.WRITE_FAILED, GATEWAY, {"tag": tag_name, "value": value, "detail": detail})
        self.raise_alarm(f"WRITE_UNCONFIRMED:{tag_name}", f"{tag_name}: {detail}", "high")
        self.fall_back([loop_name], f"write not confirmed: {detail}", now)

    def _prune_writes(self, tag_name: str, now: float) -> None:
        """Keep every write a rule can still look at: the tag's change-budget window and write interval."""
        rules = self.plant.config.tags[tag_name].setpoint
        keep_s = self.plant.write_period_s
        if rules is not None:
            keep_s = max(keep_s, rules.change_budget.window_s, rules.min_write_interval_s)
        events = self.writes[tag_name]
        while events and now - events[0].at > keep_s:
            events.popleft()
