"""The operator HMI on its own listener (127.0.0.1:8080 by default): one page and the `/hmi/api` it calls.

- `GET /hmi/login`, `POST /hmi/login` — the login form (a pre-session token ties the form to the browser).
- `GET /hmi` — the page, rendered on the server (Jinja2, autoescaped), kept live by `GET /hmi/events`
  (server-sent events) and a small script; trends are drawn with the vendored uPlot.
- `POST /hmi/api/session` (JSON login), `GET /hmi/api/session`, `POST /hmi/api/session/logout`,
  `GET /hmi/api/state`, `GET /hmi/api/trends`, and the actions in `hmi_actions`.

Sessions and CSRF are in `hmi_sessions`, the one authorisation gate in `hmi_console`. Responses carry a
strict Content-Security-Policy (scripts only from this origin), so even text that slipped past escaping
could not run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from otgate.api.hmi_actions import add_action_routes
from otgate.api.hmi_alarm_routes import add_alarm_routes
from otgate.api.hmi_autonomy import add_autonomy_routes
from otgate.api.hmi_changes import add_change_routes
from otgate.api.hmi_console import MAX_STREAMS, Console, is_cross_origin
from otgate.api.hmi_sessions import LOCKOUT_FAILURES, LOGIN_COOKIE, SESSION_COOKIE, new_token, same_token
from otgate.api.hmi_view import TREND_WINDOW_S
from otgate.api.strict_requests import (
    ApiError,
    error_response,
    on_framework_error,
    parse_json,
    read_body,
    require_json,
)
from otgate.core.config import Operator, Role
from otgate.runtime.gateway import Gateway

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "hmi_static"
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "hmi_templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.2f}"


def _clock(at: Any) -> str:
    if not isinstance(at, int | float) or not math.isfinite(at):
        return "—"
    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


TEMPLATES.filters.update(num=_num, clock=_clock)
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",  # "no-referrer" would make Chromium send `Origin: null`
}


class SecurityHeaders:
    """Pure ASGI middleware (streams pass through untouched): security headers on every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not scope["path"].startswith("/hmi/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_hmi_app(gateway: Gateway, *, config_path: Path | None = None) -> FastAPI:
    app = FastAPI(title="otgate operator HMI", version="2", docs_url=None, redoc_url=None, openapi_url=None)
    console = Console(gateway, config_path)
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    app.mount("/hmi/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(StarletteHTTPException, on_framework_error)  # type: ignore[arg-type]
    console.ensure_refreshing()

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError) -> Response:
        if error.status == 401 and _wants_html(request):
            return RedirectResponse("/hmi/login", status_code=303)
        return error_response(error.status, error.code, error.fields, error.headers)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    async def root() -> Response:
        return RedirectResponse("/hmi", status_code=303)

    _add_page_routes(app, console)
    _add_session_routes(app, console)
    add_action_routes(app, console)
    add_alarm_routes(app, console)
    add_change_routes(app, console)
    add_autonomy_routes(app, console)
    return app


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and not request.url.path.startswith(("/hmi/api/", "/hmi/events"))


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template(name).render(**context), status_code=status)


def _set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _add_page_routes(app: FastAPI, console: Console) -> None:
    @app.get("/hmi")
    async def page(request: Request) -> Response:
        actor = console.require(request, Role.VIEWER)
        return _render(
            "hmi_page.html",
            state=console.state(),
            trends=console.trends.as_dict(),
            user=actor.user,
            role=actor.role.value,
            restricted=actor.session.restricted,
            csrf=actor.session.csrf,
            can_operate=actor.role is not Role.VIEWER,
            can_engineer=actor.role is Role.ENGINEER,
        )

    @app.get("/hmi/events")
    async def events(request: Request) -> Response:
        actor = console.require(request, Role.VIEWER)
        if console.streams >= MAX_STREAMS:
            raise ApiError(503, "too_many_streams")
        return StreamingResponse(console.stream(actor.token), media_type="text/event-stream")

    @app.get("/hmi/api/state")
    async def state(request: Request) -> dict[str, Any]:
        console.require(request, Role.VIEWER)
        return console.state()

    @app.get("/hmi/api/trends")
    async def trends(request: Request) -> dict[str, Any]:
        console.require(request, Role.VIEWER)
        return {"window_s": TREND_WINDOW_S, "loops": console.trends.as_dict()}

    @app.get("/hmi/login")
    async def login_page(request: Request) -> Response:
        return _login_form(request)


