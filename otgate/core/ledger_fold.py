"""The evidence ledger rebuilt from the audit trail: a fold of its records into the ledger's entries.

Earned autonomy is evidence, and the evidence is in the trail; so after a restart the ledger is read back
from the trail rather than from a side file that could disagree with it (docs/AUTONOMY.md, "Restart").
The fold replays what the live ledger (`otgate.runtime.ledger`) counted, record by record:

    record                                   effect on the fold
    recommendation (actor engine:<name>)     remembers the engine and model digest of the id
    decision of a setpoint with a policy     the entry's stage and total tallies (`count_decision`);
                                             a new digest of the engine starts its entries afresh
    approval (operator's final answer)       a review of a tracked queued proposal (`count_review`)
    anomaly (subject: an engine)             one anomaly on each entry of the engine's current model
    autonomy_change                          the level the trail says, the stage restarted at its time;
                                             its `from` must be the level the fold holds, else doubt
    gateway_start, config_load               proposals still queued for operators are void

Doubt resolves toward safety: a record the fold cannot read or that contradicts what came before marks
its entry doubtful, and the caller starts a doubtful entry in shadow (and records that it did, with the
`doubt` event, which the fold reads back as "shadow from here"). Whether the trail itself verifies is the
caller's question (`otgate.core.audit_chain.verify`): an unverified trail is not folded at all.

Times stay on the trail's wall clock (`at`); the shell carries them over to its monotonic clock by age.
Pure: the trail's records and the plant's scope in, entries out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.autonomy import LADDER, Entry, Key, new_entry
from otgate.core.config import Autonomy
from otgate.core.decision import Decision, Reason, ReasonCode, Verdict
from otgate.core.evidence import Tally, count_anomaly, count_decision, count_review

DOUBT = "doubt"  # the autonomy_change event a restart records for an entry it started in shadow on doubt
FINAL_ANSWERS = {"approved": True, "withdrawn": True, "rejected": False}  # withdrawn: approved, then demoted
LEVELS = {level.value: level for level in LADDER}
HISTORY = 500  # level changes kept for the HMI's history, as the live ledger keeps them


@dataclass(frozen=True, slots=True)
class Scope:
    """What the live ledger tracks: setpoints of loops with a policy (setpoint tag -> loop), and engines."""

    loops_by_setpoint: Mapping[str, str]
    engines: frozenset[str]


@dataclass(slots=True)
class Folded:
    """The ledger as the trail tells it. `doubtful` maps each entry that must start in shadow to why."""

    entries: dict[Key, Entry] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # engine -> the model digest it sent last
    doubtful: dict[Key, str] = field(default_factory=dict)
    last_seq: int = 0
    changes: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))  # newest last
    # recommendation id -> (engine, digest); proposal id -> (entry, queued at)
    _engines_of: dict[str, tuple[str, str]] = field(default_factory=dict)
    _queued: dict[str, tuple[Key, float]] = field(default_factory=dict)


def fold_ledger(records: Iterable[AuditRecord], scope: Scope) -> Folded:
    """Every record in seq order; the ledger's entries after the last one."""
    folded = Folded()
    for record in records:
        folded.last_seq = record.seq
        try:
            _fold_one(folded, record, scope)
        except (KeyError, TypeError, ValueError) as error:  # a record not as the ledger writes it
            for key in _keys_named(folded, record):
                folded.doubtful[key] = f"seq {record.seq}: unreadable {record.kind} record ({error})"
    return folded


def _fold_one(folded: Folded, record: AuditRecord, scope: Scope) -> None:
    data, kind = record.data, record.kind
    if kind == AuditKind.RECOMMENDATION and record.actor.startswith("engine:"):
        digest = data.get("model_digest")
        folded._engines_of[str(data["id"])] = (record.actor.removeprefix("engine:"), str(digest or ""))
    elif kind == AuditKind.DECISION:
        _fold_decision(folded, record, scope)
    elif kind == AuditKind.APPROVAL:
        _fold_answer(folded, record)
    elif kind == AuditKind.ANOMALY and isinstance(data.get("anomaly"), str):
        _fold_anomaly(folded, str(data.get("subject", "")))
    elif kind == AuditKind.AUTONOMY_CHANGE and _in_scope(record.data, scope):
        _fold_change(folded, record)
    elif kind in (AuditKind.GATEWAY_START, AuditKind.CONFIG_LOAD):
        folded._queued.clear()  # a restart or a reload voids every approval asked for before it


def _in_scope(data: Mapping[str, Any], scope: Scope) -> bool:
    """A level change of a loop that has no policy now, or of an engine no longer configured, is history
    the present config no longer acts on: not folded."""
    return data.get("loop") in scope.loops_by_setpoint.values() and data.get("engine") in scope.engines


