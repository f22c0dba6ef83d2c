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
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from otgate.audit_store import AuditStore, AuditStoreError
from otgate.autonomy.ledger import Ledger
from otgate.clock import Clock
from otgate.config_file import LoadedConfig
from otgate.core.alarms import AlarmBoard
from otgate.core.approval import ApprovalOutcome, AwaitingApproval, judge
from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.clock_offset import ClockOffset, applied_offset, estimate_offset, is_skewed, observe_arrival
from otgate.core.codec import is_confirmed
from otgate.core.config import Loop
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.envelope_guard import check_envelope
from otgate.core.handshake import Action, PlcState, next_action, plc_state
from otgate.core.loop_response import check_loop_response
from otgate.core.modes import Direction, LoopMode, LoopState, ModeEvent, PlcMode, direction, transition
from otgate.core.monitors import Anomaly, AnomalyCode, MonitorStates
from otgate.core.plant import Plant, compile_plant
from otgate.core.process_memory import ProcessMemory
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.supervision import (
    ScanView,
    affected_loops,
    on_answers,
    on_engaged,
    on_heartbeat,
    on_quarantine_lifted,
    on_refusal,
    on_scan,
)
from otgate.core.validation import WriteSource, judge_write, validate, validate_operator_setpoint
from otgate.field.link import FieldError, FieldLink

log = logging.getLogger(__name__)

GATEWAY = "gateway"
ENGAGE_DEADLINE_SCANS = 5  # the PLC must confirm REMOTE within this many scans of an engage
FALLBACK_DEADLINE_SCANS = 3  # the PLC must confirm its local mode within this many scans of a fallback
CONFIG_CHECK_INTERVAL_S = 10.0  # how often the config file's hash is compared with the loaded one
# Modes in which the gateway holds the PLC loop in REMOTE: the AI's setpoints, or an operator's own.
REMOTE_MODES = frozenset({LoopMode.AI, LoopMode.MANUAL})
# Approval answers after which the proposal stays queued (a wrong digest, or a dual approval's first half).
KEEP_QUEUED = frozenset(
    {ApprovalOutcome.MISMATCH, ApprovalOutcome.NEEDS_ANOTHER, ApprovalOutcome.SAME_OPERATOR}
)


class AuditUnavailable(Exception):
    """The trail cannot record: the AI path fails closed (HTTP 503) until it can."""


@dataclass(frozen=True)
class WriteIntent:
    """A setpoint write waiting for the write gate (a ramp takes one step per scan): what, for whom,
    the trail record that decided it, and the config generation it was decided under."""

    proposal: Proposal
    decision_seq: int
    source: WriteSource
    generation: int


