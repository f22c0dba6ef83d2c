"""Alarm shelving and the alarm views over the HMI API (ISA-18.2, REQUIREMENTS #26)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.api.test_hmi_api import ACCOUNTS, log_in
from tests.conftest import PLANT_CONFIGS, TANK_CONFIG


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path, clock: ManualClock) -> Iterator[Gateway]:
    config = TANK_CONFIG.model_copy(update={"operators": ACCOUNTS})
    store = AuditStore(tmp_path, None)
    yield Gateway(compile_plant(config), {"plc1": fake}, store, clock)
    store.close()


@pytest.fixture
async def app(gateway: Gateway) -> Any:
    await gateway.scan(gateway.clock.monotonic())
    return create_hmi_app(gateway, config_path=PLANT_CONFIGS / "tank.yaml")


def shelvings(gateway: Gateway) -> list[dict[str, Any]]:
    return [
        dict(r.data) | {"actor": r.actor}
        for r in gateway.audit.records()
        if r.kind == "operator_action" and "shelve" in str(r.data.get("event"))
    ]


@pytest.mark.requirement("R-26")
async def test_shelve_low_alarm_is_recorded_and_unshelves_at_expiry(
    app: Any, gateway: Gateway, clock: ManualClock
):
    gateway.raise_alarm("REJECTIONS:optimizer", "recommendations rejected", "low")
    operator = await log_in(app, "operator")
    answer = await operator.post(
        "/hmi/api/alarms/REJECTIONS:optimizer/shelve", {"reason": "engine retuning", "duration_s": 600}
    )
    assert answer.status_code == 200, answer.text
    (alarm,) = (await operator.http.get("/hmi/api/state")).json()["alarms"]
    assert (alarm["shelved"], alarm["shelved_by"], alarm["shelved_reason"]) == (
        True,
        "operator",
        "engine retuning",
    )
    clock.advance(601.0)
    await app.state.console.refresh()
    (alarm,) = (await operator.http.get("/hmi/api/state")).json()["alarms"]
    assert not alarm["shelved"] and alarm["shelved_by"] is None
    events = [(s["event"], s["code"], s["actor"]) for s in shelvings(gateway)]
    assert events == [
        ("shelve_alarm", "REJECTIONS:optimizer", "operator:operator"),
        ("unshelve_alarm", "REJECTIONS:optimizer", "operator:operator"),
    ]


@pytest.mark.requirement("R-26")
async def test_shelve_high_priority_alarm_is_refused_with_the_reason_and_changes_nothing(
    app: Any, gateway: Gateway
):
    gateway.raise_alarm("REMOTE_LOST:LIC-101", "PLC loop LIC-101 left REMOTE", "high")
    operator = await log_in(app, "operator")
    answer = await operator.post(
        "/hmi/api/alarms/REMOTE_LOST:LIC-101/shelve", {"reason": "noisy", "duration_s": 60}
    )
    assert (answer.status_code, answer.json()["error"]) == (409, "alarm_unshelvable")
    assert "cannot be shelved" in answer.json()["fields"][0]["msg"]
    assert gateway.alarms["REMOTE_LOST:LIC-101"].shelved_until is None
    assert shelvings(gateway) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"reason": "", "duration_s": 60}, "invalid_shelving"),
        ({"reason": "x", "duration_s": 9 * 3600}, "invalid_shelving"),
        ({"reason": "x", "duration_s": 0}, "invalid_shelving"),
        ({"reason": "x"}, "invalid_value"),
    ],
)
async def test_shelve_without_reason_or_bounded_duration_is_refused(
    app: Any, gateway: Gateway, body: dict[str, Any], error: str
):
    gateway.raise_alarm("TEST", "test", "medium")
    operator = await log_in(app, "operator")
    answer = await operator.post("/hmi/api/alarms/TEST/shelve", body)
    assert (answer.status_code, answer.json()["error"]) == (422, error)
    assert gateway.alarms["TEST"].shelved_until is None


async def test_alarms_view_sorts_high_first_with_raised_acknowledged_and_cleared_times(
    app: Any, gateway: Gateway, clock: ManualClock
):
    gateway.raise_alarm("LOW", "low one", "low")
    clock.advance(1.0)
    gateway.raise_alarm("HIGH", "high one", "high")
    gateway.raise_alarm("MEDIUM", "medium one", "medium")
    operator = await log_in(app, "operator")
    clock.advance(5.0)
    assert (await operator.post("/hmi/api/alarms/HIGH/acknowledge")).status_code == 200
    clock.advance(5.0)
    gateway.clear_alarm("HIGH")
    await app.state.console.refresh()
    state = (await operator.http.get("/hmi/api/state")).json()
    assert [a["code"] for a in state["alarms"]] == ["HIGH", "MEDIUM", "LOW"]
    high = state["alarms"][0]
    start = 1_800_000_000.0
    assert (high["raised_at"], high["acknowledged_at"], high["cleared_at"]) == (
        start + 1,
        start + 6,
        start + 11,
    )
    assert [e["event"] for e in state["alarm_history"]][:2] == ["acknowledged", "raised"]
    assert state["alarms_per_hour"] == [{"hour": "2027-01-15T08:00Z", "count": 3}]
