"""Tags, their setpoint rules and monitors, loops and interlocks: what the control engineer limits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from otgate.core.autonomy_policy import AutonomyPolicy
from otgate.core.codec import DataType, is_representable
from otgate.core.config_base import (
    FiniteFloat,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    TagName,
)
from otgate.core.expression import ExpressionError, parse_expression

# --------------------------------------------------------------------------------------------------- tags


class TagKind(StrEnum):
    MEASUREMENT = "measurement"  # a process value (PV) or analyser reading
    SETPOINT = "setpoint"  # a loop's remote setpoint: the only kind an AI engine may ever write
    WORKING_SETPOINT = "working_setpoint"  # the setpoint the PLC is actually using (read-back)
    OUTPUT = "output"  # a controller output / valve position (CV): never AI-writable
    MODE = "mode"  # a loop mode register (requested or actual)
    HEARTBEAT = "heartbeat"  # the gateway's heartbeat to the PLC watchdog
    STATUS = "status"  # counters, quality words, restart counter
    SAFETY = "safety"  # trips, bypasses, trip settings: the independent safety layer, never writable


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class ModbusTable(StrEnum):
    HOLDING = "holding"
    INPUT = "input"


class ModbusAddress(Model):
    table: ModbusTable
    address: int = Field(ge=0, le=65535)


class OpcUaAddress(Model):
    node_id: Annotated[str, Field(pattern=r"^ns=\d+;[sig]=.+$")]


class Band(Model):
    """An inclusive band lo..hi in the tag's engineering unit."""

    lo: FiniteFloat
    hi: FiniteFloat

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        if not self.lo < self.hi:
            raise ValueError(f"lo ({self.lo}) must be below hi ({self.hi})")
        return self

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def strictly_contains(self, other: Band) -> bool:
        return self.lo < other.lo and other.hi < self.hi


class Autonomy(StrEnum):
    SHADOW = "shadow"  # judged and recorded with what it would have received; not shown as actionable
    ADVISORY = "advisory"  # never written, shown to operators
    SUPERVISED = "supervised"  # written only after an operator approves it
    AUTONOMOUS = "autonomous"  # written when every rule passes

    def capped(self, ceiling: Autonomy) -> Autonomy:
        """The lower of the two: a tag's autonomy as one engine may use it."""
        return self if _AUTONOMY_RANK[self] <= _AUTONOMY_RANK[ceiling] else ceiling


# Lowest first; built once because `capped` runs for every proposal.
_AUTONOMY_RANK = {level: rank for rank, level in enumerate(Autonomy)}


class RatePolicy(StrEnum):
    REJECT = "reject"
    RAMP = "ramp"


class FallbackAction(StrEnum):
    PLC_LOCAL = "plc_local"  # the PLC's own local setpoint (tracking the working setpoint)
    HOLD = "hold"  # hold the last confirmed setpoint
    SAFE_VALUE = "safe_value"  # ramp to a fixed safe setpoint


class FallbackPolicy(Model):
    action: FallbackAction
    safe_value: FiniteFloat | None = None

    @model_validator(mode="after")
    def _check_safe_value(self) -> Self:
        if (self.action is FallbackAction.SAFE_VALUE) != (self.safe_value is not None):
            raise ValueError("safe_value is required with action safe_value, and only then")
        return self


class ChangeBudget(Model):
    """At most `max_change` of net setpoint change within any `window_s` (catches salami drift)."""

    max_change: PositiveFloat
    window_s: PositiveFloat


class SetpointRules(Model):
    """The operational envelope of one AI-writable setpoint. Tighter than the PLC's and the SIS's."""

    limits: Band
    alarm: Band
    trip: Band
    max_move_up: PositiveFloat
    max_move_down: PositiveFloat
    rate_up_per_s: PositiveFloat
    rate_down_per_s: PositiveFloat
    change_budget: ChangeBudget
    deadband: NonNegativeFloat = 0.0
    min_write_interval_s: NonNegativeFloat = 0.0
    autonomy: Autonomy = Autonomy.ADVISORY
    on_rate_violation: RatePolicy = RatePolicy.REJECT
    fallback: FallbackPolicy
    # Net drift of the AI's setpoint from where it was when AI control was engaged: beyond it -> DRIFT.
    # Catches "salami" moves spread over longer than the change-budget window.
    max_drift: PositiveFloat | None = None

    @model_validator(mode="after")
    def _check_bands(self) -> Self:
        if not self.alarm.strictly_contains(self.limits):
            raise ValueError("hard limits must lie strictly inside the alarm limits")
        if not self.trip.strictly_contains(self.alarm):
            raise ValueError("alarm limits must lie strictly inside the trip limits")
        safe = self.fallback.safe_value
        if safe is not None and not self.limits.contains(safe):
            raise ValueError(f"fallback safe_value {safe} lies outside the hard limits")
        return self


