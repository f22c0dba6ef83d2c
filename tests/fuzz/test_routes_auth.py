"""Every route of both apps, enumerated from `app.routes` at test time (so routes added later are covered):

- each refuses an anonymous caller (401/403, or for an HTML page a redirect that ends at the login page),
  except the public ones listed here: `/healthz`, the HMI login page and JSON login, its static assets;
- an engine's bearer token never opens an HMI route;
- an operator session (cookie + CSRF token, even an engineer's) never opens an AI route;
- a method a route does not declare answers 405.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.api.hmi_sessions import SESSION_COOKIE
from otgate.runtime.gateway import Gateway
from tests.fuzz.support import (
    ENGINE_AUTH,
    ENGINE_TOKEN,
    PASSWORDS,
    check_answer,
    engage,
    new_gateway,
    throwaway_gateway,
)

PUBLIC_AI = {("GET", "/healthz"), ("HEAD", "/healthz")}
PUBLIC_HMI = {
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/hmi/login"),
    ("HEAD", "/hmi/login"),
    ("POST", "/hmi/login"),  # the form itself; refused without its pre-session token (checked below)
    ("POST", "/hmi/api/session"),  # JSON login
}
# An HTML page may answer an anonymous caller with a redirect, provided the chain ends at the login page.
PAGE_REDIRECT_TARGET = "/hmi/login"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Values for path parameters: real names where the app knows them, so the handler's own lookups pass.
PARAMS = {
    "loop": "LIC-101",
    "action": "engage",
    "proposal_id": "rec-1",
    "answer": "approve",
    "code": "REJECTIONS:optimizer",
    "engine": "optimizer",
}
APPS = ("ai", "hmi")


@dataclass(frozen=True)
class Endpoint:
    app: str
    method: str
    path: str  # with the path parameters filled in
    template: str
    declared: frozenset[str]

    def __str__(self) -> str:
        return f"{self.app}:{self.method} {self.template}"


def _fill(template: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS.get(m.group(1), "x"), template)


def _routes(app: FastAPI) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(template, concrete path, declared methods) for every route, static mounts included."""
    route: BaseRoute
    for route in app.routes:
        if isinstance(route, Mount):
            concrete = route.path.rstrip("/") + "/hmi.css"
            yield route.path + "/{path}", concrete, frozenset({"GET", "HEAD"})
        elif isinstance(route, Route):
            methods = frozenset(route.methods or {"GET"})
            yield route.path, _fill(route.path), methods
        else:  # a websocket or some other kind: the test must be taught about it
            raise AssertionError(f"route of an unknown kind: {route!r}")


def _static_file() -> str:
    from otgate.api.hmi import STATIC_DIR

    return sorted(p.name for p in Path(STATIC_DIR).iterdir() if p.is_file())[0]


def endpoints(app_name: str, app: FastAPI) -> list[Endpoint]:
    found = []
    for template, path, methods in _routes(app):
        if template.endswith("/{path}"):
            path = path.rsplit("/", 1)[0] + "/" + _static_file()
        for method in sorted(methods):
            found.append(Endpoint(app_name, method, path, template, methods))
    return found


def is_public(endpoint: Endpoint) -> bool:
    if endpoint.app == "ai":
        return (endpoint.method, endpoint.template) in PUBLIC_AI
    return (endpoint.method, endpoint.template) in PUBLIC_HMI or endpoint.template.startswith("/hmi/static/")


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gateway, _fake, store = new_gateway(tmp_path)
    yield gateway
    store.close()


@pytest.fixture
async def apps(gateway: Gateway) -> dict[str, FastAPI]:
    await engage(gateway)
    return {"ai": create_ai_app(gateway), "hmi": create_hmi_app(gateway)}


@pytest.fixture
async def clients(apps: dict[str, FastAPI]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    http = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
        for name, app in apps.items()
    }
    yield http
    for client in http.values():
        await client.aclose()


async def send(client: httpx.AsyncClient, endpoint: Endpoint, **kwargs: Any) -> httpx.Response:
    if endpoint.method in {"POST", "PUT", "PATCH"} and "content" not in kwargs:
        kwargs.setdefault("json", {})
    response = await client.request(endpoint.method, endpoint.path, **kwargs)
    check_answer(response.status_code, response.headers, response.text)
    return response


async def refused(client: httpx.AsyncClient, endpoint: Endpoint, **kwargs: Any) -> tuple[bool, str]:
    """Whether the app refused the caller: 401/403, or redirects ending at the login page (HTML pages)."""
    response = await send(client, endpoint, **kwargs)
    hops = 0
    while response.status_code in {302, 303, 307} and hops < 3:
        location = response.headers["location"]
        if location.split("?")[0] == PAGE_REDIRECT_TARGET:
            return True, f"redirect to {location}"
        hops += 1
        response = await client.get(location, **{k: v for k, v in kwargs.items() if k in {"headers"}})
        check_answer(response.status_code, response.headers, response.text)
    return response.status_code in {401, 403}, f"{response.status_code} {response.text[:200]}"


def _all_endpoints() -> list[Endpoint]:
    """Collected at import time only to name the test cases; each test re-enumerates the live app."""
    with throwaway_gateway() as gateway:
        return endpoints("ai", create_ai_app(gateway)) + endpoints("hmi", create_hmi_app(gateway))


ENDPOINTS = _all_endpoints()


def live(apps: dict[str, FastAPI], app_name: str) -> list[Endpoint]:
    return endpoints(app_name, apps[app_name])


# ------------------------------------------------------------------------------------------ tests


