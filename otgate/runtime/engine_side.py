"""The AI side: deciding engines' recommendations, their heartbeats, clocks and reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from otgate.audit.store import AuditStoreError
from otgate.core.approval import AwaitingApproval
from otgate.core.audit_chain import AuditKind
from otgate.core.clock_offset import ClockOffset, applied_offset, estimate_offset, is_skewed, observe_arrival
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.monitors import Anomaly, AnomalyCode
from otgate.core.proposal import History, Proposal, Snapshot
from otgate.core.replay import decision_inputs
from otgate.core.supervision import (
    on_answers,
    on_heartbeat,
    on_refusal,
)
from otgate.core.validation import WriteSource, validate
from otgate.runtime.intent import WriteIntent
from otgate.runtime.records import decision_data, recommendation_data
from otgate.runtime.scan_cycle import ScanCycle
from otgate.runtime.state import GATEWAY, Answer, AuditUnavailable

MAX_ANSWERS = 10_000  # answers engines may read back by id (a few MB); older ones are in the trail

log = logging.getLogger(__name__)


class EngineSide(ScanCycle):
    """Recommendations in, decisions out; engines' heartbeats, clocks and reads."""

    def submit(self, proposals: Sequence[Proposal], rationales: Sequence[str | None] = ()) -> list[Answer]:
        """Decide a batch, make every decision durable in the trail, then schedule the writes."""
        if self.audit_failed:
            raise AuditUnavailable
        now, wall = self.clock.monotonic(), self.clock.now()
        proposals = [self._on_engine_timeline(p) for p in proposals]
        snapshot, history = self.current_snapshot(), self.history()
        decisions, inputs = [], []
        batch_ids: set[str] = set()
        for proposal in proposals:  # an id repeated inside one batch is a replay of its first use
            seen = replace(history, seen_ids=batch_ids) if proposal.id in batch_ids else history
            decisions.append(self._decide(proposal, snapshot, seen, now, wall))
            # What validate read goes with the decision, so a candidate config can be replayed on it (MOC).
            inputs.append(decision_inputs(proposal, snapshot, seen, now, wall))
            batch_ids.add(proposal.id)
        texts = [*rationales, *[None] * (len(proposals) - len(rationales))]
        entries: list[tuple[str, str, dict[str, Any]]] = []
        for proposal, decision, text, used in zip(proposals, decisions, texts, inputs, strict=True):
            entries.append(
                (AuditKind.RECOMMENDATION, f"engine:{proposal.engine}", recommendation_data(proposal, text))
            )
            entries.append((AuditKind.DECISION, GATEWAY, {**decision_data(decision), "inputs": used}))
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
            self._remember_answer(proposal.engine, proposal.id, answers[-1])
        return answers

    def _remember_answer(self, engine: str, proposal_id: str, answer: Answer) -> None:
        self.answers[(engine, proposal_id)] = answer
        self.answers.move_to_end((engine, proposal_id))
        while len(self.answers) > MAX_ANSWERS:
            self.answers.popitem(last=False)

    async def submit_durably(
        self, proposals: Sequence[Proposal], rationales: Sequence[str | None] = ()
    ) -> list[Answer]:
        """`submit`, with its commit done by the audit writer's thread instead of on this loop, shared with
        the batches submitted meanwhile (group commit); returns only once every record is durable.

        Writes it queues cannot overtake it: a PLC write's own record is committed after these."""
        self._deferred = []
        try:
            answers = self.submit(proposals, rationales)  # no await inside: nothing interleaves
        finally:
            deferred, self._deferred = self._deferred, None
        try:
            for done in deferred:
                await self.audit_writer.durable(done)
        except AuditStoreError as error:
            if not self.audit_failed:
                self._audit_failure(str(error))
            raise AuditUnavailable from error
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
