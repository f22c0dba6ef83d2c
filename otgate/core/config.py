"""Plant configuration: the control engineer's contract with the gateway, one YAML file per plant.

Every model is frozen and forbids unknown keys, so a typo is a load error rather than a silently ignored
limit. Field checks live on the models; checks that span models (limits nested inside alarm and trip
bands, engines naming known tags, interlocks naming known tags) live in `PlantConfig`'s validator, so one
`PlantConfig.model_validate(data)` call either yields a configuration that is safe to run or fails with
every problem located by its path.

Units: a tag's engineering unit applies to all of its limits; rates are per second; times are seconds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from otgate.core.codec import DataType, is_representable
from otgate.core.expression import ExpressionError, parse_expression
from otgate.core.process_models import EnvelopeLimit, PredictionSettings, ProcessModel, model_problems

TAG_NAME = r"^[A-Za-z][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*$"
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
TagName = Annotated[str, Field(pattern=TAG_NAME, max_length=64)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


# --------------------------------------------------------------------------------------------------- PLCs


class ByteOrder(StrEnum):
    BIG = "big"
    LITTLE = "little"


class ModbusConnection(Model):
    host: str = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit_id: int = Field(1, ge=0, le=255)
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: ByteOrder = ByteOrder.BIG
    timeout_s: PositiveFloat = 1.0


class OpcUaSecurityPolicy(StrEnum):
    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256_Sha256_RsaPss"


class OpcUaConnection(Model):
    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://")]
    security_policy: OpcUaSecurityPolicy = OpcUaSecurityPolicy.BASIC256SHA256
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    # Security None must be asked for by name: an unencrypted southbound link is an engineering decision.
    allow_insecure: bool = False
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None
    timeout_s: PositiveFloat = 2.0

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        if self.security_policy is OpcUaSecurityPolicy.NONE and not self.allow_insecure:
            raise ValueError("security_policy None needs allow_insecure: true")
        if self.security_policy is not OpcUaSecurityPolicy.NONE and not self.server_certificate:
            raise ValueError(
                f"security_policy {self.security_policy} needs server_certificate (the pinned server)"
            )
        if self.security_policy is not OpcUaSecurityPolicy.NONE and not (
            self.certificate and self.private_key
        ):
            raise ValueError(f"security_policy {self.security_policy} needs certificate and private_key")
        return self


class Protocol(StrEnum):
    MODBUS = "modbus"
    OPCUA = "opcua"


class PlcConnection(Model):
    protocol: Protocol
    modbus: ModbusConnection | None = None
    opcua: OpcUaConnection | None = None
    heartbeat_tag: TagName
    restart_counter_tag: TagName | None = None

    @model_validator(mode="after")
    def _check_protocol_settings(self) -> Self:
        if getattr(self, self.protocol.value) is None:
            raise ValueError(f"protocol is {self.protocol} but there is no '{self.protocol}' section")
        return self


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
    ADVISORY = "advisory"  # never written, shown to operators
    SUPERVISED = "supervised"  # written only after an operator approves it
    AUTONOMOUS = "autonomous"  # written when every rule passes

    def capped(self, ceiling: Autonomy) -> Autonomy:
        """The lower of the two: a tag's autonomy as one engine may use it."""
        order = (Autonomy.ADVISORY, Autonomy.SUPERVISED, Autonomy.AUTONOMOUS)
        return min(self, ceiling, key=order.index)


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


# --------------------------------------------------------------------------------------------------- actors

SHA256_HEX = r"^sha256:[0-9a-f]{64}$"


class EngineMonitor(Model):
    """When an engine's behaviour stops looking like a sane optimiser, its loops go back to conventional
    control (and, for bursts of rejections, the engine is quarantined until an operator lifts it)."""

    silent_after_s: PositiveFloat | None = (
        None  # no recommendation for this long -> ENGINE_SILENT (default stale_after_s)
    )
    rejection_burst: int = Field(10, ge=1)  # this many rejections ...
    rejection_window_s: PositiveFloat = 60.0  # ... within this window -> REJECTION_BURST
    consecutive_rejections: int = Field(5, ge=1)  # or this many in a row, however slowly -> REJECTION_BURST
    max_reversals: int = Field(4, ge=1)  # more setpoint direction reversals than this ...
    reversal_window_s: PositiveFloat = 600.0  # ... within this window -> OSCILLATION
    flood_refusals: int = Field(50, ge=1)  # this many requests refused for rate (429) ...
    flood_window_s: PositiveFloat = 60.0  # ... within this window -> FLOOD


