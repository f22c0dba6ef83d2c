"""The replay's own pieces: what a decision records round-trips into the same decision."""

from __future__ import annotations

import numpy as np

from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.modes import LoopMode
from otgate.core.plant import compile_plant
from otgate.core.prediction import Forecast
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.replay import Recorded, decision_inputs, recorded_recommendations, replay
from otgate.core.validation import validate
from tests.conftest import TANK_CONFIG

PLANT = compile_plant(TANK_CONFIG)
NOW = 1_800_000_100.0
VALUES = {"LIC-101.SP": 650.0, "LIC-101.RSP": 650.0, "LIC-101.MODE": 2.0, "LIT-101": 640.0}


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(NOW - 0.5, VALUES, frozenset(), True, {"LIC-101": LoopMode.AI})
    return Snapshot(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type]


def record(seq: int, kind: str, actor: str, data: dict[str, object]) -> AuditRecord:
    return AuditRecord(seq, NOW, kind, actor, data, "", "")


def test_decision_inputs_round_trip_to_the_same_decision_with_history_and_forecast():
    proposal = Proposal("p1", "optimizer", "LIC-101.RSP", 656.0, NOW - 1.0)
    forecast = Forecast(np.array([0.0, 10.0]), {"LIT-101": np.array([640.0, 641.0])})
    snap = snapshot(forecast=forecast, queued={"LIC-101.RSP": 1.5})
    history = History(
        frozenset({"other"}), {"LIC-101.RSP": [WriteEvent(NOW - 30.0, 650.0, 648.0)]}, frozenset()
    )
    original = validate(proposal, snap, PLANT, history, NOW, wall=NOW)
    inputs = decision_inputs(proposal, snap, history, NOW, NOW)
    decision = {
        "decision": original.verdict.value,
        "reasons": [{"code": c.value} for c in original.codes],
        "value": original.value,
    }
    replayed = Recorded(1, NOW, proposal, decision, inputs).replay_under(PLANT)
    assert replayed == original


def test_recorded_recommendations_pair_by_id_and_count_those_without_inputs():
    records = [
        record(
            1,
            AuditKind.RECOMMENDATION,
            "engine:optimizer",
            {"id": "a", "tag": "LIC-101.RSP", "value": 655.0, "issued_at": NOW},
        ),
        record(
            2,
            AuditKind.DECISION,
            "gateway",
            {"id": "a", "decision": "rejected", "reasons": [], "value": None},
        ),
        record(3, AuditKind.DECISION, "gateway", {"id": "a", "decision": "accepted", "revalidation": True}),
    ]
    found = recorded_recommendations(records)
    assert [(r.proposal.id, r.proposal.engine, r.inputs) for r in found] == [("a", "optimizer", None)]
    report = replay(found, PLANT)
    assert (report.replayed, report.not_replayable, report.changed) == (0, 1, ())
