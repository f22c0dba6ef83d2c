"""A legacy optimiser (a plain asyncua client) writes setpoints to otgate's OPC UA northbound server over
Basic256Sha256 Sign&Encrypt; the gateway runs against the simulated PLC over real Modbus TCP, stepped in
lock-step. The write's StatusCode is the verdict; the PLC receives only validated values.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from asyncua import Client, ua
from asyncua.crypto import security_policies
from asyncua.ua.ua_binary import struct_from_binary
from asyncua.ua.uaerrors import UaError

from otgate.core.config import Engine, NorthboundClient, OpcUaNorthbound, PlantConfig
from otgate.opcua_northbound.server import NorthboundServer
from tests.e2e.harness import Harness, running
from tests.security.certs import AppCertificate, make_app_certificate

SETPOINT = "LIC-101.RSP"
NO_TOKEN = "sha256:" + "0" * 64  # these engines have no HTTP token anyone knows
PASSWORD = "legacy-apc-password"
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)  # cheap: tests only


@dataclass
class Certs:
    server: AppCertificate
    apc: AppCertificate  # bound to engine "apc", which may write LIC-101.RSP
    monitor: AppCertificate  # bound to engine "monitor", which may only read
    rogue: AppCertificate  # bound to nothing


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    folder = tmp_path / "pki"
    return Certs(
        make_app_certificate(folder, "northbound", "urn:otgate:test:northbound", host="127.0.0.1"),
        make_app_certificate(folder, "apc", "urn:test:apc"),
        make_app_certificate(folder, "monitor", "urn:test:monitor"),
        make_app_certificate(folder, "rogue", "urn:test:rogue"),
    )


def with_northbound(certs: Certs) -> object:
    def adjust(config: PlantConfig) -> PlantConfig:
        engines = {
            **config.engines,
            "apc": Engine(token_sha256=NO_TOKEN, writes=[SETPOINT], reads=["LIT-101"]),
            "monitor": Engine(token_sha256=NO_TOKEN, reads=["LIT-101"]),
        }
        northbound = OpcUaNorthbound(
            port=0,
            certificate=str(certs.server.certificate),
            private_key=str(certs.server.private_key),
            clients=[
                NorthboundClient(engine="apc", certificate=str(certs.apc.certificate)),
                NorthboundClient(engine="monitor", certificate=str(certs.monitor.certificate)),
                NorthboundClient(engine="apc", user="legacy-apc", password_hash=PASSWORD_HASH),
            ],
        )
        gateway = config.gateway.model_copy(update={"opcua_northbound": northbound})
        return config.model_copy(update={"engines": engines, "gateway": gateway})

    return adjust


@asynccontextmanager
async def plant_with_northbound(
    tmp_path: Path, certs: Certs
) -> AsyncIterator[tuple[Harness, NorthboundServer]]:
    async with running("tank", tmp_path, adjust=with_northbound(certs)) as h:  # type: ignore[arg-type]
        await h.engage("LIC-101")
        settings = h.gateway.plant.config.gateway.opcua_northbound
        assert settings is not None
        server = NorthboundServer(h.gateway, settings, Path("/"))
        await server.start()
        try:
            yield h, server
        finally:
            await server.stop()


@asynccontextmanager
async def optimiser(
    server: NorthboundServer, certs: Certs, me: AppCertificate, login: tuple[str, str] | None = None
) -> AsyncIterator[Client]:
    client = Client(server.url, timeout=5)
    client.application_uri = me.uri
    if login is not None:
        client.set_user(login[0])
        client.set_password(login[1])
    await client.set_security(
        security_policies.SecurityPolicyBasic256Sha256,
        str(me.certificate),
        str(me.private_key),
        server_certificate=str(certs.server.certificate),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    async with client:
        yield client


async def write(client: Client, tag: str, value: float) -> ua.StatusCode:
    node_id = ua.NodeId.from_string(f"ns=2;s={tag}")
    dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double))
    (status,) = await client.uaclient.write_attributes([node_id], [dv], ua.AttributeIds.Value)
    return status


@dataclass(frozen=True)
class Diagnosed:
    """One item of a Write answered with operation-level diagnostics, the strings resolved."""

    status: ua.StatusCode
    symbol: str | None
    namespace: str | None
    text: str | None
    decision: dict[str, Any] | None


async def write_diagnosed(
    client: Client, values: list[tuple[str, float]], return_diagnostics: int = 0xE0
) -> list[Diagnosed]:
    """A Write as a legacy optimiser's stack sends it, asking for the operation-level SymbolicId,
    LocalizedText and AdditionalInfo (Part 4, 7.29); asyncua's high-level API drops the diagnostics."""
    request = ua.WriteRequest()
    request.RequestHeader.ReturnDiagnostics = return_diagnostics
    for tag, value in values:
        item = ua.WriteValue()
        item.NodeId = ua.NodeId.from_string(f"ns=2;s={tag}")
        item.AttributeId = ua.AttributeIds.Value
        item.Value = ua.DataValue(ua.Variant(value, ua.VariantType.Double))
        request.Parameters.NodesToWrite.append(item)
    data = await client.uaclient.protocol.send_request(request)
    response = struct_from_binary(ua.WriteResponse, data)
    table = response.ResponseHeader.StringTable

    def text(index: int | None) -> str | None:
        return None if index is None else table[index]

    infos = response.DiagnosticInfos or [ua.DiagnosticInfo() for _ in response.Results]
    return [
        Diagnosed(
            status,
            text(info.SymbolicId),
            text(info.NamespaceURI),
            text(info.LocalizedText),
            json.loads(info.AdditionalInfo) if info.AdditionalInfo else None,
        )
        for status, info in zip(response.Results, infos, strict=True)
    ]


