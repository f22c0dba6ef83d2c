"""The simulated PLC's OPC UA server (asyncua 2.1).

Address space: one namespace per plant, URI `urn:otgate:sim:<plant>`, registered first so that it gets
index 2 and the configuration's node ids (`ns=2;s=<TAG>`) resolve; `start()` refuses to run otherwise.
Under Objects, one folder `<plant>` holds one variable per tag with an `opcua` address:

    node id        the configured one, e.g. ns=2;s=LIC-101.RSP
    data type      the tag's type: float32 Float, float64 Double, int16 Int16, uint16 UInt16, int32 Int32,
                   uint32 UInt32
    value          the same raw number the Modbus registers carry, (engineering - offset) / scale — equal
                   to the engineering value for every shipped config (scale 1, offset 0)
    access         CurrentRead; CurrentWrite too only for `access: write` tags
    timestamps     Source and Server timestamp = SIM_EPOCH + simulation time (deterministic)

Writes: the server refuses a client write to a read-only node with BadUserAccessDenied (asyncua's answer
for a non-admin session; remote admin login is switched off, so no session can bypass the access level)
and a wrongly typed Variant with BadTypeMismatch. An accepted external write is forwarded to
`sim.write_tag(tag, value, protocol="opcua", address=node_id)` from the PostWrite callback; writes the
server makes itself (publishing) never reach it, because they bypass the session layer and the callback
also checks `is_external`. When the simulation refuses the value, the write's status is turned into
BadOutOfRange before the response is sent.

Start-up cost: asyncua's `init()` builds the standard address space (2–4 s here). It can load it from a
shelf instead, but never does when Python's dbm backend is `dbm.dumb` (opcua-asyncio#1732): its existence
check looks for `<path>` or `<path>.db`, which dbm.dumb never creates. `_AddressSpaceCache` builds the shelf
once per asyncua/Python version under the user's cache directory, then creates an empty sentinel file at
`<path>` so the check passes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.internal_server import InternalServer
from asyncua.server.server import Server
from asyncua.server.user_managers import UserManager
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes
from cryptography import x509

from otgate.core.config import Access
from otgate_simulator.process_image import ProcessImage
from otgate_simulator.registers import RegisterFormat

SIM_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_VARIANT_TYPES = {
    "float32": ua.VariantType.Float,
    "float64": ua.VariantType.Double,
    "int16": ua.VariantType.Int16,
    "uint16": ua.VariantType.UInt16,
    "int32": ua.VariantType.Int32,
    "uint32": ua.VariantType.UInt32,
}
_logger = logging.getLogger(__name__)


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "otgate"


@dataclass(frozen=True)
class _AddressSpaceCache:
    root: Path

    @property
    def shelf(self) -> Path:
        py = f"py{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / f"asyncua-{version('asyncua')}-{py}" / "aspace"

    def is_ready(self) -> bool:
        return self.shelf.is_file()

    async def new_server(self) -> Server:
        """An initialised `Server`: from the cache when it is ready, building the cache otherwise."""
        if self.is_ready():
            server = Server()
            try:
                await server.init(self.shelf)
                return server
            except Exception:  # a stale or truncated shelf must not stop the simulator: rebuild it
                _logger.warning(
                    "address-space cache %s unusable, rebuilding it", self.shelf.parent, exc_info=True
                )
                shutil.rmtree(self.shelf.parent, ignore_errors=True)
        server = Server()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix="building-", dir=self.root))
        except OSError:  # no writable cache directory: start the slow way
            await server.init()
            return server
        try:
            await server.init(staging / "aspace")
            (staging / "aspace").touch()  # the sentinel: see the module docstring
            with contextlib.suppress(OSError):  # atomic; fails harmlessly if another process won the race
                staging.rename(self.shelf.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return server


@dataclass(frozen=True, slots=True)
class NodeSlot:
    tag: str
    node_id: ua.NodeId
    variant_type: ua.VariantType
    fmt: RegisterFormat
    writable: bool


_POLICY_TYPES = {
    ("Basic256Sha256", "Sign"): ua.SecurityPolicyType.Basic256Sha256_Sign,
    ("Basic256Sha256", "SignAndEncrypt"): ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ("Aes128_Sha256_RsaOaep", "Sign"): ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
    ("Aes128_Sha256_RsaOaep", "SignAndEncrypt"): ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
    ("Aes256_Sha256_RsaPss", "Sign"): ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign,
    ("Aes256_Sha256_RsaPss", "SignAndEncrypt"): ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
}


@dataclass(frozen=True)
class ServerSecurity:
    """Endpoint security of the simulated PLC.

    `policy="None"` (the default): one unsecured endpoint, anonymous sessions, for loopback demos.

    Any other policy (the names of the gateway's `security_policy`: Basic256Sha256, Aes128_Sha256_RsaOaep,
    Aes256_Sha256_RsaPss) with `mode` Sign or SignAndEncrypt: the server offers exactly that one endpoint
    and no None endpoint, presents `certificate` (DER or PEM, with `private_key`), takes its
    ApplicationUri from the certificate's URI subjectAltName (a client checks that they match), and
    accepts a client only if its application certificate is in the trust list `trusted` (a directory of
    DER/PEM certificates, nothing else in it; asyncua's TrustStore would also take a CA certificate as
    trusting what it issues, but only self-signed application certificates are tested here). The check
    happens twice:

    - CreateSession: asyncua's `CertificateValidator` (validity period, URI SAN = the client's
      ApplicationUri, key usage, extended key usage clientAuth, in the trust list); an untrusted
      certificate is answered BadCertificateUntrusted.
    - ActivateSession: a user manager admits only sessions on a secure channel whose client certificate
      is trusted. asyncua serves discovery on a None channel whatever the configured policies, and
      would then also create and activate a session there (without a client certificate the validator
      above is never called): this closes that door. Discovery (GetEndpoints) stays open, as OPC UA
      requires.

    Identity tokens: anonymous only; the client application is authenticated by its certificate.
    """

    policy: str = "None"
    mode: str = "SignAndEncrypt"
    certificate: Path | None = None
    private_key: Path | None = None
    trusted: Path | None = None

    def __post_init__(self) -> None:
        if self.policy == "None":
            return
        if (self.policy, self.mode) not in _POLICY_TYPES:
            raise ValueError(f"unsupported security policy/mode {self.policy}/{self.mode}")
        if self.certificate is None or self.private_key is None or self.trusted is None:
            raise ValueError(f"security policy {self.policy} needs certificate, private_key and trusted")

    @property
    def is_secure(self) -> bool:
        return self.policy != "None"

    async def apply(self, server: Server) -> None:
        if not self.is_secure:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            # Anonymous only: user names or certificates over an unencrypted channel would be theatre.
            server.set_identity_tokens([ua.AnonymousIdentityToken])
            return
        assert self.certificate is not None and self.private_key is not None and self.trusted is not None
        await server.load_certificate(str(self.certificate))
        await server.load_private_key(str(self.private_key))
        certificate = server.iserver.certificate
        assert certificate is not None
        await server.set_application_uri(application_uri(certificate))
        server.set_security_policy([_POLICY_TYPES[(self.policy, self.mode)]])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        if not self.trusted.is_dir():
            raise ValueError(f"trust list {self.trusted} is not a directory")
        trust_store = TrustStore([self.trusted], [])
        try:
            await trust_store.load()
        except ValueError as error:  # asyncua cannot build an empty store: no client could ever connect
            raise ValueError(
                f"trust list {self.trusted}: no usable .der/.pem certificate ({error})"
            ) from error
        server.set_certificate_validator(
            CertificateValidator(
                CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT,
                trust_store,
            )
        )
        server.iserver.set_user_manager(_TrustedChannelUsers(trust_store))


def application_uri(certificate: x509.Certificate) -> str:
    """The certificate's (first) URI subjectAltName: an OPC UA application's ApplicationUri."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        san = None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier) if san else []
    if not uris:
        raise ValueError(f"certificate {certificate.subject.rfc4514_string()} has no URI subjectAltName")
    return uris[0]


