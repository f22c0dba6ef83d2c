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
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otgate.audit_store import AuditStore, AuditStoreError
from otgate.clock import Clock
from otgate.config_file import LoadedConfig
from otgate.core.alarms import AlarmBoard
from otgate.core.approval import ApprovalOutcome, AwaitingApproval, judge
from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.codec import readback_tolerance
from otgate.core.config import Loop
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.modes import LoopMode, LoopState, ModeEvent, PlcMode, transition
from otgate.core.monitors import Anomaly, AnomalyCode, MonitorStates
from otgate.core.plant import Plant, compile_plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.supervision import (
    ScanView,
    affected_loops,
    on_answers,
    on_engaged,
    on_heartbeat,
    on_refusal,
    on_scan,
)
from otgate.core.validation import plan_ramp, revalidate, validate, validate_operator_setpoint
from otgate.field.link import FieldError, FieldLink, LinkDown

log = logging.getLogger(__name__)

GATEWAY = "gateway"
ENGAGE_DEADLINE_SCANS = 5
FALLBACK_DEADLINE_SCANS = 3  # the PLC must confirm its local mode within this many scans of a fallback  # the PLC must confirm REMOTE within this many scans of an engage
WRITE_HISTORY_S = 7200.0  # confirmed writes kept for the change-budget windows
CONFIG_CHECK_INTERVAL_S = 10.0  # how often the config file's hash is compared with the loaded one
# Modes in which the gateway holds the PLC loop in REMOTE: the AI's setpoints, or an operator's own.
REMOTE_MODES = frozenset({LoopMode.AI, LoopMode.MANUAL})


class AuditUnavailable(Exception):
    """The trail cannot record: the AI path fails closed (HTTP 503) until it can."""


@dataclass
class PendingWrite:
    """An accepted proposal still being written (a ramp takes one step per scan)."""

    proposal: Proposal
    decision_seq: int
    operator: str | None = None  # set for an operator's own setpoint in manual mode


@dataclass
class LoopRuntime:
    state: LoopState = field(default_factory=LoopState)
    remote_confirmed: bool = False
    engaged_at: float | None = None  # when the PLC confirmed REMOTE for this engagement
    engage_requested_at: float | None = None
    release_requested_at: float | None = None


@dataclass(frozen=True)
class Answer:
    decision: Decision
    audit_seq: int


@dataclass
class Counters:
    recommendations: int = 0
    accepted: int = 0
    rejected: int = 0
    fallbacks: int = 0


