"""The risk class of a supervised move, from deterministic features only (docs/AUTONOMY.md).

Human attention is the scarce resource: if every move needs approval, reviewers start rubber-stamping.
So a move in `supervised` is classed by what it could do, and only the risky ones wait for people:

    feature            measured as                                              high       highest
    move size          |move| / max move in that direction                      >= 0.5     >= 0.9
    alarm distance     distance of the value to the nearer alarm limit /        < 0.15     < 0.05
                       alarm band width
    predicted margin   distance of the value to the nearer edge of the look-    < 0.15     < 0.05
                       ahead's admissible interval / hard-limits width (models)
    unusualness        |value - mean of recent setpoints| / their spread         >= 2.5     >= 4.0
                       (judged once `min_history` setpoints are known)

(default thresholds; `RiskPolicy` in the loop's config). The class is the highest any feature gives:
    low      applied without approval (re-validated at the write like every write)
    high     one operator approves
    highest  two *different* operators approve
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from otgate.core.autonomy_policy import RiskPolicy
from otgate.core.config import SetpointRules
from otgate.core.step_response import StepModel


class RiskClass(StrEnum):
    LOW = "low"
    HIGH = "high"
    HIGHEST = "highest"


APPROVALS_REQUIRED = {RiskClass.LOW: 0, RiskClass.HIGH: 1, RiskClass.HIGHEST: 2}
_ORDER = (RiskClass.LOW, RiskClass.HIGH, RiskClass.HIGHEST)


@dataclass(frozen=True, slots=True)
class RiskFeatures:
    move_fraction: float
    alarm_margin: float
    predicted_margin: float | None  # None without process models
    unusual_sigma: float | None  # None until enough history


@dataclass(frozen=True, slots=True)
class RiskJudgement:
    risk: RiskClass
    features: RiskFeatures
    why: tuple[str, ...]  # each feature that raised the class above low

    @property
    def approvals_required(self) -> int:
        return APPROVALS_REQUIRED[self.risk]


def features(
    value: float,
    readback: float,
    rules: SetpointRules,
    admissible: tuple[float, float] | None,
    recent: Sequence[float],
    min_history: int,
) -> RiskFeatures:
    move = value - readback
    max_move = rules.max_move_up if move >= 0 else rules.max_move_down
    alarm = rules.alarm
    alarm_margin = min(value - alarm.lo, alarm.hi - value) / (alarm.hi - alarm.lo)
    predicted = None
    if admissible is not None:
        width = rules.limits.hi - rules.limits.lo
        predicted = min(value - admissible[0], admissible[1] - value) / width
    return RiskFeatures(abs(move) / max_move, alarm_margin, predicted, _unusual(value, recent, min_history))


def _unusual(value: float, recent: Sequence[float], min_history: int) -> float | None:
    if len(recent) < min_history:
        return None
    spread = statistics.pstdev(recent)
    distance = abs(value - statistics.fmean(recent))
    if spread <= 0.0:
        return 0.0 if distance == 0.0 else math.inf
    return distance / spread


def classify(found: RiskFeatures, policy: RiskPolicy) -> RiskJudgement:
    """The highest class any feature gives, and which features gave it."""
    marks = [
        _rising("move size", found.move_fraction, policy.high_move_fraction, policy.highest_move_fraction),
        _falling("alarm distance", found.alarm_margin, policy.high_alarm_margin, policy.highest_alarm_margin),
    ]
    if found.predicted_margin is not None:
        marks.append(
            _falling(
                "predicted margin",
                found.predicted_margin,
                policy.high_predicted_margin,
                policy.highest_predicted_margin,
            )
        )
    if found.unusual_sigma is not None:
        marks.append(
            _rising(
                "unusual value", found.unusual_sigma, policy.high_unusual_sigma, policy.highest_unusual_sigma
            )
        )
    risk = max((mark[0] for mark in marks), key=_ORDER.index)
    why = tuple(text for level, text in marks if level is not RiskClass.LOW)
    return RiskJudgement(risk, found, why)


def _rising(name: str, have: float, high: float, highest: float) -> tuple[RiskClass, str]:
    level = RiskClass.HIGHEST if have >= highest else RiskClass.HIGH if have >= high else RiskClass.LOW
    return level, f"{name} {have:.3g} (high from {high:g}, highest from {highest:g})"


def _falling(name: str, have: float, high: float, highest: float) -> tuple[RiskClass, str]:
    level = RiskClass.HIGHEST if have < highest else RiskClass.HIGH if have < high else RiskClass.LOW
    return level, f"{name} {have:.3g} (high below {high:g}, highest below {highest:g})"


def predicted_effect(models: Sequence[StepModel], tag: str, move: float) -> dict[str, float]:
    """Per modelled output: its predicted steady-state change for this move (gain x move), for people."""
    effect: dict[str, float] = {}
    for model in models:
        if model.input == tag:
            effect[model.output] = effect.get(model.output, 0.0) + model.gain * move
    return effect
