"""Wire models of the AI-facing API. Strict: unknown fields, strings for numbers and oversize text are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat, StrictInt

from otgate.api.autonomy_schemas import AutonomyOut

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


class AnswerModel(BaseModel):
    """What the gateway answers. Frozen; unknown fields are ignored (not forbidden) so that a client built
    on these models keeps working against a newer gateway that adds a field."""

    model_config = ConfigDict(frozen=True)


class ReasonOut(AnswerModel):
    code: str
    detail: str


class Range(AnswerModel):
    lo: float
    hi: float


class DecisionOut(AnswerModel):
    id: str
    decision: Literal["accepted", "ramping", "rejected", "pending_approval", "advisory", "shadow"]
    reasons: list[ReasonOut]
    written_value: float | None
    audit_seq: int
    # The setpoints the look-ahead admits now, within the hard limits (plants with process models).
    admissible: Range | None = None


class DecisionsOut(AnswerModel):
    decisions: list[DecisionOut]


class ErrorOut(AnswerModel):
    """Every error: a code and a correlation id (the details are in the gateway's log, never here)."""

    error: str
    id: str
    fields: list[dict[str, object]] | None = None


class UpDown(AnswerModel):
    up: float
    down: float


class BudgetOut(AnswerModel):
    max_change: float
    window_s: float


class EnvelopeOut(AnswerModel):
    """One setpoint an engine may write and the rules it will be judged by."""

    tag: str
    unit: str
    limits: Range
    max_move: UpDown
    rate_per_s: UpDown
    change_budget: BudgetOut
    deadband: float
    min_write_interval_s: float
    # The tag's, capped by the engine's own and by the level it has earned on the loop (docs/AUTONOMY.md).
    autonomy: Literal["shadow", "advisory", "supervised", "autonomous"]
    current_setpoint: float | None
    loop: str
    mode: str


class Bounds(AnswerModel):
    lo: float | None
    hi: float | None


class ReadableOut(AnswerModel):
    tag: str
    unit: str
    kind: str
    # Where the AI may operate this variable (the config's envelope; moves are judged against it).
    operating_envelope: Bounds | None = None


class TagsOut(AnswerModel):
    writable: list[EnvelopeOut]
    readable: list[ReadableOut]


class LoopOut(AnswerModel):
    mode: str
    latched: bool


class AlarmOut(AnswerModel):
    code: str
    priority: str
    count: int


class StateOut(AnswerModel):
    at: float | None  # UTC epoch seconds of the scan the values come from; null before the first
    plc_available: bool
    values: dict[str, float]
    loops: dict[str, LoopOut]
    alarms: list[AlarmOut]
    # This engine's measured clock offset in seconds (positive: behind the gateway), null until known.
    clock_offset_s: float | None = None
    autonomy: list[AutonomyOut] = []


def epoch(moment: datetime) -> float:
    return moment.timestamp()
