"""What both HTTP doors share at their edge: bodies read strictly (bounded size, UTF-8 JSON only, no NaN
or Infinity, no duplicate keys) and errors answered in one shape (a code and a correlation id, never
internals)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from otgate.api.schemas import MAX_BODY_BYTES


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        *,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status, self.code, self.fields, self.headers = status, code, fields, headers


async def on_framework_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """The framework's own 404/405 answers in the project's shape (code + correlation id), Allow kept."""
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        error.status_code, codes.get(error.status_code, "http_error"), headers=dict(error.headers or {})
    )


def error_response(
    status: int, code: str, fields: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "id": str(uuid.uuid4())}
    if fields:
        body["fields"] = fields
    return JSONResponse(body, status_code=status, headers=headers)


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise ApiError(422, "body_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(422, "body_too_large")
    return bytes(body)


def require_json(request: Request) -> None:
    """Only `application/json` (UTF-8) bodies are read: a `text/plain` or UTF-16 body is refused with 415
    before anything parses it, so no other media type can ever lead to a write."""
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media_type.strip().lower() != "application/json" or charset not in ("", "utf-8", "utf8"):
        raise ApiError(
            415,
            "unsupported_media_type",
            fields=[{"loc": ["content-type"], "msg": "send application/json in UTF-8"}],
        )


class _NotStrictJson(ValueError):
    """Our own refusals while parsing; their text is ours and safe to answer with."""


def _refuse_constant(token: str) -> float:
    raise _NotStrictJson(f"{token[:16]} is not a number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _NotStrictJson(f"duplicate key {key[:64]!r}")
        result[key] = value
    return result


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only (json.loads on bytes would guess UTF-16 or UTF-32), no NaN or Infinity,
    no duplicate keys. Error texts are ours: never an exception's message or a codec's name."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        where = [{"loc": [], "msg": f"not UTF-8 text (byte {error.start})"}]
        raise ApiError(422, "invalid_encoding", fields=where) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except _NotStrictJson as error:
        message = str(error)
    except json.JSONDecodeError as error:
        message = f"not valid JSON at line {error.lineno}, column {error.colno}"
    except RecursionError:
        message = "nested too deep"
    except ValueError:  # e.g. an integer too long to convert
        message = "not valid JSON"
    raise ApiError(422, "invalid_json", fields=[{"loc": [], "msg": message}])
