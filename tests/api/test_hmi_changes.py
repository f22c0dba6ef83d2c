"""Managed change over the HMI API: propose (checked), the two-person rule, apply by the audited reload."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore
from otgate.core.config import Operator, Role
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from tests.api.test_hmi_api import ACCOUNTS, PASSWORDS, LoggedIn, log_in
from tests.conftest import PLANT_CONFIGS, TANK_CONFIG

SECOND = {"engineer2": Operator(role=Role.ENGINEER, password_hash=PasswordHasher(1, 8, 1).hash("e2-pass"))}
OWN = {**PASSWORDS, "engineer2": "e2-pass"}
LIMITS = "limits: {lo: 500.0, hi: 800.0}"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "tank.yaml"
    shutil.copy(PLANT_CONFIGS / "tank.yaml", path)
    return path


@pytest.fixture
def gateway(fake: FakeLink, tmp_path: Path) -> Iterator[Gateway]:
    config = TANK_CONFIG.model_copy(update={"operators": {**ACCOUNTS, **SECOND}})
    store = AuditStore(tmp_path / "data", None)
    yield Gateway(compile_plant(config), {"plc1": fake}, store, ManualClock(1_800_000_000.0))
    store.close()


@pytest.fixture
async def app(gateway: Gateway, config_file: Path) -> Any:
    await gateway.scan(gateway.clock.monotonic())
    return create_hmi_app(gateway, config_path=config_file)


def candidate(config_file: Path, hi: float) -> str:
    text = config_file.read_text()
    assert LIMITS in text
    return text.replace(LIMITS, f"limits: {{lo: 500.0, hi: {hi}}}")


async def act(who: LoggedIn, user: str, change_id: str, action: str) -> Any:
    return await who.post(f"/hmi/api/changes/{change_id}/{action}", {"password": OWN[user]})


def change_events(gateway: Gateway) -> list[tuple[str, str]]:
    return [
        (str(r.data["event"]), r.actor)
        for r in gateway.audit.records()
        if r.kind == "operator_action" and str(r.data.get("event", "")).startswith("change_")
    ]


async def test_change_proposed_by_one_engineer_and_approved_by_another_is_applied_by_the_reload(
    app: Any, gateway: Gateway, config_file: Path
):
    first, second = await log_in(app, "engineer"), await log_in(app, "engineer2", "e2-pass")
    proposed = await first.post(
        "/hmi/api/changes", {"text": candidate(config_file, 700.0), "reason": "tighter"}
    )
    assert proposed.status_code == 200, proposed.text
    change = proposed.json()
    assert "-      " + LIMITS in change["diff"] and "+      limits: {lo: 500.0, hi: 700.0}" in change["diff"]
    assert change["replay"]["replayed"] == 0  # nothing recommended yet in this trail
    approved = await act(second, "engineer2", change["id"], "approve")
    assert approved.json()["approved_by"] == "engineer2"
    applied = await act(first, "engineer", change["id"], "apply")
    assert applied.status_code == 200, applied.text
    rules = gateway.plant.config.tags["LIC-101.RSP"].setpoint
    assert rules is not None and rules.limits.hi == 700.0
    assert change_events(gateway) == [
        ("change_proposed", "operator:engineer"),
        ("change_approved", "operator:engineer2"),
        ("change_applied", "operator:engineer"),
    ]
    (applied_record,) = [r for r in gateway.audit.records() if r.data.get("event") == "change_applied"]
    assert (applied_record.data["proposed_by"], applied_record.data["approved_by"]) == (
        "engineer",
        "engineer2",
    )
    (load,) = [r for r in gateway.audit.records() if r.kind == "config_load"]
    assert load.data["sha256"] == change["candidate_sha256"] and load.data["by"] == "engineer"


async def test_change_approval_by_its_proposer_is_refused_and_recorded(
    app: Any, gateway: Gateway, config_file: Path
):
    first = await log_in(app, "engineer")
    change = (
        await first.post("/hmi/api/changes", {"text": candidate(config_file, 700.0), "reason": "x"})
    ).json()
    refused = await act(first, "engineer", change["id"], "approve")
    assert (refused.status_code, refused.json()["error"]) == (403, "proposer_cannot_approve")
    assert "two-person rule" in refused.json()["fields"][0]["msg"]
    assert app.state.changes.changes[change["id"]].request.state == "proposed"
    assert change_events(gateway)[-1] == ("change_refused", "operator:engineer")
    not_yet = await act(first, "engineer", change["id"], "apply")
    assert (not_yet.status_code, not_yet.json()["error"]) == (409, "not_allowed_now")
    rules = gateway.plant.config.tags["LIC-101.RSP"].setpoint
    assert rules is not None and rules.limits.hi == 800.0


async def test_change_invalid_candidate_lists_every_problem_as_file_line_col(
    app: Any, gateway: Gateway, config_file: Path
):
    first = await log_in(app, "engineer")
    answer = await first.post("/hmi/api/changes", {"text": candidate(config_file, 9999.0), "reason": "x"})
    assert (answer.status_code, answer.json()["error"]) == (422, "config_invalid")
    messages = [f["msg"] for f in answer.json()["fields"]]
    assert messages and all(re.match(r".*chg-1\.yaml:\d+:\d+: ", m) for m in messages)
    assert app.state.changes.changes == {}


async def test_change_on_a_running_config_edited_since_is_stale(
    app: Any, gateway: Gateway, config_file: Path
):
    first, second = await log_in(app, "engineer"), await log_in(app, "engineer2", "e2-pass")
    change = (
        await first.post("/hmi/api/changes", {"text": candidate(config_file, 700.0), "reason": "x"})
    ).json()
    config_file.write_text(candidate(config_file, 750.0))  # someone else changed the running file
    stale = await act(second, "engineer2", change["id"], "approve")
    assert (stale.status_code, stale.json()["error"]) == (409, "stale")


async def test_change_replay_lists_recorded_recommendations_the_candidate_would_refuse(
    app: Any, gateway: Gateway, config_file: Path
):
    gateway.operator_action("operator", ["LIC-101"], ModeEvent.ENGAGE, "test")
    await gateway.scan(gateway.clock.monotonic())
    gateway.submit([Proposal("rec-a", "optimizer", "LIC-101.RSP", 655.0, gateway.clock.now())])
    first = await log_in(app, "engineer")
    change = (
        await first.post("/hmi/api/changes", {"text": candidate(config_file, 652.0), "reason": "x"})
    ).json()
    replay = change["replay"]
    assert (replay["replayed"], replay["changed"], replay["affected_loops"]) == (1, 1, ["LIC-101"])
    assert replay["decisions"][0]["id"] == "rec-a" and "OUT_OF_RANGE" in replay["decisions"][0]["now_codes"]