async def test_enumeration_sees_every_route(apps: dict[str, FastAPI]):
    """The apps as built now have the routes the parametrised cases were named after (and no others)."""
    now = {str(e) for name in APPS for e in live(apps, name)}
    assert now == {str(e) for e in ENDPOINTS}
    assert any(e.template == "/v1/recommendations" for e in ENDPOINTS)
    assert any(e.template.startswith("/hmi/api/") for e in ENDPOINTS)


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if not is_public(e)], ids=str)
async def test_anonymous_caller_refused(clients: dict[str, httpx.AsyncClient], endpoint: Endpoint):
    ok, seen = await refused(clients[endpoint.app], endpoint)
    assert ok, f"{endpoint} answered an anonymous caller: {seen}"


BOGUS = [
    e for e in ENDPOINTS if not is_public(e) and "{" in e.template and not e.template.endswith("/{path}")
]


@pytest.mark.parametrize("endpoint", BOGUS, ids=str)
async def test_anonymous_caller_refused_whatever_the_path_parameters(
    clients: dict[str, httpx.AsyncClient], endpoint: Endpoint
):
    """Authentication comes first: an anonymous caller learns nothing (not even 404) from the values."""
    for value in ("bogus", "LIC-101", "optimizer", "engage", "approve"):
        path = re.sub(r"\{\w+\}", value, endpoint.template)
        probe = Endpoint(endpoint.app, endpoint.method, path, endpoint.template, endpoint.declared)
        ok, seen = await refused(clients[endpoint.app], probe)
        assert ok, f"{endpoint} with every parameter {value!r} answered an anonymous caller: {seen}"


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if is_public(e)], ids=str)
async def test_public_routes_answer_without_server_error(
    clients: dict[str, httpx.AsyncClient], endpoint: Endpoint
):
    response = await send(clients[endpoint.app], endpoint)
    assert response.status_code < 500


async def test_form_login_without_its_pre_session_token_refused(clients: dict[str, httpx.AsyncClient]):
    response = await clients["hmi"].post("/hmi/login", data={"user": "engineer", "password": "e-pass"})
    assert response.status_code == 403 and SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.app == "hmi" and not is_public(e)], ids=str)
@pytest.mark.requirement("R-23", "R-27")
async def test_engine_token_never_opens_an_hmi_route(
    clients: dict[str, httpx.AsyncClient], endpoint: Endpoint
):
    for headers in (
        ENGINE_AUTH,
        {**ENGINE_AUTH, "X-CSRF-Token": ENGINE_TOKEN},
        {"Cookie": f"{SESSION_COOKIE}={ENGINE_TOKEN}", "X-CSRF-Token": ENGINE_TOKEN},
    ):
        ok, seen = await refused(clients["hmi"], endpoint, headers=headers)
        assert ok, f"{endpoint} accepted engine credentials {sorted(headers)}: {seen}"


AI_PRIVATE = [e for e in ENDPOINTS if e.app == "ai" and not is_public(e)]


@pytest.mark.parametrize("endpoint", AI_PRIVATE, ids=str)
@pytest.mark.requirement("R-27")
async def test_operator_session_never_opens_an_ai_route(apps: dict[str, FastAPI], endpoint: Endpoint):
    hmi = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["hmi"]), base_url="http://hmi")
    # The AI listener is another origin; a stolen cookie would be sent there as-is, or as a bearer token.
    ai = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["ai"]), base_url="http://ai")
    try:
        for user, password in sorted(PASSWORDS.items()):
            login = await hmi.post("/hmi/api/session", json={"user": user, "password": password})
            assert login.status_code == 200, login.text
            cookie, csrf = login.cookies[SESSION_COOKIE], login.json()["csrf_token"]
            for headers in (
                {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": csrf},
                {"Authorization": f"Bearer {cookie}"},
                {"Authorization": f"Bearer {csrf}"},
            ):
                ok, seen = await refused(ai, endpoint, headers=headers)
                assert ok, f"{endpoint} accepted {user}'s HMI session ({sorted(headers)}): {seen}"
    finally:
        await hmi.aclose()
        await ai.aclose()


def _paths() -> list[tuple[str, str, str, frozenset[str]]]:
    """(app, template, concrete path, every method any route declares for that path)."""
    declared: dict[tuple[str, str, str], set[str]] = {}
    for e in ENDPOINTS:
        declared.setdefault((e.app, e.template, e.path), set()).add(e.method)
    return [(a, t, p, frozenset(m)) for (a, t, p), m in sorted(declared.items())]


PATHS = _paths()


@pytest.mark.parametrize(
    ("app_name", "template", "path", "declared"), PATHS, ids=[f"{a}:{t}" for a, t, *_ in PATHS]
)
@pytest.mark.requirement("R-38")
async def test_undeclared_methods_405(
    clients: dict[str, httpx.AsyncClient], app_name: str, template: str, path: str, declared: frozenset[str]
):
    other = sorted(set(ALL_METHODS) - declared - {"HEAD"})
    assert other, f"{template} declares every method"
    for method in other:
        for headers in ({}, ENGINE_AUTH):
            response = await clients[app_name].request(method, path, headers=headers)
            check_answer(response.status_code, response.headers, response.text, shape=False)
            assert response.status_code == 405, f"{method} {template}: {response.status_code}"
            assert "allow" in {k.lower() for k in response.headers}


@pytest.mark.parametrize("app_name", APPS)
@pytest.mark.parametrize(("method", "path"), [("DELETE", "/healthz"), ("GET", "/no/such/route")])
@pytest.mark.requirement("R-32")
async def test_framework_errors_carry_code_and_id_only(
    clients: dict[str, httpx.AsyncClient], app_name: str, method: str, path: str
):
    """A 405 or 404 the framework answers itself must look like every other error: {"error", "id"}."""
    response = await clients[app_name].request(method, path)
    assert response.status_code in {404, 405}
    check_answer(response.status_code, response.headers, response.text)
