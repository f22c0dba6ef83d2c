"""The published OpenAPI document of the AI-facing API (`otgate openapi`, committed as docs/openapi.json).

FastAPI derives most of it from the routes. Two things it cannot see are added here: the recommendation
body (the handler parses it by hand, strict JSON first, so FastAPI publishes none) and the error answers
(raised as `ApiError`, so the routes declare them through `error_answers`). The listener serves no document;
engines get it from the repository or from `otgate openapi`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from otgate.api.schemas import Batch, ErrorOut, Recommendation

ERROR_MEANINGS = {
    401: "Missing or unknown engine token",
    404: "No recent decision with that id for this engine (older ones are in the audit trail)",
    422: "Malformed body: `fields` lists every problem (strict JSON: no NaN, no duplicate keys)",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "The audit trail cannot record: nothing was decided or written",
}
REF = "#/components/schemas/{model}"
DESCRIPTION = (
    "AI engines propose setpoints; the gateway answers one decision per recommendation with every reason "
    "that fired. Every route but /healthz needs `Authorization: Bearer <engine token>`. See docs/API.md."
)


def error_answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of one route, each with the one error body shape."""
    return {status: {"model": ErrorOut, "description": ERROR_MEANINGS[status]} for status in statuses}


def publish_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The document builder FastAPI calls for `app.openapi()`: its own document plus what it cannot see."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
            )
            add_recommendation_body(document)
            add_bearer_auth(document)
            app.openapi_schema = document
        return app.openapi_schema

    return build


def add_recommendation_body(document: dict[str, Any]) -> None:
    body = TypeAdapter(Recommendation | Batch).json_schema(ref_template=REF)
    document.setdefault("components", {}).setdefault("schemas", {}).update(body.pop("$defs", {}))
    document["paths"]["/v1/recommendations"]["post"]["requestBody"] = {
        "required": True,
        "description": "One recommendation, or a batch of them under `recommendations`",
        "content": {"application/json": {"schema": body}},
    }


def add_bearer_auth(document: dict[str, Any]) -> None:
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["engineToken"] = {"type": "http", "scheme": "bearer", "description": "the engine's token"}
    for path, operations in document["paths"].items():
        if path != "/healthz":
            for operation in operations.values():
                operation["security"] = [{"engineToken": []}]
