"""A look-alike tag or an invisible character is shown escaped wherever an operator or a log reader
sees engine text: the engine's answer, the HMI's alarms and rationale, the exported trail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore
from otgate.cli import main
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.api.test_ai_api import AUTH, body
from tests.api.test_hmi_api import ACCOUNTS, console_of, log_in
from tests.conftest import TANK_CONFIG

LOOKALIKE = "LIC\u2010101.RSP"  # U+2010 HYPHEN in place of "-"
SHOWN = "LIC\\u2010101.RSP"
RATIONALE = "raise level \u202eTSRIF YFIREV\u202c now\u200b"


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path) -> Iterator[Gateway]:
    config = TANK_CONFIG.model_copy(update={"operators": ACCOUNTS})
    store = AuditStore(tmp_path, None)
    yield Gateway(compile_plant(config), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
    store.close()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "unused.yaml"


async def post(gateway: Gateway, payload: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_ai_app(gateway))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        return await http.post("/v1/recommendations", json=payload, headers=AUTH)


async def test_rejection_detail_shows_lookalike_tag_escaped(gateway: Gateway):
    await gateway.scan(gateway.clock.monotonic())
    answer = await post(gateway, body(gateway, tag=LOOKALIKE))
    (decision,) = answer.json()["decisions"]
    details = " ".join(r["detail"] for r in decision["reasons"])
    assert SHOWN in details and "\u2010" not in details


async def test_hmi_alarm_and_rationale_show_lookalikes_escaped(gateway: Gateway, config_file: Path):
    await gateway.scan(gateway.clock.monotonic())
    await post(gateway, body(gateway, id="r1", tag=LOOKALIKE))
    await post(gateway, body(gateway, id="r2", value=99999.0, rationale=RATIONALE))
    app = create_hmi_app(gateway, config_path=config_file)
    await console_of(app).refresh()
    viewer = await log_in(app, "viewer")
    state = (await viewer.http.get("/hmi/api/state")).json()
    messages = [alarm["message"] for alarm in state["alarms"]]
    assert any(SHOWN in m for m in messages), messages  # the security alarm names the look-alike visibly
    assert state["loops"][0]["last"]["rationale"] == "raise level \\u202eTSRIF YFIREV\\u202c now\\u200b"
    page = (await viewer.http.get("/hmi")).text
    for hidden in ("\u2010", "\u202e", "\u202c", "\u200b"):
        assert hidden not in json.dumps(state, ensure_ascii=False) and hidden not in page


async def test_audit_export_shows_lookalikes_escaped_and_parses_back(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    await gateway.scan(gateway.clock.monotonic())
    await post(gateway, body(gateway, id="r1", tag=LOOKALIKE, rationale=RATIONALE + " \U0001d40b"))
    data_dir = gateway.audit.path.parent
    assert main(["audit", "export", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.isascii()
    records = [json.loads(line) for line in out.splitlines()]
    recommendation = next(r for r in records if r["kind"] == "recommendation")
    assert recommendation["data"]["tag"] == LOOKALIKE  # the trail keeps what was received
    assert recommendation["data"]["rationale"].endswith("\U0001d40b")
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 0
