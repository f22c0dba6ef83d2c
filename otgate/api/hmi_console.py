"""The HMI's per-listener state and its one gate: who is asking, and may they do this?

Every request that changes anything passes `Console.require`, which checks, in order: that the request
comes from the HMI's own origin (browsers send `Origin`/`Sec-Fetch-Site`, and a page on another origin
is refused outright), the session cookie (401), the session's CSRF token (403), the account's role in the
current config (403) and, for a session opened during a lock-out, that the action is toward safety.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request

from otgate.api.hmi_sessions import (
    CSRF_HEADER,
    RANK,
    SESSION_COOKIE,
    Accounts,
    Session,
    SessionStore,
    same_token,
)
from otgate.api.hmi_view import RecentTraffic, Trends, plant_view
from otgate.api.strict_requests import ApiError
from otgate.audit.store import AuditStoreError
from otgate.core.audit_chain import AuditKind
from otgate.core.config import Role
from otgate.core.text import visible
from otgate.runtime.gateway import Gateway
from otgate.runtime.view import GatewayView

log = logging.getLogger(__name__)
REFRESH_S = 0.5  # trends and trail tail are read this often (and pushed at once when they change)
PUSH_MAX_S = 1.0  # a live page hears from the server at least this often
MAX_STREAMS = 32


@dataclass(frozen=True)
class Actor:
    user: str
    role: Role
    session: Session
    token: str


def is_cross_origin(request: Request) -> bool:
    """True when a browser tells us the request comes from a page of another origin."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")


@dataclass
class Console:
    gateway: Gateway
    config_path: Path | None = None
    sessions: SessionStore = field(default_factory=SessionStore)
    trends: Trends = field(default_factory=Trends)
    recent: RecentTraffic = field(default_factory=RecentTraffic)
    streams: int = 0
    accounts: Accounts = field(init=False)
    view: GatewayView = field(init=False)  # what the HMI reads; it acts through the gateway's commands
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _refreshing: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.view = GatewayView(self.gateway)
        self.accounts = Accounts(lambda: self.view.config.operators)

    # ---------------------------------------------------------------------------------- who is asking

    def role_of(self, user: str | None) -> Role | None:
        account = self.view.config.operators.get(user) if user else None
        return account.role if account is not None else None

    def session_of(self, token: str | None, *, touch: bool = True) -> Session | None:
        role = self.role_of(self.sessions.user_of(token))
        return self.sessions.find(token, role, self.view.monotonic(), touch=touch)

    def require(self, request: Request, needed: Role, *, toward_safety: bool = False) -> Actor:
        """The caller, if allowed to do something that needs `needed`; raises ApiError otherwise."""
        self.ensure_refreshing()
        changes_state = request.method not in {"GET", "HEAD"}
        if changes_state and is_cross_origin(request):
            raise ApiError(403, "cross_origin")
        token = request.cookies.get(SESSION_COOKIE)
        session = self.session_of(token)
        role = self.role_of(session.user) if session is not None else None
        if session is None or role is None or token is None:
            raise ApiError(401, "unauthorized")
        if changes_state and not _csrf_ok(request, session):
            raise ApiError(403, "csrf_token_missing_or_wrong")
        if RANK[role] < RANK[needed]:
            raise ApiError(403, "forbidden")
        if changes_state and session.restricted and not toward_safety:
            raise ApiError(403, "locked_out_toward_safety_only")
        return Actor(session.user, role, session, token)

    # ---------------------------------------------------------------------------------- audit

    def record(self, kind: str, user: str, data: dict[str, Any]) -> None:
        """Session events into the trail. Never blocks a login: a dead trail already took AI control away."""
        if not self.gateway.record_operator_event(user, kind, data):
            log.error("cannot record %s for %s: the audit trail is unavailable", kind, visible(user, 64))

    def record_login(self, user: str, event: str, **extra: Any) -> None:
        self.record(AuditKind.LOGIN, user, {"event": event, **extra})

    # ---------------------------------------------------------------------------------- live view

    def state(self) -> dict[str, Any]:
        view = plant_view(self.view, self.recent, self.view.monotonic())
        view["trend"] = self.trends.latest()
        return view

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def ensure_refreshing(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            with contextlib.suppress(RuntimeError):  # no running loop yet: started on the first request
                self._refreshing = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def refresh(self) -> None:
        # Shelving is bounded (REQUIREMENTS #26): at expiry the alarm comes back, recorded against its shelver.
        for code, user in self.gateway.unshelve_expired_alarms():
            self.record(
                AuditKind.OPERATOR_ACTION, user, {"event": "unshelve_alarm", "code": code, "why": "expired"}
            )
        records = await asyncio.to_thread(self.recent.read_new, self.view)
        for record in records:
            self.recent.apply(record)
        if self.trends.sample(self.view) or records:
            self.notify()

    async def _refresh_forever(self) -> None:
        """Until the gateway stops scanning (the service is stopping); the next request restarts it."""
        loop = asyncio.get_running_loop()
        scans, still_since = self.view.scans, loop.time()
        while loop.time() - still_since <= self._stall_s():
            try:
                await self.refresh()
            except AuditStoreError:
                log.debug("audit trail unreadable; the HMI view keeps its last state", exc_info=True)
            except Exception:  # the view must never take the console down
                log.exception("HMI refresh failed")
            await asyncio.sleep(REFRESH_S)
            if self.view.scans != scans:
                scans, still_since = self.view.scans, loop.time()

    async def stream(self, token: str) -> AsyncIterator[str]:
        """Server-sent events: the plant view whenever it changes (at least every PUSH_MAX_S)."""
        self.streams += 1
        scans, still_since = self.view.scans, asyncio.get_running_loop().time()
        try:
            yield "retry: 1000\n\n"
            while self.session_of(token, touch=False) is not None:
                yield f"event: state\ndata: {json.dumps(self.state(), allow_nan=False, default=str)}\n\n"
                changed = self._changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), PUSH_MAX_S)
                now = asyncio.get_running_loop().time()
                if self.view.scans != scans:
                    scans, still_since = self.view.scans, now
                elif now - still_since > self._stall_s():
                    return  # the gateway stopped scanning (shutting down): let the browser reconnect
            yield "event: expired\ndata: {}\n\n"
        finally:
            self.streams -= 1

    def _stall_s(self) -> float:
        return 3 * self.view.config.gateway.scan_interval_s + 2.0


def _csrf_ok(request: Request, session: Session) -> bool:
    return same_token(request.headers.get(CSRF_HEADER), session.csrf)
