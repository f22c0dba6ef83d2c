"""The evidence ledger and the earned level of every engine x model digest x loop, kept by the gateway.

The rules are in the core (`otgate.core.autonomy`, `risk`, `oversight`, `evidence`); this class only
holds the entries between events, feeds them the events the gateway sees, and records every change of
level (with the evidence it was based on) in the audit trail, so the ledger's history is as
tamper-evident as the trail itself. Loops without an `autonomy` policy in the config are left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from otgate.core.approval import ApprovalOutcome, AwaitingApproval
from otgate.core.audit_chain import AuditKind
from otgate.core.autonomy import (
    AutonomyEvent,
    Entry,
    Key,
    Transition,
    apply,
    demotion_due,
    effective_level,
    eligibility,
    new_entry,
)
from otgate.core.autonomy_policy import AutonomyPolicy
from otgate.core.config import Autonomy
from otgate.core.decision import Decision, Verdict
from otgate.core.evidence import (
    RefusalClass,
    count_anomaly,
    count_decision,
    count_review,
    refusal_class,
    tally_data,
)
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.oversight import ApprovalStep, Review, add_approval, oversee, rubber_stamp
from otgate.core.plant import Plant
from otgate.core.proposal import Proposal, Snapshot
from otgate.core.risk import classify, features, predicted_effect

Audit = Callable[[str, str, dict[str, Any]], int]
RaiseAlarm = Callable[[str, str, str], bool]
RECENT_SETPOINTS = 200  # per setpoint: the history "how unusual is this value" is judged against
RUBBER_STAMP = "RUBBER_STAMP"
LEVEL_NUMBER = {Autonomy.SHADOW: 0, Autonomy.ADVISORY: 1, Autonomy.SUPERVISED: 2, Autonomy.AUTONOMOUS: 3}


@dataclass(frozen=True, slots=True)
class Pending:
    """A supervised proposal waiting for operators under earned autonomy."""

    key: Key
    required: int
    risk: str | None = None
    approvers: tuple[str, ...] = ()


class Ledger:
    def __init__(
        self, plant: Plant, audit: Audit, raise_alarm: RaiseAlarm, clear_alarm: Callable[[str], None]
    ) -> None:
        self.plant = plant
        self.audit = audit
        self.raise_alarm = raise_alarm
        self.clear_alarm = clear_alarm
        self.actor = "gateway"
        self.entries: dict[Key, Entry] = {}
        self.digests: dict[str, str] = {}  # engine -> the model digest it sent last
        self.recent: dict[str, deque[float]] = {}  # setpoint tag -> recent setpoints (written or approved)
        self.reviews: dict[str, deque[Review]] = {}  # loop -> operators' answers, oldest first
        self.pending: dict[str, Pending] = {}  # proposal id -> who must still approve it
        self.history: deque[dict[str, Any]] = deque(maxlen=500)  # level changes, newest last
        self.on_demoted: Callable[[str, str], None] = lambda loop, engine: None

    # ------------------------------------------------------------------------------------------ lookups

    def policy(self, loop: str) -> AutonomyPolicy | None:
        config = self.plant.config.loops.get(loop)
        return config.autonomy if config is not None else None

    def _loop_of(self, tag: str) -> str | None:
        found = self.plant.loop_by_setpoint.get(tag)
        return found[0] if found is not None and self.policy(found[0]) is not None else None

    def _entry(self, key: Key, now: float) -> Entry:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = new_entry(key, now)
        return entry

    def level(self, engine: str, loop: str) -> Autonomy | None:
        """The earned level of the engine's current model on `loop` (None: the loop has no policy)."""
        if self.policy(loop) is None:
            return None
        entry = self.entries.get(Key(engine, self.digests.get(engine, ""), loop))
        return entry.level if entry is not None else Autonomy.SHADOW

    # ------------------------------------------------------------------------------------------ decisions

    def decide(
        self, proposal: Proposal, snapshot: Snapshot, judge: Callable[[Snapshot], Decision], now: float
    ) -> Decision:
        """The chain's decision (`judge`), held back to the level this engine has earned on the loop.

        In shadow the chain judges the proposal as if the loop were engaged (its loop in `ai`, the PLC
        in REMOTE), so a shadow engine is assessed while conventional control runs the loop; the answer
        is then always `shadow` or `rejected`, never a write."""
        loop = self._loop_of(proposal.tag)
        policy = self.policy(loop) if loop is not None else None
        if loop is None or policy is None or proposal.engine not in self.plant.config.engines:
            return judge(snapshot)
        self._note_digest(proposal.engine, proposal.model_digest or "", now)
        entry = self._entry(Key(proposal.engine, proposal.model_digest or "", loop), now)
        _, config = self.plant.loop_by_setpoint[proposal.tag]
        tag = self.plant.tag(proposal.tag)
        static = tag.setpoint.autonomy if tag is not None and tag.setpoint is not None else Autonomy.ADVISORY
        level = effective_level(entry, static)
        if level is Autonomy.SHADOW:
            modes = {**snapshot.loop_modes, loop: LoopMode.AI}
            values = {**snapshot.values, config.mode: float(PlcMode.REMOTE)}
            snapshot = replace(snapshot, loop_modes=modes, values=values)
        decision = judge(snapshot)
        tag = self.plant.tag(proposal.tag)
        readback = snapshot.values.get(config.working_sp)
        risk = None
        if (
            tag is not None
            and tag.setpoint is not None
            and readback is not None
            and decision.verdict is not Verdict.REJECTED
        ):
            recent = tuple(self.recent.get(proposal.tag, ()))
            found = features(
                proposal.value, readback, tag.setpoint, decision.admissible, recent, policy.risk.min_history
            )
            risk = classify(found, policy.risk)
        return oversee(decision, level, risk)

    def record(self, proposal: Proposal, decision: Decision, seq: int, now: float) -> None:
        """Count a decision the trail has made durable; a safety-class refusal demotes at once."""
        loop = self._loop_of(proposal.tag)
        if loop is None or proposal.engine not in self.plant.config.engines:
            return
        key = Key(proposal.engine, proposal.model_digest or "", loop)
        entry = self._entry(key, now)
        low_risk = decision.is_write and decision.risk is not None and entry.level is Autonomy.SUPERVISED
        entry = replace(
            entry,
            stage=count_decision(entry.stage, decision, low_risk),
            total=count_decision(entry.total, decision, low_risk),
        )
        self.entries[key] = entry
        if decision.verdict is Verdict.PENDING_APPROVAL and decision.approvals_required:
            self.pending[proposal.id] = Pending(key, decision.approvals_required, decision.risk)
        if decision.is_write or decision.verdict is Verdict.PENDING_APPROVAL:
            self.recent.setdefault(proposal.tag, deque(maxlen=RECENT_SETPOINTS)).append(proposal.value)
        if refusal_class(decision) is RefusalClass.SAFETY:
            codes = ", ".join(c.value for c in decision.codes)
            self._change(
                key, AutonomyEvent.SAFETY_REFUSAL, f"safety-class refusal ({codes}) of {proposal.id}", now
            )

    def _note_digest(self, engine: str, digest: str, now: float) -> None:
        before = self.digests.get(engine)
        self.digests[engine] = digest
        if before is None or before == digest:
            return
        for loop in self.plant.config.loops:  # a new model version starts in shadow on every loop
            if self.policy(loop) is None:
                continue
            key = Key(engine, digest, loop)
            old = self.entries.get(Key(engine, before, loop))
            entry = self.entries[key] = new_entry(key, now)
            if old is not None:
                self.on_demoted(loop, engine)
            self._record_change(
                old or entry,
                entry,
                "new_model",
                f"new model digest {digest.removeprefix('sha256:')[:12] or 'none'}: back to shadow",
                None,
            )

    # ------------------------------------------------------------------------------------------ anomalies

    def on_anomaly(self, engine: str, code: str, now: float) -> None:
        """An anomaly attributed to `engine`: counted on each of its loops, and demoting per the policy."""
        digest = self.digests.get(engine)
        if digest is None:
            return
        for key in [k for k in self.entries if k.engine == engine and k.digest == digest]:
            entry = self.entries[key]
            self.entries[key] = replace(
                entry, stage=count_anomaly(entry.stage), total=count_anomaly(entry.total)
            )
            self._change(key, AutonomyEvent.ANOMALY, f"anomaly {code} attributed to the engine", now)

    # ------------------------------------------------------------------------------------------ approvals

    def approve(self, user: str, proposal_id: str) -> ApprovalStep:
        """One operator's approval of a proposal queued under earned autonomy (COMPLETE when not tracked)."""
        pending = self.pending.get(proposal_id)
        if pending is None:
            return ApprovalStep.COMPLETE
        step = add_approval(pending.approvers, user, pending.required)
        if step is ApprovalStep.NEEDS_ANOTHER:
            self.pending[proposal_id] = replace(pending, approvers=(*pending.approvers, user))
        return step

    def settle(self, user: str, item: AwaitingApproval, approve: bool, now: float) -> ApprovalOutcome:
        """A valid answer to a queued proposal: the dual-approval rule, then (on the final answer) the
        engine's evidence and the loop's rubber-stamp check. Rejecting needs one operator, always."""
        pid = item.proposal.id
        if approve:
            step = self.approve(user, pid)
            if step is ApprovalStep.SAME_OPERATOR:
                return ApprovalOutcome.SAME_OPERATOR
            if step is ApprovalStep.NEEDS_ANOTHER:
                return ApprovalOutcome.NEEDS_ANOTHER
        loop = self.pending[pid].key.loop if pid in self.pending else None
        detail = self.reviewed(pid, approve, now - item.queued_at, now)
        if loop is not None:
            code = f"{RUBBER_STAMP}:{loop}"
            if detail is None:
                self.clear_alarm(code)
            elif self.raise_alarm(code, f"{loop}: {detail}; shift lead to review", "medium"):
                self.audit(
                    AuditKind.ANOMALY,
                    self.actor,
                    {"anomaly": RUBBER_STAMP, "subject": loop, "detail": detail},
                )
        return ApprovalOutcome.APPROVED if approve else ApprovalOutcome.REJECTED

    def reviewed(self, proposal_id: str, approved: bool, latency_s: float, now: float) -> str | None:
        """An operator's final answer: evidence for the engine, and the rubber-stamp check for the loop.
        Returns the rubber-stamp alarm's detail when it should be (or stay) raised."""
        pending = self.pending.pop(proposal_id, None)
        if pending is None:
            return None
        key, policy = pending.key, self.policy(pending.key.loop)
        entry = self.entries.get(key)
        if entry is not None and policy is not None:
            self.entries[key] = replace(
                entry,
                stage=count_review(entry.stage, approved, latency_s),
                total=count_review(entry.total, approved, latency_s),
            )
            event = demotion_due(self.entries[key], policy)
            if event is not None:
                self._change(key, event, "operator rejections over the policy", now)
        if policy is None:
            return None
        reviews = self.reviews.setdefault(
            key.loop, deque(maxlen=max(policy.rubber_stamp.window, policy.rubber_stamp.uniform_run))
        )
        reviews.append(Review(latency_s, approved))
        return rubber_stamp(tuple(reviews), policy.rubber_stamp)

    def oversight_view(self, proposal: Proposal, move: float | None) -> dict[str, Any]:
        """What an operator needs beside the proposal: its risk class, how many different operators must
        approve it and who already has, and its predicted effect on the modelled variables."""
        pending = self.pending.get(proposal.id)
        effect = predicted_effect(self.plant.models, proposal.tag, move) if move is not None else {}
        return {
            "risk": pending.risk if pending is not None else None,
            "approvals_required": pending.required if pending is not None else 1,
            "approved_by": list(pending.approvers) if pending is not None else [],
            "predicted_effect": [
                {"variable": name, "change": change, "unit": self._unit(name)}
                for name, change in effect.items()
            ],
        }

    def _unit(self, name: str) -> str:
        tag = self.plant.config.tags.get(name)
        return tag.unit if tag is not None else ""

    def forget(self, proposal_id: str) -> None:
        """The gateway dropped a queued proposal (answered, expired, evicted): its approvals go too."""
        self.pending.pop(proposal_id, None)

    def reload(self, plant: Plant) -> None:
        """A config reload: the new policies apply; approvals decided under the old config are void."""
        self.plant = plant
        self.pending.clear()

    # ------------------------------------------------------------------------------------------ people

    def sign_off(self, user: str, key: Key, now: float) -> Transition | None:
        """An engineer's sign-off: promotes only when the evidence makes the entry eligible now."""
        if key not in self.entries or self.policy(key.loop) is None:
            return None
        return self._change(
            key, AutonomyEvent.SIGN_OFF, f"signed off by {user}", now, actor=f"operator:{user}"
        )

    def demote(self, user: str, key: Key, reason: str, now: float) -> Transition | None:
        if key not in self.entries or self.policy(key.loop) is None:
            return None
        return self._change(
            key, AutonomyEvent.MANUAL_DEMOTION, f"{user}: {reason}", now, actor=f"operator:{user}"
        )

    def attach_certificate(self, user: str, key: Key, scorecard: Mapping[str, Any]) -> str | None:
        """A certification scorecard as evidence of the entry; returns its sha256 (None: unknown entry)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        text = json.dumps(scorecard, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.entries[key] = replace(entry, certificates=(*entry.certificates, digest))
        summary = scorecard.get("summary", {})
        data = {"event": "certificate", **_key_data(key), "sha256": digest, "summary": summary}
        self.audit(AuditKind.AUTONOMY_CHANGE, f"operator:{user}", data)
        self.history.append(data)
        return digest

    # ------------------------------------------------------------------------------------------ changes

    def _change(
        self, key: Key, event: AutonomyEvent, reason: str, now: float, actor: str | None = None
    ) -> Transition | None:
        policy = self.policy(key.loop)
        entry = self.entries.get(key)
        if policy is None or entry is None:
            return None
        transition = apply(entry, event, policy, now, reason)
        if transition is None:
            return None
        if event is AutonomyEvent.SIGN_OFF:  # recorded first: a promotion the trail missed did not happen
            if self._record_change(entry, transition.after, event.value, reason, now, actor) < 0:
                return None
            self.entries[key] = transition.after
            return transition
        self.entries[key] = transition.after  # a demotion holds even when the trail cannot record it
        self._record_change(entry, transition.after, event.value, reason, now, actor)
        if not transition.is_promotion:
            self.on_demoted(key.loop, key.engine)
        return transition

    def _record_change(
        self,
        before: Entry,
        after: Entry,
        event: str,
        reason: str,
        now: float | None,
        actor: str | None = None,
    ) -> int:
        data = {
            "event": event,
            **_key_data(after.key),
            "from": before.level.value,
            "to": after.level.value,
            "reason": reason,
            "evidence": tally_data(before.stage),
            "stage_hours": None if now is None else round((now - before.stage_since) / 3600.0, 4),
            "certificates": list(before.certificates),
        }
        self.history.append(data)
        return self.audit(AuditKind.AUTONOMY_CHANGE, actor or self.actor, data)

    # ------------------------------------------------------------------------------------------ views

    def summary(self, now: float, engine: str | None = None) -> list[dict[str, Any]]:
        """Every entry of the engines' current models (one engine's when given), for APIs and the HMI."""
        rows = []
        for key, entry in sorted(self.entries.items(), key=lambda item: (item[0].engine, item[0].loop)):
            policy = self.policy(key.loop)
            if policy is None or (engine is not None and key.engine != engine):
                continue
            judged = eligibility(entry, policy, now)
            rows.append(
                {
                    **_key_data(key),
                    "current_model": self.digests.get(key.engine) == key.digest,
                    "level": entry.level.value,
                    "eligible": judged.eligible,
                    "next_level": None if judged.next_level is None else judged.next_level.value,
                    "unmet": list(judged.unmet),
                    "stage_hours": round(max(0.0, now - entry.stage_since) / 3600.0, 4),
                    "hours_observed": round(max(0.0, now - entry.first_seen) / 3600.0, 4),
                    "stage": tally_data(entry.stage),
                    "total": tally_data(entry.total),
                    "certificates": list(entry.certificates),
                }
            )
        return rows


def _key_data(key: Key) -> dict[str, str]:
    return {"engine": key.engine, "model_digest": key.digest, "loop": key.loop}
