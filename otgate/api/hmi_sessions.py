"""Operator accounts, login sessions and CSRF tokens for the HMI.

Accounts come from the plant config (`operators:` — Argon2id hashes, verified with argon2-cffi in a worker
thread so that a login never stalls the event loop the scan and the buttons share). A session is an
unpredictable 256-bit token in an HttpOnly, SameSite=Strict cookie; the server keeps only its SHA-256, so
a memory dump does not hand out live cookies. Each session carries its own CSRF token, checked on every
state change.

Sessions end on logout, when the account leaves the config, and when idle: engineers after
`ENGINEER_IDLE_S` (IEC 62443-3-3 SR 2.5: engineering sessions time out), operators and viewers after a
shift (`OPERATOR_IDLE_S`) — an operator console that locks itself mid-incident is a hazard.

Lock-out (too many wrong passwords for one account) never blocks a step toward safety (IEC 62443-3-3 §4.2,
REQUIREMENTS #29): the right password still opens a *restricted* session that may look and disengage
(fallback, manual mode, reject an approval) but do nothing that gives the AI more authority.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from otgate.core.config import Operator, Role

SESSION_COOKIE = "otgate_session"
LOGIN_COOKIE = "otgate_login"  # pre-session token that ties the login form to this browser
CSRF_HEADER = "x-csrf-token"
ENGINEER_IDLE_S = 15 * 60.0
OPERATOR_IDLE_S = 12 * 3600.0
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW_S = 300.0
MAX_SESSIONS = 256  # bounded memory: the oldest idle session goes first
MAX_CONCURRENT_VERIFIES = 2  # each Argon2 verify takes 64 MiB and a core for ~50 ms

RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ENGINEER: 2}


@functools.cache
def _dummy_hash() -> str:
    """Verified against for unknown user names, so a miss costs as much as a wrong password."""
    return PasswordHasher().hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class Session:
    user: str
    csrf: str
    created_at: float
    last_seen: float
    restricted: bool = False  # opened while the account was locked out: toward-safety actions only


@dataclass
class LoginResult:
    user: str
    role: Role
    token: str
    session: Session


@dataclass
class Accounts:
    """Password checks against the config's accounts, with a per-account failure count for lock-out."""

    operators: Callable[[], Mapping[str, Operator]]
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    failures: dict[str, deque[float]] = field(default_factory=dict)
    _verifying: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_VERIFIES))

    async def verify(self, name: str, password: str) -> Operator | None:
        account = self.operators().get(name)
        stored = account.password_hash if account is not None else _dummy_hash()
        async with self._verifying:
            ok = await asyncio.to_thread(self._check, stored, password)
        return account if ok and account is not None else None

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def is_locked(self, name: str, now: float) -> bool:
        recent = self.failures.get(name)
        if recent is None:
            return False
        while recent and now - recent[0] > LOCKOUT_WINDOW_S:
            recent.popleft()
        return len(recent) >= LOCKOUT_FAILURES

    def record_failure(self, name: str, now: float) -> None:
        if name in self.operators():  # unknown names are not tracked: no memory for guessed names
            self.failures.setdefault(name, deque(maxlen=LOCKOUT_FAILURES * 4)).append(now)

    def record_success(self, name: str) -> None:
        self.failures.pop(name, None)


class SessionStore:
    """Live sessions, keyed by the SHA-256 of their cookie token."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}

    def open(self, user: str, now: float, *, restricted: bool = False) -> tuple[str, Session]:
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]
        token = new_token()
        session = Session(user, new_token(), now, now, restricted)
        self._sessions[_digest(token)] = session
        return token, session

    def find(self, token: str | None, role: Role | None, now: float, *, touch: bool = True) -> Session | None:
        """The live session for a cookie token, or None (unknown, logged out, idle too long, account gone)."""
        if not token or role is None:
            return None
        key = _digest(token)
        session = self._sessions.get(key)
        if session is None:
            return None
        idle_limit = ENGINEER_IDLE_S if role is Role.ENGINEER else OPERATOR_IDLE_S
        if now - session.last_seen > idle_limit:
            del self._sessions[key]
            return None
        if touch:
            session.last_seen = now
        return session

    def user_of(self, token: str | None) -> str | None:
        session = self._sessions.get(_digest(token)) if token else None
        return session.user if session is not None else None

    def close(self, token: str | None) -> Session | None:
        return self._sessions.pop(_digest(token), None) if token else None

    def __len__(self) -> int:
        return len(self._sessions)