async def decision(client: Client, tag: str) -> dict[str, object]:
    text = await client.get_node(ua.NodeId.from_string(f"ns=2;s={tag}.Decision")).read_value()
    return json.loads(text)


async def test_legacy_optimiser_writes_get_verdict_status_codes_and_plc_gets_only_valid_values(
    tmp_path: Path, certs: Certs
):
    async with plant_with_northbound(tmp_path, certs) as (h, server):
        current = h.setpoint("LIC-101")
        async with optimiser(server, certs, certs.apc) as apc:
            good = await write(apc, SETPOINT, current + 0.4)
            good_decision = await decision(apc, SETPOINT)
            out_of_range = await write(apc, SETPOINT, 999.0)
            refused = await decision(apc, SETPOINT)
            read_only = await write(apc, "LIT-101", 700.0)
        async with optimiser(server, certs, certs.monitor) as monitor:
            unauthorised = await write(monitor, SETPOINT, current + 0.2)
            not_allowed = await decision(monitor, SETPOINT)
        await h.step(3)
        actors = [r.actor for r in h.gateway.audit.records() if r.kind == "recommendation"]
    assert good.is_good() and good_decision["decision"] == "accepted" and good_decision["engine"] == "apc"
    assert out_of_range.name == "BadOutOfRange"
    assert refused["decision"] == "rejected" and "OUT_OF_RANGE" in [r["code"] for r in refused["reasons"]]
    assert refused["status"] == "BadOutOfRange"
    assert read_only.name in ("BadUserAccessDenied", "BadNotWritable")
    assert unauthorised.name == "BadUserAccessDenied"
    assert not_allowed["engine"] == "monitor" and not_allowed["reasons"][0]["code"] == "NOT_AUTHORIZED"
    written = [round(w.value, 3) for w in h.writes_to(SETPOINT)]
    assert written == [round(current + 0.4, 3)]  # the PLC received the validated value and nothing else
    assert actors == ["engine:apc", "engine:apc", "engine:monitor"]  # the read-only node never got that far


async def test_legacy_optimiser_write_reasons_in_the_diagnostic_info(tmp_path: Path, certs: Certs):
    async with plant_with_northbound(tmp_path, certs) as (h, server):
        current = h.setpoint("LIC-101")
        async with optimiser(server, certs, certs.apc) as apc:
            (good,) = await write_diagnosed(apc, [(SETPOINT, current + 0.4)])
            refused, read_only = await write_diagnosed(apc, [(SETPOINT, 999.0), ("LIT-101", 700.0)])
            (unasked,) = await write_diagnosed(apc, [(SETPOINT, 998.0)], return_diagnostics=0)
            (text_only,) = await write_diagnosed(apc, [(SETPOINT, 997.0)], return_diagnostics=0x40)
        async with optimiser(server, certs, certs.monitor) as monitor:
            (unauthorised,) = await write_diagnosed(monitor, [(SETPOINT, current + 0.2)])
        await h.step(3)
        written = [round(w.value, 3) for w in h.writes_to(SETPOINT)]
    assert good.status.is_good() and good.symbol == "ACCEPTED"
    assert good.decision is not None and good.decision["decision"] == "accepted"
    assert good.decision["written_value"] == pytest.approx(current + 0.4)
    assert refused.status.name == "BadOutOfRange"
    assert refused.symbol == "OUT_OF_RANGE" and refused.namespace == "urn:otgate:reason-codes"
    assert refused.text is not None and refused.text.startswith("OUT_OF_RANGE: ")
    assert refused.decision is not None and refused.decision["decision"] == "rejected"
    assert refused.decision["written_value"] is None
    # Refused by the address space before any decision: a status, and an empty DiagnosticInfo in its place.
    assert read_only.status.name in ("BadUserAccessDenied", "BadNotWritable")
    assert (read_only.symbol, read_only.text, read_only.decision) == (None, None, None)
    assert unasked.status.name == "BadOutOfRange" and unasked.symbol is None and unasked.decision is None
    assert text_only.symbol is None and text_only.decision is None
    assert text_only.text is not None and "OUT_OF_RANGE" in text_only.text
    assert unauthorised.status.name == "BadUserAccessDenied" and unauthorised.symbol == "NOT_AUTHORIZED"
    assert unauthorised.decision is not None and unauthorised.decision["engine"] == "monitor"
    assert written == [round(current + 0.4, 3)]  # the PLC received the validated value and nothing else


