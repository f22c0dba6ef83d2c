"""The `assertions:` part of a scenario file, validated by pydantic. Semantics: `hil.assertions`.

Every assertion has an `id` and exactly one kind. Conditions are otgate's safe expressions plus the trace
functions of `hil.derived` (`prev(x)`, `rate(x)`, `rising(x)`, `falling(x)`, `age(x)`); they are parsed
when the run is judged, against the run's columns, so a typo names itself in the report.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from otgate_hil.durations import parse_duration

Seconds = Annotated[float, BeforeValidator(parse_duration)]
Scalar = float | int | str | bool | None


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(Model):
    """A stretch of the run: from an event (or a time) to another, or for a duration."""

    start: str = Field("start", alias="from")
    end: str | None = Field(None, alias="to")
    length: Seconds | None = Field(None, alias="for")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> Window:
        if self.end is not None and self.length is not None:
            raise ValueError("a window takes 'to' or 'for', not both")
        return self


class AuditFilter(Model):
    """Which audit records an assertion looks at; every given field must match."""

    kind: str | None = None  # audit record kind
    actor: str | None = None  # actor prefix ("engine:", "operator:")
    tag: str | None = None  # data.tag
    reason: str | None = None  # a decision reason code
    contains: str | None = None  # text anywhere in the record's data
    # Dotted paths into the record ("data.outcome", "data.event", "actor") and the value each must equal.
    fields: dict[str, Scalar] = {}


class CountSpec(AuditFilter):
    of: Literal["plc_writes", "audit"]
    value_above: float | None = None  # plc_writes: only values above / below
    value_below: float | None = None
    non_finite: bool = False  # plc_writes: only non-finite values
    during: Window = Window()
    min: int | None = None
    max: int | None = None
    per_scan_max: int | None = None  # at most this many in any one scan

    @model_validator(mode="after")
    def _check(self) -> CountSpec:
        if self.min is None and self.max is None and self.per_scan_max is None:
            raise ValueError("a count needs min, max or per_scan_max")
        if self.of == "plc_writes" and (
            self.fields or self.kind or self.actor or self.reason or self.contains
        ):
            raise ValueError("kind, actor, reason, contains and fields filter audit records, not plc_writes")
        return self


class FirstWriteSpec(Model):
    after: str
    tag: str
    max_step: float  # |value - working setpoint at the PLC just before| must not exceed this
    working_sp: str  # the PLC working-setpoint tag the step is measured from


class WriteStepsSpec(Model):
    tag: str
    max_step: float  # consecutive writes (the first against the PLC's working setpoint) differ by at most
    working_sp: str
    during: Window = Window()


class AuditChainSpec(Model):
    verify: Literal[True] = True
    min_records: int = 1


class AutonomySpec(Model):
    """The earned level (and eligibility) of an engine's current model on a loop at a moment, as the audit
    trail tells it: the trail's records up to then, folded as a restarted gateway folds them."""

    engine: str = "optimizer"
    loop: str
    at: str  # an event, as in windows
    level: Literal["shadow", "supervised", "autonomous"] | None = None
    eligible: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> AutonomySpec:
        if self.level is None and self.eligible is None:
            raise ValueError("autonomy needs 'level', 'eligible' or both")
        return self


class MonotonicSpec(AuditFilter):
    """`audit.at`/`audit.seq` of the matching records, or a trace variable, never goes backwards."""

    of: str  # "audit.at", "audit.seq" or a trace variable
    strict: bool = False  # strictly increasing (equal neighbours fail)
    during: Window = Window()


class AppliedWritesSpec(Model):
    """What the PLC applied, each application joined to the frame and proposal it came from.

    `once`: no frame and no proposal applied twice. `max_age`: no write applied more than this after the
    gateway sent it (a frame the link held back). `min` keeps a gateway that writes nothing from passing.
    """

    tag: str | None = None
    once: bool = False
    max_age: Seconds | None = None
    min: int = 1
    during: Window = Window()


class Assertion(Model):
    id: str
    title: str = ""
    always: str | None = None
    never: str | None = None
    when: str | None = None
    whenever: str | None = None  # with `for` (held this long) then `then` within `within`
    hold: Seconds | None = Field(None, alias="for")
    then: str | None = None
    after: str | None = None
    expect: str | None = None
    within: Seconds | None = None
    during: Window = Window()
    count: CountSpec | None = None
    unchanged: str | None = None
    first_write: FirstWriteSpec | None = None
    write_steps: WriteStepsSpec | None = None
    audit_chain: AuditChainSpec | None = None
    monotonic: MonotonicSpec | None = None
    applied_writes: AppliedWritesSpec | None = None
    autonomy: AutonomySpec | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> Assertion:
        kinds = [k for k in KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"an assertion has exactly one kind, got {kinds or 'none'}")
        if self.when is not None and (self.then is None or self.within is None):
            raise ValueError("'when' needs 'then' and 'within'")
        if self.whenever is not None and (self.then is None or self.within is None or self.hold is None):
            raise ValueError("'whenever' needs 'for', 'then' and 'within'")
        if self.hold is not None and self.whenever is None:
            raise ValueError("'for' belongs to 'whenever' (a window takes 'during: {for: ...}')")
        if self.after is not None and (self.expect is None or self.within is None):
            raise ValueError("'after' needs 'expect' and 'within'")
        return self

    @property
    def kind(self) -> str:
        for name in KINDS:
            if getattr(self, name) is not None:
                return name
        raise AssertionError("unreachable: validated")

    def windows(self) -> list[Window]:
        found = [self.during]
        for spec in (self.count, self.write_steps, self.monotonic, self.applied_writes):
            if spec is not None:
                found.append(spec.during)
        return found


KINDS = (
    "always",
    "never",
    "when",
    "whenever",
    "after",
    "count",
    "unchanged",
    "first_write",
    "write_steps",
    "audit_chain",
    "monotonic",
    "applied_writes",
    "autonomy",
)
