"""OPC UA security of the southbound link: which policy, which certificates, and a clear refusal.

Policy None is used only when the configuration asks for it by name (`allow_insecure`); the
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
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncua import Client, ua
from asyncua.crypto import security_policies, uacrypto
from cryptography.hazmat.primitives.serialization import Encoding

from otgate.core.config import OpcUaConnection, OpcUaSecurityPolicy
from otgate.field.link import LinkDown
from otgate.field.opcua_certificate import application_uri, first_certificate, thumbprint

_POLICIES: dict[OpcUaSecurityPolicy, type[security_policies.SecurityPolicy]] = {
    OpcUaSecurityPolicy.BASIC256SHA256: security_policies.SecurityPolicyBasic256Sha256,
    OpcUaSecurityPolicy.AES128_SHA256_RSAOAEP: security_policies.SecurityPolicyAes128Sha256RsaOaep,
    OpcUaSecurityPolicy.AES256_SHA256_RSAPSS: security_policies.SecurityPolicyAes256Sha256RsaPss,
}
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


async def secure(client: Client, settings: OpcUaConnection) -> None:
    """Set `client` up for the configured policy, refusing with a `southbound_*` code what cannot be."""
    check_security(settings)
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


def check_security(settings: OpcUaConnection) -> None:
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


def connect_error(settings: OpcUaConnection, error: BaseException) -> LinkDown:
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