class Engine(Model):
    token_sha256: Annotated[str, Field(pattern=SHA256_HEX)]
    writes: list[TagName] = Field(default_factory=list)
    reads: list[TagName] = Field(default_factory=list)
    max_requests_per_s: PositiveFloat = 10.0
    burst: int = Field(20, ge=1)
    stale_after_s: PositiveFloat = 30.0
    max_basis_age_s: PositiveFloat = 10.0
    allowed_model_digests: list[Annotated[str, Field(pattern=SHA256_HEX)]] | None = None
    description: str = ""
    monitor: EngineMonitor = EngineMonitor()
    # The most this engine may do with any tag, whatever the tag allows: an LLM agent's door (otgate mcp)
    # is capped at `supervised`, so each of its setpoints waits for an operator.
    max_autonomy: Autonomy = Autonomy.AUTONOMOUS
    # Record this engine's reads (GET /v1/tags, /v1/state) in the audit trail too, not only its proposals.
    audit_reads: bool = False


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ENGINEER = "engineer"


class Operator(Model):
    role: Role
    password_hash: str = Field(min_length=20)


class ListenerTls(Model):
    """HTTPS on a listener (docs/DEPLOYMENT.md). Paths relative to the config file's folder. With
    `client_ca`, a client must present a certificate that CA signed before any request is read (mutual
    TLS for engines, on top of their bearer token); plain HTTP is refused by the handshake either way."""

    certificate: str = Field(min_length=1)  # PEM: the listener's certificate (chain)
    private_key: str = Field(min_length=1)  # PEM: its private key
    client_ca: str | None = None


class Listener(Model):
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    # Slow-loris guard: at most this many open connections (the ones waiting longest for a request are
    # shed first), and a connection's next request must arrive complete within request_timeout_s.
    max_connections: int = Field(256, ge=1, le=10_000)
    request_timeout_s: PositiveFloat = 10.0
    tls: ListenerTls | None = None  # plain HTTP unless set


class NorthboundClient(Model):
    """One legacy optimiser allowed onto the OPC UA northbound server, and the engine it speaks as.

    Known by its application certificate (pinned), by a user name and password (Argon2id hash, over a
    secured channel only), or by both (then the session needs both)."""

    engine: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    certificate: str | None = None  # the client's application certificate (DER or PEM)
    user: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    password_hash: Annotated[str, Field(min_length=20)] | None = None

    @model_validator(mode="after")
    def _check_identity(self) -> Self:
        if (self.user is None) != (self.password_hash is None):
            raise ValueError("user and password_hash go together")
        if self.certificate is None and self.user is None:
            raise ValueError("a northbound client needs a certificate, a user, or both")
        return self


class OpcUaNorthbound(Model):
    """An OPC UA server for legacy optimisers: reads come from the latest scan; a write to a setpoint is a
    recommendation from the engine its client certificate is bound to (docs/INTEGRATION.md)."""

    host: str = "127.0.0.1"
    port: int = Field(4841, ge=0, le=65535)
    security_policy: Literal["Basic256Sha256", "None"] = "Basic256Sha256"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    certificate: str | None = None  # the gateway's northbound server certificate and key
    private_key: str | None = None
    clients: list[NorthboundClient] = Field(default_factory=list)
    # Sessions without a client certificate are refused unless this names the engine they speak as
    # (and then only on a `security_policy: None` endpoint, for loopback tests and demos).
    anonymous_engine: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")] | None = None

    @model_validator(mode="after")
    def _check_security(self) -> Self:
        if self.security_policy == "None" and self.anonymous_engine is None:
            raise ValueError("security_policy None admits anonymous sessions only: name anonymous_engine")
        if self.security_policy != "None" and not (self.certificate and self.private_key):
            raise ValueError(f"security_policy {self.security_policy} needs certificate and private_key")
        if self.security_policy == "None" and any(c.user for c in self.clients):
            raise ValueError("user names and passwords need a secured endpoint, not security_policy None")
        users = [c.user for c in self.clients if c.user]
        if len(users) != len(set(users)):
            raise ValueError("each northbound user name binds one engine")
        return self


