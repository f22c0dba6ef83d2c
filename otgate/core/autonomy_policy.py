"""The promotion policy of one loop: when an engine becomes eligible for more autonomy, when it loses it,
and how supervised moves are tiered by risk (docs/AUTONOMY.md).

A loop without a policy keeps the static autonomy of its tag (`advisory`, `supervised`, `autonomous`), as
before. A loop with one starts every engine and every new model version in `shadow` and lets it climb
only on evidence plus an engineer's sign-off; the tag's own autonomy stays the ceiling.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Demotion(StrEnum):
    ONE_LEVEL = "one_level"  # autonomous -> supervised -> shadow
    TO_SHADOW = "shadow"  # straight back to the start


class ShadowExit(_Model):
    """Shadow -> supervised: enough observed time and proposals, none refused for safety, and most of them
    would have been accepted."""

    min_hours: NonNegative = 8.0
    min_proposals: int = Field(200, ge=1)
    min_would_be_acceptance: Fraction = 0.95


class SupervisedExit(_Model):
    """Supervised -> autonomous: enough moves an operator reviewed, and few of them rejected."""

    min_hours: NonNegative = 0.0
    min_reviewed: int = Field(100, ge=1)
    max_operator_rejection: Fraction = 0.02


class DemotionPolicy(_Model):
    """Automatic demotion on evidence, and how far. A demotion always restarts the stage's evidence."""

    on_safety_refusal: Demotion = Demotion.ONE_LEVEL
    on_anomaly: Demotion = Demotion.TO_SHADOW
    on_operator_rejections: Demotion = Demotion.ONE_LEVEL
    # Operator rejections over this share of the stage's reviews (once `min_reviews` exist) demote.
    max_operator_rejection: Fraction = 0.10
    min_reviews: int = Field(20, ge=1)


class RiskPolicy(_Model):
    """Thresholds of the risk classes of a supervised move (`otgate.core.risk`). Each feature is judged on
    its own; the move's class is the highest any feature gives."""

    high_move_fraction: Fraction = 0.5  # |move| / max_move at or above this: high
    highest_move_fraction: Fraction = 0.9  # ... at or above this: highest (two operators)
    high_alarm_margin: Fraction = 0.15  # distance to the nearest alarm limit / alarm band width below this
    highest_alarm_margin: Fraction = 0.05
    high_predicted_margin: Fraction = 0.15  # distance to the edge of the admissible interval / limits width
    highest_predicted_margin: Fraction = 0.05
    high_unusual_sigma: Positive = 2.5  # |value - recent mean| / recent spread at or above this: high
    highest_unusual_sigma: Positive = 4.0
    min_history: int = Field(10, ge=2)  # recent setpoints needed before "unusual" is judged

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        pairs = (
            ("move_fraction", self.high_move_fraction <= self.highest_move_fraction),
            ("alarm_margin", self.high_alarm_margin >= self.highest_alarm_margin),
            ("predicted_margin", self.high_predicted_margin >= self.highest_predicted_margin),
            ("unusual_sigma", self.high_unusual_sigma <= self.highest_unusual_sigma),
        )
        for name, ordered in pairs:
            if not ordered:
                raise ValueError(f"high_{name} must be less severe than highest_{name}")
        return self


class RubberStampPolicy(_Model):
    """Approvals that cannot have been considered: faster than a person can read the proposal, or a long
    run of approvals without a single rejection at an unvarying pace."""

    min_read_s: Positive = 3.0  # an approval sooner than this after the proposal was queued is too fast
    too_fast_count: int = Field(3, ge=1)  # this many too-fast approvals among the last `window` -> alarm
    window: int = Field(20, ge=2)
    uniform_run: int = Field(50, ge=2)  # this many approvals in a row, none rejected ...
    uniform_spread_s: NonNegative = 0.5  # ... with latencies all within this spread -> alarm


class AutonomyPolicy(_Model):
    """A loop's earned-autonomy policy (docs/AUTONOMY.md)."""

    to_supervised: ShadowExit = ShadowExit()
    to_autonomous: SupervisedExit = SupervisedExit()
    demotion: DemotionPolicy = DemotionPolicy()
    risk: RiskPolicy = RiskPolicy()
    rubber_stamp: RubberStampPolicy = RubberStampPolicy()