class GateResult(StrEnum):
    WRITTEN = "written"  # written and confirmed by read-back
    WAITING = "waiting"  # not yet: the minimum write interval has not passed
    DONE = "done"  # nothing (more) to write: the setpoint is where it was asked to go
    REFUSED = "refused"  # the gate refused it; recorded, and the intent is gone
    FAILED = "failed"  # sent but not confirmed: the loop has fallen back


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
        self.engine_clocks: dict[str, ClockOffset] = {}  # per engine: its timestamps against arrival
        self.wall_suspect = False  # the wall clock stepped; no engine has agreed with it since
        self.pending: dict[str, WriteIntent] = {}  # per setpoint tag, oldest first
        self.generation = 0  # config generation: a reload makes every earlier decision void
        self.awaiting: dict[str, AwaitingApproval] = {}
        self.alarms = AlarmBoard()
        self.monitors = MonitorStates()
        self.memory = ProcessMemory(plant)  # recent samples for the look-ahead
        self.outside_envelope: dict[str, float] = {}  # enveloped variable -> since when it is outside
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
        self.ledger = Ledger(plant, self._audit, self.raise_alarm, self.clear_alarm)  # docs/AUTONOMY.md
        self.ledger.on_demoted = self._drop_engine_pending

    # ------------------------------------------------------------------------------------------ views

    def loop_modes(self) -> dict[str, LoopMode]:
        return {name: runtime.state.mode for name, runtime in self.loops.items()}

    def current_snapshot(self) -> Snapshot:
        s = self.snapshot
        queued = self._queued_moves() if s.forecast is not None else {}
        return replace(s, loop_modes=self.loop_modes(), queued=queued)

    def _queued_moves(self) -> dict[str, float]:
        """Per setpoint: moves decided but not yet in this scan's readings (queued writes and ramps of every
        engine and operator, and writes made since the read), so no two can jointly do what neither may."""
        values, taken_at = self.snapshot.values, self.snapshot.taken_at
        queued: dict[str, float] = {}
        for tag, intent in self.pending.items():
            readback = values.get(self.plant.loop_by_setpoint[tag][1].working_sp)
            if readback is not None:
                queued[tag] = intent.proposal.value - readback
        for tag, events in self.writes.items():
            for event in reversed(events):
                if event.at <= taken_at:
                    break
                queued[tag] = queued.get(tag, 0.0) + event.value - event.previous
        return queued

    def history(self) -> History:
        return History(self.seen_ids.keys(), self.writes, self.quarantined)

    # ------------------------------------------------------------------------------------------ AI side

    def submit(self, proposals: Sequence[Proposal], rationales: Sequence[str | None] = ()) -> list[Answer]:
        """Decide a batch, make every decision durable in the trail, then schedule the writes."""
        if self.audit_failed:
            raise AuditUnavailable
        now, wall = self.clock.monotonic(), self.clock.now()
        proposals = [self._on_engine_timeline(p) for p in proposals]
        snapshot, history = self.current_snapshot(), self.history()
        decisions = []
        batch_ids: set[str] = set()
        for proposal in proposals:  # an id repeated inside one batch is a replay of its first use
            seen = replace(history, seen_ids=batch_ids) if proposal.id in batch_ids else history
            decisions.append(self._decide(proposal, snapshot, seen, now, wall))
            batch_ids.add(proposal.id)
        texts = [*rationales, *[None] * (len(proposals) - len(rationales))]
        entries: list[tuple[str, str, dict[str, Any]]] = []
        for proposal, decision, text in zip(proposals, decisions, texts, strict=True):
            entries.append(
                (AuditKind.RECOMMENDATION, f"engine:{proposal.engine}", _recommendation_data(proposal, text))
            )
            entries.append((AuditKind.DECISION, GATEWAY, _decision_data(decision)))
        records = self._audit_many(entries)
        if records is None:
            raise AuditUnavailable
        self._observe_engine_clocks(proposals)
        self._supervise_answers(proposals, decisions, now)
        answers = []
        for proposal, decision, text, record in zip(proposals, decisions, texts, records[1::2], strict=True):
            self.seen_ids[proposal.id] = now
            self.ledger.record(proposal, decision, record, now)
            self._count(decision)
            if decision.is_write:
                self._queue(WriteIntent(proposal, record, WriteSource.AI, self.generation))
            elif decision.verdict is Verdict.PENDING_APPROVAL:
                self._await_approval(AwaitingApproval(proposal, text, now, record), now)
            answers.append(Answer(decision, record))
        return answers

    def _await_approval(self, item: AwaitingApproval, now: float) -> None:
        self.awaiting[item.proposal.id] = item
        while len(self.awaiting) > self.plant.config.gateway.max_awaiting_approval:
            oldest = next(iter(self.awaiting))
            del self.awaiting[oldest]
            self.ledger.forget(oldest)
            self._audit(
                AuditKind.APPROVAL, GATEWAY, {"id": oldest, "outcome": "expired", "why": "queue full"}
            )

    def _supervise_answers(
        self, proposals: Sequence[Proposal], decisions: Sequence[Decision], now: float
    ) -> None:
        by_engine: dict[str, list[tuple[Proposal, Decision]]] = {}
        for proposal, decision in zip(proposals, decisions, strict=True):
            by_engine.setdefault(proposal.engine, []).append((proposal, decision))
            if decision.verdict is Verdict.REJECTED and decision.codes != (ReasonCode.NO_CHANGE,):
                # One alarm per engine that counts its rejections: 500 rejections, one alarm.
                self.raise_alarm(f"REJECTIONS:{proposal.engine}", "recommendations rejected", "low")
        time_codes = {ReasonCode.STALE, ReasonCode.FUTURE}
        if any(not time_codes & set(d.codes) for d in decisions):
            self.wall_suspect = False  # an engine's timestamps agree with the wall clock again
        for engine, answers in by_engine.items():
            # A time-judgement refusal blames the engine only when the gateway's own wall clock is trusted.
            skewed = self.wall_suspect or is_skewed(
                self.engine_clock_offset(engine), self.plant.config.gateway.clock_skew_tolerance_s
            )
            self.act_on(on_answers(self.plant, self.monitors, engine, answers, now, clock_skewed=skewed), now)

    # ------------------------------------------------------------------------------------------ engine clocks

    def engine_clock_offset(self, engine: str) -> float | None:
        """The engine's measured steady clock offset in seconds (positive: behind), None if not known."""
        config = self.plant.config.engines.get(engine)
        state = self.engine_clocks.get(engine)
        if config is None or state is None:
            return None
        return estimate_offset(state, config.stale_after_s)

    def _on_engine_timeline(self, proposal: Proposal) -> Proposal:
        """The proposal with the offset known before it arrived (a batch never vouches for itself)."""
        settings = self.plant.config.gateway
        offset = applied_offset(
            self.engine_clock_offset(proposal.engine),
            settings.clock_skew_tolerance_s,
            settings.engine_clock_offset_tolerance_s,
        )
        return replace(proposal, clock_offset_s=offset) if offset else proposal

    def _observe_engine_clocks(self, proposals: Sequence[Proposal]) -> None:
        wall = self.clock.now()  # timestamps are judged on the wall clock
        for proposal in proposals:
            state = self.engine_clocks.get(proposal.engine, ClockOffset())
            self.engine_clocks[proposal.engine] = observe_arrival(state, proposal.issued_at, wall)
        for engine in dict.fromkeys(p.engine for p in proposals):
            self._judge_engine_clock(engine, self.clock.monotonic())

    def _judge_engine_clock(self, engine: str, now: float) -> None:
        """One ENGINE_CLOCK_SKEW alarm naming the offset while the engine's clock is off; cleared when not."""
        if engine not in self.plant.config.engines:
            return
        settings = self.plant.config.gateway
        offset = self.engine_clock_offset(engine)
        code = f"{AnomalyCode.ENGINE_CLOCK_SKEW.value}:{engine}"
        if offset is None or not is_skewed(offset, settings.clock_skew_tolerance_s):
            if offset is not None and self.alarms.is_active(code):
                self.clear_alarm(code)
            return
        tolerance = settings.engine_clock_offset_tolerance_s
        side = "behind" if offset > 0 else "ahead of"
        detail = f"engine clock {abs(offset):.1f} s {side} the gateway's ({offset:+.1f} s)"
        within = abs(offset) <= tolerance
        if within:
            detail += f"; within {tolerance:g} s, so its timestamps are judged on its own timeline: fix its time sync"
        else:
            detail += f"; beyond {tolerance:g} s, so its recommendations are refused STALE/FUTURE"
        self.act_on([Anomaly(AnomalyCode.ENGINE_CLOCK_SKEW, engine, detail, fallback=not within)], now)

    def _decide(
        self, proposal: Proposal, snapshot: Snapshot, history: History, now: float, wall: float
    ) -> Decision:
        try:
            return self.ledger.decide(
                proposal,
                snapshot,
                lambda view: validate(proposal, view, self.plant, history, now, wall=wall),
                now,
            )
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
        """Apply an operator's mode change to each loop; returns each loop's outcome.

        Raises AuditUnavailable when the trail could not record it: toward-safety changes have then
        taken effect anyway, changes away from conventional control have not."""
        now = self.clock.monotonic()
        outcome = {}
        for name in loop_names:
            before = self.loops[name].state
            after = self._change_mode(name, event, f"{user}: {reason}", now, actor=f"operator:{user}")
            outcome[name] = after.mode.value if after is not None else f"refused from {_describe(before)}"
        data = {"event": event.value, "loops": list(loop_names), "reason": reason, "outcome": outcome}
        if self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data) < 0:
            raise AuditUnavailable
        return outcome

    def is_toward_safety(self, loop_names: Sequence[str], event: ModeEvent) -> bool:
        """Whether `event` takes every one of these loops toward conventional control (lock-out rule)."""
        return all(direction(self.loops[n].state, event) is Direction.TOWARD_SAFETY for n in loop_names)

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
        data = {**_decision_data(decision), "requested": value if math.isfinite(value) else repr(value)}
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
        if not self.alarms.acknowledge(code, user):
            return False
        data = {"event": "acknowledge_alarm", "code": code}
        self._audit(AuditKind.OPERATOR_ACTION, f"operator:{user}", data)
        return True

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

    # ------------------------------------------------------------------------------------------ mode authority

    def _change_mode(
        self, name: str, event: ModeEvent, reason: str, now: float, actor: str = GATEWAY
    ) -> LoopState | None:
        """The one place a loop's mode changes: the table decides, the trail records, then it happens.

        A change away from conventional control happens only once recorded; a change toward safety
        happens even when the trail cannot record it (the trail failure has closed the AI path anyway)."""
        runtime = self.loops[name]
        before = runtime.state
        after = transition(before, event, reason)
        if after is None:
            return None
        if after != before:
            data = {"loop": name, "from": _describe(before), "to": _describe(after), "reason": reason}
            recorded = self._audit(AuditKind.MODE_CHANGE, actor, data) >= 0
            if not recorded and direction(before, event) is Direction.AWAY:
                return None
        self._enter(name, after, now)
        return after

    def _enter(self, name: str, after: LoopState, now: float) -> None:
        runtime = self.loops[name]
        before = runtime.state
        runtime.state = after
        if after.mode is not before.mode:
            self._drop_pending(name)  # an AI write never carries into manual, nor an operator's into ai
            # Every new remote mode is a new engagement: the PLC confirms it again and the monitors
            # re-baseline (manual -> ai must not inherit the drift reference of before the manual spell).
            runtime.remote_confirmed = False
            runtime.engaged_at = None
            runtime.engage_requested_at = now if after.mode in REMOTE_MODES else None
        if after.mode is LoopMode.FALLBACK and before.mode is not LoopMode.FALLBACK:
            self.counters.fallbacks += 1
            runtime.release_requested_at = None

    def fall_back(self, loop_names: Sequence[str], reason: str, now: float) -> None:
        for name in loop_names:
            self._change_mode(name, ModeEvent.FALLBACK, reason, now)

    def _drop_pending(self, loop_name: str) -> None:
        sp = self.plant.config.loops[loop_name].sp
        self.pending.pop(sp, None)

    def _drop_engine_pending(self, loop_name: str, engine: str) -> None:
        """A demoted engine's queued writes and approvals on the loop go: demotion takes effect at once."""
        sp = self.plant.config.loops[loop_name].sp
        intent = self.pending.get(sp)
        if (
            intent is not None
            and intent.source is not WriteSource.OPERATOR
            and intent.proposal.engine == engine
        ):
            del self.pending[sp]
        for pid in [
            i for i, a in self.awaiting.items() if a.proposal.engine == engine and a.proposal.tag == sp
        ]:
            del self.awaiting[pid]
            self.ledger.forget(pid)
            data = {"id": pid, "outcome": "withdrawn", "why": "engine demoted"}
            self._audit(AuditKind.APPROVAL, GATEWAY, data)

    # ------------------------------------------------------------------------------------------ scan

    async def scan(self, now: float) -> None:
        """One cycle at monotonic time `now`. Never raises: a failure in the cycle is itself a reason to
        fall back. Every duration the gateway keeps runs on this time base; records and alarms are
        stamped with the wall clock, which a step (NTP, an operator's date change) cannot pause."""
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
            self.raise_alarm("SCAN_FAILURE", f"scan failed: {type(error).__name__}", "high")
            self.fall_back(self._remote_loops(), "scan failure", now)

    def _supervise_scan(self, now: float) -> None:
        up = {p for p, link in self.links.items() if link.is_connected}
        engaged = {n: r.engaged_at for n, r in self.loops.items() if r.engaged_at is not None}
        ai = {n for n, r in self.loops.items() if r.state.mode is LoopMode.AI and r.remote_confirmed}
        view = ScanView(self.current_snapshot(), engaged, ai, up, wall=self.clock.now(), monotonic=now)
        snapshot = self.snapshot
        envelope = check_envelope(
            self.plant, self.outside_envelope, snapshot.values, snapshot.bad_quality, snapshot.forecast, now
        )
        judged = sorted(ai) if self.plant.config.prediction.loop_response else []
        response = check_loop_response(self.plant, self.memory.samples, judged, now)
        anomalies = on_scan(self.plant, self.monitors, view) + self._config_file_anomalies(now) + envelope
        anomalies += response
        if any(a.code is AnomalyCode.CLOCK_JUMP for a in anomalies):
            # The gateway's own wall clock stepped: every engine's measured offset is against the old
            # time, and a STALE/FUTURE refusal says nothing about an engine until clocks agree again.
            self.wall_suspect = True
            self.engine_clocks.clear()
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
        self.memory.observe(values, bad, now)
        forecast = self.memory.forecast(values, bad, now)
        self.snapshot = Snapshot(
            now, values, frozenset(bad), up, self.loop_modes(), forecast, stamped_at=self.clock.now()
        )

    def _link_lost(self, plc_name: str, detail: str, now: float) -> None:
        code = f"PLC_LINK_LOST:{plc_name}"
        if code not in self.alarms or not self.alarms[code].active:
            self._audit(
                AuditKind.ANOMALY, GATEWAY, {"anomaly": "plc_link_lost", "plc": plc_name, "detail": detail}
            )
        self.raise_alarm(code, f"PLC {plc_name} unreachable: {detail}", "high")
        tags = self.plant.config.tags
        loops = [
            n
            for n, loop in self.plant.config.loops.items()
            if plc_name in {tags[t].plc for t in (loop.sp, loop.working_sp, loop.mode, loop.mode_request)}
        ]
        self.fall_back([n for n in loops if self.loops[n].state.mode in REMOTE_MODES], "PLC link lost", now)

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

    # ------------------------------------------------------------------------------------------ handshake

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

    # ------------------------------------------------------------------------------------------ write gate

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
            self._audit(AuditKind.DECISION, GATEWAY, {**_decision_data(decision), "revalidation": True})
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

    def _forget_old_ids(self, now: float) -> None:
        """Ids older than the replay window are refused as STALE anyway; forgetting them bounds memory."""
        horizon = now - self.plant.config.gateway.replay_window_s
        while self.seen_ids:
            oldest_id, seen_at = next(iter(self.seen_ids.items()))
            if seen_at >= horizon:
                break
            del self.seen_ids[oldest_id]

    def _remote_loops(self) -> list[str]:
        """Loops the gateway holds in REMOTE at the PLC: the AI's, and the operators' manual ones."""
        return [name for name, runtime in self.loops.items() if runtime.state.mode in REMOTE_MODES]

    # ------------------------------------------------------------------------------------------ alarms, audit

    def raise_alarm(self, code: str, message: str, priority: str) -> bool:
        """Raise or count up an alarm (stamped with the wall clock, for people); a newly active one is
        audited (repeats are counted, not recorded)."""
        if not self.alarms.raise_(code, message, priority, self.clock.now()):
            return False
        self._audit(AuditKind.ALARM, GATEWAY, {"code": code, "message": message, "priority": priority})
        return True

    def clear_alarm(self, code: str) -> None:
        self.alarms.clear(code)

    def act_on(self, anomalies: Sequence[Anomaly], now: float) -> None:
        """Alarm, quarantine and fall back for each anomaly; the trail gets each condition once."""
        for anomaly in anomalies:
            code = f"{anomaly.code.value}:{anomaly.subject}"
            priority = "high" if anomaly.fallback else "medium"
            if self.raise_alarm(code, anomaly.detail, priority):
                data = {"anomaly": anomaly.code.value, "subject": anomaly.subject, "detail": anomaly.detail}
                self._audit(AuditKind.ANOMALY, GATEWAY, data)
                self.ledger.on_anomaly(anomaly.subject, anomaly.code.value, now)
            if anomaly.quarantine and anomaly.subject not in self.quarantined:
                self.quarantined.add(anomaly.subject)
                self._audit(
                    AuditKind.ANOMALY,
                    GATEWAY,
                    {"quarantined": anomaly.subject, "because": anomaly.code.value},
                )
            if anomaly.fallback:
                loops = [
                    n for n in affected_loops(self.plant, anomaly) if self.loops[n].state.mode in REMOTE_MODES
                ]
                self.fall_back(loops, f"{anomaly.code.value}: {anomaly.detail}", now)

    def record_operator_event(self, user: str, kind: str, data: dict[str, Any]) -> bool:
        """An operator event with no effect on the plant (login, logout, a refused login) into the trail.

        False when the trail cannot record; the gateway has then already closed the AI path."""
        return self._audit(kind, f"operator:{user}", data) >= 0

    def record_engine_read(self, engine: str, data: dict[str, Any]) -> bool:
        """An engine's read of the plant (for engines configured with `audit_reads`) into the trail.

        False when the trail cannot record; the gateway has then already closed the AI path."""
        return self._audit(AuditKind.ENGINE_READ, f"engine:{engine}", data) >= 0

    def recover(self) -> int:
        """After a start: remember the recommendation ids of the replay window from the trail, so a
        recommendation answered before a crash or restart is still refused as a replay. Returns how many.

        The trail is stamped with the wall clock; each id's receipt is carried over to this process's
        monotonic time by its age, so it is forgotten when the window after its receipt has passed."""
        wall, now = self.clock.now(), self.clock.monotonic()
        horizon = wall - self.plant.config.gateway.replay_window_s
        for record in self.audit.records(self.audit.first_seq_since(horizon)):
            if record.kind == AuditKind.RECOMMENDATION and isinstance(record.data.get("id"), str):
                self.seen_ids[str(record.data["id"])] = now - max(0.0, wall - record.at)
        return len(self.seen_ids)

    def heartbeat_from(self, engine: str, sent_at: float | None = None) -> None:
        """An engine's heartbeat: alive, nothing to propose (no audit record: it changes nothing).
        With `sent_at` (the engine's clock), it also measures the engine's clock offset."""
        on_heartbeat(self.monitors, engine, self.clock.monotonic())
        if sent_at is not None:
            state = self.engine_clocks.get(engine, ClockOffset())
            self.engine_clocks[engine] = observe_arrival(state, sent_at, self.clock.now())
            self._judge_engine_clock(engine, self.clock.monotonic())

    def note_refusal(self, engine: str) -> None:
        """An engine's request refused for its rate (HTTP 429): floods are an anomaly of their own."""
        on_refusal(self.plant, self.monitors, engine, self.clock.monotonic())

    def _audit(self, kind: str, actor: str, data: dict[str, Any]) -> int:
        """Record one entry; -1 when the trail cannot (the gateway has then closed the AI path)."""
        seqs = self._audit_many([(kind, actor, data)])
        return seqs[0] if seqs else -1

    def _audit_many(self, entries: list[tuple[str, str, dict[str, Any]]]) -> list[int] | None:
        """Record entries in one durable transaction, stamped with the wall clock; None when the trail cannot."""
        if self.audit_failed:
            return None
        at = self.clock.now()
        try:
            records = self.audit.append_many(
                [AuditEntry(kind, actor, data, at) for kind, actor, data in entries]
            )
        except AuditStoreError as error:
            self._audit_failure(str(error))
            return None
        return [record.seq for record in records]

    def _audit_failure(self, detail: str) -> None:
        """Without a trail the AI path is closed: every loop back to conventional control."""
        self.audit_failed = True
        now = self.clock.monotonic()
        self.alarms.raise_("AUDIT_FAILURE", f"audit trail unavailable: {detail}", "high", self.clock.now())
        for name, runtime in self.loops.items():
            after = transition(runtime.state, ModeEvent.FALLBACK, "audit trail unavailable")
            if after is not None:  # the table always allows fallback; unrecorded, as the trail is down
                self._enter(name, after, now)
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
    if proposal.clock_offset_s:
        data["clock_offset_s"] = proposal.clock_offset_s  # judged on the engine's timeline, shifted by this
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
    } | _oversight_data(decision)


def _oversight_data(decision: Decision) -> dict[str, Any]:
    """Earned autonomy's additions, only when it applied (records of loops without a policy are as before)."""
    data: dict[str, Any] = {}
    if decision.would_be is not None:
        data["would_be"] = decision.would_be.value
    if decision.risk is not None:
        data["risk"] = decision.risk
    if decision.approvals_required:
        data["approvals_required"] = decision.approvals_required
    return data
