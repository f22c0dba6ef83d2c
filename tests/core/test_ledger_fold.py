"""The fold of audit records into ledger entries, on hand-made records: each row of its table."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from otgate.core.audit_chain import AuditRecord
from otgate.core.autonomy import Key
from otgate.core.config import Autonomy
from otgate.core.ledger_fold import Scope, fold_ledger

SCOPE = Scope({"LIC-101.RSP": "LIC-101"}, frozenset({"optimizer"}))
KEY = Key("optimizer", "d1", "LIC-101")


class Trail:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def add(self, kind: str, actor: str, data: dict[str, Any], at: float | None = None) -> int:
        seq = len(self.records) + 1
        self.records.append(
            AuditRecord(seq, at if at is not None else 100.0 + seq, kind, actor, data, "", "")
        )
        return seq

    def proposal(
        self, pid: str, verdict: str, codes: tuple[str, ...] = (), digest: str = "d1", **more: Any
    ) -> None:
        self.add(
            "recommendation", "engine:optimizer", {"id": pid, "tag": "LIC-101.RSP", "model_digest": digest}
        )
        reasons = [{"code": c, "detail": ""} for c in codes]
        self.add(
            "decision",
            "gateway",
            {"id": pid, "tag": "LIC-101.RSP", "decision": verdict, "reasons": reasons, **more},
        )

    def change(self, event: str, frm: str, to: str, digest: str = "d1", actor: str = "gateway") -> int:
        data = {
            "event": event,
            "engine": "optimizer",
            "model_digest": digest,
            "loop": "LIC-101",
            "from": frm,
            "to": to,
        }
        return self.add("autonomy_change", actor, data)


def test_fold_decisions_count_by_class():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.proposal("b", "rejected", ("PLC_UNAVAILABLE",))
    trail.proposal("c", "rejected", ("MOVE_TOO_LARGE",))
    trail.proposal("d", "rejected", ("NO_CHANGE",))
    entry = fold_ledger(trail.records, SCOPE).entries[KEY]
    assert entry.level is Autonomy.SHADOW
    assert (entry.stage.proposals, entry.stage.would_accept) == (4, 1)
    assert (entry.stage.availability_refusals, entry.stage.conduct_refusals, entry.stage.no_change) == (
        1,
        1,
        1,
    )
    assert entry.first_seen == 102.0


def test_fold_decision_of_an_engine_or_setpoint_out_of_scope_is_not_counted():
    trail = Trail()
    trail.add("recommendation", "engine:stranger", {"id": "x", "tag": "LIC-101.RSP", "model_digest": None})
    trail.add("decision", "gateway", {"id": "x", "tag": "LIC-101.RSP", "decision": "shadow", "reasons": []})
    trail.add("recommendation", "engine:optimizer", {"id": "y", "tag": "FIC-1.RSP", "model_digest": None})
    trail.add("decision", "gateway", {"id": "y", "tag": "FIC-1.RSP", "decision": "accepted", "reasons": []})
    assert fold_ledger(trail.records, SCOPE).entries == {}


def test_fold_sign_off_sets_the_level_and_restarts_the_stage_at_its_time():
    trail = Trail()
    trail.proposal("a", "shadow")
    seq = trail.change("sign_off", "shadow", "supervised", actor="operator:erin")
    entry = fold_ledger(trail.records, SCOPE).entries[KEY]
    assert entry.level is Autonomy.SUPERVISED and entry.stage_since == 100.0 + seq
    assert entry.stage.proposals == 0 and entry.total.proposals == 1


def test_fold_operator_final_answer_is_a_review_with_its_latency():
    trail = Trail()
    trail.change("sign_off", "shadow", "supervised")
    trail.proposal("p", "pending_approval", approvals_required=2, risk="highest")
    trail.add("approval", "operator:bob", {"id": "p", "outcome": "needs_another"})
    trail.add("approval", "operator:amy", {"id": "p", "outcome": "approved"}, at=130.0)
    trail.add("approval", "operator:amy", {"id": "p", "outcome": "rejected"})  # no longer queued: ignored
    entry = fold_ledger(trail.records, SCOPE).entries[KEY]
    assert (entry.stage.approvals, entry.stage.rejections) == (1, 0)
    assert entry.stage.review_latency_s == 130.0 - 103.0


def test_fold_restart_voids_queued_proposals():
    trail = Trail()
    trail.change("sign_off", "shadow", "supervised")
    trail.proposal("p", "pending_approval", approvals_required=1, risk="high")
    trail.add("gateway_start", "gateway", {"loops": {}})
    trail.add("approval", "operator:bob", {"id": "p", "outcome": "approved"})
    assert fold_ledger(trail.records, SCOPE).entries[KEY].stage.reviewed == 0


def test_fold_anomaly_of_the_engine_counts_on_its_current_model():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.add("anomaly", "gateway", {"anomaly": "OSCILLATION", "subject": "LIC-101", "detail": ""})
    trail.add("anomaly", "gateway", {"anomaly": "REJECTION_BURST", "subject": "optimizer", "detail": ""})
    assert fold_ledger(trail.records, SCOPE).entries[KEY].total.anomalies == 1


def test_fold_new_model_starts_its_entry_afresh_and_becomes_current():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.change("sign_off", "shadow", "supervised")
    trail.change("new_model", "supervised", "shadow", digest="d2")
    trail.proposal("b", "shadow", digest="d2")
    folded = fold_ledger(trail.records, SCOPE)
    assert folded.digests == {"optimizer": "d2"}
    assert folded.entries[KEY].level is Autonomy.SUPERVISED  # the old model's entry is left as it was
    new = folded.entries[Key("optimizer", "d2", "LIC-101")]
    assert new.level is Autonomy.SHADOW and new.stage.proposals == 1
    assert folded.doubtful == {}


def test_fold_change_from_a_level_the_trail_never_gave_is_doubted():
    trail = Trail()
    trail.proposal("a", "shadow")
    seq = trail.change("sign_off", "supervised", "autonomous")
    folded = fold_ledger(trail.records, SCOPE)
    assert f"seq {seq}" in folded.doubtful[KEY]


def test_fold_unreadable_record_doubts_its_engine_and_a_doubt_record_clears_it():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.change("sign_off", "shadow", "supervised")
    trail.add("recommendation", "engine:optimizer", {"id": "b", "tag": "LIC-101.RSP", "model_digest": "d1"})
    trail.add("decision", "gateway", {"id": "b", "tag": "LIC-101.RSP", "decision": "maybe", "reasons": []})
    folded = fold_ledger(trail.records, SCOPE)
    assert "unreadable decision record" in folded.doubtful[KEY]
    trail.change("doubt", "supervised", "shadow")
    folded = fold_ledger(trail.records, SCOPE)
    assert folded.doubtful == {} and folded.entries[KEY].level is Autonomy.SHADOW


def test_fold_certificate_is_kept_with_its_entry():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.add(
        "autonomy_change",
        "operator:erin",
        {
            "event": "certificate",
            "engine": "optimizer",
            "model_digest": "d1",
            "loop": "LIC-101",
            "sha256": "ab",
        },
    )
    assert fold_ledger(trail.records, SCOPE).entries[KEY].certificates == ("ab",)


def test_fold_change_of_a_loop_or_engine_out_of_scope_now_is_not_folded():
    trail = Trail()
    trail.proposal("a", "shadow")
    trail.change("sign_off", "shadow", "supervised")
    folded = fold_ledger(trail.records, Scope({"FIC-1.RSP": "FIC-1"}, frozenset({"optimizer"})))
    assert folded.entries == {} and list(folded.changes) == []


VERDICTS = ["shadow", "accepted", "ramping", "rejected", "pending_approval", "advisory"]
CODES = ["OUT_OF_RANGE", "PLC_UNAVAILABLE", "MOVE_TOO_LARGE", "NO_CHANGE", "INTERLOCK"]
OUTCOMES = ["approved", "rejected", "withdrawn", "expired", "needs_another", "mismatch"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(VERDICTS),
            st.lists(st.sampled_from(CODES), max_size=2),
            st.sampled_from(["d1", "d2", None]),
            st.sampled_from([*OUTCOMES, None]),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_fold_without_a_recorded_level_change_every_entry_is_in_shadow(steps: list[Any]):
    """Whatever the decisions, answers and anomalies in the trail, only an `autonomy_change` record can put
    an entry above shadow after a restart: evidence alone never promotes."""
    trail = Trail()
    for n, (verdict, codes, digest, outcome, anomaly) in enumerate(steps):
        trail.proposal(f"p{n}", verdict, tuple(codes), digest=digest or "", approvals_required=1)
        if outcome is not None:
            trail.add("approval", "operator:bob", {"id": f"p{n}", "outcome": outcome})
        if anomaly:
            trail.add(
                "anomaly", "gateway", {"anomaly": "REJECTION_BURST", "subject": "optimizer", "detail": ""}
            )
    folded = fold_ledger(trail.records, SCOPE)
    assert all(entry.level is Autonomy.SHADOW for entry in folded.entries.values())
    assert folded.doubtful == {}
