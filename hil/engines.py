"""Scripted AI engines: parameterised misbehaviours that speak the AI API's wire format.

An engine does not call the gateway. Each time it is due (every `period` from `start` until `stop`) it
returns `Submission`s: an HTTP body exactly as a real engine would POST it to ``/v1/recommendations``,
and the bearer token to send it with. The runner delivers them through the gateway's real API app, so
strict JSON parsing, the wire schema, authentication and throttling are all in the loop.

Bodies and answers go through the client SDK (`otgate.client`: `recommendation_body`, `read_decisions`),
the same code a real engine uses, so the HIL engines exercise the one client. Only what the SDK refuses to
build is written by hand: the non-finite and wrongly typed values (``NaN``, ``"abc"``, ``1e999`` as JSON
text the API must refuse, not as Python floats that would skip the parser), timeline values given as raw
JSON, and tags or ids outside the wire schema (an injection attempt in a tag name); the gateway must
refuse those itself. The transport stays the runner's: a scripted engine must see every status as it
comes (401, 422, 429) and never have a 429 retried for it, which the SDK's connection does by design.

Engines read the process like an optimiser reads a historian: the working setpoint the PLC holds, from
the simulator. Behaviours (the `kind` field):

    optimiser         moves towards `target` by at most `max_step` a proposal (a well-behaved engine)
    step              proposes `value` once (or every period with `repeat`)
    ramp, drift       start + rate_per_min * elapsed, optionally capped at `until` (drift: a slow ramp)
    ramp_hold_return  ramp up to `peak`, hold for `hold`, ramp back to the start at the same rate
    oscillation       alternates between `low` and `high` every `half_period`
    frozen            the same recommendation again and again: same id (`same: id`) or a new id with
                      the first issue time (`same: timestamp`, a stuck clock in the engine)
    silent            never proposes (an engine that hangs)
    flood             `per_tick` proposals every tick, random values in `ranges` (seeded)
    replay            `first` at start, `second` after `second_after`, then re-sends the first body
                      verbatim and with a new id but its old issue time
    unauthorised      proposals to `tags` the engine may not write (outputs, safety tags, unknown tags)
    bad_values        cycles through `raws`: JSON texts of the value field (NaN, "abc", null, 1e999)
    prompt_injection  `value` for its tag plus writes to `tags`, with injection text in the rationale
    closed_loop       reacts to the process: moves its setpoint by `step` while `push_while` holds over
                      the state it is given (`plc.*`, as GET /v1/state would show it), by `otherwise`
                      when it does not; with `follow_admissible` it keeps inside the `admissible` range
                      of its last decision when the gateway sends one
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from otgate.api.schemas import ModelInfo
from otgate.client import Proposal, read_decisions, recommendation_body
from otgate_hil.conditions import Condition, parse_condition
from otgate_hil.durations import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration)]
DEMO_TOKENS = {
    "tank": "demo-tank-engine-token",
    "cstr": "demo-cstr-engine-token",
    "ricker": "demo-ricker-engine-token",
}


class _Behaviour(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Optimiser(_Behaviour):
    kind: Literal["optimiser"]
    target: float
    max_step: float


class Step(_Behaviour):
    kind: Literal["step"]
    value: float
    repeat: bool = False


class Ramp(_Behaviour):
    kind: Literal["ramp", "drift"]
    start: float | None = None  # default: the PLC's working setpoint when the engine starts
    rate_per_min: float
    until: float | None = None


class RampHoldReturn(_Behaviour):
    kind: Literal["ramp_hold_return"]
    start: float | None = None
    rate_per_min: float
    peak: float
    hold: Seconds


class Oscillation(_Behaviour):
    kind: Literal["oscillation"]
    low: float
    high: float
    half_period: Seconds


class Frozen(_Behaviour):
    kind: Literal["frozen"]
    value: float
    same: Literal["id", "timestamp"] = "timestamp"


class Silent(_Behaviour):
    kind: Literal["silent"]


class Flood(_Behaviour):
    kind: Literal["flood"]
    per_tick: int = Field(ge=1, le=500)
    ranges: dict[str, tuple[float, float]]


class Replay(_Behaviour):
    kind: Literal["replay"]
    first: float
    second: float
    second_after: Seconds


class Unauthorised(_Behaviour):
    kind: Literal["unauthorised"]
    tags: list[str]
    value: float


class BadValues(_Behaviour):
    kind: Literal["bad_values"]
    raws: list[str] = ["NaN", "Infinity", "-Infinity", '"abc"', "null", "1e999", "true", '"345"']


class PromptInjection(_Behaviour):
    kind: Literal["prompt_injection"]
    value: float
    tags: list[str]
    tag_value: float = 1.0
    rationale: str


class ClosedLoop(_Behaviour):
    kind: Literal["closed_loop"]
    push_while: str  # a condition over the state the engine is given (plc.<tag> names)
    step: float  # the move per proposal while it holds
    otherwise: float = 0.0  # the move per proposal while it does not (negative: back off)
    follow_admissible: bool = False

    def condition(self) -> Condition:
        return parse_condition(self.push_while)


Behaviour = Annotated[
    Optimiser
    | Step
    | Ramp
    | RampHoldReturn
    | Oscillation
    | Frozen
    | Silent
    | Flood
    | Replay
    | Unauthorised
    | BadValues
    | PromptInjection
    | ClosedLoop,
    Field(discriminator="kind"),
]


@dataclass(frozen=True)
class Submission:
    token: str
    body: bytes
    proposed: tuple[tuple[str, float], ...] = ()  # (tag, value) for the trace's ai.* columns


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def body(
    rec_id: str,
    tag: str,
    value_json: str,
    issued_at: float,
    rationale: str | None = None,
    model: ModelInfo | None = None,
) -> bytes:
    """One recommendation as JSON text; `value_json` goes in verbatim (it may be deliberately invalid)."""
    parts = [
        f'"id": {json.dumps(rec_id)}',
        f'"tag": {json.dumps(tag)}',
        f'"value": {value_json}',
        f'"issued_at": {json.dumps(iso(issued_at))}',
    ]
    if rationale is not None:
        parts.append(f'"rationale": {json.dumps(rationale)}')
    if model is not None:
        parts.append(f'"model": {model.model_dump_json(exclude_none=True)}')
    return ("{" + ", ".join(parts) + "}").encode()


def number(value: float) -> str:
    return repr(round(value, 4))


def model_of(engine: str, version: str) -> ModelInfo:
    """The model an engine names in its recommendations: a version label of the scenario, with the
    SHA-256 of `<engine>@<version>` (the engine's name in the config) standing for the digest of the model
    file it would have loaded. Two scripted engines of one identity and version name the same model."""
    digest = hashlib.sha256(f"{engine}@{version}".encode()).hexdigest()
    return ModelInfo(name=engine, version=version, digest=f"sha256:{digest}")


def sdk_body(
    rec_id: str,
    tag: str,
    value: float,
    issued_at: float,
    rationale: str | None = None,
    model: ModelInfo | None = None,
) -> bytes:
    """A well-formed recommendation, built by the client SDK (value to 4 decimals, as an optimiser's
    historian would give it); one the SDK refuses to build (a tag outside the wire schema) by hand."""
    proposal = Proposal(
        tag, round(value, 4), rationale, id=rec_id, issued_at=datetime.fromtimestamp(issued_at, UTC)
    )
    try:
        return recommendation_body(proposal, model)
    except ValueError:  # the gateway must refuse it itself: send it as it is
        return body(rec_id, tag, number(value), issued_at, rationale)


@dataclass
class ScriptedEngine:
    """One engine of a scenario: `due(t)` says whether it speaks this tick, `act` what it says."""

    id: str
    tag: str
    token: str
    behaviour: _Behaviour
    start_s: float
    stop_s: float | None
    period_s: float
    rng: np.random.Generator
    silenced: bool = False
    sent: int = 0
    origin: float | None = None  # the working setpoint when the engine started
    history: list[bytes] = field(default_factory=list)
    first_issued: float | None = None
    admissible: tuple[float, float] | None = None  # from the last decision that carried one
    state: Mapping[str, float] = field(default_factory=dict)
    model: ModelInfo | None = None  # the model it names (its digest keys its earned autonomy); None: none

    def observe(self, reply: bytes) -> None:
        """Read the gateway's answer: a closed-loop engine keeps the last `admissible` range it was given."""
        try:
            decisions = read_decisions(reply)
        except ValueError:  # an error answer (401, 422, 429): nothing decided, nothing to learn
            return
        for decision in decisions:
            if decision.admissible is not None:
                self.admissible = (decision.admissible.lo, decision.admissible.hi)

    def due(self, t: float) -> bool:
        if self.silenced or t < self.start_s or (self.stop_s is not None and t >= self.stop_s):
            return False
        if isinstance(self.behaviour, Flood):
            return True
        elapsed = t - self.start_s
        return math.isclose(elapsed / self.period_s, round(elapsed / self.period_s), abs_tol=1e-9)

    def act(
        self, t: float, epoch_s: float, working_sp: float, state: Mapping[str, float] | None = None
    ) -> list[Submission]:
        if not self.due(t):
            return []
        self.state = state or {}
        if self.origin is None:
            self.origin = working_sp
            self.first_issued = epoch_s
        self.sent += 1
        elapsed = t - self.start_s
        return self._speak(elapsed, epoch_s, working_sp)

    def _one(self, tag: str, value: float, epoch_s: float, rationale: str | None = None) -> Submission:
        payload = sdk_body(f"{self.id}-{self.sent}-{tag}", tag, value, epoch_s, rationale, self.model)
        self.history.append(payload)
        return Submission(self.token, payload, ((tag, value),))

    def _speak(self, elapsed: float, epoch_s: float, sp: float) -> list[Submission]:
        b = self.behaviour
        origin = self.origin if self.origin is not None else sp
        if isinstance(b, Optimiser):
            # At the target it keeps confirming it: a live engine never goes quiet.
            move = max(-b.max_step, min(b.max_step, b.target - sp))
            return [self._one(self.tag, sp + move, epoch_s)]
        if isinstance(b, Step):
            return [self._one(self.tag, b.value, epoch_s)] if b.repeat or self.sent == 1 else []
        if isinstance(b, Ramp):
            value = (b.start if b.start is not None else origin) + b.rate_per_min * elapsed / 60.0
            if b.until is not None:
                value = min(value, b.until) if b.rate_per_min >= 0 else max(value, b.until)
            return [self._one(self.tag, value, epoch_s)]
        if isinstance(b, RampHoldReturn):
            return [self._one(self.tag, _ramp_hold_return(b, origin, elapsed), epoch_s)]
        if isinstance(b, Oscillation):
            high = int(elapsed // b.half_period) % 2 == 1
            return [self._one(self.tag, b.high if high else b.low, epoch_s)]
        if isinstance(b, Frozen):
            return self._frozen(b, epoch_s)
        if isinstance(b, Flood):
            return self._flood(b, epoch_s)
        if isinstance(b, Replay):
            return self._replay(b, elapsed, epoch_s)
        if isinstance(b, Unauthorised):
            return [self._one(tag, b.value, epoch_s) for tag in b.tags]
        if isinstance(b, BadValues):
            raw = b.raws[(self.sent - 1) % len(b.raws)]
            payload = body(f"{self.id}-{self.sent}", self.tag, raw, epoch_s)
            return [Submission(self.token, payload)]
        if isinstance(b, ClosedLoop):
            return [self._one(self.tag, self._closed_loop(b, sp), epoch_s)]
        if isinstance(b, PromptInjection):
            return [
                self._one(self.tag, b.value, epoch_s, b.rationale),
                *(self._one(tag, b.tag_value, epoch_s, b.rationale) for tag in b.tags),
            ]
        return []  # Silent

    def _closed_loop(self, b: ClosedLoop, sp: float) -> float:
        value = sp + (b.step if b.condition().holds(self.state) else b.otherwise)
        if b.follow_admissible and self.admissible is not None:
            value = min(max(value, self.admissible[0]), self.admissible[1])
        return value

    def _frozen(self, b: Frozen, epoch_s: float) -> list[Submission]:
        if b.same == "id" and self.history:
            return [Submission(self.token, self.history[0], ((self.tag, b.value),))]
        issued = self.first_issued if self.first_issued is not None else epoch_s
        return [self._one(self.tag, b.value, issued)]

    def _flood(self, b: Flood, epoch_s: float) -> list[Submission]:
        out = []
        tags = sorted(b.ranges)
        for i in range(b.per_tick):
            tag = tags[i % len(tags)]
            lo, hi = b.ranges[tag]
            value = float(self.rng.uniform(lo, hi))
            payload = sdk_body(f"{self.id}-{self.sent}-{i}", tag, value, epoch_s)
            out.append(Submission(self.token, payload, ((tag, value),)))
        return out

    def _replay(self, b: Replay, elapsed: float, epoch_s: float) -> list[Submission]:
        if self.sent == 1:
            return [self._one(self.tag, b.first, epoch_s)]
        if elapsed < b.second_after:
            return []
        if len(self.history) == 1:
            return [self._one(self.tag, b.second, epoch_s)]
        original = self.history[0]
        renamed = original.replace(b'"id": "', b'"id": "again-' + str(self.sent).encode() + b"-", 1)
        proposed = ((self.tag, b.first),)
        return [Submission(self.token, original, proposed), Submission(self.token, renamed, proposed)]


def _ramp_hold_return(b: RampHoldReturn, origin: float, elapsed: float) -> float:
    start = b.start if b.start is not None else origin
    rise_s = abs(b.peak - start) / (abs(b.rate_per_min) / 60.0)
    direction = 1.0 if b.peak >= start else -1.0
    if elapsed <= rise_s:
        return start + direction * abs(b.rate_per_min) / 60.0 * elapsed
    if elapsed <= rise_s + b.hold:
        return b.peak
    back = elapsed - rise_s - b.hold
    return b.peak - direction * min(abs(b.peak - start), abs(b.rate_per_min) / 60.0 * back)


def one_off(
    rec_id: str,
    tag: str,
    value_json: str,
    token: str,
    epoch_s: float,
    rationale: str | None,
    model: ModelInfo | None = None,
) -> Submission:
    """A single recommendation from the timeline (`ai.propose`), naming `model` when the scripted engine
    of its tag names one (the same engine, the same model: its earned autonomy applies)."""
    try:
        value = float(json.loads(value_json))
        proposed: Sequence[tuple[str, float]] = ((tag, value),) if math.isfinite(value) else ()
    except (ValueError, TypeError):
        proposed = ()
    return Submission(token, body(rec_id, tag, value_json, epoch_s, rationale, model), tuple(proposed))
