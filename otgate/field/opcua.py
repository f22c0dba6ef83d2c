"""`FieldLink` over OPC UA (asyncua 2.1 client).

Node values carry the same raw number as the PLC's registers: engineering = raw * scale + offset.

- Reads: one Read service call for all requested nodes; a node with a non-Good status or a non-numeric or
  non-finite value is reported in `Reading.bad`.
- Writes: one Write service call with a `ua.Variant` of the node's own VariantType (asyncua refuses a
  Python int for a Double node with BadTypeMismatch). The type is read from the node's DataType attribute
  on first use and cached until the next reconnect. Then one Read of the node for the read-back.
- Status mapping: a Bad write status about the value or the access (BadUserAccessDenied, BadNotWritable,
  BadTypeMismatch, BadOutOfRange, ...) is WriteRefused; a status about the session or the channel, a
  timeout, a closed socket or any other asyncua failure is LinkDown.
- Security: policy None is used only when the configuration asks for it by name (`allow_insecure`); the
  config model refuses it otherwise and this adapter checks again, so a hand-built connection object
  cannot slip through. Any other policy needs the gateway's certificate and key (`certificate`,
  `private_key`) and the PLC's certificate (`server_certificate`): the server is pinned, never taken on
  trust from the network. Connecting then goes:
    1. GetEndpoints over an unsecured discovery channel (OPC UA allows discovery without security). The
       endpoint list is not trusted, it only turns a misconfiguration into a clear error instead of a
       timeout (asyncua servers drop a channel they cannot open without answering):
       no endpoint with the configured policy and mode, only None offered -> `southbound_insecure`;
       other secure endpoints only -> `southbound_policy_unavailable`; a certificate other than the
       pinned one -> `southbound_server_certificate_mismatch`.
    2. OpenSecureChannel encrypted to the pinned certificate's key, CreateSession (asyncua checks the
       certificate the server returns against the pinned one and verifies the server's signature with
       it), ActivateSession. The client's ApplicationUri is taken from the certificate's URI
       subjectAltName, which the server checks. A server refusing the gateway's certificate ->
       `southbound_certificate_rejected`.
  A certificate file that cannot be read or has no URI subjectAltName -> `southbound_certificate_unusable`.
  Each of these is a `SouthboundSecurityError`, a `LinkDown` whose `code` names the reason; it is retried
  with the same back-off as any other failed connect (a PLC being re-commissioned may come back right).
- asyncua's auto-reconnect is off: it would let requests during an outage fail at once anyway, and the
  gateway must decide itself what to retry. `Backoff` paces reconnects; a failed link is torn down in the
  background (a hung server would otherwise hold `read()` for another timeout while closing the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping, Sequence

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import security_policies, uacrypto
from cryptography.hazmat.primitives.serialization import Encoding

from otgate.core.codec import to_raw
from otgate.core.config import OpcUaConnection, OpcUaSecurityPolicy, PlcConnection, Tag
from otgate.field.link import FieldError, LinkDown, Reading, WriteRefused, writable_tag
from otgate.field.opcua_certificate import application_uri, first_certificate, thumbprint
from otgate.field.session import FieldSession

_POLICIES: dict[OpcUaSecurityPolicy, type[security_policies.SecurityPolicy]] = {
    OpcUaSecurityPolicy.BASIC256SHA256: security_policies.SecurityPolicyBasic256Sha256,
    OpcUaSecurityPolicy.AES128_SHA256_RSAOAEP: security_policies.SecurityPolicyAes128Sha256RsaOaep,
    OpcUaSecurityPolicy.AES256_SHA256_RSAPSS: security_policies.SecurityPolicyAes256Sha256RsaPss,
}
_NUMERIC_TYPES = {
    ua.VariantType.Float,
    ua.VariantType.Double,
    ua.VariantType.SByte,
    ua.VariantType.Byte,
    ua.VariantType.Int16,
    ua.VariantType.UInt16,
    ua.VariantType.Int32,
    ua.VariantType.UInt32,
    ua.VariantType.Int64,
    ua.VariantType.UInt64,
}
_INTEGER_TYPES = _NUMERIC_TYPES - {ua.VariantType.Float, ua.VariantType.Double}
# Statuses that say the link, not the value, failed (OPC UA Part 4, 7.38 common service results).
_LINK_STATUSES = {
    "BadTimeout",
    "BadCommunicationError",
    "BadConnectionClosed",
    "BadConnectionRejected",
    "BadDisconnect",
    "BadNoCommunication",
    "BadNotConnected",
    "BadSecureChannelClosed",
    "BadSecureChannelIdInvalid",
    "BadSecureChannelTokenUnknown",
    "BadServerHalted",
    "BadServerNotConnected",
    "BadSessionClosed",
    "BadSessionIdInvalid",
    "BadSessionNotActivated",
    "BadShutdown",
    "BadTcpInternalError",
    "BadTooManySessions",
    "BadRequestTimeout",
}
_LINK_CODES = frozenset(
    getattr(ua.StatusCodes, name) for name in _LINK_STATUSES if hasattr(ua.StatusCodes, name)
)
# What asyncua raises on a request: UaError and its subclasses (ua.uaerrors), and a bad signature on a
# secure channel (uacrypto.InvalidSignature, re-exported from cryptography). Checked against the library.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (ua.UaError, uacrypto.InvalidSignature)
_OWN_CERTIFICATE = "the gateway's OPC UA certificate"
# What a server answers when it will not accept the gateway's application certificate (CreateSession) or
# its session (ActivateSession: the simulator's trust check; real PLCs differ).
_CERTIFICATE_REJECTIONS = frozenset(
    getattr(ua.StatusCodes, name)
    for name in (
        "BadCertificateUntrusted",
        "BadCertificateInvalid",
        "BadCertificateUriInvalid",
        "BadCertificateUseNotAllowed",
        "BadCertificateTimeInvalid",
        "BadCertificateIssuerTimeInvalid",
        "BadCertificateRevoked",
        "BadCertificateIssuerRevoked",
        "BadCertificateRevocationUnknown",
        "BadCertificateIssuerRevocationUnknown",
        "BadCertificateChainIncomplete",
        "BadSecurityChecksFailed",
        "BadIdentityTokenRejected",
        "BadUserAccessDenied",
    )
    if hasattr(ua.StatusCodes, name)
)


class SouthboundSecurityError(LinkDown):
    """The link was refused for a security reason; `code` says which (see the module docstring)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class OpcUaLink:
    """`FieldLink` to one PLC over OPC UA; `tags` are that PLC's tags (name -> config)."""

    def __init__(
        self,
        plc: PlcConnection,
        tags: Mapping[str, Tag],
        *,
        reconnect_delay_s: float = 0.1,
        reconnect_delay_max_s: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if plc.opcua is None:
            raise ValueError("PLC connection has no 'opcua' section")
        _check_security(plc.opcua)
        self._settings: OpcUaConnection = plc.opcua
        self._tags = dict(tags)
        self._node_ids = {name: ua.NodeId.from_string(t.opcua.node_id) for name, t in tags.items() if t.opcua}
        self._variant_types: dict[str, ua.VariantType] = {}
        self._client: Client | None = None
        self._teardowns: set[asyncio.Task[None]] = set()
        endpoint = plc.opcua.endpoint
        self.session = FieldSession(
            LIBRARY_ERRORS,
            lambda error: f"opc ua {endpoint}: {error!r}",
            self._drop,
            reconnect_delay_s=reconnect_delay_s,
            reconnect_delay_max_s=reconnect_delay_max_s,
            clock=clock,
        )
        # A certificate or key asyncua cannot use surfaces as ValueError while connecting.
        self._connect_errors: tuple[type[BaseException], ...] = (*self.session.errors, ValueError)

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.uaclient.state is UaClientState.CONNECTED

    async def connect(self) -> None:
        if self.is_connected:
            return
        self._drop()
        self.session.backoff.check()
        settings = self._settings
        client = Client(settings.endpoint, timeout=settings.timeout_s)
        try:
            # Session set-up is several requests, each bounded by the timeout; bound the whole.
            async with asyncio.timeout(4 * settings.timeout_s):
                await self._secure(client)
                await client.connect()
        except SouthboundSecurityError:
            self.session.backoff.failed()
            self._teardown(client)
            raise
        except self._connect_errors as error:
            self.session.backoff.failed()
            self._teardown(client)
            raise _connect_error(settings, error) from error
        self._variant_types.clear()  # the PLC may have been re-downloaded while we were away
        self._client = client

    async def close(self) -> None:
        self._drop()
        if self._teardowns:
            await asyncio.gather(*self._teardowns, return_exceptions=True)

    async def read(self, tags: Sequence[str]) -> Reading:
        names = [n for n in dict.fromkeys(tags) if n in self._node_ids]
        async with self.session.lock:
            results = await self._read_values(names)
        values = {}
        for name, data_value in zip(names, results, strict=True):
            value = self._engineering(name, data_value)
            if value is not None:
                values[name] = value
        return Reading(values, frozenset(tags).difference(values))

    async def write(self, tag: str, value: float) -> float:
        config = writable_tag(self._tags, tag)
        node_id = self._node_ids.get(tag)
        if node_id is None:
            raise WriteRefused(f"{tag}: no OPC UA node")
        try:
            raw = to_raw(value, config.type, config.scale, config.offset)
        except ValueError as error:
            raise WriteRefused(f"{tag}: {error}") from None
        async with self.session.lock:
            variant_type = await self._variant_type(tag, node_id)
            if variant_type not in _NUMERIC_TYPES:
                raise WriteRefused(f"{tag}: node data type {variant_type.name} is not numeric")
            variant = ua.Variant(round(raw) if variant_type in _INTEGER_TYPES else float(raw), variant_type)
            client = await self._connected_client()
            with self.session.request():
                (status,) = await client.uaclient.write_attributes(
                    [node_id], [ua.DataValue(variant)], ua.AttributeIds.Value
                )
            if status.value in _LINK_CODES:
                raise self.session.fail(f"{tag}: write answered {status.name}")
            if not status.is_good():
                raise WriteRefused(f"{tag}: PLC answered {status.name}")
            try:
                (data_value,) = await self._read_values([tag])
            except LinkDown as error:
                raise LinkDown(f"{tag}: written, but the read-back failed: {error}") from error
        read_back = self._engineering(tag, data_value)
        if read_back is None:
            raise FieldError(f"{tag}: written, but the read-back is bad ({data_value.StatusCode})")
        return read_back

    # ------------------------------------------------------------------------------------------ internals

    async def _connected_client(self) -> Client:
        if not self.is_connected:
            await self.connect()
        if self._client is None:
            raise LinkDown("opc ua: not connected")
        return self._client

    async def _read_values(self, names: Sequence[str]) -> list[ua.DataValue]:
        if not names:
            return []
        client = await self._connected_client()
        with self.session.request():
            results = await client.uaclient.read_attributes(
                [self._node_ids[n] for n in names], ua.AttributeIds.Value
            )
        self.session.answered()
        return list(results)

    async def _variant_type(self, tag: str, node_id: ua.NodeId) -> ua.VariantType:
        cached = self._variant_types.get(tag)
        if cached is not None:
            return cached
        client = await self._connected_client()
        try:
            variant_type = await client.get_node(node_id).read_data_type_as_variant_type()
        except ua.UaStatusCodeError as error:
            if error.code in _LINK_CODES:
                raise self.session.fail(error) from error
            raise WriteRefused(f"{tag}: cannot read the node's data type: {error}") from error
        except self.session.errors as error:
            raise self.session.fail(error) from error
        self._variant_types[tag] = variant_type
        return variant_type

    def _engineering(self, name: str, data_value: ua.DataValue) -> float | None:
        """The engineering value of a read result, or None when it is not usable."""
        status = data_value.StatusCode
        if status is not None and not status.is_good():
            return None
        variant = data_value.Value
        raw = variant.Value if variant is not None else None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None
        tag = self._tags[name]
        value = float(raw) * tag.scale + tag.offset
        return value if math.isfinite(value) else None

    def _drop(self) -> None:
        if self._client is not None:
            self._teardown(self._client)
            self._client = None

    def _teardown(self, client: Client) -> None:
        task = asyncio.get_running_loop().create_task(_disconnect(client, self._settings.timeout_s))
        self._teardowns.add(task)
        task.add_done_callback(self._teardowns.discard)

    async def _secure(self, client: Client) -> None:
        settings = self._settings
        _check_security(settings)
        if settings.security_policy is OpcUaSecurityPolicy.NONE:
            return
        certificate, private_key, pinned_file = (
            settings.certificate,
            settings.private_key,
            settings.server_certificate,
        )
        if not (certificate and private_key and pinned_file):  # _check_security has said so already
            raise ValueError("certificate, private_key and server_certificate are required")
        policy = _POLICIES[settings.security_policy]
        mode = getattr(ua.MessageSecurityMode, settings.security_mode)
        try:
            own_uri = application_uri(await uacrypto.load_certificate(certificate), _OWN_CERTIFICATE)
            pinned = (await uacrypto.load_certificate(pinned_file)).public_bytes(Encoding.DER)
        except (OSError, ValueError) as error:
            raise SouthboundSecurityError(
                "southbound_certificate_unusable", f"opc ua {settings.endpoint}: {error}"
            ) from error
        _check_endpoints(settings, await client.connect_and_get_server_endpoints(), policy.URI, mode, pinned)
        client.application_uri = own_uri
        try:  # loads the private key; no network
            await client.set_security(policy, certificate, private_key, server_certificate=pinned, mode=mode)
        except (OSError, ValueError, TypeError) as error:
            raise SouthboundSecurityError(
                "southbound_certificate_unusable", f"opc ua {settings.endpoint}: private key: {error}"
            ) from error


def _check_security(settings: OpcUaConnection) -> None:
    if settings.security_policy is OpcUaSecurityPolicy.NONE:
        if not settings.allow_insecure:
            raise ValueError("southbound_insecure: OPC UA security policy None needs allow_insecure: true")
        return
    if not (settings.certificate and settings.private_key):
        raise ValueError(f"security policy {settings.security_policy} needs certificate and private_key")
    if not settings.server_certificate:
        raise ValueError(
            f"security policy {settings.security_policy} needs server_certificate (the PLC's pinned certificate)"
        )


def _check_endpoints(
    settings: OpcUaConnection,
    endpoints: Sequence[ua.EndpointDescription],
    policy_uri: str,
    mode: ua.MessageSecurityMode,
    pinned: bytes,
) -> None:
    """Refuse, with a clear reason, a server that cannot offer the configured secure endpoint."""
    wanted = f"{settings.security_policy}/{settings.security_mode}"
    where = f"opc ua {settings.endpoint}"
    matching = [e for e in endpoints if e.SecurityPolicyUri == policy_uri and e.SecurityMode == mode]
    if not matching:
        offered = sorted(
            {f"{e.SecurityPolicyUri.rpartition('#')[2]}/{e.SecurityMode.name}" for e in endpoints}
        )
        if endpoints and all(_is_insecure(e) for e in endpoints):
            raise SouthboundSecurityError(
                "southbound_insecure",
                f"{where} offers only security None; the configuration requires {wanted}",
            )
        raise SouthboundSecurityError(
            "southbound_policy_unavailable",
            f"{where} does not offer {wanted} (offers {', '.join(offered) or 'no endpoint'})",
        )
    presented = {first_certificate(e.ServerCertificate) for e in matching}
    if pinned not in presented:
        thumbprints = ", ".join(sorted(thumbprint(der) for der in presented if der))
        raise SouthboundSecurityError(
            "southbound_server_certificate_mismatch",
            f"{where} presents certificate {thumbprints or '(none)'}, "
            f"not the pinned server_certificate {thumbprint(pinned)}",
        )


def _is_insecure(endpoint: ua.EndpointDescription) -> bool:
    none_uri: str = security_policies.SecurityPolicyNone.URI
    return bool(
        endpoint.SecurityMode == ua.MessageSecurityMode.None_ or endpoint.SecurityPolicyUri == none_uri
    )


def _connect_error(settings: OpcUaConnection, error: BaseException) -> LinkDown:
    where = f"opc ua {settings.endpoint}"
    if isinstance(error, ua.UaStatusCodeError) and error.code in _CERTIFICATE_REJECTIONS:
        return SouthboundSecurityError(
            "southbound_certificate_rejected",
            f"{where} refused the gateway's certificate ({ua.StatusCode(error.code).name}): "
            "is it in the PLC's trust list?",
        )
    if isinstance(error, ua.UaError) and "certificate mismatch" in str(error).lower():
        return SouthboundSecurityError(
            "southbound_server_certificate_mismatch", f"{where}: the server is not the pinned one ({error})"
        )
    return LinkDown(f"{where}: cannot connect: {error!r}")


async def _disconnect(client: Client, timeout_s: float) -> None:
    """Close session, channel and socket, giving up after `timeout_s` (a hung server never answers)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await client.disconnect()
    with contextlib.suppress(Exception):
        client.disconnect_socket()