async def test_legacy_optimiser_reads_the_latest_scan(tmp_path: Path, certs: Certs):
    level_node = ua.NodeId.from_string("ns=2;s=LIT-101")
    async with (
        plant_with_northbound(tmp_path, certs) as (h, server),
        optimiser(server, certs, certs.apc) as apc,
    ):
        level = await apc.get_node(level_node).read_data_value()
        await h.step()
        later = await apc.get_node(level_node).read_data_value()
        folder = apc.get_node(ua.NodeId.from_string("ns=2;s=tank"))
        names = {node.nodeid.Identifier for node in await folder.get_children()}
        snapshot = h.gateway.snapshot
    assert level.Value.Value == pytest.approx(snapshot.values["LIT-101"], abs=5.0)
    assert later.Value.Value == snapshot.values["LIT-101"]  # the latest scan, not a cached copy
    assert later.SourceTimestamp.timestamp() == pytest.approx(snapshot.taken_at)
    # Only what the bound engines may see: no trips, no mode registers, no heartbeat.
    assert names == {"LIC-101.RSP", "LIC-101.RSP.Decision", "LIC-101.SP", "LIT-101"}


async def test_unbound_client_certificate_refused(tmp_path: Path, certs: Certs):
    async with plant_with_northbound(tmp_path, certs) as (h, server):
        with pytest.raises((UaError, OSError, TimeoutError)):
            async with optimiser(server, certs, certs.rogue):
                pass
        anonymous = Client(server.url, timeout=5)
        with pytest.raises((UaError, OSError, TimeoutError)):
            async with anonymous:
                pass
        assert not [r for r in h.gateway.audit.records() if r.kind == "recommendation"]


async def test_anonymous_session_only_when_named_and_then_as_that_engine(tmp_path: Path, certs: Certs):
    def anonymous_apc(config: PlantConfig) -> PlantConfig:
        config = with_northbound(certs)(config)  # type: ignore[operator]
        northbound = OpcUaNorthbound(port=0, security_policy="None", anonymous_engine="apc")
        return config.model_copy(
            update={"gateway": config.gateway.model_copy(update={"opcua_northbound": northbound})}
        )

    async with running("tank", tmp_path, adjust=anonymous_apc) as h:
        await h.engage("LIC-101")
        settings = h.gateway.plant.config.gateway.opcua_northbound
        assert settings is not None
        server = NorthboundServer(h.gateway, settings, tmp_path)
        await server.start()
        try:
            async with Client(server.url, timeout=5) as legacy:
                status = await write(legacy, SETPOINT, 999.0)
        finally:
            await server.stop()
        actors = [r.actor for r in h.gateway.audit.records() if r.kind == "recommendation"]
    assert status.name == "BadOutOfRange" and actors == ["engine:apc"]


def test_northbound_config_without_a_way_in_refused():
    with pytest.raises(ValueError, match="anonymous_engine"):
        OpcUaNorthbound(security_policy="None")
    with pytest.raises(ValueError, match="certificate and private_key"):
        OpcUaNorthbound(clients=[NorthboundClient(engine="apc", certificate="apc.der")])
    with pytest.raises(ValueError, match="needs a certificate, a user, or both"):
        NorthboundClient(engine="apc")


def test_northbound_bound_to_an_unknown_engine_refused_by_the_config():
    from tests.conftest import TANK_CONFIG

    data = TANK_CONFIG.model_dump(mode="json")
    data["gateway"]["opcua_northbound"] = {"security_policy": "None", "anonymous_engine": "ghost"}
    with pytest.raises(ValueError, match="unknown engine 'ghost'"):
        PlantConfig.model_validate(data)


async def test_user_name_and_password_bind_the_session_to_their_engine(tmp_path: Path, certs: Certs):
    async with plant_with_northbound(tmp_path, certs) as (h, server):
        current = h.setpoint("LIC-101")
        async with optimiser(server, certs, certs.rogue, ("legacy-apc", PASSWORD)) as legacy:
            status = await write(legacy, SETPOINT, current + 0.4)
        with pytest.raises((UaError, OSError, TimeoutError)):
            async with optimiser(server, certs, certs.rogue, ("legacy-apc", "wrong")):
                pass
        with pytest.raises((UaError, OSError, TimeoutError)):
            async with optimiser(server, certs, certs.rogue, ("nobody", PASSWORD)):
                pass
        actors = [r.actor for r in h.gateway.audit.records() if r.kind == "recommendation"]
    assert status.is_good() and actors == ["engine:apc"]


def test_northbound_passwords_refused_on_an_unsecured_endpoint():
    with pytest.raises(ValueError, match="secured endpoint"):
        OpcUaNorthbound(
            security_policy="None",
            anonymous_engine="apc",
            clients=[NorthboundClient(engine="apc", user="u", password_hash=PASSWORD_HASH)],
        )
