"""Who is writing: each OPC UA session is bound to one engine of the plant config, or refused.

A client is known by its application certificate, pinned byte for byte in the config (`clients`), so
trust is per engine, not "anything a CA signed"; or by a user name and password (Argon2id, verified on
activation; asyncua offers user-name tokens only on the secured endpoint), with its certificate pinned
too when the entry names one. A session without a client certificate (a None channel) is refused unless
`anonymous_engine` names the engine it speaks as. Every session gets the
plain `User` role, never `Admin`, so asyncua enforces each node's access level before a write reaches us.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.user_managers import UserManager

from otgate.core.config import OpcUaNorthbound
from otgate.field.opcua_certificate import der_of, fingerprint, load_der

log = logging.getLogger(__name__)


class BoundClients(UserManager):
    def __init__(self, settings: OpcUaNorthbound, base_dir: Path) -> None:
        self.by_fingerprint: dict[str, str] = {}  # certificate-only clients
        self.by_user: dict[str, tuple[str, str, str | None]] = {}  # user -> engine, hash, pinned cert
        for client in settings.clients:
            pinned = fingerprint(load_der(base_dir / client.certificate)) if client.certificate else None
            if client.user is not None and client.password_hash is not None:
                self.by_user[client.user] = (client.engine, client.password_hash, pinned)
            elif pinned is not None:
                self.by_fingerprint[pinned] = client.engine
        self.anonymous_engine = settings.anonymous_engine
        self.hasher = PasswordHasher()

    def get_user(
        self,
        iserver: InternalServer,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        der = der_of(certificate)
        if username is not None:
            return self._by_user_name(username, password, der)
        if der:
            engine = self.by_fingerprint.get(fingerprint(der))
            if engine is None:
                log.warning("refused an OPC UA session: client certificate bound to no engine")
                return None
            return User(role=UserRole.User, name=engine)
        if self.anonymous_engine is None:
            log.warning("refused an anonymous OPC UA session")
            return None
        return User(role=UserRole.User, name=self.anonymous_engine)

    def _by_user_name(self, username: str, password: Any, der: bytes) -> User | None:
        entry = self.by_user.get(username)
        if entry is None or not isinstance(password, str | bytes):
            log.warning("refused an OPC UA session: unknown user name")
            return None
        engine, stored, pinned = entry
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            log.warning("refused an OPC UA session: wrong password")
            return None
        if pinned is not None and (not der or fingerprint(der) != pinned):
            log.warning("refused an OPC UA session: user name from another client application")
            return None
        return User(role=UserRole.User, name=engine)
