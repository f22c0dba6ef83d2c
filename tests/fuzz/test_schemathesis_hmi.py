"""Property-based fuzzing of the operator HMI with schemathesis, through its ASGI app (issue 9 item 2).

The HMI serves no OpenAPI document (`openapi_url=None`), but FastAPI still builds one from the app's
routes: the test takes `app.openapi()` at import, so every route the HMI has then is fuzzed. The action
handlers read their JSON bodies by hand, so the schema has no request bodies; the test adds one object
body to every POST (the keys the handlers read, any other key allowed), and offers the plant's loop,
engine and action names next to arbitrary strings for the path parameters.

Runs logged in as an operator (a fresh session and CSRF token per case) and anonymously. Left out: the
server-sent event stream `/hmi/events` (an endless response; its authorisation is in test_routes_auth).

Invariants on every answer: no 5xx (the documented 503s aside), an error body is exactly
{"error", "id"(, "fields")}, no traceback, file path, exception name or IP address in any body (HTML
included), and after a scan every value that reached the fake PLC's setpoint register is finite, inside
the hard limits and within max move and rate of the working setpoint. Anonymous cases change nothing.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from otgate.api.hmi import create_hmi_app
from otgate.api.hmi_actions import MODE_EVENTS
from otgate.api.hmi_sessions import SESSION_COOKIE
from otgate.field.fake import FakeLink
from otgate.runtime.gateway import Gateway
from tests.fuzz.support import (
    PASSWORDS,
    SETPOINT,
    TANK_WITH_ACCOUNTS,
    check_answer,
    engage,
    examples,
    new_gateway,
    setpoint_writes,
    throwaway_gateway,
)

EXAMPLES = examples(10)
EXCLUDED = {"/hmi/events"}
WORKING_SP = "LIC-101.SP"
RULES = TANK_WITH_ACCOUNTS.tags[SETPOINT].setpoint
assert RULES is not None
SCAN_S = TANK_WITH_ACCOUNTS.gateway.scan_interval_s
COUNTS: dict[str, int] = {}
FRAMEWORK_BODIES = {'{"detail":"Not Found"}', '{"detail":"Method Not Allowed"}'}
PARAM_NAMES = {
    "loop": sorted(TANK_WITH_ACCOUNTS.loops),
    "action": sorted({*MODE_EVENTS, "setpoint"}),
    "engine": sorted(TANK_WITH_ACCOUNTS.engines),
    "answer": ["approve", "reject"],
}
BODY = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "value": {"type": "number"},
        "digest": {"type": "string"},
        "password": {"type": "string"},
        "user": {"type": "string"},
    },
}


def _openapi() -> dict[str, Any]:
    with throwaway_gateway() as gateway:
        spec = copy.deepcopy(create_hmi_app(gateway).openapi())
    spec["paths"] = {path: item for path, item in spec["paths"].items() if path not in EXCLUDED}
    for item in spec["paths"].values():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                names = PARAM_NAMES.get(parameter["name"])
                if names and parameter.get("in") == "path":
                    parameter["schema"] = {"anyOf": [{"enum": names}, {"type": "string", "minLength": 1}]}
            if method == "post":
                operation["requestBody"] = {"content": {"application/json": {"schema": BODY}}}
    return spec


SCHEMA = schemathesis.openapi.from_dict(_openapi())
SCHEMA.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Plant:
    gateway: Gateway
    fake: FakeLink
    app: Any
    runner: asyncio.Runner

    def scan(self) -> None:
        self.gateway.clock.advance(SCAN_S)  # type: ignore[attr-defined]
        self.runner.run(self.gateway.scan(self.gateway.clock.monotonic()))


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    gateway, fake, store = new_gateway(tmp_path)
    runner = asyncio.Runner()
    runner.run(engage(gateway))
    app = runner.run(_build_app(gateway))
    yield Plant(gateway, fake, app, runner)
    runner.close()
    store.close()


async def _build_app(gateway: Gateway) -> Any:
    return create_hmi_app(gateway)


async def _log_in(http: httpx.AsyncClient, user: str) -> dict[str, str]:
    answer = await http.post("/hmi/api/session", json={"user": user, "password": PASSWORDS[user]})
    assert answer.status_code == 200, answer.text
    return {
        "Cookie": f"{SESSION_COOKIE}={answer.cookies[SESSION_COOKIE]}",
        "X-CSRF-Token": answer.json()["csrf_token"],
    }


def _send(case: schemathesis.Case, plant: Plant, user: str | None) -> tuple[httpx.Response, str]:
    kwargs = case.as_transport_kwargs(base_url="http://hmi")
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "x-schemathesis-testcaseid"}
    request: dict[str, Any] = {"params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes | str) else str(data)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=plant.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hmi") as http:
            session = await _log_in(http, user) if user else {}
            return await http.request(
                kwargs["method"], kwargs["url"], headers={**headers, **session}, **request
            )

    response = plant.runner.run(call())
    sent = repr(request.get("json", request.get("content", ""))) + repr(kwargs["url"]) + repr(headers)
    return response, sent


def _assert_plc_writes_within_rules(plant: Plant) -> None:
    readback = plant.fake.values[WORKING_SP]
    step = min(
        RULES.max_move_up, RULES.rate_up_per_s * SCAN_S, RULES.max_move_down, RULES.rate_down_per_s * SCAN_S
    )
    for write in setpoint_writes(plant.fake):
        assert math.isfinite(write.value), write
        assert RULES.limits.lo <= write.value <= RULES.limits.hi, write
        assert abs(write.value - readback) <= step + 1e-3, (write, readback)


def _run(case: schemathesis.Case, plant: Plant, user: str | None) -> httpx.Response:
    writes_before = len(setpoint_writes(plant.fake))
    audit_before = plant.gateway.audit.count()
    response, sent = _send(case, plant, user)
    name = f"{user or 'anonymous'} {case.operation.label}"
    COUNTS[name] = COUNTS.get(name, 0) + 1
    status = f"{name.split()[0]} answered {response.status_code}"
    COUNTS[status] = COUNTS.get(status, 0) + 1
    # The framework's own 404/405 bodies are {"detail": ...}: pinned by test_routes_auth::
    # test_framework_errors_carry_code_and_id_only, not re-reported for every generated case here.
    framework_error = response.status_code in {404, 405} and response.text in FRAMEWORK_BODIES
    check_answer(response.status_code, response.headers, response.text, sent=sent, shape=not framework_error)
    case.validate_response(response, checks=[not_a_server_error])
    plant.scan()
    _assert_plc_writes_within_rules(plant)
    if user is None:
        assert len(setpoint_writes(plant.fake)) == writes_before, "an anonymous request changed the PLC"
        kinds = {r.kind for r in plant.gateway.audit.records(audit_before + 1)}
        assert "operator_action" not in kinds and "approval" not in kinds, kinds
    return response


@SCHEMA.parametrize()
@SETTINGS
def test_hmi_fuzz_as_operator(case: schemathesis.Case, plant: Plant):
    _run(case, plant, "operator")


@SCHEMA.parametrize()
@SETTINGS
def test_hmi_fuzz_anonymous(case: schemathesis.Case, plant: Plant):
    response = _run(case, plant, None)
    public = {"/healthz", "/hmi/login", "/hmi/api/session"}
    if case.operation.path not in public and case.method.upper() in {"GET", "POST"}:
        assert response.status_code in {303, 401, 403, 405, 422} or response.status_code >= 400, response.text


def test_zz_report_case_counts(capsys: pytest.CaptureFixture[str]):
    """Not a check: prints how many cases each operation ran (read by `make fuzz` and the report)."""
    with capsys.disabled():
        total = sum(n for name, n in COUNTS.items() if " answered " not in name)
        print(f"\nschemathesis HMI cases: {total} ({EXAMPLES} examples/operation setting)")
        for name, count in sorted(COUNTS.items()):
            print(f"  {count:6d}  {name}")
