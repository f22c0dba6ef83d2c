"""Who is writing: each OPC UA session is bound to one engine of the plant config, or refused.

A client is known by its application certificate, pinned byte for byte in the config (`clients`), so
trust is per engine, not "anything a CA signed". A session without a client certificate (a None
channel) is refused unless `anonymous_engine` names the engine it speaks as. Every session gets the
plain `User` role, never `Admin`, so asyncua enforces each node's access level before a write reaches us.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from otgate.core.config import OpcUaNorthbound

log = logging.getLogger(__name__)


def load_der(path: Path) -> bytes:
    """A certificate file (DER or PEM) as DER bytes."""
    data = path.read_bytes()
    certificate = (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else (x509.load_der_x509_certificate(data))
    )
    return certificate.public_bytes(Encoding.DER)


def application_uri(der: bytes) -> str:
    certificate = x509.load_der_x509_certificate(der)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier) if san is not None else []
    if not uris:
        raise ValueError("the northbound server certificate has no URI subjectAltName (its ApplicationUri)")
    return uris[0]


class BoundClients(UserManager):
    def __init__(self, settings: OpcUaNorthbound, base_dir: Path) -> None:
        self.by_fingerprint = {
            _fingerprint(load_der(base_dir / client.certificate)): client.engine
            for client in settings.clients
        }
        self.anonymous_engine = settings.anonymous_engine

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is not None:  # only certificate identities are configured; a user name binds nothing
            log.warning("refused an OPC UA session with a user name token")
            return None
        der = _der(certificate)
        if der:
            engine = self.by_fingerprint.get(_fingerprint(der))
            if engine is None:
                log.warning("refused an OPC UA session: client certificate bound to no engine")
                return None
            return User(role=UserRole.User, name=engine)
        if self.anonymous_engine is None:
            log.warning("refused an anonymous OPC UA session")
            return None
        return User(role=UserRole.User, name=self.anonymous_engine)


def _der(certificate: Any) -> bytes:
    if isinstance(certificate, x509.Certificate):
        return certificate.public_bytes(Encoding.DER)
    return certificate if isinstance(certificate, bytes) else b""


def _fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
