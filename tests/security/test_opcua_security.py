"""Southbound OPC UA security: a Basic256Sha256 simulator with a trust list, the gateway's pinned link.

Certificates are made at test time (tests/security/certs.py), once per module: RSA key generation is the
slow part. Only files are shared between tests; every server is function-scoped and runs in the test's
own event loop (a server from another loop hangs instead of failing, see PROTOCOLS.md).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from asyncua import Client, ua
from pydantic import ValidationError

from otgate.core.config import Access, OpcUaConnection, OpcUaSecurityPolicy, PlantConfig, PlcConnection
from otgate.field.link import LinkDown, WriteRefused
from otgate.field.opcua import OpcUaLink
from otgate.field.opcua_security import SouthboundSecurityError, _check_endpoints
from otgate_simulator.opcua_server import OpcUaServer, ServerSecurity
from otgate_simulator.simulation import Simulation
from tests.field.harness import tank_config
from tests.security.certs import AppCertificate, make_app_certificate

SETPOINT = "LIC-101.RSP"
BOUND_S = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Pki:
    plc: AppCertificate  # the simulated PLC's own certificate
    impostor: AppCertificate  # another server claiming the PLC's application URI
    gateway: AppCertificate  # in the PLC's trust list
    rogue: AppCertificate  # a well-formed client certificate nobody trusted
    trusted: Path  # the PLC's trust list: the gateway's certificate only


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    plc = make_app_certificate(root / "plc", "plc", "urn:otgate:test:plc")
    impostor = make_app_certificate(root / "impostor", "plc", "urn:otgate:test:plc")
    gateway = make_app_certificate(root / "gateway", "gateway", "urn:otgate:test:gateway")
    rogue = make_app_certificate(root / "rogue", "rogue", "urn:otgate:test:rogue")
    trusted = root / "plc-trusted"
    trusted.mkdir()
    shutil.copy(gateway.certificate, trusted)
    return Pki(plc, impostor, gateway, rogue, trusted)


def secured(pki: Pki, mode: str = "SignAndEncrypt", *, own: AppCertificate | None = None) -> ServerSecurity:
    own = own or pki.plc
    return ServerSecurity(
        policy="Basic256Sha256",
        mode=mode,
        certificate=own.certificate,
        private_key=own.private_key,
        trusted=pki.trusted,
    )


@dataclass
class Plc:
    config: PlantConfig
    sim: Simulation
    server: OpcUaServer


@pytest.fixture
async def start_plc() -> AsyncIterator[Callable[[ServerSecurity], Awaitable[Plc]]]:
    servers: list[OpcUaServer] = []

    async def start(security: ServerSecurity) -> Plc:
        config = tank_config()
        sim = Simulation("tank", seed=1, config=config)
        server = OpcUaServer(sim, security=security)
        servers.append(server)
        await server.start()
        return Plc(config, sim, server)

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def links() -> AsyncIterator[list[OpcUaLink]]:
    opened: list[OpcUaLink] = []
    yield opened
    for link in opened:
        await link.close()


def connection(plc: Plc, pki: Pki, **update: Any) -> PlcConnection:
    settings = {
        "endpoint": plc.server.url,
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "certificate": str(pki.gateway.certificate),
        "private_key": str(pki.gateway.private_key),
        "server_certificate": str(pki.plc.certificate),
        "timeout_s": 1.0,
        **update,
    }
    base = plc.config.plcs["plc1"]
    return base.model_copy(update={"protocol": "opcua", "opcua": OpcUaConnection.model_validate(settings)})


def link_for(plc: Plc, pki: Pki, links: list[OpcUaLink], **update: Any) -> OpcUaLink:
    link = OpcUaLink(connection(plc, pki, **update), plc.config.tags, reconnect_delay_s=0.01)
    links.append(link)
    return link


async def bounded(operation: Awaitable[T]) -> T:
    return await asyncio.wait_for(operation, BOUND_S)


async def refusal(link: OpcUaLink) -> SouthboundSecurityError:
    with pytest.raises(SouthboundSecurityError) as caught:
        await bounded(link.connect())
    assert isinstance(caught.value, LinkDown)  # the gateway treats it as a link it cannot use
    assert not link.is_connected
    return caught.value


# ---------------------------------------------------------------------------------------- the server


@pytest.mark.requirement("R-31")
async def test_secured_server_offers_only_basic256sha256_sign_and_encrypt(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]]
) -> None:
    plc = await start_plc(secured(pki))
    endpoints = await bounded(Client(plc.server.url, timeout=1).connect_and_get_server_endpoints())
    assert [(e.SecurityPolicyUri.rpartition("#")[2], e.SecurityMode) for e in endpoints] == [
        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt)
    ]
    assert {e.Server.ApplicationUri for e in endpoints} == {pki.plc.uri}  # = the certificate's URI SAN
    assert [t.TokenType for e in endpoints for t in e.UserIdentityTokens] == [ua.UserTokenType.Anonymous]


async def test_untrusted_client_certificate_refused_by_server(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    plc = await start_plc(secured(pki))
    rogue = link_for(
        plc, pki, links, certificate=str(pki.rogue.certificate), private_key=str(pki.rogue.private_key)
    )
    error = await refusal(rogue)
    assert error.code == "southbound_certificate_rejected"
    assert "BadCertificateUntrusted" in str(error)
    with pytest.raises(LinkDown):
        await bounded(rogue.write(SETPOINT, 700.0))
    assert plc.sim.write_log == []


async def test_session_on_unsecured_channel_refused_by_secured_server(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncua opens a None channel for discovery whatever the policies, and would create and activate a
    # session on it: only the simulator's user manager stops that. asyncua's client refuses by itself to
    # use an endpoint the server does not list, so make it pretend one is listed.
    plc = await start_plc(secured(pki))
    anonymous = ua.UserTokenPolicy(PolicyId="anonymous", TokenType=ua.UserTokenType.Anonymous)
    fake = ua.EndpointDescription(UserIdentityTokens=[anonymous])
    monkeypatch.setattr(Client, "find_endpoint", staticmethod(lambda *_: fake))
    client = Client(plc.server.url, timeout=1)
    try:
        with pytest.raises(ua.uaerrors.BadUserAccessDenied):
            await bounded(client.connect())
    finally:
        await bounded(client.disconnect())


def test_server_security_needs_certificate_key_and_trust_list(pki: Pki) -> None:
    with pytest.raises(ValueError, match="trusted"):
        ServerSecurity(
            policy="Basic256Sha256", certificate=pki.plc.certificate, private_key=pki.plc.private_key
        )
    with pytest.raises(ValueError, match="unsupported"):
        ServerSecurity(policy="Basic128Rsa15", certificate=pki.plc.certificate)


# ---------------------------------------------------------------------------------- the gateway side


@pytest.mark.parametrize("mode", ["SignAndEncrypt", "Sign"])
async def test_secured_link_reads_and_writes(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink], mode: str
) -> None:
    plc = await start_plc(secured(pki, mode))
    link = link_for(plc, pki, links, security_mode=mode)
    await bounded(link.connect())
    assert link.is_connected
    reading = await bounded(link.read(list(plc.config.tags)))
    assert reading.bad == frozenset()
    assert reading.values["LIT-101"] == pytest.approx(plc.sim.image()["LIT-101"], abs=1e-3)
    assert await bounded(link.write(SETPOINT, 700.0)) == pytest.approx(700.0)
    assert [(w.protocol, w.tag, w.address, w.value, w.accepted) for w in plc.sim.write_log] == [
        ("opcua", SETPOINT, "ns=2;s=LIC-101.RSP", 700.0, True)  # float32 700.0 is exact
    ]


async def test_contract_holds_over_secured_link(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    plc = await start_plc(secured(pki))
    link = link_for(plc, pki, links)
    # refused by the adapter before sending: a read-only tag
    with pytest.raises(WriteRefused):
        await bounded(link.write("LIT-101", 1.0))
    assert plc.sim.write_log == []
    # refused by the PLC (BadUserAccessDenied): the adapter's map says writable, the server says no
    tag = "PLC.SHED_TIMEOUT"
    tags = {**plc.config.tags, tag: plc.config.tags[tag].model_copy(update={"access": Access.WRITE})}
    lying = OpcUaLink(connection(plc, pki), tags)
    links.append(lying)
    before = (await bounded(lying.read([tag]))).values[tag]
    with pytest.raises(WriteRefused, match="BadUserAccessDenied"):
        await bounded(lying.write(tag, 99.0))
    assert (await bounded(lying.read([tag]))).values == {tag: before}
    assert lying.is_connected
    # an accepted write, with its read-back, after the refusals, on the same secured session
    assert await bounded(lying.write(SETPOINT, 655.5)) == pytest.approx(655.5)
    assert [(w.tag, w.accepted) for w in plc.sim.write_log] == [(SETPOINT, True)]
    # the PLC going away: LinkDown, and the secured link comes back by itself
    await plc.server.stop()
    with pytest.raises(LinkDown):
        await bounded(lying.read([SETPOINT]))
    await plc.server.start()
    lying_again = OpcUaLink(connection(plc, pki), tags, reconnect_delay_s=0.01)  # the port changed
    links.append(lying_again)
    assert (await bounded(lying_again.read([SETPOINT]))).values == {SETPOINT: pytest.approx(655.5)}


@pytest.mark.requirement("R-31")
async def test_wrong_pinned_server_certificate_refused(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    # The impostor holds a valid certificate with the PLC's application URI, but not the pinned one.
    plc = await start_plc(secured(pki, own=pki.impostor))
    link = link_for(plc, pki, links)
    error = await refusal(link)
    assert error.code == "southbound_server_certificate_mismatch"
    assert "pinned" in str(error)
    with pytest.raises(LinkDown):
        await bounded(link.write(SETPOINT, 700.0))
    assert plc.sim.write_log == []


async def test_pin_enforced_by_the_handshake_not_by_the_endpoint_list(
    pki: Pki,
    start_plc: Callable[[ServerSecurity], Awaitable[Plc]],
    links: list[OpcUaLink],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A man in the middle can replay the real PLC's endpoint list: without the diagnostic check the
    # impostor still cannot open the channel (it cannot decrypt what was encrypted to the pinned key).
    plc = await start_plc(secured(pki, own=pki.impostor))
    monkeypatch.setattr("otgate.field.opcua_security._check_endpoints", lambda *_: None)
    link = link_for(plc, pki, links, timeout_s=0.3)
    with pytest.raises(LinkDown):
        await bounded(link.connect())
    assert not link.is_connected
    assert plc.sim.write_log == []


@pytest.mark.requirement("R-31")
async def test_none_only_server_refused_southbound_insecure(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    plc = await start_plc(ServerSecurity())  # security None only
    error = await refusal(link_for(plc, pki, links))
    assert error.code == "southbound_insecure"
    # allow_insecure does not downgrade a link configured secure: the configured policy is the policy
    error = await refusal(link_for(plc, pki, links, allow_insecure=True))
    assert error.code == "southbound_insecure"
    assert plc.sim.write_log == []


async def test_none_only_server_used_only_with_allow_insecure(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    plc = await start_plc(ServerSecurity())
    insecure = {
        "security_policy": "None",
        "certificate": None,
        "private_key": None,
        "server_certificate": None,
    }
    with pytest.raises(ValidationError, match="allow_insecure"):
        connection(plc, pki, **insecure)
    hand_built = connection(plc, pki, **insecure, allow_insecure=True)
    assert hand_built.opcua is not None
    sneaky = hand_built.opcua.model_copy(update={"allow_insecure": False})  # bypasses the config model
    with pytest.raises(ValueError, match="southbound_insecure"):
        OpcUaLink(hand_built.model_copy(update={"opcua": sneaky}), plc.config.tags)
    link = link_for(plc, pki, links, **insecure, allow_insecure=True)
    assert await bounded(link.write(SETPOINT, 640.0)) == pytest.approx(640.0)


async def test_server_without_the_configured_mode_refused(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], links: list[OpcUaLink]
) -> None:
    plc = await start_plc(secured(pki, "Sign"))
    error = await refusal(link_for(plc, pki, links))  # configured SignAndEncrypt
    assert error.code == "southbound_policy_unavailable"
    assert "Basic256Sha256/Sign" in str(error)


@pytest.mark.requirement("R-31")
def test_secure_policy_without_pinned_server_certificate_refused(pki: Pki) -> None:
    config = tank_config()
    fields = {
        "endpoint": "opc.tcp://127.0.0.1:4840/otgate/tank",
        "security_policy": OpcUaSecurityPolicy.BASIC256SHA256,
        "certificate": str(pki.gateway.certificate),
        "private_key": str(pki.gateway.private_key),
    }
    with pytest.raises(ValueError, match="server_certificate"):
        OpcUaConnection(**fields)  # the config refuses it at load ...
    unchecked = OpcUaConnection.model_construct(**fields)  # ... and the adapter refuses it too
    plc = config.plcs["plc1"].model_copy(update={"opcua": unchecked})
    with pytest.raises(ValueError, match="server_certificate"):
        OpcUaLink(plc, config.tags)


async def test_server_refuses_to_start_with_empty_trust_list_or_clashing_uri(
    pki: Pki, start_plc: Callable[[ServerSecurity], Awaitable[Plc]], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    own = pki.plc
    with pytest.raises(ValueError, match="no usable"):
        await start_plc(
            ServerSecurity("Basic256Sha256", "SignAndEncrypt", own.certificate, own.private_key, empty)
        )
    # The certificate's application URI would take namespace 1 and push the plant's out of ns=2.
    clash = make_app_certificate(tmp_path / "clash", "clash", "urn:otgate:sim:tank")
    with pytest.raises(ValueError, match="namespace URI"):
        await start_plc(secured(pki, own=clash))


def test_pinned_certificate_matches_an_endpoint_certificate_sent_with_its_chain(pki: Pki) -> None:
    pinned = pki.plc.certificate.read_bytes()
    settings = connection_settings(pki)
    policy = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    mode = ua.MessageSecurityMode.SignAndEncrypt
    chained = ua.EndpointDescription(
        SecurityPolicyUri=policy,
        SecurityMode=mode,
        ServerCertificate=pinned + pki.gateway.certificate.read_bytes(),
    )
    _check_endpoints(settings, [chained], policy, mode, pinned)  # no error
    other = ua.EndpointDescription(
        SecurityPolicyUri=policy, SecurityMode=mode, ServerCertificate=pki.impostor.certificate.read_bytes()
    )
    with pytest.raises(SouthboundSecurityError, match=r"southbound_server_certificate_mismatch: .* sha1:"):
        _check_endpoints(settings, [other], policy, mode, pinned)
    none = ua.EndpointDescription(
        SecurityPolicyUri=policy.replace("Basic256Sha256", "None"), SecurityMode=ua.MessageSecurityMode.None_
    )
    with pytest.raises(SouthboundSecurityError, match="southbound_insecure"):
        _check_endpoints(settings, [none], policy, mode, pinned)
    with pytest.raises(SouthboundSecurityError, match=r"southbound_policy_unavailable: .* no endpoint"):
        _check_endpoints(settings, [], policy, mode, pinned)


def connection_settings(pki: Pki) -> OpcUaConnection:
    return OpcUaConnection(
        endpoint="opc.tcp://127.0.0.1:4840/otgate/tank",
        certificate=str(pki.gateway.certificate),
        private_key=str(pki.gateway.private_key),
        server_certificate=str(pki.plc.certificate),
    )


@pytest.mark.parametrize("broken", ["certificate", "private_key", "server_certificate"])
async def test_unreadable_certificate_or_key_refused_with_a_clear_code(
    pki: Pki,
    start_plc: Callable[[ServerSecurity], Awaitable[Plc]],
    links: list[OpcUaLink],
    tmp_path: Path,
    broken: str,
) -> None:
    plc = await start_plc(secured(pki))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    error = await refusal(link_for(plc, pki, links, **{broken: str(garbage)}))
    assert error.code == "southbound_certificate_unusable"
    missing = await refusal(link_for(plc, pki, links, **{broken: str(tmp_path / "missing.der")}))
    assert missing.code == "southbound_certificate_unusable"


async def test_otgate_sim_serves_a_secured_endpoint_the_gateway_can_use(
    pki: Pki, links: list[OpcUaLink]
) -> None:
    """`otgate sim --opcua-policy ...`: a user can start the secured simulator from the command line."""
    import asyncio
    import re
    import signal
    import sys

    from tests.conftest import ROOT

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "otgate", "sim", "--plant", "tank", "--modbus-port", "0", "--opcua-port", "0",
        "--opcua-policy", "Basic256Sha256", "--opcua-cert", str(pki.plc.certificate),
        "--opcua-key", str(pki.plc.private_key), "--opcua-trusted", str(pki.trusted),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(3)]
        assert "(security Basic256Sha256 SignAndEncrypt)" in lines[2]
        url = re.search(r"(opc\.tcp://\S+)", lines[2]).group(1)  # type: ignore[union-attr]
        config = tank_config()
        settings = OpcUaConnection(
            endpoint=url,
            security_policy=OpcUaSecurityPolicy.BASIC256SHA256,
            certificate=str(pki.gateway.certificate),
            private_key=str(pki.gateway.private_key),
            server_certificate=str(pki.plc.certificate),
            timeout_s=2.0,
        )
        link = OpcUaLink(config.plcs["plc1"].model_copy(update={"opcua": settings}), config.tags)
        links.append(link)
        reading = await link.read(["LIT-101", "LIC-101.SP"])
        assert set(reading.values) == {"LIT-101", "LIC-101.SP"}
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 10)
