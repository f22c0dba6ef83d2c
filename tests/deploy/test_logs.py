"""Logs: one handler for ours and uvicorn's records, text or JSON, and no secret ever in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from otgate.config.loader import load_config_file
from otgate.deploy.logs import HANDLER_NAME, REDACTED, configure_logging, redact
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService
from tests.conftest import PLANT_CONFIGS, REMOTE_PLC

TOKEN = "demo-tank-engine-token"
PASSWORD = "demo-operator"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging("debug", "json", stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)
    assert handler.get_name() == HANDLER_NAME


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {TOKEN}",
        f'{{"user": "operator", "password": "{PASSWORD}"}}',
        f"GET /metrics?token={TOKEN} HTTP/1.1",
        "hash $argon2id$v=19$m=65536,t=3,p=4$bygkdJb6rPtbmg0PlWLkgw$/XA53cExuAQBgiWCplf",
    ],
)
def test_redact_secret_shapes_masked(text: str):
    masked = redact(text)
    assert REDACTED in masked
    assert TOKEN not in masked and PASSWORD not in masked and "bygkdJb6" not in masked


async def test_logs_gateway_session_json_lines_include_uvicorn_and_no_secret(tmp_path: Path, captured):
    loaded = load_config_file(PLANT_CONFIGS / "tank.yaml")
    fake = FakeLink(loaded.config.tags, REMOTE_PLC)
    service = GatewayService(loaded, tmp_path, links={"plc1": fake}, api_port=0, hmi_port=0)
    async with service:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=service.api_url, headers=auth) as client:
            body = {
                "id": "r1",
                "tag": "LIC-101.RSP",
                "value": 640.0,
                "issued_at": datetime.now(UTC).isoformat(),
            }
            assert (await client.post("/v1/recommendations", json=body)).status_code == 200
            bad = {"Authorization": f"Bearer {TOKEN}-wrong"}
            assert (await client.get("/v1/tags", headers=bad)).status_code == 401
        async with httpx.AsyncClient(base_url=service.hmi_url) as client:
            ok = await client.post("/hmi/api/session", json={"user": "operator", "password": PASSWORD})
            assert ok.status_code == 200
            csrf = ok.json()["csrf_token"]
            wrong = await client.post(
                "/hmi/api/session", json={"user": "operator", "password": PASSWORD + "x"}
            )
            assert wrong.status_code == 401
        # A careless log call anywhere (here: in the web server's logger) is masked too.
        logging.getLogger("uvicorn.error").warning("request headers %s", {"authorization": f"Bearer {TOKEN}"})
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines, "nothing was logged at debug level"
    assert all({"asctime", "level", "logger", "message"} <= line.keys() for line in lines)
    # uvicorn's own start-up records came through our handler, in our format.
    assert any(line["logger"].startswith("uvicorn") and "running on" in line["message"] for line in lines)
    text = captured.getvalue()
    for secret in (TOKEN, PASSWORD, csrf):
        assert secret not in text
