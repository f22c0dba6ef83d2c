"""Wire models of the AI-facing API. Strict: unknown fields, strings for numbers and oversize text are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt

MAX_BODY_BYTES = 256 * 1024
Text = Annotated[str, Field(max_length=200)]


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ModelInfo(WireModel):
    name: Text
    version: Text
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None


def _rfc3339_text(value: object) -> object:
    """Timestamps are RFC 3339 strings only: a bare number would be read as UNIX seconds, silently."""
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string with an offset")
    if value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("must be an RFC 3339 date-time string, not a number")
    return value


Rfc3339 = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_rfc3339_text)]


class Recommendation(WireModel):
    id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
    tag: Annotated[str, Field(min_length=1, max_length=64)]
    # Strict: a JSON number only. NaN and Infinity tokens are refused before parsing reaches here.
    value: StrictFloat | StrictInt
    issued_at: Rfc3339
    basis_at: Rfc3339 | None = None
    model: ModelInfo | None = None
    rationale: Annotated[str, Field(max_length=4000)] | None = None


class Heartbeat(WireModel):
    """An optional heartbeat body: the engine's clock at sending, to measure its offset."""

    sent_at: Rfc3339 | None = None


class Batch(WireModel):
    recommendations: Annotated[list[Recommendation], Field(min_length=1)]


class ReasonOut(BaseModel):
    code: str
    detail: str


class DecisionOut(BaseModel):
    id: str
    decision: Literal["accepted", "ramping", "rejected", "pending_approval", "advisory"]
    reasons: list[ReasonOut]
    written_value: float | None
    audit_seq: int


class DecisionsOut(BaseModel):
    decisions: list[DecisionOut]


def epoch(moment: datetime) -> float:
    return moment.timestamp()
