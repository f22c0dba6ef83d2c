"""The HMI's actions as JSON endpoints (`/hmi/api/...`); the page's buttons call exactly these.

| endpoint (POST)                                  | role     | direction      |
|--------------------------------------------------|----------|----------------|
| `loops/{loop}/fallback`, `plant/fallback`         | operator | toward safety  |
| `engines/{engine}/fallback` (the engine's loops)  | operator | toward safety  |
| `loops/{loop}/manual`, `plant/manual`             | operator | toward safety from `ai` only |
| `approvals/{id}/reject`                           | operator | toward safety  |
| `loops/{loop}/engage`, `plant/engage`             | operator | away           |
| `loops/{loop}/reset`, `plant/reset` (reason)      | operator | away           |
| `loops/{loop}/setpoint`                           | operator | away           |
| `approvals/{id}/approve` (digest)                 | operator | away           |
| `alarms/{code}/acknowledge`                       | operator | away           |
| `engines/{engine}/lift-quarantine` (reason)       | operator | away           |
| `config/reload` (password: re-authentication)     | engineer | away           |

Lifting a quarantine is an operator's call (REQUIREMENTS #28: "re-engage at the current level"): it
restores the engine's configured autonomy and engages nothing. Raising autonomy or changing limits is a
config change, hence the engineer's reload.

"Toward safety" actions are also allowed from a session opened during a lock-out (see hmi_sessions).
Every action is recorded in the audit trail by the gateway with the operator's name.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request

from otgate.api.hmi_console import Actor, Console
from otgate.api.strict_requests import ApiError, parse_json, read_body, require_json
from otgate.config.loader import ConfigError, LoadedConfig, load_config_file
from otgate.core.approval import ApprovalOutcome
from otgate.core.config import Role
from otgate.core.modes import ModeEvent
from otgate.runtime.state import AuditUnavailable

T = TypeVar("T")
REASON_MAX_CHARS = 500
MODE_EVENTS = {e.value: e for e in ModeEvent}
APPROVAL_STATUS = {
    ApprovalOutcome.APPROVED: 200,
    ApprovalOutcome.REJECTED: 200,
    ApprovalOutcome.UNKNOWN: 404,
    ApprovalOutcome.EXPIRED: 409,
    ApprovalOutcome.MISMATCH: 409,
    ApprovalOutcome.NEEDS_ANOTHER: 200,  # dual approval: recorded, waits for a different operator
    ApprovalOutcome.SAME_OPERATOR: 409,
    ApprovalOutcome.WITHDRAWN: 409,
}


async def json_body(request: Request) -> dict[str, Any]:
    body = await read_body(request)
    if not body.strip():
        return {}
    require_json(request)
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_body", fields=[{"loc": [], "msg": "expected a JSON object"}])
    return data


def reason_of(body: dict[str, Any], *, required: bool) -> str:
    raw = body.get("reason", "")
    reason = raw.strip()[:REASON_MAX_CHARS] if isinstance(raw, str) else ""
    if required and not reason:
        raise ApiError(422, "reason_required", fields=[{"loc": ["reason"], "msg": "a reason is required"}])
    return reason


def number_of(body: dict[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(422, "invalid_value", fields=[{"loc": [key], "msg": "a finite number is required"}])
    return float(value)


def string_of(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise ApiError(422, f"{key}_required", fields=[{"loc": [key], "msg": "a string is required"}])
    return value


def add_action_routes(app: FastAPI, console: Console) -> None:
    gateway = console.gateway
    view = console.view

    async def mode_change(request: Request, loops: list[str], action: str) -> dict[str, Any]:
        event = MODE_EVENTS.get(action)
        if event is None:
            console.require(request, Role.VIEWER)  # who asks is checked before what is asked
            raise ApiError(404, "unknown_action")
        # Manual from fallback asks the PLC for REMOTE: toward safety only when it takes loops out of AI.
        toward_safety = gateway.is_toward_safety(loops, event)
        actor = console.require(request, Role.OPERATOR, toward_safety=toward_safety)
        reason = reason_of(await json_body(request), required=event is ModeEvent.RESET)
        outcome = _audited(lambda: gateway.operator_action(actor.user, loops, event, reason or action))
        console.notify()
        return {"outcome": outcome}

    @app.post("/hmi/api/loops/{loop}/{action}")
    async def loop_action(request: Request, loop: str, action: str) -> dict[str, Any]:
        if loop not in view.loop_states():
            console.require(request, Role.VIEWER)
            raise ApiError(404, "unknown_loop")
        if action == "setpoint":
            return await manual_setpoint(request, loop)
        return await mode_change(request, [loop], action)

    @app.post("/hmi/api/plant/{action}")
    async def plant_action(request: Request, action: str) -> dict[str, Any]:
        return await mode_change(request, list(view.loop_states()), action)

    async def manual_setpoint(request: Request, loop: str) -> dict[str, Any]:
        actor = console.require(request, Role.OPERATOR)
        value = number_of(await json_body(request), "value")
        decision = _audited(lambda: gateway.set_manual_setpoint(actor.user, loop, value))
        console.notify()
        return {
            "decision": decision.verdict.value,
            "reasons": [{"code": r.code.value, "detail": r.detail} for r in decision.reasons],
            "written_value": decision.value,
        }

    @app.post("/hmi/api/approvals/{proposal_id}/{answer}")
    async def approval(request: Request, proposal_id: str, answer: str) -> Any:
        if answer not in {"approve", "reject"}:
            console.require(request, Role.VIEWER)  # who asks is checked before what is asked
            raise ApiError(404, "unknown_action")
        actor = console.require(request, Role.OPERATOR, toward_safety=answer == "reject")
        digest = string_of(await json_body(request), "digest")
        outcome = _audited(
            lambda: gateway.decide_approval(actor.user, proposal_id, digest, answer == "approve")
        )
        console.notify()
        status = APPROVAL_STATUS[outcome]
        if status != 200:
            raise ApiError(status, f"approval_{outcome.value}")
        return {"outcome": outcome.value}

    @app.post("/hmi/api/alarms/{code}/acknowledge")
    async def acknowledge(request: Request, code: str) -> dict[str, Any]:
        actor = console.require(request, Role.OPERATOR)
        if not _audited(lambda: gateway.acknowledge_alarm(actor.user, code)):
            raise ApiError(404, "unknown_alarm")
        console.notify()
        return {"acknowledged": code}

    @app.post("/hmi/api/engines/{engine}/fallback")
    async def engine_fallback(request: Request, engine: str) -> dict[str, Any]:
        """Takes one engine out of the plant: every loop whose setpoint it may write goes to fallback."""
        found = view.config.engines.get(engine)
        if found is None:
            console.require(request, Role.VIEWER)
            raise ApiError(404, "unknown_engine")
        loops = [name for name, loop in view.config.loops.items() if loop.sp in found.writes]
        return await mode_change(request, loops, ModeEvent.FALLBACK.value)

    @app.post("/hmi/api/engines/{engine}/lift-quarantine")
    async def lift_quarantine(request: Request, engine: str) -> dict[str, Any]:
        actor = console.require(request, Role.OPERATOR)
        reason = reason_of(await json_body(request), required=True)
        if engine not in view.config.engines:
            raise ApiError(404, "unknown_engine")
        lifted = _audited(lambda: gateway.lift_quarantine(actor.user, engine, reason))
        console.notify()
        return {"engine": engine, "lifted": lifted}

    @app.post("/hmi/api/config/reload")
    async def reload_config(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.ENGINEER)
        await _reauthenticate(console, actor, await json_body(request))
        path = console.config_path
        if path is None:
            raise ApiError(409, "config_path_unknown")
        loaded = await _load_checked(path)
        _audited(lambda: gateway.reload_config(actor.user, loaded))
        console.config_path = loaded.path
        console.notify()
        return {
            "file": str(loaded.path),
            "sha256": loaded.sha256,
            "loops": {n: "fallback" for n in view.loop_states()},
        }


async def _reauthenticate(console: Console, actor: Actor, body: dict[str, Any]) -> None:
    """Raising AI authority needs the engineer's password again, not just a live cookie (REQ #29)."""
    password = body.get("password")
    if not isinstance(password, str) or await console.accounts.verify(actor.user, password) is None:
        console.record_login(actor.user, "reauthentication_failed")
        raise ApiError(403, "reauthentication_failed")


async def _load_checked(path: Path) -> LoadedConfig:
    try:
        return await asyncio.to_thread(load_config_file, path)
    except ConfigError as error:
        problems = [str(p) for p in error.problems[:50]]
        raise ApiError(
            422, "config_invalid", fields=[{"loc": ["config"], "msg": p} for p in problems]
        ) from None


def _audited(action: Callable[[], T]) -> T:
    """Runs a gateway action; a trail that cannot record means 503 (the action itself took effect
    only if it was toward safety: the gateway has already fallen back on every loop)."""
    try:
        return action()
    except AuditUnavailable:
        raise ApiError(503, "audit_unavailable") from None
