"""Property-based fuzzing of the AI-facing API with schemathesis (issue 9 item 2), through its ASGI app.

The schema is the app's own OpenAPI (`app.openapi()`, read at import so new routes are fuzzed too). The
recommendation handler parses its body by hand (strict JSON before the wire model), so FastAPI publishes
no request body for it; the test adds the wire models' JSON Schema (`Recommendation | Batch`) as the
body of `POST /v1/recommendations`, with the tag names the plant knows offered next to any string. Both
positive (schema-conforming) and negative (schema-violating) data are generated, with and without a
valid engine token.

Invariants on every answer: no 5xx; an error body is exactly {"error", "id"(, "fields")}; no traceback,
file path, exception name or IP address anywhere in a body; negative data is refused with a 4xx; nothing
unauthenticated changes anything. After every request the gateway scans, and every value that reached the
fake PLC's setpoint register is finite, inside the hard limits and within max move and rate of the
working setpoint.

Default run: SCHEMATHESIS_EXAMPLES per operation (small); `make fuzz` raises it (OTGATE_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import TypeAdapter
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from otgate.api.ai import create_ai_app
from otgate.api.schemas import Batch, Recommendation
from otgate.field.fake import FakeLink
from otgate.runtime.gateway import Gateway
from tests.fuzz.support import (
    ENGINE_AUTH,
    SETPOINT,
    TANK_WITH_ACCOUNTS,
    check_answer,
    engaged_gateway,
    examples,
    iso,
    setpoint_writes,
    throwaway_gateway,
)

EXAMPLES = examples(25)
WORKING_SP = "LIC-101.SP"
RULES = TANK_WITH_ACCOUNTS.tags[SETPOINT].setpoint
assert RULES is not None
SCAN_S = TANK_WITH_ACCOUNTS.gateway.scan_interval_s
COUNTS: dict[str, int] = {}
FRAMEWORK_BODIES = {'{"detail":"Not Found"}', '{"detail":"Method Not Allowed"}'}


def _openapi() -> dict[str, Any]:
    with throwaway_gateway() as gateway:
        spec = copy.deepcopy(create_ai_app(gateway).openapi())
    body = TypeAdapter(Recommendation | Batch).json_schema(ref_template="#/components/schemas/{model}")
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    components.update(body.pop("$defs", {}))
    rec = components["Recommendation"]
    rec["properties"]["tag"] = {
        "anyOf": [{"enum": sorted(TANK_WITH_ACCOUNTS.tags)}, rec["properties"]["tag"]]
    }
    # Known deviation, pinned by test_hostile_input::...[issued_at_*_number]: the timestamps also parse
    # JSON numbers and digit strings as Unix seconds. Declared here so that the fuzzer looks further.
    for name in ("issued_at", "basis_at"):
        prop = rec["properties"][name]
        lax = [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}]
        if "anyOf" in prop:
            prop["anyOf"] = [*prop["anyOf"], *lax]
        else:
            rec["properties"][name] = {"anyOf": [prop, *lax]}
    spec["paths"]["/v1/recommendations"]["post"]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": body}},
    }
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
    checked: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def scan(self) -> None:
        self.gateway.clock.advance(SCAN_S)  # type: ignore[attr-defined]
        asyncio.run(self.gateway.scan(self.gateway.clock.monotonic()))


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    gateway, fake, store = engaged_gateway(tmp_path)
    yield Plant(gateway, fake)
    store.close()


def _freshen(case: schemathesis.Case, now: float) -> None:
    """Half of the conforming recommendations carry the current time, so they reach the value rules
    (freshness would otherwise refuse nearly all of them); the other half keep the generated time."""
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    items = case.body.get("recommendations", [case.body])
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and "issued_at" in item and len(str(item.get("id", ""))) % 2 == 0:
            item["issued_at"] = iso(now)


def _send(case: schemathesis.Case, auth: dict[str, str]) -> tuple[httpx.Response, str]:
    kwargs = case.as_transport_kwargs(base_url="http://gw", headers=auth)
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "x-schemathesis-testcaseid"}
    cookies = kwargs.get("cookies") or {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request: dict[str, Any] = {"headers": headers, "params": kwargs.get("params") or None}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes | str) else str(data)
    app = case.operation.schema.app

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            return await http.request(kwargs["method"], kwargs["url"], **request)

    response = asyncio.run(call())
    sent = repr(request.get("json", request.get("content", ""))) + repr(kwargs["url"]) + repr(headers)
    return response, sent


def _assert_plc_writes_within_rules(plant: Plant) -> None:
    readback = plant.fake.values[WORKING_SP]  # the fake PLC's working setpoint does not move by itself
    step = min(
        RULES.max_move_up, RULES.rate_up_per_s * SCAN_S, RULES.max_move_down, RULES.rate_down_per_s * SCAN_S
    )
    for write in setpoint_writes(plant.fake):
        assert math.isfinite(write.value), write
        assert RULES.limits.lo <= write.value <= RULES.limits.hi, write
        assert abs(write.value - readback) <= step + 1e-3, (write, readback)


def _run(case: schemathesis.Case, plant: Plant, auth: dict[str, str], name: str) -> httpx.Response:
    case.operation.schema.app = (
        create_ai_app(plant.gateway) if case.operation.schema.app is None else case.operation.schema.app
    )
    _freshen(case, plant.gateway.clock.now())
    writes_before = len(setpoint_writes(plant.fake))
    response, sent = _send(case, auth)
    COUNTS[name] = COUNTS.get(name, 0) + 1
    status = f"{name.split()[0]} answered {response.status_code}"
    COUNTS[status] = COUNTS.get(status, 0) + 1
    # The framework's own 404/405 bodies are {"detail": ...}: pinned by test_routes_auth::
    # test_framework_errors_carry_code_and_id_only, not re-reported for every generated case here.
    framework_error = response.status_code in {404, 405} and response.text in FRAMEWORK_BODIES
    check_answer(response.status_code, response.headers, response.text, sent=sent, shape=not framework_error)
    checks = [not_a_server_error, negative_data_rejection]
    if response.status_code == 200:
        checks.append(response_schema_conformance)
    case.validate_response(response, checks=checks)
    plant.scan()
    _assert_plc_writes_within_rules(plant)
    if not auth:
        assert len(setpoint_writes(plant.fake)) == writes_before, "an anonymous request changed the PLC"
    return response


@pytest.fixture(autouse=True)
def _fresh_app(plant: Plant) -> Iterator[None]:
    SCHEMA.app = create_ai_app(plant.gateway)
    yield
    SCHEMA.app = None


@SCHEMA.parametrize()
@SETTINGS
def test_ai_api_fuzz_with_engine_token(case: schemathesis.Case, plant: Plant):
    _run(case, plant, ENGINE_AUTH, f"token {case.operation.label}")


@SCHEMA.parametrize()
@SETTINGS
def test_ai_api_fuzz_anonymous(case: schemathesis.Case, plant: Plant):
    response = _run(case, plant, {}, f"anonymous {case.operation.label}")
    if case.operation.path in {"/v1/recommendations", "/v1/heartbeat", "/v1/tags", "/v1/state"}:
        assert response.status_code in {401, 405, 422} or response.status_code >= 400, response.text
        assert response.status_code != 200


def test_zz_report_case_counts(capsys: pytest.CaptureFixture[str]):
    """Not a check: prints how many cases each operation ran (read by `make fuzz` and the report)."""
    with capsys.disabled():
        total = sum(n for name, n in COUNTS.items() if " answered " not in name)
        print(f"\nschemathesis AI cases: {total} ({EXAMPLES} examples/operation/mode setting)")
        for name, count in sorted(COUNTS.items()):
            print(f"  {count:6d}  {name}")
