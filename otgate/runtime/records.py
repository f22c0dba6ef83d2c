"""What the trail records of recommendations, decisions and mode states (plain data, JSON-ready)."""

from __future__ import annotations

import math
from typing import Any

from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.decision import Decision
from otgate.core.modes import LoopState
from otgate.core.proposal import Proposal


def describe(state: LoopState) -> str:
    return f"{state.mode.value}{' (latched)' if state.latched else ''}"


def recommendation_data(proposal: Proposal, rationale: str | None) -> dict[str, Any]:
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


def decision_data(decision: Decision) -> dict[str, Any]:
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


def start_entries(
    plant: str,
    loops: list[str],
    file: str,
    sha256: str,
    replay_ids: int,
    at: float,
    actor: str = "gateway",
    autonomy: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """The two records every start writes: the config in force, and every loop in fallback (with what
    earned autonomy was restored from the trail, when a loop has a policy)."""
    start: dict[str, Any] = {
        "loops": {name: "fallback" for name in loops},
        "replay_ids_recovered": replay_ids,
    }
    if autonomy is not None:
        start["autonomy_restored"] = autonomy
    return [
        AuditEntry(AuditKind.CONFIG_LOAD, actor, {"file": file, "sha256": sha256, "plant": plant}, at),
        AuditEntry(AuditKind.GATEWAY_START, actor, start, at),
    ]