class Gateway:
    def __init__(self, plant: Plant, links: Mapping[str, FieldLink], audit: AuditStore, clock: Clock) -> None:
        self.plant = plant
        self.links = dict(links)
        self.audit = audit
        self.clock = clock
        self.loops = {name: LoopRuntime() for name in plant.config.loops}
        self.seen_ids: dict[str, float] = {}
        self.writes: dict[str, deque[WriteEvent]] = {}
        self.quarantined: set[str] = set()
        self.pending: dict[str, PendingWrite] = {}
        self.awaiting: dict[str, AwaitingApproval] = {}
        self.alarms = AlarmBoard()
        self.monitors = MonitorStates()
        self._scan_alarms: set[str] = set()
        self.config_file: LoadedConfig | None = None
        self.config_changed: str | None = None
        self.config_checked_at = -math.inf
        self.counters = Counters()
        self.heartbeat = 0
        self.last_beat_at = -math.inf
        self.manual_ids = 0
        self.scans = 0
        self.snapshot = Snapshot(taken_at=-math.inf, values={}, plc_available=False)
        self.audit_failed = False

    # ------------------------------------------------------------------------------------------ views

    def loop_modes(self) -> dict[str, LoopMode]:
        return {name: runtime.state.mode for name, runtime in self.loops.items()}

    def current_snapshot(self) -> Snapshot:
        s = self.snapshot
        return Snapshot(s.taken_at, s.values, s.bad_quality, s.plc_available, self.loop_modes())

    def history(self) -> History:
        return History(self.seen_ids.keys(), self.writes, self.quarantined)

    # ------------------------------------------------------------------------------------------ AI side

    def submit(self, proposals: Sequence[Proposal], rationales: Sequence[str | None] = ()) -> list[Answer]:
        """Decide a batch, make every decision durable in the trail, then schedule the writes."""
        if self.audit_failed:
            raise AuditUnavailable
        now = self.clock.now()
        snapshot, history = self.current_snapshot(), self.history()
        decisions = [self._decide(p, snapshot, history, now) for p in proposals]
        texts = [*rationales, *[None] * (len(proposals) - len(rationales))]
        entries: list[tuple[str, str, dict[str, Any]]] = []
        for proposal, decision, text in zip(proposals, decisions, texts, strict=True):
            entries.append(
                (AuditKind.RECOMMENDATION, f"engine:{proposal.engine}", _recommendation_data(proposal, text))
            )
            entries.append((AuditKind.DECISION, GATEWAY, _decision_data(decision)))
        records = self._audit_many(entries, now)
        if records is None:
            raise AuditUnavailable
        self._supervise_answers(proposals, decisions, now)
        answers = []
        for proposal, decision, text, record in zip(proposals, decisions, texts, records[1::2], strict=True):
            self.seen_ids[proposal.id] = now
            self._count(decision)
            if decision.is_write:
                self.pending[proposal.tag] = PendingWrite(proposal, record)
            elif decision.verdict is Verdict.PENDING_APPROVAL:
                self._await_approval(AwaitingApproval(proposal, text, now, record), now)
            answers.append(Answer(decision, record))
        return answers

    def _await_approval(self, item: AwaitingApproval, now: float) -> None:
        self.awaiting[item.proposal.id] = item
        while len(self.awaiting) > self.plant.config.gateway.max_awaiting_approval:
            oldest = next(iter(self.awaiting))
            del self.awaiting[oldest]
            self._audit(
                AuditKind.APPROVAL, GATEWAY, {"id": oldest, "outcome": "expired", "why": "queue full"}, now
            )

    def _supervise_answers(
        self, proposals: Sequence[Proposal], decisions: Sequence[Decision], now: float
    ) -> None:
        by_engine: dict[str, list[tuple[Proposal, Decision]]] = {}
        for proposal, decision in zip(proposals, decisions, strict=True):
            by_engine.setdefault(proposal.engine, []).append((proposal, decision))
            if decision.verdict is Verdict.REJECTED and decision.codes != (ReasonCode.NO_CHANGE,):
                # One alarm per engine that counts its rejections: 500 rejections, one alarm.
                self.raise_alarm(f"REJECTIONS:{proposal.engine}", "recommendations rejected", "low", now)
        for engine, answers in by_engine.items():
            self.act_on(on_answers(self.plant, self.monitors, engine, answers, now), now)

    def _decide(self, proposal: Proposal, snapshot: Snapshot, history: History, now: float) -> Decision:
        try:
            return validate(proposal, snapshot, self.plant, history, now)
        except Exception:  # a bug in the core must fail closed, never open
            log.exception("validate raised for %s", proposal.id)
            reason = Reason(ReasonCode.INTERNAL_ERROR, "internal error; recorded in the audit trail")
            return Decision(proposal.id, proposal.tag, Verdict.REJECTED, (reason,))

    def _count(self, decision: Decision) -> None:
        self.counters.recommendations += 1
        if decision.verdict is Verdict.REJECTED:
            self.counters.rejected += 1
        elif decision.is_write:
            self.counters.accepted += 1

    # ------------------------------------------------------------------------------------------ operators

    def operator_action(
        self, user: str, loop_names: Sequence[str], event: ModeEvent, reason: str
    ) -> dict[str, str]:
        """Apply an operator's mode change to each loop; returns each loop's outcome."""
        now = self.clock.now()
        outcome = {}
        for name in loop_names:
            before = self.loops[name].state
            after = self._change_mode(name, event, f"{user}: {reason}", now, actor=f"operator:{user}")
            outcome[name] = after.mode.value if after is not None else f"refused from {_describe(before)}"
        self._audit(
            AuditKind.OPERATOR_ACTION,
            f"operator:{user}",
            {"event": event.value, "loops": list(loop_names), "reason": reason, "outcome": outcome},
            now,
        )
        return outcome

    def decide_approval(self, user: str, proposal_id: str, digest: str, approve: bool) -> ApprovalOutcome:
        """An operator's answer to a queued supervised recommendation: bound, single-use, expiring."""
        now = self.clock.now()
        item = self.awaiting.get(proposal_id)
        problem = judge(item, digest, self.plant.config.gateway.approval_ttl_s, now)
        outcome = problem or (ApprovalOutcome.APPROVED if approve else ApprovalOutcome.REJECTED)
        if item is not None and outcome is not ApprovalOutcome.MISMATCH:
            del self.awaiting[proposal_id]  # single use: approved, rejected or expired, it is gone
        data = {"id": proposal_id, "outcome": outcome.value, "digest": digest}
        seq = self._audit(AuditKind.APPROVAL, f"operator:{user}", data, now)
        if item is not None and outcome is ApprovalOutcome.APPROVED and seq >= 0:
            self.pending[item.proposal.tag] = PendingWrite(item.proposal, seq)
        return outcome

    def set_manual_setpoint(self, user: str, loop_name: str, value: float) -> Decision:
        """An operator's own setpoint for a loop in manual, through the same rules as any write."""
        now = self.clock.now()
        loop = self.plant.config.loops[loop_name]
        self.manual_ids += 1
        proposal = Proposal(f"manual-{self.manual_ids}", f"operator:{user}", loop.sp, value, now)
        decision = validate_operator_setpoint(
            proposal, self.current_snapshot(), self.plant, self.history(), now
        )
        data = {**_decision_data(decision), "requested": value if math.isfinite(value) else repr(value)}
        seq = self._audit(
            AuditKind.OPERATOR_ACTION, f"operator:{user}", {"event": "manual_setpoint", **data}, now
        )
        if decision.is_write and seq >= 0:
            self.pending[loop.sp] = PendingWrite(proposal, seq, operator=user)
        return decision

    def lift_quarantine(self, user: str, engine: str, reason: str) -> bool:
        now = self.clock.now()
        lifted = engine in self.quarantined
        self.quarantined.discard(engine)
        data = {"event": "lift_quarantine", "engine": engine, "lifted": lifted, "reason": reason}
        self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data, now)
        return lifted

    def acknowledge_alarm(self, user: str, code: str) -> bool:
        if not self.alarms.acknowledge(code, user):
            return False
        data = {"event": "acknowledge_alarm", "code": code}
        self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data, self.clock.now())
        return True

    def reload_config(self, user: str, loaded: LoadedConfig) -> None:
        """An engineer's reload of an already checked config: every loop goes back to conventional control."""
        now = self.clock.now()
        old_loops = list(self.loops)
        self.fall_back(
            [n for n in old_loops if self.loops[n].state.mode is not LoopMode.FALLBACK], "config reload", now
        )
        self.plant = compile_plant(loaded.config)
        self.loops = {n: self.loops.get(n, LoopRuntime()) for n in loaded.config.loops}
        self.pending.clear()
        self.awaiting.clear()
        if self.config_file is not None:
            self.watch_config_file(loaded)
        data = {"file": str(loaded.path), "sha256": loaded.sha256, "plant": loaded.config.plant, "by": user}
        self._audit(AuditKind.CONFIG_LOAD, f"operator:{user}", data, now)

    def _change_mode(
        self, name: str, event: ModeEvent, reason: str, now: float, actor: str = GATEWAY
    ) -> LoopState | None:
        runtime = self.loops[name]
        before = runtime.state
        after = transition(before, event, reason)
        if after is None:
            return None
        runtime.state = after
        if after.mode is not before.mode:
            self._drop_pending(name)  # an AI write never carries into manual, nor an operator's into ai
        if after.mode not in REMOTE_MODES:
            runtime.remote_confirmed = False
            runtime.engaged_at = None
            runtime.engage_requested_at = None
        elif before.mode not in REMOTE_MODES:
            runtime.engage_requested_at = now
        if after.mode is LoopMode.FALLBACK and before.mode is not LoopMode.FALLBACK:
            self.counters.fallbacks += 1
            runtime.release_requested_at = None
        if after != before:
            data = {"loop": name, "from": _describe(before), "to": _describe(after), "reason": reason}
            self._audit(AuditKind.MODE_CHANGE, actor, data, now)
        return after

    def fall_back(self, loop_names: Sequence[str], reason: str, now: float) -> None:
        for name in loop_names:
            self._change_mode(name, ModeEvent.FALLBACK, reason, now)

    def _drop_pending(self, loop_name: str) -> None:
        sp = self.plant.config.loops[loop_name].sp
        self.pending.pop(sp, None)

    # ------------------------------------------------------------------------------------------ scan

    async def scan(self, now: float) -> None:
        """One cycle. Never raises: a failure in the cycle is itself a reason to fall back."""
        self.scans += 1
        self._forget_old_ids(now)
        try:
            await self._read(now)
            self._supervise_scan(now)
            await self._beat(now)
            await self._reconcile_modes(now)
            await self._apply_pending(now)
        except Exception as error:  # fail safe: unknown state means conventional control
            log.exception("scan failed")
            self.raise_alarm("SCAN_FAILURE", f"scan failed: {type(error).__name__}", "high", now)
            self.fall_back(self._ai_loops(), "scan failure", now)

    def _supervise_scan(self, now: float) -> None:
        up = {p for p, link in self.links.items() if link.is_connected}
        engaged = {n: r.engaged_at for n, r in self.loops.items() if r.engaged_at is not None}
        ai = {n for n, r in self.loops.items() if r.state.mode is LoopMode.AI and r.remote_confirmed}
        view = ScanView(self.current_snapshot(), engaged, ai, up, now, self.clock.monotonic())
        anomalies = on_scan(self.plant, self.monitors, view) + self._config_file_anomalies(now)
        self.act_on(anomalies, now)
        current = {f"{a.code.value}:{a.subject}" for a in anomalies}
        for code in (
            self._scan_alarms - current
        ):  # the condition is gone: the alarm clears (the fallback stays)
            self.clear_alarm(code)
        self._scan_alarms = current

    def watch_config_file(self, loaded: LoadedConfig) -> None:
        """Check the file this config came from; a change on disk without a reload is an anomaly."""
        self.config_file = loaded
        self.config_changed = None

    def _config_file_anomalies(self, now: float) -> list[Anomaly]:
        if self.config_file is None:
            return []
        if self.config_changed is None and now - self.config_checked_at >= CONFIG_CHECK_INTERVAL_S:
            self.config_checked_at = now
            try:
                digest = hashlib.sha256(self.config_file.path.read_bytes()).hexdigest()
            except OSError as error:
                digest = f"unreadable ({error.strerror})"
            if digest != self.config_file.sha256:
                self.config_changed = (
                    f"{self.config_file.path} changed on disk without a reload ({digest[:16]})"
                )
        if self.config_changed is None:
            return []
        return [Anomaly(AnomalyCode.CONFIG_CHANGED, "config", self.config_changed)]

    async def _read(self, now: float) -> None:
        values: dict[str, float] = {}
        bad: set[str] = set()
        up = False
        for plc_name, link in self.links.items():
            names = [n for n, t in self.plant.config.tags.items() if t.plc == plc_name]
            try:
                if not link.is_connected:
                    await link.connect()
                reading = await link.read(names)
            except FieldError as error:
                bad.update(names)
                self._link_lost(plc_name, str(error), now)
                continue
            up = True
            values.update(reading.values)
            bad.update(reading.bad)
            self.clear_alarm(f"PLC_LINK_LOST:{plc_name}")
        self.snapshot = Snapshot(now, values, frozenset(bad), up, self.loop_modes())

    def _link_lost(self, plc_name: str, detail: str, now: float) -> None:
        code = f"PLC_LINK_LOST:{plc_name}"
        if code not in self.alarms or not self.alarms[code].active:
            self._audit(
                AuditKind.ANOMALY,
                GATEWAY,
                {"anomaly": "plc_link_lost", "plc": plc_name, "detail": detail},
                now,
            )
        self.raise_alarm(code, f"PLC {plc_name} unreachable: {detail}", "high", now)
        loops = [
            n
            for n, loop in self.plant.config.loops.items()
            if self.plant.config.tags[loop.sp].plc == plc_name
        ]
        self.fall_back([n for n in loops if self.loops[n].state.mode is LoopMode.AI], "PLC link lost", now)

    async def _beat(self, now: float) -> None:
        """Beat the PLC watchdog every `heartbeat_period_s` (at most once per scan)."""
        if now - self.last_beat_at < self.plant.config.gateway.heartbeat_period_s - 1e-6:
            return
        self.last_beat_at = now
        self.heartbeat = (self.heartbeat + 1) % 65536
        for plc_name, plc in self.plant.config.plcs.items():
            link = self.links[plc_name]
            if link.is_connected:
                with contextlib.suppress(FieldError):  # a missed beat is the PLC watchdog's business
                    await link.write(plc.heartbeat_tag, float(self.heartbeat))

    async def _reconcile_modes(self, now: float) -> None:
        for name, runtime in self.loops.items():
            loop = self.plant.config.loops[name]
            plc_mode = self.snapshot.values.get(loop.mode)
            if plc_mode is None or loop.mode in self.snapshot.bad_quality:
                continue
            if runtime.state.mode in REMOTE_MODES:
                await self._hold_remote(name, loop, runtime, plc_mode, now)
            else:
                await self._hold_local(name, loop, runtime, plc_mode, now)

    async def _hold_remote(
        self, name: str, loop: Loop, runtime: LoopRuntime, plc_mode: float, now: float
    ) -> None:
        if plc_mode == PlcMode.REMOTE:
            if not runtime.remote_confirmed:
                runtime.remote_confirmed = True
                runtime.engaged_at = now
                readback = self.snapshot.values.get(loop.working_sp)
                if readback is not None:
                    on_engaged(self.plant, self.monitors, name, readback)
                self._audit(
                    AuditKind.MODE_CHANGE,
                    GATEWAY,
                    {"loop": name, "plc_mode": "REMOTE", "confirmed": True},
                    now,
                )
            return
        if runtime.remote_confirmed:
            # The PLC left REMOTE by itself: watchdog shed, panel operator, or restart. Never fight it.
            self.raise_alarm(f"REMOTE_LOST:{name}", f"PLC loop {name} left REMOTE", "high", now)
            self.fall_back([name], "PLC left REMOTE (operator override or shed)", now)
            return
        requested = runtime.engage_requested_at or now
        if now - requested > ENGAGE_DEADLINE_SCANS * self.plant.config.gateway.scan_interval_s:
            self.raise_alarm(
                f"ENGAGE_REFUSED:{name}", f"PLC loop {name} did not accept REMOTE", "medium", now
            )
            self.fall_back([name], "PLC did not confirm REMOTE", now)
            return
        await self._request_mode(loop, PlcMode.REMOTE, now)

    async def _hold_local(
        self, name: str, loop: Loop, runtime: LoopRuntime, plc_mode: float, now: float
    ) -> None:
        if plc_mode != PlcMode.REMOTE:
            if runtime.release_requested_at is not None:
                elapsed = now - runtime.release_requested_at
                data = {
                    "loop": name,
                    "plc_mode": PlcMode(int(plc_mode)).name,
                    "confirmed": True,
                    "after_s": elapsed,
                }
                self._audit(AuditKind.MODE_CHANGE, GATEWAY, data, now)
                self.clear_alarm(f"FALLBACK_UNCONFIRMED:{name}")
                runtime.release_requested_at = None
            return
        if runtime.release_requested_at is None:
            runtime.release_requested_at = now
        if (
            now - runtime.release_requested_at
            > FALLBACK_DEADLINE_SCANS * self.plant.config.gateway.scan_interval_s
        ):
            message = f"PLC loop {name} has not confirmed its local mode"
            self.raise_alarm(f"FALLBACK_UNCONFIRMED:{name}", message, "high", now)
        if await self._ramp_to_safe_value(loop, now):
            return  # still in REMOTE, walking the setpoint to the safe value before releasing
        await self._request_mode(loop, PlcMode.AUTO, now)

    async def _ramp_to_safe_value(self, loop: Loop, now: float) -> bool:
        """The `safe_value` fallback policy: one legal ramp step toward the safe setpoint per scan.

        Returns False when there is nothing (more) to ramp and the loop can be released to local control.
        If the gateway dies mid-ramp, the PLC watchdog sheds the loop anyway.
        """
        rules = self.plant.config.tags[loop.sp].setpoint
        readback = self.snapshot.values.get(loop.working_sp)
        if rules is None or rules.fallback.safe_value is None or readback is None:
            return False
        target = rules.fallback.safe_value
        if abs(readback - target) <= rules.deadband:
            return False
        plan = plan_ramp(readback, target, rules, self.plant.write_period_s, readback)
        if not plan:
            return False
        tag = self.plant.config.tags[loop.sp]
        self._audit(
            AuditKind.PLC_WRITE, GATEWAY, {"tag": loop.sp, "value": plan[0], "fallback": "safe_value"}, now
        )
        try:
            await self.links[tag.plc].write(loop.sp, plan[0])
        except FieldError:
            return False  # cannot ramp: release to local control now
        return True

    async def _request_mode(self, loop: Loop, mode: PlcMode, now: float) -> None:
        link = self.links[self.plant.config.tags[loop.mode_request].plc]
        with contextlib.suppress(FieldError):  # retried next scan; the PLC watchdog is the backstop
            await link.write(loop.mode_request, float(mode))

    async def _apply_pending(self, now: float) -> None:
        snapshot, history = self.current_snapshot(), self.history()
        settings = self.plant.config.gateway
        budget = max(1, int(settings.max_plc_writes_per_s * settings.scan_interval_s))
        for tag_name, pending in list(self.pending.items()):
            if budget == 0:
                break  # the global write cap: the rest wait for the next scan, oldest first
            if pending.operator is None:
                decision = revalidate(pending.proposal, snapshot, self.plant, history, now)
            else:
                decision = validate_operator_setpoint(pending.proposal, snapshot, self.plant, history, now)
            if decision.codes == (ReasonCode.NO_CHANGE,):  # the setpoint is where it was asked to go
                del self.pending[tag_name]
                continue
            if not decision.is_write or decision.value is None:
                if ReasonCode.WRITE_TOO_FREQUENT not in decision.codes:  # wait for the next scan
                    del self.pending[tag_name]
                    self._audit(
                        AuditKind.DECISION, GATEWAY, {**_decision_data(decision), "revalidation": True}, now
                    )
                continue
            await self._write_setpoint(tag_name, decision.value, pending, now)
            budget -= 1
            if decision.verdict is Verdict.ACCEPTED:
                self.pending.pop(tag_name, None)

    async def _write_setpoint(self, tag_name: str, value: float, pending: PendingWrite, now: float) -> None:
        tag = self.plant.config.tags[tag_name]
        loop_name, loop = self.plant.loop_by_setpoint[tag_name]
        previous = self.snapshot.values[loop.working_sp]
        data = {
            "tag": tag_name,
            "value": value,
            "proposal_id": pending.proposal.id,
            "decision_seq": pending.decision_seq,
        }
        if self._audit(AuditKind.PLC_WRITE, GATEWAY, data, now) < 0:
            return  # nothing reaches a PLC that the trail has not recorded
        try:
            readback = await self.links[tag.plc].write(tag_name, value)
        except (FieldError, LinkDown) as error:
            self._write_failed(loop_name, tag_name, value, f"write failed: {error}", now)
            return
        if abs(readback - value) > readback_tolerance(value, tag.type, tag.scale) + 1e-9:
            self._write_failed(
                loop_name, tag_name, value, f"read-back {readback:g} differs from {value:g}", now
            )
            return
        self.writes.setdefault(tag_name, deque()).append(WriteEvent(now, value, previous))
        self._prune_writes(tag_name, now)
        self._audit(
            AuditKind.WRITE_CONFIRMED, GATEWAY, {"tag": tag_name, "value": value, "readback": readback}, now
        )

    def _write_failed(self, loop_name: str, tag_name: str, value: float, detail: str, now: float) -> None:
        self.pending.pop(tag_name, None)
        self._audit(AuditKind.WRITE_FAILED, GATEWAY, {"tag": tag_name, "value": value, "detail": detail}, now)
        self.raise_alarm(f"WRITE_UNCONFIRMED:{tag_name}", f"{tag_name}: {detail}", "high", now)
        self.fall_back([loop_name], f"write not confirmed: {detail}", now)

    def _prune_writes(self, tag_name: str, now: float) -> None:
        events = self.writes[tag_name]
        while events and now - events[0].at > WRITE_HISTORY_S:
            events.popleft()

    def _forget_old_ids(self, now: float) -> None:
        """Ids older than the replay window are refused as STALE anyway; forgetting them bounds memory."""
        horizon = now - self.plant.config.gateway.replay_window_s
        while self.seen_ids:
            oldest_id, seen_at = next(iter(self.seen_ids.items()))
            if seen_at >= horizon:
                break
            del self.seen_ids[oldest_id]

    def _ai_loops(self) -> list[str]:
        return [name for name, runtime in self.loops.items() if runtime.state.mode is LoopMode.AI]

    # ------------------------------------------------------------------------------------------ alarms, audit

    def raise_alarm(self, code: str, message: str, priority: str, now: float) -> bool:
        """Raise or count up an alarm; a newly active one is audited (repeats are counted, not recorded)."""
        if not self.alarms.raise_(code, message, priority, now):
            return False
        self._audit(AuditKind.ALARM, GATEWAY, {"code": code, "message": message, "priority": priority}, now)
        return True

    def clear_alarm(self, code: str) -> None:
        self.alarms.clear(code)

    def act_on(self, anomalies: Sequence[Anomaly], now: float) -> None:
        """Alarm, quarantine and fall back for each anomaly; the trail gets each condition once."""
        for anomaly in anomalies:
            code = f"{anomaly.code.value}:{anomaly.subject}"
            priority = "high" if anomaly.fallback else "medium"
            if self.raise_alarm(code, anomaly.detail, priority, now):
                data = {"anomaly": anomaly.code.value, "subject": anomaly.subject, "detail": anomaly.detail}
                self._audit(AuditKind.ANOMALY, GATEWAY, data, now)
            if anomaly.quarantine and anomaly.subject not in self.quarantined:
                self.quarantined.add(anomaly.subject)
                self._audit(
                    AuditKind.ANOMALY,
                    GATEWAY,
                    {"quarantined": anomaly.subject, "because": anomaly.code.value},
                    now,
                )
            if anomaly.fallback:
                loops = [
                    n for n in affected_loops(self.plant, anomaly) if self.loops[n].state.mode in REMOTE_MODES
                ]
                self.fall_back(loops, f"{anomaly.code.value}: {anomaly.detail}", now)

    def record_operator_event(self, user: str, kind: str, data: dict[str, Any]) -> bool:
        """An operator event with no effect on the plant (login, logout, a refused login) into the trail.

        False when the trail cannot record; the gateway has then already closed the AI path."""
        return self._audit(kind, f"operator:{user}", data, self.clock.now()) >= 0

    def record_engine_read(self, engine: str, data: dict[str, Any]) -> bool:
        """An engine's read of the plant (for engines configured with `audit_reads`) into the trail.

        False when the trail cannot record; the gateway has then already closed the AI path."""
        return self._audit(AuditKind.ENGINE_READ, f"engine:{engine}", data, self.clock.now()) >= 0

    def recover(self) -> int:
        """After a start: remember the recommendation ids of the replay window from the trail, so a
        recommendation answered before a crash or restart is still refused as a replay. Returns how many."""
        now = self.clock.now()
        horizon = now - self.plant.config.gateway.replay_window_s
        for record in self.audit.records(self.audit.first_seq_since(horizon)):
            if record.kind == AuditKind.RECOMMENDATION and isinstance(record.data.get("id"), str):
                self.seen_ids[str(record.data["id"])] = record.at
        return len(self.seen_ids)

    def heartbeat_from(self, engine: str) -> None:
        """An engine's heartbeat: alive, nothing to propose (no audit record: it changes nothing)."""
        on_heartbeat(self.monitors, engine, self.clock.now())

    def note_refusal(self, engine: str) -> None:
        """An engine's request refused for its rate (HTTP 429): floods are an anomaly of their own."""
        on_refusal(self.plant, self.monitors, engine, self.clock.now())

    def _audit(self, kind: str, actor: str, data: dict[str, Any], now: float) -> int:
        """Record one entry; -1 when the trail cannot (the gateway has then closed the AI path)."""
        seqs = self._audit_many([(kind, actor, data)], now)
        return seqs[0] if seqs else -1

    def _audit_many(self, entries: list[tuple[str, str, dict[str, Any]]], now: float) -> list[int] | None:
        """Record entries in one durable transaction; None when the trail cannot."""
        if self.audit_failed:
            return None
        try:
            records = self.audit.append_many(
                [AuditEntry(kind, actor, data, now) for kind, actor, data in entries]
            )
        except AuditStoreError as error:
            self._audit_failure(str(error), now)
            return None
        return [record.seq for record in records]

    def _audit_failure(self, detail: str, now: float) -> None:
        """Without a trail the AI path is closed: every loop back to conventional control."""
        self.audit_failed = True
        self.alarms.raise_("AUDIT_FAILURE", f"audit trail unavailable: {detail}", "high", now)
        for runtime in self.loops.values():
            runtime.state = LoopState(LoopMode.FALLBACK, True, "audit trail unavailable")
        self.pending.clear()


def _describe(state: LoopState) -> str:
    return f"{state.mode.value}{' (latched)' if state.latched else ''}"


def _recommendation_data(proposal: Proposal, rationale: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": proposal.id,
        "tag": proposal.tag,
        "value": proposal.value if math.isfinite(proposal.value) else repr(proposal.value),
        "issued_at": proposal.issued_at,
        "model_digest": proposal.model_digest,
    }
    if rationale is not None:
        data["rationale"] = rationale  # untrusted text, stored as received and never interpreted
    return data


def _decision_data(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.proposal_id,
        "tag": decision.tag,
        "decision": decision.verdict.value,
        "reasons": [{"code": r.code.value, "detail": r.detail} for r in decision.reasons],
        "value": decision.value,
        "ramp_steps": len(decision.ramp),
    }
