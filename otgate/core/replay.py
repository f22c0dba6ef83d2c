"""Managed change: what a candidate config would have decided on the recommendations already in the trail.

A limit change is judged on evidence, not on hope: every recorded recommendation is decided again by the
same pure `validate` under the candidate plant, with the inputs the gateway used when it decided it the
first time. Those inputs are recorded with each decision (`decision_inputs`, in the decision record's
`inputs` field): the scan's snapshot, the write history of the proposal's tag, whether the engine was
quarantined and whether the id had been seen, and both clocks. Nothing is re-read from the plant and
nothing is written anywhere: a replay is a pure function of (trail records, candidate plant).

Limits of the replay, said in the report rather than hidden: the look-ahead's forecast is the one the
gateway made under the config in force then (a candidate with different process models would have
forecast differently), and the history is the one that really happened (a candidate that would have
rejected an earlier write would have changed the later history too). Decisions recorded before inputs
were recorded cannot be replayed; they are counted as `not_replayable`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.decision import Decision
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant
from otgate.core.prediction import Forecast
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.validation import validate

INPUTS_FORMAT = 1


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)  # the trail is JSON: nan/inf as text


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float | str) else math.nan


def decision_inputs(
    proposal: Proposal, snapshot: Snapshot, history: History, now: float, wall: float
) -> dict[str, Any]:
    """What `validate` read for this proposal, as JSON for the decision record."""
    data: dict[str, Any] = {
        "format": INPUTS_FORMAT,
        "now": now,
        "wall": wall,
        "basis_at": proposal.basis_at,
        "seen": proposal.id in history.seen_ids,
        "quarantined": proposal.engine in history.quarantined,
        "writes": [[w.at, w.value, _number(w.previous)] for w in history.writes.get(proposal.tag, ())],
        "snapshot": {
            "taken_at": _number(snapshot.taken_at),
            "values": {k: _number(v) for k, v in sorted(snapshot.values.items())},
            "bad_quality": sorted(snapshot.bad_quality),
            "plc_available": snapshot.plc_available,
            "loop_modes": {k: m.value for k, m in sorted(snapshot.loop_modes.items())},
            "queued": dict(sorted(snapshot.queued.items())),
        },
    }
    if snapshot.forecast is not None:
        data["snapshot"]["forecast"] = {
            "times": snapshot.forecast.times.tolist(),
            "base": {k: v.tolist() for k, v in sorted(snapshot.forecast.base.items())},
        }
    return data


def _snapshot_of(data: Mapping[str, Any]) -> Snapshot:
    forecast = None
    if isinstance(data.get("forecast"), Mapping):
        f = data["forecast"]
        forecast = Forecast(
            np.asarray(f["times"], dtype=np.float64),
            {k: np.asarray(v, dtype=np.float64) for k, v in f["base"].items()},
        )
    return Snapshot(
        taken_at=_float(data.get("taken_at")),
        values={k: _float(v) for k, v in data.get("values", {}).items()},
        bad_quality=frozenset(data.get("bad_quality", ())),
        plc_available=bool(data.get("plc_available", False)),
        loop_modes={k: LoopMode(v) for k, v in data.get("loop_modes", {}).items()},
        forecast=forecast,
        queued={k: _float(v) for k, v in data.get("queued", {}).items()},
    )


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recommendation as the trail has it: what was proposed, what was decided, with what inputs."""

    seq: int
    at: float  # wall clock of the record
    proposal: Proposal
    decision: Mapping[str, Any]
    inputs: Mapping[str, Any] | None

    def replay_under(self, plant: Plant) -> Decision | None:
        inputs = self.inputs
        if inputs is None or inputs.get("format") != INPUTS_FORMAT:
            return None
        proposal = self.proposal
        history = History(
            seen_ids=frozenset({proposal.id}) if inputs.get("seen") else frozenset(),
            writes={
                proposal.tag: [WriteEvent(_float(a), _float(v), _float(p)) for a, v, p in inputs["writes"]]
            },
            quarantined=frozenset({proposal.engine}) if inputs.get("quarantined") else frozenset(),
        )
        snapshot = _snapshot_of(inputs["snapshot"])
        return validate(
            proposal, snapshot, plant, history, _float(inputs["now"]), wall=_float(inputs["wall"])
        )


