"""What an engine sends and gets back, typed with the gateway's own wire models (`otgate.api.schemas`).

A `Proposal` is what engine code writes: a tag, a value, why. The client turns it into the server's
`Recommendation` (an id and an RFC 3339 `issued_at` made for it), so a body the server would refuse as
malformed is refused here already, with the same field errors.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from otgate.api.schemas import (
    DecisionOut,
    EnvelopeOut,
    ModelInfo,
    Range,
    Recommendation,
    StateOut,
    TagsOut,
)

Envelope = EnvelopeOut
Tags = TagsOut
State = StateOut
Interval = Range


class Decision(DecisionOut):
    """The gateway's answer to one proposal. `admissible` is the interval the setpoint could have taken,
    when the gateway has process models to compute it; absent otherwise (and from gateways without it)."""

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    @property
    def is_written(self) -> bool:
        """The gateway will write it (now, or step by step as a ramp)."""
        return self.decision in ("accepted", "ramping")


@dataclass(frozen=True)
class Proposal:
    tag: str
    value: float
    rationale: str | None = None
    basis_at: datetime | None = None  # when the data the proposal is based on was taken
    id: str | None = None  # made for you (unique) unless given; give one only to retry the same proposal
    issued_at: datetime | None = None  # stamped at sending unless given (an engine with its own clock)

    def to_recommendation(self, model: ModelInfo | None, now: datetime | None = None) -> Recommendation:
        if not math.isfinite(self.value):  # the gateway refuses NaN and infinities as malformed JSON
            raise ValueError(f"value must be a finite number, not {self.value!r}")
        return Recommendation(
            id=self.id or f"rec-{uuid.uuid4().hex}",
            tag=self.tag,
            value=float(self.value),
            # The wire model takes RFC 3339 text only (a bare number would be read as UNIX seconds).
            issued_at=(self.issued_at or now or datetime.now(UTC)).isoformat(),  # type: ignore[arg-type]
            basis_at=self.basis_at.isoformat() if self.basis_at else None,  # type: ignore[arg-type]
            model=model,
            rationale=self.rationale,
        )


@dataclass(frozen=True)
class View:
    """What an engine sees each cycle: the setpoints it may move (with their rules) and the plant state."""

    tags: Tags
    state: State
    envelopes: dict[str, Envelope] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "envelopes", {e.tag: e for e in self.tags.writable})

    def value(self, tag: str) -> float | None:
        return self.state.values.get(tag)


def recommendation_body(
    proposal: Proposal, model: ModelInfo | None = None, now: datetime | None = None
) -> bytes:
    """One recommendation as the JSON body of `POST /v1/recommendations`; raises ValueError (pydantic's
    ValidationError is one) for a proposal the gateway would refuse as malformed."""
    return json.dumps(
        proposal.to_recommendation(model, now).model_dump(mode="json", exclude_none=True)
    ).encode()


def batch_body(
    proposals: Sequence[Proposal], model: ModelInfo | None = None, now: datetime | None = None
) -> bytes:
    """Several recommendations in one body (`{"recommendations": [...]}`), decided in order."""
    items = [p.to_recommendation(model, now).model_dump(mode="json", exclude_none=True) for p in proposals]
    return json.dumps({"recommendations": items}).encode()


def read_decisions(body: bytes | str) -> list[Decision]:
    """The decisions of a 200 answer (a batch's `{"decisions": [...]}` or one decision), in order;
    ValueError for a body that is not one (an error answer, or not JSON)."""
    data = json.loads(body)
    if isinstance(data, dict) and isinstance(data.get("decisions"), list):
        return [Decision.model_validate(d) for d in data["decisions"]]
    return [Decision.model_validate(data)]
