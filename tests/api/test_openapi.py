"""The published AI-API document: committed, equal to the code, complete, and not served by the listener."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from otgate.api.ai import create_ai_app
from otgate.cli import main
from otgate.cli.openapi_doc import render_openapi
from otgate.runtime.gateway import Gateway

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_equals_the_code():
    assert COMMITTED.read_text() == render_openapi(), "run `otgate openapi --out docs/openapi.json`"


def test_openapi_command_writes_the_document(tmp_path: Path):
    out = tmp_path / "openapi.json"
    assert main(["openapi", "--out", str(out)]) == 0
    assert out.read_text() == render_openapi()


def test_openapi_recommendation_body_and_typed_reads_published():
    document = json.loads(render_openapi())
    post = document["paths"]["/v1/recommendations"]["post"]
    refs = {item["$ref"] for item in post["requestBody"]["content"]["application/json"]["schema"]["anyOf"]}
    assert refs == {"#/components/schemas/Recommendation", "#/components/schemas/Batch"}
    schemas = document["components"]["schemas"]
    assert {"id", "tag", "value", "issued_at"} <= set(schemas["Recommendation"]["required"])
    tags_ok = document["paths"]["/v1/tags"]["get"]["responses"]["200"]["content"]["application/json"]
    state_ok = document["paths"]["/v1/state"]["get"]["responses"]["200"]["content"]["application/json"]
    assert tags_ok["schema"] == {"$ref": "#/components/schemas/TagsOut"}
    assert state_ok["schema"] == {"$ref": "#/components/schemas/StateOut"}


def test_openapi_every_error_answer_declared():
    document = json.loads(render_openapi())
    declared = {
        (path, method): set(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert declared[("/v1/recommendations", "post")] >= {"200", "401", "422", "429", "503"}
    assert declared[("/v1/heartbeat", "post")] >= {"401", "429"}
    assert declared[("/v1/tags", "get")] >= {"401"}
    assert declared[("/v1/state", "get")] >= {"401"}
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"error", "id"}


def test_openapi_schema_has_no_address_fields():
    """Requirement 33: nothing an engine reads names a PLC address, IP or unit id."""
    text = render_openapi()
    for word in ('"address"', '"ip"', '"unit_id"', '"host"', '"port"'):
        assert word not in text


async def test_listener_serves_no_openapi_document(gateway: Gateway):
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await http.get(path)).status_code == 404
