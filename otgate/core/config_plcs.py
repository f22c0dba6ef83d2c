"""The PLCs the gateway talks to and how their tags are addressed (Modbus TCP, OPC UA)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from otgate.core.config_base import (
    Model,
    PositiveFloat,
    TagName,
)

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