class _TrustedChannelUsers(UserManager):
    """Admits a session only on a secure channel whose client certificate is in the trust list."""

    def __init__(self, trust_store: TrustStore) -> None:
        self._trust_store = trust_store

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if isinstance(certificate, bytes):  # DER; empty on a None channel
            try:
                certificate = x509.load_der_x509_certificate(certificate) if certificate else None
            except ValueError:
                certificate = None
        if not isinstance(certificate, x509.Certificate):
            _logger.warning("refused a session without a client certificate (security None channel)")
            return None
        if not self._trust_store.validate(certificate):
            _logger.warning("refused a session with an untrusted client certificate")
            return None
        return User(role=UserRole.User)


class OpcUaServer:
    """Serves the simulation over OPC UA at opc.tcp://host:port/otgate/<plant> (port 0 picks a free one)."""

    def __init__(
        self,
        sim: ProcessImage,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        security: ServerSecurity | None = None,
        cache_root: Path | None = None,
    ):
        self.sim = sim
        self.host = host
        self._requested_port = port
        self._security = security or ServerSecurity()
        self._cache = _AddressSpaceCache(cache_root or default_cache_root())
        self.namespace_uri = f"urn:otgate:sim:{sim.config.plant}"
        self._slots = _node_slots(sim)
        self._by_node = {s.node_id: s for s in self._slots}
        self._server: Server | None = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self._port}/otgate/{self.sim.config.plant}"

    async def start(self) -> None:
        server = await self._cache.new_server()
        server.set_endpoint(f"opc.tcp://{self.host}:{self._requested_port}/otgate/{self.sim.config.plant}")
        server.set_server_name(f"otgate simulator ({self.sim.config.plant})")
        server.allow_remote_admin(False)
        server.disable_clock()  # the 1 Hz clock task makes stop() wait ~0.9 s
        await self._security.apply(server)
        if server.get_application_uri() == self.namespace_uri:
            raise ValueError(
                f"the server certificate's application URI must differ from the namespace URI {self.namespace_uri}"
            )
        await self._build_address_space(server)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_post_write)
        self._server = server
        await self.publish()
        try:
            await server.start()  # on failure asyncua has already stopped its internal server
        except BaseException:
            self._server = None
            raise
        self._port = self._bound_port(server)
        for endpoint in server.iserver.endpoints:  # advertise the real port, not 0
            endpoint.EndpointUrl = self.url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def publish(self, image: Mapping[str, float] | None = None) -> None:
        """Write the process image (default: `sim.image()`) into the nodes, stamped with simulation time."""
        if self._server is None:
            raise RuntimeError("server not started")
        values = self.sim.image() if image is None else image
        stamp = cast(ua.DateTime, SIM_EPOCH + dt.timedelta(seconds=self.sim.time_s))
        for slot in self._slots:
            variant = ua.Variant(slot.fmt.to_raw(values[slot.tag], saturate=True), slot.variant_type)
            await self._server.write_attribute_value(
                slot.node_id, ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=stamp)
            )

    async def _build_address_space(self, server: Server) -> None:
        index = await server.register_namespace(self.namespace_uri)
        for slot in self._slots:
            if slot.node_id.NamespaceIndex != index:
                raise RuntimeError(
                    f"{slot.tag}: configured namespace {slot.node_id.NamespaceIndex}, server has {index}"
                )
        folder = await server.nodes.objects.add_folder(
            ua.NodeId.from_string(f"ns={index};s={self.sim.config.plant}"), self.sim.config.plant
        )
        for slot in self._slots:
            zero = ua.Variant(slot.fmt.to_raw(0.0), slot.variant_type)
            node = await folder.add_variable(slot.node_id, slot.tag, zero, slot.variant_type)
            await node.set_writable(slot.writable)

    async def _on_post_write(self, event: ServerItemCallback, _dispatcher: Any) -> None:
        if not event.is_external:
            return
        results: list[ua.StatusCode] = event.response_params
        for i, item in enumerate(event.request_params.NodesToWrite):
            slot = self._by_node.get(item.NodeId)
            if slot is None or item.AttributeId != AttributeIds.Value or not results[i].is_good():
                continue
            raw = item.Value.Value.Value if item.Value and item.Value.Value else None
            if not isinstance(raw, int | float):
                continue
            accepted = self.sim.write_tag(
                slot.tag, slot.fmt.from_raw(raw), protocol="opcua", address=slot.node_id.to_string()
            )
            if not accepted:
                results[i] = ua.StatusCode(ua.UInt32(StatusCodes.BadOutOfRange))

    @staticmethod
    def _bound_port(server: Server) -> int:
        if server.bserver is None:
            raise RuntimeError("asyncua did not open a listener")
        return int(server.bserver.port)


def _node_slots(sim: ProcessImage) -> list[NodeSlot]:
    slots = []
    for name, tag in sim.config.tags.items():
        if tag.opcua is None:
            continue
        slots.append(
            NodeSlot(
                tag=name,
                node_id=ua.NodeId.from_string(tag.opcua.node_id),
                variant_type=_VARIANT_TYPES[tag.type.value],
                fmt=RegisterFormat(tag.type.value, scale=tag.scale, offset=tag.offset),
                writable=tag.access is Access.WRITE,
            )
        )
    return slots