def _fold_decision(folded: Folded, record: AuditRecord, scope: Scope) -> None:
    data = record.data
    proposal_id = str(data["id"])
    source = folded._engines_of.pop(proposal_id, None)
    loop = scope.loops_by_setpoint.get(str(data.get("tag")))
    if source is None or loop is None or source[0] not in scope.engines:
        return
    engine, digest = source
    before = folded.digests.get(engine)
    folded.digests[engine] = digest
    key = Key(engine, digest, loop)
    if before is not None and before != digest:  # the live ledger records this as `new_model` first
        for other in scope.loops_by_setpoint.values():
            folded.entries[Key(engine, digest, other)] = new_entry(Key(engine, digest, other), record.at)
    entry = folded.entries.get(key) or new_entry(key, record.at)
    decision = _decision_of(data)
    low_risk = decision.is_write and decision.risk is not None and entry.level is Autonomy.SUPERVISED
    folded.entries[key] = replace(
        entry,
        stage=count_decision(entry.stage, decision, low_risk),
        total=count_decision(entry.total, decision, low_risk),
    )
    if decision.verdict is Verdict.PENDING_APPROVAL and decision.approvals_required:
        folded._queued[proposal_id] = (key, record.at)


def _decision_of(data: Mapping[str, Any]) -> Decision:
    """As much of the decision as the tallies look at: verdict, reason codes, risk, approvals required."""
    reasons = tuple(Reason(ReasonCode(str(r["code"])), str(r.get("detail", ""))) for r in data["reasons"])
    risk = data.get("risk")
    return Decision(
        str(data["id"]),
        str(data["tag"]),
        Verdict(str(data["decision"])),
        reasons,
        risk=None if risk is None else str(risk),
        approvals_required=int(data.get("approvals_required", 0)),
    )


def _fold_answer(folded: Folded, record: AuditRecord) -> None:
    data = record.data
    proposal_id, outcome = str(data["id"]), str(data["outcome"])
    queued = folded._queued.get(proposal_id)
    if queued is None:
        return
    if not record.actor.startswith("operator:"):  # expired or withdrawn by the gateway: no review
        if outcome in ("expired", "withdrawn"):
            del folded._queued[proposal_id]
        return
    if outcome not in FINAL_ANSWERS:  # a wrong digest, or the first half of a dual approval
        return
    del folded._queued[proposal_id]
    key, queued_at = queued
    entry = folded.entries.get(key)
    if entry is None:
        return
    approved, latency = FINAL_ANSWERS[outcome], record.at - queued_at
    folded.entries[key] = replace(
        entry,
        stage=count_review(entry.stage, approved, latency),
        total=count_review(entry.total, approved, latency),
    )


def _fold_anomaly(folded: Folded, subject: str) -> None:
    digest = folded.digests.get(subject)
    if digest is None:  # not an engine (a loop, a tag), or one that never proposed on a policy loop
        return
    for key in [k for k in folded.entries if k.engine == subject and k.digest == digest]:
        entry = folded.entries[key]
        folded.entries[key] = replace(
            entry, stage=count_anomaly(entry.stage), total=count_anomaly(entry.total)
        )


def _fold_change(folded: Folded, record: AuditRecord) -> None:
    data = record.data
    key = Key(str(data["engine"]), str(data["model_digest"]), str(data["loop"]))
    event = str(data["event"])
    entry = folded.entries.get(key) or new_entry(key, record.at)
    folded.changes.append(dict(data))
    if event == "certificate":
        folded.entries[key] = replace(entry, certificates=(*entry.certificates, str(data["sha256"])))
        return
    before, after = LEVELS[str(data["from"])], LEVELS[str(data["to"])]
    if event == "new_model":  # `from` is the old model's level; the new model's entry starts afresh
        folded.entries[key] = new_entry(key, record.at)
        folded.digests[key.engine] = key.digest
        folded.doubtful.pop(key, None)
        return
    if event == DOUBT:
        folded.doubtful.pop(key, None)
    elif before is not entry.level:
        folded.doubtful[key] = (
            f"seq {record.seq}: the trail moves {key.engine} on {key.loop} from {before.value}, "
            f"but its records before leave it {entry.level.value}"
        )
    folded.entries[key] = replace(entry, level=after, stage_since=record.at, stage=Tally())


def _keys_named(folded: Folded, record: AuditRecord) -> list[Key]:
    """The entries an unreadable record may have touched: the one it names, else all of its engine's."""
    data = record.data
    engine = data.get("engine") if isinstance(data.get("engine"), str) else None
    if engine is None:
        source = folded._engines_of.get(str(data.get("id")))
        engine = source[0] if source is not None else None
    if engine is None:
        return list(folded.entries)  # cannot tell whose evidence it was: every entry is in doubt
    return [key for key in folded.entries if key.engine == engine]