class MeasurementMonitor(Model):
    """Plausibility checks on a process value. Any failure is an anomaly: the loops that rely on this
    measurement go back to conventional control."""

    alarm: Band | None = None  # outside this band -> PV_ALARM
    max_rate_per_s: PositiveFloat | None = None  # changing faster than the process can ...
    rate_noise_band: NonNegativeFloat = 0.0  # ... beyond the transmitter's noise between two scans -> PV_RATE
    frozen_after_s: PositiveFloat | None = None  # bit-identical for this long -> PV_FROZEN
    fail_low: FiniteFloat | None = None  # at or below (a dropped-out transmitter) -> PV_FAIL_LOW
    redundant_with: TagName | None = None  # a second sensor of the same quantity ...
    max_disagreement: PositiveFloat | None = None  # ... and how far the two may differ -> PV_DISAGREE


class Tag(Model):
    kind: TagKind
    plc: str
    type: DataType = DataType.FLOAT32
    unit: str = Field("", max_length=16)
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: FiniteFloat = 0.0
    access: Access = Access.READ
    modbus: ModbusAddress | None = None
    opcua: OpcUaAddress | None = None
    description: str = ""
    setpoint: SetpointRules | None = None
    monitor: MeasurementMonitor | None = None

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: float) -> float:
        if value == 0:
            raise ValueError("scale must not be 0")
        return value

    @model_validator(mode="after")
    def _check_tag(self) -> Self:
        if self.kind is TagKind.SAFETY and self.access is Access.WRITE:
            raise ValueError("a safety tag (trip, bypass, trip setting) can never be writable")
        if self.kind is TagKind.SETPOINT:
            if self.access is not Access.WRITE:
                raise ValueError("a setpoint tag must be writable (access: write)")
            if self.setpoint is None:
                raise ValueError("a writable setpoint needs a 'setpoint' section (limits, rules, fallback)")
            if not self.unit:
                raise ValueError("a writable setpoint needs its engineering unit")
            self._check_representable(self.setpoint.limits)
        elif self.setpoint is not None:
            raise ValueError(f"only setpoint tags take a 'setpoint' section, not {self.kind} tags")
        if self.monitor is not None and self.kind is not TagKind.MEASUREMENT:
            raise ValueError(f"only measurement tags take a 'monitor' section, not {self.kind} tags")
        if self.access is Access.WRITE and self.kind not in GATEWAY_WRITABLE_KINDS:
            raise ValueError(f"a {self.kind} tag cannot be writable")
        if self.modbus and self.access is Access.WRITE and self.modbus.table is ModbusTable.INPUT:
            raise ValueError("a writable tag must be a holding register, not an input register")
        return self

    def _check_representable(self, limits: Band) -> None:
        for value in (limits.lo, limits.hi):
            if not is_representable(value, self.type, self.scale, self.offset):
                raise ValueError(f"limit {value} is not representable as {self.type} with this scale/offset")


GATEWAY_WRITABLE_KINDS = frozenset({TagKind.SETPOINT, TagKind.MODE, TagKind.HEARTBEAT})


# --------------------------------------------------------------------------------------------------- loops


class Loop(Model):
    """A PLC control loop the gateway may supervise: its tags and how it reports and takes its mode."""

    pv: TagName
    sp: TagName  # remote setpoint (writable by the gateway on behalf of an engine)
    working_sp: TagName  # setpoint in effect at the PLC (read-back for move and rate checks)
    mode: TagName  # actual PLC loop mode (read)
    mode_request: TagName  # mode the gateway asks for (write): the local/remote handshake
    description: str = ""
    max_deviation: PositiveFloat | None = None  # |PV - SP| above this while AI drives the loop ...
    deviation_time_s: PositiveFloat = 300.0  # ... for this long -> PV_SP_DEVIATION
    # Earned autonomy (docs/AUTONOMY.md): engines start in shadow here and climb on evidence and sign-off.
    # None: the setpoint tag's static autonomy applies, as it always has.
    autonomy: AutonomyPolicy | None = None


class Interlock(Model):
    """A gateway-side permissive: while `when` is true, moves of `blocks` in `direction` are refused.

    This is an operational guard on AI moves, not a safety function: the PLC and the SIS keep their own.
    """

    when: str = Field(min_length=1, max_length=500)
    blocks: Annotated[list[TagName], Field(min_length=1)]
    direction: Literal["any", "increase", "decrease"] = "any"
    description: str = ""

    @field_validator("when")
    @classmethod
    def _check_expression(cls, text: str) -> str:
        try:
            parse_expression(text)
        except ExpressionError as error:
            raise ValueError(f"interlock expression: {error}") from None
        return text
