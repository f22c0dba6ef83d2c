"""Earned autonomy: the level an engine has earned on a loop, as a small state machine driven by evidence.

Invariants (each is tested event by event in tests/core/test_autonomy.py):
- An entry (engine x model digest x loop) starts in `shadow`. A new model digest is a new entry, so a new
  model version always starts in shadow, on every loop.
- The only way up is `sign_off`, and it is refused unless the entry is eligible *now* (`eligibility`):
  nothing an API or HMI sends can promote an engine the evidence does not support.
- Evidence can only push down: a safety-class refusal, an anomaly attributed to the engine, or operator
  rejections over the policy demote at once, as far as the policy says. Any demotion, and any promotion,
  restarts the stage's evidence: each level has to be earned afresh.
- The earned level is a ceiling on what the engine's proposals may do, never a loop mode: a gateway still
  starts every loop in fallback, and the tag's own configured autonomy stays the upper bound.

Ladder: shadow -> supervised -> autonomous (`advisory` stays a static tag setting: shown, never written).

Transitions (event -> step on the ladder):
    sign_off               +1, only when eligible
    safety_refusal         policy.demotion.on_safety_refusal   (one_level | shadow)
    anomaly                policy.demotion.on_anomaly
    operator_rejections    policy.demotion.on_operator_rejections
    manual_demotion        one level (an engineer's or operator's action on the HMI)
    new_model              (the new digest's entry starts in shadow; the old one is left as it was)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from otgate.core.autonomy_policy import AutonomyPolicy, Demotion
from otgate.core.config import Autonomy
from otgate.core.evidence import Tally

LADDER = (Autonomy.SHADOW, Autonomy.SUPERVISED, Autonomy.AUTONOMOUS)
HOUR_S = 3600.0


class AutonomyEvent(StrEnum):
    SIGN_OFF = "sign_off"
    SAFETY_REFUSAL = "safety_refusal"
    ANOMALY = "anomaly"
    OPERATOR_REJECTIONS = "operator_rejections"
    MANUAL_DEMOTION = "manual_demotion"


@dataclass(frozen=True, slots=True)
class Key:
    engine: str
    digest: str  # the model digest the engine sent ("" when it sends none)
    loop: str


@dataclass(frozen=True, slots=True)
class Entry:
    key: Key
    level: Autonomy
    stage_since: float  # monotonic time the current level was entered (or its evidence restarted)
    stage: Tally = field(default_factory=Tally)
    total: Tally = field(default_factory=Tally)
    first_seen: float = 0.0
    certificates: tuple[str, ...] = ()  # sha256 of each scorecard attached as evidence


def new_entry(key: Key, now: float) -> Entry:
    return Entry(key, Autonomy.SHADOW, now, first_seen=now)


@dataclass(frozen=True, slots=True)
class Eligibility:
    current: Autonomy
    next_level: Autonomy | None  # None at the top of the ladder
    unmet: tuple[str, ...]  # each criterion not met, with the figures

    @property
    def eligible(self) -> bool:
        return self.next_level is not None and not self.unmet


def eligibility(entry: Entry, policy: AutonomyPolicy, now: float) -> Eligibility:
    """Whether the evidence of the current stage meets the policy for the next level, and what is missing."""
    stage, hours = entry.stage, max(0.0, now - entry.stage_since) / HOUR_S
    common = _unmet_common(stage)
    if entry.level is Autonomy.SHADOW:
        rule = policy.to_supervised
        unmet = [
            *_at_least("hours observed", hours, rule.min_hours),
            *_at_least("proposals", stage.proposals, rule.min_proposals),
            *_at_least("would-be acceptance", stage.would_be_acceptance, rule.min_would_be_acceptance),
            *common,
        ]
        return Eligibility(entry.level, Autonomy.SUPERVISED, tuple(unmet))
    if entry.level is Autonomy.SUPERVISED:
        rule2 = policy.to_autonomous
        unmet = [
            *_at_least("hours observed", hours, rule2.min_hours),
            *_at_least("operator-reviewed moves", stage.reviewed, rule2.min_reviewed),
            *_at_most("operator rejection", stage.operator_rejection, rule2.max_operator_rejection),
            *common,
        ]
        return Eligibility(entry.level, Autonomy.AUTONOMOUS, tuple(unmet))
    return Eligibility(entry.level, None, ("at the top of the ladder",))


def _unmet_common(stage: Tally) -> list[str]:
    unmet = []
    if stage.safety_refusals:
        unmet.append(f"safety-class refusals: {stage.safety_refusals}, policy allows none")
    if stage.anomalies:
        unmet.append(f"anomalies attributed to the engine: {stage.anomalies}, policy allows none")
    return unmet


def _at_least(what: str, have: float, need: float) -> list[str]:
    return [] if have >= need else [f"{what}: {_fmt(have)}, needs at least {_fmt(need)}"]


def _at_most(what: str, have: float, limit: float) -> list[str]:
    return [] if have <= limit else [f"{what}: {_fmt(have)}, allowed at most {_fmt(limit)}"]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class Transition:
    before: Entry
    after: Entry
    event: AutonomyEvent
    reason: str

    @property
    def is_promotion(self) -> bool:
        return LADDER.index(self.after.level) > LADDER.index(self.before.level)


def apply(
    entry: Entry, event: AutonomyEvent, policy: AutonomyPolicy, now: float, reason: str
) -> Transition | None:
    """The entry after `event`, or None when the event is refused (a sign-off without eligibility)."""
    if event is AutonomyEvent.SIGN_OFF:
        judged = eligibility(entry, policy, now)
        if not judged.eligible or judged.next_level is None:
            return None
        return Transition(entry, _restart(entry, judged.next_level, now), event, reason)
    step = _demotion_step(event, policy)
    return Transition(entry, _restart(entry, _demoted(entry.level, step), now), event, reason)


def _demotion_step(event: AutonomyEvent, policy: AutonomyPolicy) -> Demotion:
    """How far each evidence event demotes, as the loop's policy says."""
    steps = {
        AutonomyEvent.SAFETY_REFUSAL: policy.demotion.on_safety_refusal,
        AutonomyEvent.ANOMALY: policy.demotion.on_anomaly,
        AutonomyEvent.OPERATOR_REJECTIONS: policy.demotion.on_operator_rejections,
        AutonomyEvent.MANUAL_DEMOTION: Demotion.ONE_LEVEL,
    }
    return steps[event]


def _demoted(level: Autonomy, step: Demotion) -> Autonomy:
    if step is Demotion.TO_SHADOW:
        return Autonomy.SHADOW
    return LADDER[max(0, LADDER.index(level) - 1)]


def _restart(entry: Entry, level: Autonomy, now: float) -> Entry:
    return replace(entry, level=level, stage_since=now, stage=Tally())


def demotion_due(entry: Entry, policy: AutonomyPolicy) -> AutonomyEvent | None:
    """The operator-rejection rule, judged after each review: enough reviews and too many rejected."""
    rule, stage = policy.demotion, entry.stage
    if stage.reviewed >= rule.min_reviews and stage.operator_rejection > rule.max_operator_rejection:
        return AutonomyEvent.OPERATOR_REJECTIONS
    return None


def effective_level(entry: Entry | None, static: Autonomy) -> Autonomy:
    """What a proposal may do: the earned level, never above the tag's (and engine's) own ceiling."""
    if entry is None:
        return static
    return static.capped(entry.level)
