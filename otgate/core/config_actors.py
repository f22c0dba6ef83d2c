"""Who may act: engines and their monitors, operators and their roles, listeners and gateway settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from otgate.core.config_base import (
    SHA256_HEX,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    TagName,
)
from otgate.core.config_tags import (
    Autonomy,
)

# --------------------------------------------------------------------------------------------------- actors


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
