"""Earned autonomy across a restart: a new gateway on the same data dir reads the ledger back from the
trail, exactly as the live one held it, only when the trail verifies; doubt gives shadow; loops still
start in fallback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore, audit_path
from otgate.core.audit_chain import AuditEntry
from otgate.core.decision import Verdict
from otgate.core.modes import LoopMode
from otgate.core.plant import compile_plant
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.autonomy.harness import NEW_DIGEST, Day, earned_config
from tests.autonomy.test_lifecycle import through_shadow, through_supervised

LATER_S = 7200.0  # the new process starts two hours of wall time later, on a monotonic clock of its own


def restarted(day: Day, tmp_path: Path) -> tuple[Gateway, AuditStore, ManualClock]:
    """Stop the day's gateway (its store closed) and start a new one on the same data dir."""
    day.store.close()
    store = AuditStore(tmp_path, None)
    clock = ManualClock(day.clock.now() + LATER_S)
    clock.steady = 5.0  # a new process: its monotonic clock has nothing to do with the old one's
    gateway = Gateway(compile_plant(earned_config()), {"plc1": day.fake}, store, clock)
    gateway.record_start("tank.yaml", "")
    return gateway, store, clock


def start_record(store: AuditStore) -> dict[str, object]:
    return dict([r for r in store.records() if r.kind == "gateway_start"][-1].data)


async def supervised_day(tmp_path: Path) -> Day:
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    await day.engage()
    await through_supervised(day, reviews=7)
    await day.tick(60.0)
    day.propose(0.4, digest=NEW_DIGEST)  # a second model: its own entries, in shadow
    await day.tick(60.0)
    day.propose(-0.4)  # and back to the first: its entries start again in shadow ...
    return day


@pytest.mark.requirement("R-24")
async def test_restore_supervised_engine_stays_supervised_with_its_evidence(tmp_path: Path):
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    await day.engage()
    await through_supervised(day, reviews=7)
    live = dict(day.gateway.ledger.entries)
    live_wall = {k: e.stage_since - day.clock.monotonic() + day.clock.now() for k, e in live.items()}

    gateway, store, clock = restarted(day, tmp_path)
    assert gateway.ledger.level("optimizer", "LIC-101") is not None
    assert gateway.ledger.level("optimizer", "LIC-101").value == "supervised"  # type: ignore[union-attr]
    assert gateway.loops["LIC-101"].state.mode is LoopMode.FALLBACK  # a restored level engages nothing
    assert gateway.ledger.entries.keys() == live.keys()
    for key, entry in live.items():
        got = gateway.ledger.entries[key]
        assert (got.level, got.stage, got.total) == (entry.level, entry.stage, entry.total)
        # the stage keeps its age: the same wall time of entry, seen from the new monotonic clock
        assert got.stage_since - clock.monotonic() + clock.now() == pytest.approx(live_wall[key], abs=1e-3)
    assert start_record(store)["autonomy_restored"] == {
        "verified": True,
        "records": store.head.seq - 2,  # type: ignore[union-attr]
        "entries": [
            {"engine": "optimizer", "model_digest": k.digest, "loop": "LIC-101", "level": "supervised"}
            for k in live
        ],
        "doubtful": [],
    }
    (answer,) = gateway.submit([day.proposal(0.4)])
    assert answer.decision.verdict is not Verdict.SHADOW  # judged as supervised, not as a newcomer


@pytest.mark.requirement("R-24")
async def test_restore_matches_the_live_ledger_after_digest_changes(tmp_path: Path):
    day = await supervised_day(tmp_path)
    live = {k: (e.level, e.stage, e.total, e.certificates) for k, e in day.gateway.ledger.entries.items()}
    digests = dict(day.gateway.ledger.digests)
    gateway, _, _ = restarted(day, tmp_path)
    got = {k: (e.level, e.stage, e.total, e.certificates) for k, e in gateway.ledger.entries.items()}
    assert got == live
    assert gateway.ledger.digests == digests
    assert [h["event"] for h in gateway.ledger.history] == [h["event"] for h in day.gateway.ledger.history]


@pytest.mark.requirement("R-24")
async def test_restore_tampered_trail_gives_shadow(tmp_path: Path):
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    day.store.close()
    with sqlite3.connect(audit_path(tmp_path)) as db:  # an edit in the middle, by someone with the file
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET actor = 'engine:mallory' WHERE seq = 10")
    store = AuditStore(tmp_path, None)
    clock = ManualClock(day.clock.now() + LATER_S)
    gateway = Gateway(compile_plant(earned_config()), {"plc1": day.fake}, store, clock)
    gateway.record_start("tank.yaml", "")
    assert gateway.ledger.entries == {}
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"  # type: ignore[union-attr]
    restored = start_record(store)["autonomy_restored"]
    assert isinstance(restored, dict)
    assert restored["verified"] is False and restored["first_bad_seq"] == 10 and restored["entries"] == []


@pytest.mark.requirement("R-24")
async def test_restore_inconsistent_change_record_gives_shadow_on_record(tmp_path: Path):
    """A trail that verifies but whose level changes do not add up (here: rewritten with the chain
    recomputed, as someone without a key could) is doubted; the entry starts in shadow, on record."""
    day = Day(tmp_path)
    await through_shadow(day)
    assert day.sign_off()
    day.store.close()
    forged = _forge_second_sign_off(tmp_path)
    store = AuditStore(tmp_path, None)
    assert store.verify().ok  # the forgery kept the chain intact
    clock = ManualClock(day.clock.now() + LATER_S)
    gateway = Gateway(compile_plant(earned_config()), {"plc1": day.fake}, store, clock)
    gateway.record_start("tank.yaml", "")
    assert gateway.ledger.level("optimizer", "LIC-101").value == "shadow"  # type: ignore[union-attr]
    doubt = [dict(r.data) for r in store.records() if r.kind == "autonomy_change"][-1]
    assert doubt["event"] == "doubt" and doubt["from"] == "autonomous" and doubt["to"] == "shadow"
    assert f"seq {forged}" in str(doubt["reason"])
    # ... and the trail agrees with the ledger again: the next start restores shadow without doubt
    store.close()
    again = AuditStore(tmp_path, None)
    later = Gateway(compile_plant(earned_config()), {"plc1": day.fake}, again, ManualClock(clock.now() + 60))
    later.record_start("tank.yaml", "")
    assert later.ledger.level("optimizer", "LIC-101").value == "shadow"  # type: ignore[union-attr]
    assert start_record(again)["autonomy_restored"]["doubtful"] == []  # type: ignore[index]


def _forge_second_sign_off(data_dir: Path) -> int:
    """Append a sign-off to autonomous that claims to start from shadow (the entry is supervised): through
    the store, so the chain verifies; only the fold's bookkeeping can see it does not add up."""
    store = AuditStore(data_dir, None)
    change = [r for r in store.records() if r.kind == "autonomy_change"][-1]
    data = {**change.data, "event": "sign_off", "from": "shadow", "to": "autonomous"}
    (record,) = store.append_many([AuditEntry("autonomy_change", "operator:mallory", data, change.at + 1.0)])
    store.close()
    return record.seq