def recorded_recommendations(records: Iterable[AuditRecord], since: float | None = None) -> list[Recorded]:
    """Pairs each recommendation record with the decision record that follows it (same id)."""
    waiting: dict[str, tuple[AuditRecord, Proposal]] = {}
    found: list[Recorded] = []
    for record in records:
        if since is not None and record.at < since:
            continue
        data = record.data
        if record.kind == AuditKind.RECOMMENDATION:
            waiting[str(data.get("id"))] = (record, _proposal_of(record))
        elif record.kind == AuditKind.DECISION and "revalidation" not in data:
            pair = waiting.pop(str(data.get("id")), None)
            if pair is not None:
                inputs = data.get("inputs")
                found.append(
                    Recorded(
                        pair[0].seq,
                        pair[0].at,
                        pair[1],
                        data,
                        inputs if isinstance(inputs, Mapping) else None,
                    )
                )
    return found


def _proposal_of(record: AuditRecord) -> Proposal:
    data = record.data
    basis = data.get("basis_at")
    return Proposal(
        id=str(data.get("id")),
        engine=record.actor.removeprefix("engine:"),
        tag=str(data.get("tag")),
        value=_float(data.get("value")),
        issued_at=_float(data.get("issued_at")),
        basis_at=_float(basis) if basis is not None else None,
        model_digest=data.get("model_digest"),
        clock_offset_s=_float(data.get("clock_offset_s", 0.0)),
    )


@dataclass(frozen=True, slots=True)
class Changed:
    """A recommendation the candidate would have decided differently."""

    seq: int
    at: float
    id: str
    engine: str
    tag: str
    loop: str | None
    value: float
    was: str  # recorded verdict
    now: str  # verdict under the candidate
    was_codes: tuple[str, ...]
    now_codes: tuple[str, ...]
    was_value: float | None
    now_value: float | None

    @property
    def new_codes(self) -> tuple[str, ...]:
        return tuple(c for c in self.now_codes if c not in self.was_codes)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: int
    not_replayable: int
    changed: tuple[Changed, ...]

    @property
    def by_reason(self) -> dict[str, int]:
        """Per reason code: how many changed decisions it newly fired on (or, for verdicts that became
        accepted, `no_longer_<old verdict>`; a written value that moved, `value_changed`)."""
        counts: Counter[str] = Counter()
        for change in self.changed:
            if change.new_codes:
                counts.update(change.new_codes)
            elif change.now != change.was:
                counts[f"no_longer_{change.was}"] += 1
            else:
                counts["value_changed"] += 1
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    @property
    def affected_loops(self) -> list[str]:
        return sorted({c.loop or c.tag for c in self.changed})

    def as_dict(self) -> dict[str, Any]:
        return {
            "replayed": self.replayed,
            "not_replayable": self.not_replayable,
            "changed": len(self.changed),
            "by_reason": self.by_reason,
            "affected_loops": self.affected_loops,
            "decisions": [
                {
                    "seq": c.seq,
                    "at": c.at,
                    "id": c.id,
                    "engine": c.engine,
                    "tag": c.tag,
                    "loop": c.loop,
                    "value": _number(c.value),
                    "was": c.was,
                    "now": c.now,
                    "was_codes": list(c.was_codes),
                    "now_codes": list(c.now_codes),
                    "was_value": c.was_value,
                    "now_value": c.now_value,
                }
                for c in self.changed
            ],
        }


def replay(recorded: Sequence[Recorded], candidate: Plant) -> ReplayReport:
    """Re-decides every recorded recommendation under `candidate`; lists those decided differently."""
    changed: list[Changed] = []
    missing = 0
    for item in recorded:
        decision = item.replay_under(candidate)
        if decision is None:
            missing += 1
            continue
        was_codes = tuple(str(r.get("code")) for r in item.decision.get("reasons") or ())
        now_codes = tuple(c.value for c in decision.codes)
        was_value = item.decision.get("value")
        was = str(item.decision.get("decision"))
        if (was, was_codes, was_value) == (decision.verdict.value, now_codes, decision.value):
            continue
        found = candidate.loop_by_setpoint.get(item.proposal.tag)
        changed.append(
            Changed(
                item.seq,
                item.at,
                item.proposal.id,
                item.proposal.engine,
                item.proposal.tag,
                found[0] if found else None,
                item.proposal.value,
                was,
                decision.verdict.value,
                was_codes,
                now_codes,
                was_value if isinstance(was_value, int | float) else None,
                decision.value,
            )
        )
    return ReplayReport(len(recorded) - missing, missing, tuple(changed))
