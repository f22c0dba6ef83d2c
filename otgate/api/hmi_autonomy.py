"""The HMI's autonomy page and its actions: each engine's earned level per loop, the evidence, the history,
an engineer's sign-off and the manual demotion (docs/AUTONOMY.md).

| endpoint                                   | role     | direction     |
|--------------------------------------------|----------|---------------|
| `GET /hmi/autonomy` (page)                 | viewer   |               |
| `GET /hmi/api/autonomy`                    | viewer   |               |
| `POST /hmi/api/autonomy/demote` (reason)   | operator | toward safety |
| `POST /hmi/api/autonomy/sign-off` (password: re-authentication) | engineer | away |
| `POST /hmi/api/autonomy/certificate` (scorecard)                | engineer | evidence |

A sign-off promotes only when the core finds the entry eligible on its evidence now; otherwise it is
refused (409, with every unmet criterion) whatever the request says. Every action is recorded in the
audit trail with the person's name; a sign-off is recorded before it takes effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from otgate.api.hmi_actions import _reauthenticate, json_body, reason_of, string_of
from otgate.api.hmi_console import Console
from otgate.api.strict_requests import ApiError
from otgate.core.autonomy import Key, eligibility
from otgate.core.config import Role

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "hmi_templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
MAX_SCORECARD_CHARS = 200_000


def autonomy_view(console: Console) -> dict[str, Any]:
    view = console.view
    return {
        "entries": view.autonomy_summary(),
        "history": list(reversed(view.autonomy_history()))[:100],  # newest first
    }


def add_autonomy_routes(app: FastAPI, console: Console) -> None:
    gateway = console.gateway
    view = console.view

    @app.get("/hmi/autonomy")
    async def page(request: Request) -> HTMLResponse:
        actor = console.require(request, Role.VIEWER)
        html = TEMPLATES.get_template("hmi_autonomy.html").render(
            view=autonomy_view(console),
            user=actor.user,
            role=actor.role.value,
            csrf=actor.session.csrf,
            can_operate=actor.role is not Role.VIEWER,
            can_engineer=actor.role is Role.ENGINEER,
        )
        return HTMLResponse(html)

    @app.get("/hmi/api/autonomy")
    async def autonomy(request: Request) -> dict[str, Any]:
        console.require(request, Role.VIEWER)
        return autonomy_view(console)

    @app.post("/hmi/api/autonomy/sign-off")
    async def sign_off(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.ENGINEER)
        body = await json_body(request)
        await _reauthenticate(console, actor, body)
        key = _key(body)
        entry = view.autonomy_entry(key)
        policy = view.autonomy_policy(key.loop)
        if entry is None or policy is None:
            raise ApiError(404, "unknown_entry")
        judged = eligibility(entry, policy, view.monotonic())
        moved = gateway.sign_off_autonomy(actor.user, key)
        if moved is None:
            if view.audit_failed:
                raise ApiError(503, "audit_unavailable")
            problems = list(judged.unmet) or ["not eligible"]
            raise ApiError(409, "not_eligible", fields=[{"loc": ["evidence"], "msg": m} for m in problems])
        console.notify()
        return {"level": moved.after.level.value, "from": moved.before.level.value}

    @app.post("/hmi/api/autonomy/demote")
    async def demote(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.OPERATOR, toward_safety=True)
        body = await json_body(request)
        reason = reason_of(body, required=True)
        moved = gateway.demote_autonomy(actor.user, _key(body), reason)
        if moved is None:
            raise ApiError(404, "unknown_entry")
        console.notify()
        return {"level": moved.after.level.value, "from": moved.before.level.value}

    @app.post("/hmi/api/autonomy/certificate")
    async def certificate(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.ENGINEER)
        body = await json_body(request)
        scorecard = body.get("scorecard")
        if not isinstance(scorecard, dict) or len(str(scorecard)) > MAX_SCORECARD_CHARS:
            raise ApiError(422, "scorecard_required", fields=[{"loc": ["scorecard"], "msg": "a JSON object"}])
        digest = gateway.attach_certificate(actor.user, _key(body), scorecard)
        if digest is None:
            raise ApiError(404, "unknown_entry")
        console.notify()
        return {"sha256": digest}


def _key(body: dict[str, Any]) -> Key:
    digest = body.get("model_digest", "")
    if not isinstance(digest, str) or len(digest) > 200:
        raise ApiError(422, "model_digest_invalid", fields=[{"loc": ["model_digest"], "msg": "a string"}])
    return Key(string_of(body, "engine"), digest, string_of(body, "loop"))
