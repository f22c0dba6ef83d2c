"""Managed change end to end in a real browser: one engineer proposes a tighter limit (checked, diff and
replay shown), cannot approve it himself, a second engineer approves, the first applies it by the audited
reload, and the gateway runs under the new limit. The config file is a copy pointed at the simulator, so
the applied candidate keeps talking to the same PLC."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, expect

from otgate.config.loader import LoadedConfig, load_config_file
from tests.conftest import PLANT_CONFIGS
from tests.hmi.conftest import Plant, fast, page_logged_in, running_plant
from tests.hmi.test_browser import recommend

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECOND_PASSWORD = "second-engineer"
LIMITS = "limits: {lo: 40.0, hi: 60.0}"  # AIC-201.RSP


def config_text(modbus_port: int) -> str:
    text = (PLANT_CONFIGS / "ricker.yaml").read_text()
    assert "port: 5020" in text and "operators:\n" in text
    second = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(SECOND_PASSWORD)
    text = text.replace("port: 5020", f"port: {modbus_port}")
    return text.replace(
        "operators:\n", f'operators:\n  engineer2:\n    role: engineer\n    password_hash: "{second}"\n', 1
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def moc_plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    path = tmp_path_factory.mktemp("moc-config") / "ricker.yaml"

    def config(port: int) -> LoadedConfig:
        path.write_text(config_text(port))
        return fast(load_config_file(path))

    async with running_plant("ricker", tmp_path_factory.mktemp("moc"), config) as plant:
        yield plant


async def engineer_page(browser: Browser, plant: Plant, user: str, password: str) -> Page:
    return await page_logged_in(browser, plant.hmi_url, user, password, {"width": 1920, "height": 1080})


async def test_moc_proposed_checked_refused_to_its_proposer_approved_by_a_second_engineer_and_applied(
    browser: Browser, moc_plant: Plant
):
    gateway = moc_plant.service.gateway
    # A recorded trail: AIC-201 recommendations at 52 and 58 (the loop is in fallback: both rejected).
    for value in (52.0, 58.0):
        await recommend(moc_plant, "AIC-201.RSP", value, "for the replay")
    first = await engineer_page(browser, moc_plant, "engineer", "demo-engineer")
    await first.locator("#moc-new summary").click()

    # An invalid candidate: every problem shown as FILE:LINE:COL, nothing proposed.
    await first.click("#moc-load")
    running = await first.locator("#moc-text").input_value()
    assert LIMITS in running
    await first.fill("#moc-text", running.replace(LIMITS, "limits: {lo: 40.0, hi: 95.0}"))
    await first.fill("#moc-reason", "tighter composition limit")
    await first.click("#moc-propose")
    await expect(first.locator("#moc-problems li").first).to_have_text(re.compile(r".*\.yaml:\d+:\d+: .+"))
    await expect(first.locator("#moc-changes article")).to_have_count(0)

    # A valid one: diff and replay shown.
    await first.fill("#moc-text", running.replace(LIMITS, "limits: {lo: 40.0, hi: 55.0}"))
    await first.click("#moc-propose")
    change = first.locator("#moc-changes article").first
    await expect(change.locator("h3")).to_have_text("chg-2: proposed")
    await expect(change.locator("pre.diff")).to_contain_text("+      limits: {lo: 40.0, hi: 55.0}")
    await expect(change.locator(".replay")).to_contain_text(
        "2 recommendations re-decided, 1 decided differently"
    )
    await expect(change.locator("tbody tr")).to_have_count(1)
    await expect(change.locator("tbody tr td").nth(6)).to_contain_text("OUT_OF_RANGE")

    # The proposer cannot approve: the button says so, and the gateway refuses it anyway.
    approve = change.locator('button[data-change-action="approve"]')
    await expect(approve).to_be_disabled()
    await expect(approve).to_have_attribute(
        "title", "two-person rule: another engineer must approve your change"
    )
    await approve.evaluate("b => { b.disabled = false; }")  # as a hand-made request would
    await change.locator(".moc-password").fill("demo-engineer")
    async with first.expect_response(re.compile(r"/hmi/api/changes/chg-2/approve$")) as answer:
        await approve.click()
    assert (await answer.value).status == 403
    await expect(first.locator("#message")).to_contain_text("proposer_cannot_approve")
    await expect(change.locator("h3")).to_have_text("chg-2: proposed")

    second = await engineer_page(browser, moc_plant, "engineer2", SECOND_PASSWORD)
    theirs = second.locator('#moc-changes article[data-change="chg-2"]')
    await theirs.locator(".moc-password").fill(SECOND_PASSWORD)
    await theirs.locator('button[data-change-action="approve"]').click()
    await expect(theirs.locator("h3")).to_have_text("chg-2: approved")

    await first.reload()
    mine = first.locator('#moc-changes article[data-change="chg-2"]')
    await mine.locator(".moc-password").fill("demo-engineer")
    await mine.locator('button[data-change-action="apply"]').click()
    await expect(mine.locator("h3")).to_have_text("chg-2: applied")
    rules = gateway.plant.config.tags["AIC-201.RSP"].setpoint
    assert rules is not None and rules.limits.hi == 55.0
    trail = [r for r in gateway.audit.records() if str(r.data.get("event", "")).startswith("change_")]
    assert [(r.data["event"], r.actor) for r in trail] == [
        ("change_refused", "operator:engineer"),  # the invalid candidate
        ("change_proposed", "operator:engineer"),
        ("change_refused", "operator:engineer"),  # its own approval
        ("change_approved", "operator:engineer2"),
        ("change_applied", "operator:engineer"),
    ]
    assert (trail[-1].data["proposed_by"], trail[-1].data["approved_by"]) == ("engineer", "engineer2")
    for page in (first, second):
        await page.context.close()
