"""The operator-facing HTTP API on its own listener (127.0.0.1:8080 by default).

Operators authenticate with their configured accounts (Argon2id password hashes); every action is checked
server-side against the caller's role and audited with the operator's name. Actions toward safety
(fallback, manual) need only the operator role and are never refused by the mode table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse

from otgate.api.ai import ApiError, error_response
from otgate.core.config import Role
from otgate.core.modes import ModeEvent
from otgate.gateway import Gateway

RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ENGINEER: 2}
ACTIONS = {
    "engage": ModeEvent.ENGAGE,
    "fallback": ModeEvent.FALLBACK,
    "manual": ModeEvent.MANUAL,
    "reset": ModeEvent.RESET,
}


class Authenticator:
    """Checks Basic credentials; a verified (user, password digest) pair is remembered to spare Argon2 per call."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.hasher = PasswordHasher()
        self.verified: dict[str, str] = {}

    def user(self, request: Request, needed: Role) -> str:
        name, password = _basic_credentials(request)
        operator = self.gateway.plant.config.operators.get(name)
        if operator is None or not self._verify(name, password, operator.password_hash):
            raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": 'Basic realm="otgate"'})
        if RANK[operator.role] < RANK[needed]:
            raise ApiError(403, "forbidden")
        return name

    def _verify(self, name: str, password: str, stored: str) -> bool:
        key = hashlib.sha256(f"{name}\0{password}\0{stored}".encode()).hexdigest()
        if self.verified.get(name) == key:
            return True
        try:
            self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
        self.verified[name] = key
        return True


def _basic_credentials(request: Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(401, "unauthorized", headers={"WWW-Authenticate": 'Basic realm="otgate"'})
    try:
        name, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "unauthorized") from None
    return name, password


def create_hmi_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="otgate operator HMI", version="1", docs_url=None, redoc_url=None)
    auth = Authenticator(gateway)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.fields, error.headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/hmi/api/state")
    async def state(request: Request) -> dict[str, Any]:
        auth.user(request, Role.VIEWER)
        return plant_state(gateway)

    @app.post("/hmi/api/loops/{loop}/{action}")
    async def loop_action(
        request: Request, loop: str, action: str, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> dict[str, Any]:
        user = auth.user(request, Role.OPERATOR)
        if loop not in gateway.loops:
            raise ApiError(404, "unknown_loop")
        return {"outcome": act(gateway, user, [loop], action, body)}

    @app.post("/hmi/api/plant/{action}")
    async def plant_action(
        request: Request, action: str, body: Annotated[dict[str, Any] | None, Body()] = None
    ) -> dict[str, Any]:
        user = auth.user(request, Role.OPERATOR)
        return {"outcome": act(gateway, user, list(gateway.loops), action, body)}

    return app


def act(
    gateway: Gateway, user: str, loops: list[str], action: str, body: dict[str, Any] | None
) -> dict[str, str]:
    event = ACTIONS.get(action)
    if event is None:
        raise ApiError(404, "unknown_action")
    reason = str((body or {}).get("reason", "")).strip()[:500]
    if event is ModeEvent.RESET and not reason:
        raise ApiError(422, "reason_required", fields=[{"loc": ["reason"], "msg": "a reset needs a reason"}])
    return gateway.operator_action(user, loops, event, reason or action)


def plant_state(gateway: Gateway) -> dict[str, Any]:
    snapshot = gateway.snapshot
    values = {k: v for k, v in snapshot.values.items() if k not in snapshot.bad_quality}
    loops = {}
    for name, runtime in gateway.loops.items():
        loop = gateway.plant.config.loops[name]
        loops[name] = {
            "mode": runtime.state.mode.value,
            "latched": runtime.state.latched,
            "reason": runtime.state.reason,
            "pv": values.get(loop.pv),
            "sp": values.get(loop.working_sp),
            "plc_mode": values.get(loop.mode),
        }
    alarms = [
        {"code": a.code, "message": a.message, "priority": a.priority, "count": a.count, "active": a.active}
        for a in gateway.alarms.values()
    ]
    at = snapshot.taken_at if math.isfinite(snapshot.taken_at) else None
    return {
        "at": at,
        "plc_available": snapshot.plc_available,
        "loops": loops,
        "alarms": alarms,
        "counters": vars(gateway.counters),
    }
