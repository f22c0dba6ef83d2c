"""Earned autonomy as the APIs show it: one row per engine x model digest x loop (docs/AUTONOMY.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EvidenceOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    proposals: int
    would_accept: int
    would_be_acceptance: float
    safety_refusals: int
    availability_refusals: int
    conduct_refusals: int
    no_change: int
    anomalies: int
    approvals: int
    rejections: int
    operator_rejection: float
    applied_low_risk: int
    mean_review_s: float | None


class AutonomyOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    engine: str
    model_digest: str  # "" when the engine sends none
    loop: str
    current_model: bool  # the digest the engine sent last
    level: str  # shadow | supervised | autonomous (the tag's own autonomy still caps it)
    eligible: bool
    next_level: str | None
    unmet: list[str]  # each promotion criterion not met, with the figures
    stage_hours: float  # since the current level was entered (its evidence restarted)
    hours_observed: float
    stage: EvidenceOut  # evidence of the current stage: what promotion is judged on
    total: EvidenceOut
    certificates: list[str]  # sha256 of each certification scorecard attached