class GatewaySettings(Model):
    scan_interval_s: PositiveFloat = 1.0
    heartbeat_period_s: PositiveFloat = 1.0
    api: Listener = Listener(port=8000)
    hmi: Listener = Listener(port=8080)
    data_dir: str = "./otgate-data"
    clock_skew_tolerance_s: NonNegativeFloat = 2.0
    # An engine whose clock is off by a steady amount up to this is judged on its own timeline (its
    # measured offset applied) and alarmed as ENGINE_CLOCK_SKEW; beyond it, STALE/FUTURE refusals stay.
    # 120 s: a 90 s skew is common on plant networks without good NTP.
    engine_clock_offset_tolerance_s: NonNegativeFloat = 120.0
    replay_window_s: PositiveFloat = 3600.0
    max_batch: int = Field(100, ge=1, le=10_000)
    approval_ttl_s: PositiveFloat = 300.0  # a supervised recommendation not approved by then expires
    max_awaiting_approval: int = Field(100, ge=1)  # the approval queue is bounded: the oldest expires first
    # A cap on setpoint writes to all PLCs together, whatever the engines ask: a flood cannot become a
    # write storm on the field network. The rest wait for the next scan (and are re-validated then).
    max_plc_writes_per_s: PositiveFloat = 20.0
    # `sha256:` of the bearer token a metrics scraper presents on GET /metrics; unset: /metrics is refused.
    metrics_token_sha256: Annotated[str, Field(pattern=SHA256_HEX)] | None = None
    opcua_northbound: OpcUaNorthbound | None = None  # off unless configured


# --------------------------------------------------------------------------------------------------- plant