def _login_form(request: Request, status: int = 200, error: str | None = None) -> Response:
    token = new_token()
    response = _render("hmi_login.html", status, login_token=token, error=error)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/hmi/login")
    return response


def _add_session_routes(app: FastAPI, console: Console) -> None:
    @app.post("/hmi/login")
    async def login_form(request: Request) -> Response:
        form = parse_qs((await read_body(request)).decode(errors="replace"), max_num_fields=10)
        field = {k: v[0] for k, v in form.items() if v}
        cookie = request.cookies.get(LOGIN_COOKIE)
        if is_cross_origin(request) or cookie is None or not same_token(field.get("login_token"), cookie):
            return _login_form(request, 403, "The login form expired; please try again.")
        result = await _log_in(console, field.get("user", ""), field.get("password", ""))
        if result is None:
            return _login_form(request, 401, "Wrong user name or password.")
        response = RedirectResponse("/hmi", status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path="/hmi/login")
        _set_session_cookie(response, request, result[0])
        return response

    @app.post("/hmi/api/session")
    async def login_json(request: Request) -> Response:
        if is_cross_origin(request):
            raise ApiError(403, "cross_origin")
        require_json(request)  # also what keeps a cross-site form (text/plain) from logging anyone in
        body = parse_json(await read_body(request))
        user, password = (body.get("user"), body.get("password")) if isinstance(body, dict) else (None, None)
        if not isinstance(user, str) or not isinstance(password, str):
            raise ApiError(422, "user_and_password_required")
        result = await _log_in(console, user, password)
        if result is None:
            raise ApiError(401, "unauthorized")
        token, operator, restricted, csrf = result
        response = JSONResponse(
            {"user": user, "role": operator.role.value, "restricted": restricted, "csrf_token": csrf}
        )
        _set_session_cookie(response, request, token)
        return response

    @app.get("/hmi/api/session")
    async def whoami(request: Request) -> dict[str, Any]:
        actor = console.require(request, Role.VIEWER)
        restricted = actor.session.restricted
        return {
            "user": actor.user,
            "role": actor.role.value,
            "restricted": restricted,
            "csrf_token": actor.session.csrf,
        }

    @app.post("/hmi/api/session/logout")
    async def logout(request: Request) -> Response:
        actor = console.require(request, Role.VIEWER, toward_safety=True)
        console.sessions.close(actor.token)
        console.record_login(actor.user, "logout")
        response = JSONResponse({"logged_out": actor.user})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


async def _log_in(console: Console, user: str, password: str) -> tuple[str, Operator, bool, str] | None:
    """(cookie token, account, restricted, csrf token), or None. Audited either way."""
    user = user.strip()[:64]
    now = console.view.monotonic()
    locked = console.accounts.is_locked(user, now)
    operator = await console.accounts.verify(user, password)
    if operator is None:
        console.accounts.record_failure(user, now)
        if user in console.view.config.operators:
            console.record_login(user, "login_failed", locked_out=console.accounts.is_locked(user, now))
        return None
    if not locked:
        console.accounts.record_success(user)
    token, session = console.sessions.open(user, now, restricted=locked)
    console.record_login(
        user, "login", role=operator.role.value, restricted=locked, lockout_after=LOCKOUT_FAILURES
    )
    return token, operator, locked, session.csrf
