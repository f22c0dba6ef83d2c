"""At start, the evidence ledger read back from the audit trail, so a restart does not undo earned autonomy.

Only a trail that verifies end to end is read (a trail that does not is no evidence of anything): every
engine then starts in shadow, as on a first start. The fold (`otgate.core.ledger_fold`) gives each
entry's level, stage evidence, totals and certificates; an entry it doubts starts in shadow, and that is
recorded (`autonomy_change`, event `doubt`) so the trail and the ledger agree again from here on.

What a restored level does not do: engage anything. Every loop still starts in fallback and waits for an
operator; the level is only a ceiling on what the engine's proposals may do once a loop is engaged.
Proposals queued for operators before the restart are not restored: they were void with the process.

The trail is stamped with the wall clock; each time is carried over to this process's monotonic clock by
its age (as the replay window's ids are), so "hours in this stage" keeps counting across the restart.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from otgate.audit.store import AuditStore, AuditStoreError
from otgate.core.audit_chain import AuditKind
from otgate.core.autonomy import Entry, Key
from otgate.core.config import Autonomy
from otgate.core.evidence import Tally, tally_data
from otgate.core.ledger_fold import DOUBT, Folded, Scope, fold_ledger
from otgate.runtime.ledger import Ledger

log = logging.getLogger(__name__)


def scope_of(ledger: Ledger) -> Scope:
    config = ledger.plant.config
    loops = {loop.sp: name for name, loop in config.loops.items() if loop.autonomy is not None}
    return Scope(loops, frozenset(config.engines))


def restore_ledger(
    ledger: Ledger, audit: AuditStore, wall_now: float, monotonic_now: float
) -> dict[str, Any] | None:
    """Rebuild `ledger` from the trail; what was restored, for the start record (None: no loop has a
    policy, nothing to restore, and the start record stays as it always was)."""
    if not scope_of(ledger).loops_by_setpoint:
        return None
    try:
        verification = audit.verify()
        folded = fold_ledger(audit.records(), scope_of(ledger)) if verification.ok else None
    except AuditStoreError as error:
        verification, folded = None, None
        problem = str(error)
    if folded is None:
        problem = verification.problem if verification is not None else problem
        first_bad = verification.first_bad_seq if verification is not None else None
        log.warning("earned autonomy not restored: the audit trail does not verify (%s)", problem)
        return {"verified": False, "first_bad_seq": first_bad, "problem": problem, "entries": []}
    return {"verified": True, **_install(ledger, folded, monotonic_now - wall_now, monotonic_now)}


def _install(ledger: Ledger, folded: Folded, shift_s: float, now: float) -> dict[str, Any]:
    rows, doubts = [], []
    ledger.history.extend(folded.changes)
    for key, entry in folded.entries.items():
        moved = replace(entry, stage_since=entry.stage_since + shift_s, first_seen=entry.first_seen + shift_s)
        why = folded.doubtful.get(key)
        if why is not None:
            moved = _doubted(ledger, moved, why, now)
            doubts.append({**_key_data(key), "why": why})
        ledger.entries[key] = moved
        rows.append({**_key_data(key), "level": moved.level.value})
    ledger.digests.update(folded.digests)
    return {"records": folded.last_seq, "entries": rows, "doubtful": doubts}


def _doubted(ledger: Ledger, entry: Entry, why: str, now: float) -> Entry:
    """An entry the fold doubts: shadow from now, on record (the trail's claimed level as `from`)."""
    after = replace(entry, level=Autonomy.SHADOW, stage_since=now, stage=Tally())
    data = {
        "event": DOUBT,
        **_key_data(entry.key),
        "from": entry.level.value,
        "to": after.level.value,
        "reason": f"restart: {why}; back to shadow",
        "evidence": tally_data(entry.stage),
        "stage_hours": round(max(0.0, now - entry.stage_since) / 3600.0, 4),
        "certificates": list(entry.certificates),
    }
    ledger.history.append(data)
    ledger.audit(AuditKind.AUTONOMY_CHANGE, ledger.actor, data)
    return after


def _key_data(key: Key) -> dict[str, str]:
    return {"engine": key.engine, "model_digest": key.digest, "loop": key.loop}
