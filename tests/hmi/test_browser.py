"""The operator HMI in a real browser against a real gateway and simulated plant (ricker, Modbus TCP)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from otgate.core.modes import LoopMode, ModeEvent
from tests.hmi.conftest import ENGINE_TOKEN, WAIT_MS, Plant, eventually, live_page, logged_in

pytestmark = pytest.mark.asyncio(loop_scope="module")
SCRIPT = "<script>window.pwned = 1</script><img src=x onerror=window.pwned=2>"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def operator(browser: Browser, plant: Plant) -> AsyncIterator[BrowserContext]:
    """One operator's browser, logged in once through the login form."""
    async with logged_in(browser, plant.hmi_url, "operator", "demo-operator") as context:
        yield context


@pytest_asyncio.fixture(loop_scope="module")
async def page(operator: BrowserContext, plant: Plant) -> AsyncIterator[Page]:
    async with live_page(operator, plant.hmi_url) as page:
        yield page


def card(page: Page, loop: str, fieldname: str) -> Any:
    return page.locator(f'article[data-loop="{loop}"] [data-field="{fieldname}"]')


async def recommend(plant: Plant, tag: str, value: float, rationale: str) -> dict[str, Any]:
    body = {
        "id": f"hmi-test-{datetime.now(UTC).timestamp()}",
        "tag": tag,
        "value": value,
        "issued_at": datetime.now(UTC).isoformat(),
        "rationale": rationale,
    }
    async with httpx.AsyncClient(base_url=plant.service.api_url, timeout=5.0) as client:
        answer = await client.post(
            "/v1/recommendations", json=body, headers={"Authorization": f"Bearer {ENGINE_TOKEN}"}
        )
    answer.raise_for_status()
    decision: dict[str, Any] = answer.json()["decisions"][0]
    return decision


async def test_operator_sees_live_values_change(page: Page):
    pv = card(page, "PIC-201", "pv")
    first = await pv.text_content()
    await expect(pv).not_to_have_text(first or "", timeout=WAIT_MS)
    assert await page.locator("canvas").count() >= 3  # one uPlot trend per loop


async def test_approved_supervised_recommendation_reaches_the_plc(page: Page, plant: Plant):
    await page.click('article[data-loop="FIC-204"] button[data-action="engage"]')
    await expect(card(page, "FIC-204", "plc_mode")).to_have_text("REMOTE")
    sp = plant.service.gateway.snapshot.values["FIC-204.SP"]
    target = round(sp + 0.2, 3)
    decision = await recommend(plant, "FIC-204.RSP", target, SCRIPT)
    assert decision["decision"] == "pending_approval"
    row = page.locator(f'#approvals tr[data-id="{decision["id"]}"]')
    await expect(row.locator(".rationale")).to_have_text(SCRIPT)  # shown as text, not run
    assert await page.evaluate("window.pwned") is None
    writes_before = len([w for w in plant.sim.write_log if w.tag == "FIC-204.RSP"])
    await row.locator("button[data-approve]").click()
    await expect(page.locator("#message")).to_contain_text("approved")
    written = await eventually(
        lambda: [w for w in plant.sim.write_log if w.tag == "FIC-204.RSP"][writes_before:]
    )
    assert sp < written[0].value <= target and written[0].accepted
    await expect(card(page, "FIC-204", "approval")).to_contain_text("approved by operator:operator")


async def test_fallback_button_sends_the_plc_loop_local_and_reset_needs_a_reason(page: Page, plant: Plant):
    await page.click('article[data-loop="AIC-201"] button[data-action="engage"]')
    await expect(card(page, "AIC-201", "plc_mode")).to_have_text("REMOTE")
    await page.click('article[data-loop="AIC-201"] button[data-action="fallback"]')
    await expect(card(page, "AIC-201", "mode")).to_have_text("fallback (latched)")
    await eventually(lambda: plant.sim.loop_modes()["AIC-201"] != "REMOTE")
    await expect(card(page, "AIC-201", "plc_mode")).to_have_text("AUTO")

    await page.click('article[data-loop="AIC-201"] button[data-action="reset"]')
    await expect(page.locator("#message")).to_contain_text("a reason is required")
    assert plant.service.gateway.loops["AIC-201"].state.latched
    await page.fill('article[data-loop="AIC-201"] .reason-input', "analyser checked, composition steady")
    await page.click('article[data-loop="AIC-201"] button[data-action="reset"]')
    await expect(card(page, "AIC-201", "mode")).to_have_text("fallback")
    state = plant.service.gateway.loops["AIC-201"].state
    assert state.mode is LoopMode.FALLBACK and not state.latched
    reset = [
        r
        for r in plant.service.gateway.audit.records()
        if r.kind == "operator_action" and r.data.get("event") == "reset"
    ][-1]
    assert (reset.actor, reset.data["reason"]) == (
        "operator:operator",
        "analyser checked, composition steady",
    )


async def test_cross_site_form_post_is_refused(page: Page, plant: Plant):
    """A page on another origin of the same site (another port) posts to the HMI: the browser sends the
    SameSite cookie, and the HMI refuses the request (no CSRF token, foreign Origin)."""
    gateway = plant.service.gateway
    gateway.operator_action("test", ["PIC-201"], ModeEvent.RESET, "t")
    evil = (
        f"<!doctype html><form id=f method=post action='{plant.hmi_url}/hmi/api/loops/PIC-201/engage'>"
        "<input name=reason value=x></form><script>document.getElementById('f').submit()</script>"
    )
    server = await asyncio.start_server(lambda r, w: _serve_once(r, w, evil), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with page.expect_response(re.compile(r"/hmi/api/loops/PIC-201/engage$")) as answer:
            await page.goto(f"http://127.0.0.1:{port}/")
        assert (await answer.value).status == 403
    finally:
        server.close()
    assert gateway.loops["PIC-201"].state.mode is LoopMode.FALLBACK


async def _serve_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, html: str) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = html.encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()