class PlantConfig(Model):
    plant: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    description: str = ""
    gateway: GatewaySettings = GatewaySettings()
    plcs: dict[str, PlcConnection] = Field(min_length=1)
    tags: dict[TagName, Tag] = Field(min_length=1)
    loops: dict[TagName, Loop] = Field(default_factory=dict)
    interlocks: dict[TagName, Interlock] = Field(default_factory=dict)
    engines: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")], Engine] = Field(default_factory=dict)
    operators: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]*$")], Operator] = Field(
        default_factory=dict
    )
    # Predictive safety (docs/PREDICTION.md): step-response models, the operating envelope, the horizon.
    models: list[ProcessModel] = Field(default_factory=list)
    envelope: dict[TagName, EnvelopeLimit] = Field(default_factory=dict)
    prediction: PredictionSettings = PredictionSettings()

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> Self:
        # The file loader asks to defer this check so that it can place each problem at its YAML line.
        if not (info.context or {}).get("defer_reference_checks"):
            problems = reference_problems(self)
            if problems:
                raise ValueError("; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems))
        return self


@dataclass(frozen=True)
class Problem:
    """A configuration problem and the path of the config node it is about."""

    path: tuple[str | int, ...]
    message: str


def reference_problems(config: PlantConfig) -> list[Problem]:
    """Checks that span sections: every name a section uses must exist and be of the right kind."""
    return [
        *_twin_name_problems(config),
        *_monitor_problems(config),
        *_deadband_problems(config),
        *_plc_problems(config),
        *_overlap_problems(config.tags),
        *_loop_problems(config),
        *_engine_problems(config),
        *_interlock_problems(config),
        *_predictive_problems(config),
    ]


def _predictive_problems(config: PlantConfig) -> list[Problem]:
    kinds = {name: tag.kind.value for name, tag in config.tags.items()}
    alarms = {
        name: (tag.monitor.alarm.lo, tag.monitor.alarm.hi)
        for name, tag in config.tags.items()
        if tag.monitor is not None and tag.monitor.alarm is not None
    }
    found = model_problems(config.models, dict(config.envelope), kinds, alarms)
    return [Problem(path, message) for path, message in found]


def name_key(name: str) -> str:
    """Names that differ only by letter case or Unicode compatibility form are one name to a reader."""
    return unicodedata.normalize("NFKC", name).casefold()


def _twin_name_problems(config: PlantConfig) -> list[Problem]:
    """`TIC-101.SP` and `tic-101.sp` on one HMI would be told apart by nobody: refuse the second."""
    problems = []
    sections: dict[str, Mapping[str, object]] = {
        "tags": config.tags,
        "loops": config.loops,
        "interlocks": config.interlocks,
        "engines": config.engines,
        "plcs": config.plcs,
    }
    for section, entries in sections.items():
        first: dict[str, str] = {}
        for name in entries:
            other = first.setdefault(name_key(name), name)
            if other != name:
                message = f"duplicate of '{other}' (names may not differ only by case or Unicode form)"
                problems.append(Problem((section, name), message))
    return problems


def _plc_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, tag in config.tags.items():
        plc = config.plcs.get(tag.plc)
        if plc is None:
            problems.append(Problem(("tags", name, "plc"), f"unknown plc '{tag.plc}'"))
        elif getattr(tag, plc.protocol.value) is None:
            problems.append(Problem(("tags", name), f"no {plc.protocol} address for plc '{tag.plc}'"))
    for plc_name, plc in config.plcs.items():
        for field in ("heartbeat_tag", "restart_counter_tag"):
            ref = getattr(plc, field)
            if ref is not None and ref not in config.tags:
                problems.append(Problem(("plcs", plc_name, field), f"unknown tag '{ref}'"))
    return problems


def _overlap_problems(tags: dict[str, Tag]) -> list[Problem]:
    """Two tags sharing a register would let a write to one silently change the other."""
    claimed: dict[tuple[str, str, int], str] = {}
    problems = []
    for name, tag in tags.items():
        if tag.modbus is None:
            continue
        for offset in range(tag.type.register_count):
            key = (tag.plc, tag.modbus.table.value, tag.modbus.address + offset)
            other = claimed.setdefault(key, name)
            if other != name:
                message = f"{key[1]} register {key[2]} is already used by tag {other}"
                problems.append(Problem(("tags", name, "modbus", "address"), message))
                break
    return problems


_LOOP_KINDS = {
    "pv": TagKind.MEASUREMENT,
    "sp": TagKind.SETPOINT,
    "working_sp": TagKind.WORKING_SETPOINT,
    "mode": TagKind.MODE,
    "mode_request": TagKind.MODE,
}


def _loop_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for loop_name, loop in config.loops.items():
        for field, kind in _LOOP_KINDS.items():
            ref = getattr(loop, field)
            tag = config.tags.get(ref)
            path = ("loops", loop_name, field)
            if tag is None:
                problems.append(Problem(path, f"unknown tag '{ref}'"))
            elif tag.kind is not kind:
                problems.append(Problem(path, f"'{ref}' must be a {kind} tag, not {tag.kind}"))
            elif field == "mode_request" and tag.access is not Access.WRITE:
                problems.append(Problem(path, f"'{ref}' must be writable"))
        # The PLC that runs the loop sheds it on its own watchdog: setpoint, read-back and mode handshake
        # must sit on that one PLC, or a link loss to one of them leaves the loop half-controlled.
        plcs = {
            config.tags[ref].plc
            for ref in (loop.sp, loop.working_sp, loop.mode, loop.mode_request)
            if ref in config.tags
        }
        if len(plcs) > 1:
            message = f"sp, working_sp, mode and mode_request must sit on one PLC, not {sorted(plcs)}"
            problems.append(Problem(("loops", loop_name), message))
    # The gateway engages and releases a setpoint through its loop's mode handshake: no loop, no writes.
    loops_of = [loop.sp for loop in config.loops.values()]
    for name, tag in config.tags.items():
        if tag.kind is TagKind.SETPOINT and loops_of.count(name) != 1:
            problems.append(
                Problem(
                    ("tags", name), f"a setpoint must belong to exactly one loop, not {loops_of.count(name)}"
                )
            )
    return problems


def _engine_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for engine_name, engine in config.engines.items():
        for index, ref in enumerate(engine.writes):
            tag = config.tags.get(ref)
            path = ("engines", engine_name, "writes", index)
            if tag is None:
                problems.append(Problem(path, f"unknown tag '{ref}'"))
            elif tag.kind is not TagKind.SETPOINT:
                problems.append(
                    Problem(path, f"engines may only write setpoints; '{ref}' is a {tag.kind} tag")
                )
        gateway = config.gateway
        if engine.stale_after_s + gateway.clock_skew_tolerance_s >= gateway.replay_window_s:
            # Ids are stamped at receipt and forgotten after the replay window; a recommendation can pass
            # the time checks until issued_at + stale_after_s, and issued_at may lie up to the skew
            # tolerance after receipt. The id must be remembered for all of that, strictly.
            message = (
                f"stale_after_s {engine.stale_after_s:g} + gateway.clock_skew_tolerance_s "
                f"{gateway.clock_skew_tolerance_s:g} must be below gateway.replay_window_s {gateway.replay_window_s:g}"
            )
            problems.append(Problem(("engines", engine_name, "stale_after_s"), message))
        for index, ref in enumerate(engine.reads):
            if ref not in config.tags:
                problems.append(Problem(("engines", engine_name, "reads", index), f"unknown tag '{ref}'"))
    northbound = config.gateway.opcua_northbound
    if northbound is not None:
        bound: list[tuple[tuple[str | int, ...], str]] = [
            (("clients", i, "engine"), c.engine) for i, c in enumerate(northbound.clients)
        ]
        if northbound.anonymous_engine is not None:
            bound.append((("anonymous_engine",), northbound.anonymous_engine))
        for where, name in bound:
            if name not in config.engines:
                problems.append(Problem(("gateway", "opcua_northbound", *where), f"unknown engine '{name}'"))
    return problems


def _interlock_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, interlock in config.interlocks.items():
        path = ("interlocks", name, "when")
        names = parse_expression(interlock.when).names
        for ref in sorted(names - config.tags.keys()):
            problems.append(Problem(path, f"expression names unknown tag '{ref}'"))
        for ref in sorted(names & config.tags.keys()):
            # An interlock that reads a writable tag could be defeated by the very writes it guards.
            if config.tags[ref].access is Access.WRITE:
                problems.append(Problem(path, f"expression reads writable tag '{ref}'"))
        for index, ref in enumerate(interlock.blocks):
            if ref not in config.tags:
                problems.append(Problem(("interlocks", name, "blocks", index), f"unknown tag '{ref}'"))
    return problems


def _deadband_problems(config: PlantConfig) -> list[Problem]:
    """A deadband as large as the smallest legal step would make every legal move a NO_CHANGE."""
    problems = []
    period = config.gateway.scan_interval_s
    for name, tag in config.tags.items():
        rules = tag.setpoint
        if rules is None:
            continue
        write_period = max(period, rules.min_write_interval_s)
        smallest = min(
            rules.max_move_up,
            rules.max_move_down,
            rules.rate_up_per_s * write_period,
            rules.rate_down_per_s * write_period,
        )
        if rules.deadband >= smallest:
            message = f"deadband {rules.deadband:g} must be below the smallest legal step {smallest:g}"
            problems.append(Problem(("tags", name, "setpoint", "deadband"), message))
        if not tag.type.is_float and smallest < abs(tag.scale):
            # An integer register cannot hold a step finer than its scale: a ramp would round past its
            # rate or stall rewriting one value.
            message = f"the smallest legal step {smallest:g} is finer than the {tag.type} resolution {abs(tag.scale):g}"
            problems.append(Problem(("tags", name, "setpoint"), message))
    return problems


def _monitor_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, tag in config.tags.items():
        monitor = tag.monitor
        if monitor is None or monitor.redundant_with is None:
            continue
        path = ("tags", name, "monitor", "redundant_with")
        partner = config.tags.get(monitor.redundant_with)
        if partner is None or partner.kind is not TagKind.MEASUREMENT:
            problems.append(Problem(path, f"'{monitor.redundant_with}' must be a measurement tag"))
        elif monitor.max_disagreement is None:
            problems.append(Problem(path, "a redundant sensor needs max_disagreement"))
    return problems
