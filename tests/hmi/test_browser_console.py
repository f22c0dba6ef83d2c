"""The high-performance HMI in a real browser (Debian's Chromium) against a real gateway and the ricker
simulator over Modbus TCP: recommendation history, trend limit lines and span, buttons that say what is
possible, ISA-18.2 alarms with shelving, the layout at 1920x1080 and a11y basics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from otgate.core.modes import ModeEvent
from tests.hmi.conftest import WAIT_MS, Plant, live_page, logged_in
from tests.hmi.test_browser import recommend

pytestmark = pytest.mark.asyncio(loop_scope="module")
FULL_HD: ViewportSize = {"width": 1920, "height": 1080}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def operator(browser: Browser, plant: Plant) -> AsyncIterator[BrowserContext]:
    async with logged_in(browser, plant.hmi_url, "operator", "demo-operator", FULL_HD) as context:
        yield context


@pytest_asyncio.fixture(loop_scope="module")
async def page(operator: BrowserContext, plant: Plant) -> AsyncIterator[Page]:
    async with live_page(operator, plant.hmi_url) as page:
        yield page


async def post_from_page(page: Page, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request the page itself makes (its session cookie and CSRF token), as a script on it would."""
    result: dict[str, Any] = await page.evaluate(
        """async ([path, body]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(path, {method: "POST", credentials: "same-origin",
              headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body)});
            return {status: r.status, body: await r.json()};
        }""",
        [path, body],
    )
    return result


async def test_loop_history_lists_the_recent_recommendations_with_decision_and_reasons(
    page: Page, plant: Plant
):
    sent = [await recommend(plant, "AIC-201.RSP", 50.0 + k, f"try {k}") for k in range(3)]  # loop in fallback
    rows = page.locator('article[data-loop="AIC-201"] [data-field="history"] tr')
    await expect(rows).to_have_count(3)
    for k, row in enumerate(reversed(sent)):  # newest first
        cells = rows.nth(k).locator("td")
        await expect(cells.nth(1)).to_have_text(f"{50.0 + 2 - k:.2f}")
        await expect(cells.nth(3)).to_have_text(row["decision"])
        await expect(cells.nth(4)).to_contain_text("MODE_BLOCKED")


async def test_trend_draws_units_hard_limit_and_alarm_lines_and_follows_the_span(page: Page):
    chart = page.locator('[data-chart="AIC-201"]')
    await expect(chart.locator("canvas")).to_have_count(1)
    labels = await chart.evaluate("n => n.uplot.series.map(s => s.label)")
    assert labels[1:3] == ["PV", "SP"]
    assert {
        "SP hard limit lo 40.00",
        "SP hard limit hi 60.00",
        "PV alarm lo 30.00",
        "PV alarm hi 70.00",
    } <= set(labels)
    y = await chart.evaluate("n => [n.uplot.scales.y.min, n.uplot.scales.y.max]")
    assert y[0] <= 30.0 and y[1] >= 70.0  # every line is inside the plotted range
    assert await chart.evaluate("n => n.uplot.axes[1].label") == "mol%"
    await page.select_option("#span", "120")
    span = await chart.evaluate("n => n.uplot.scales.x.max - n.uplot.scales.x.min")
    assert span == pytest.approx(120.0)


async def test_engage_is_disabled_on_a_latched_loop_with_the_reason_on_hover(page: Page, plant: Plant):
    gateway = plant.service.gateway
    gateway.operator_action("test", ["PIC-201"], ModeEvent.ENGAGE, "test")
    gateway.operator_action("test", ["PIC-201"], ModeEvent.FALLBACK, "test")
    assert gateway.loops["PIC-201"].state.latched
    engage = page.locator('article[data-loop="PIC-201"] button[data-action="engage"]')
    await expect(engage).to_be_disabled()
    await expect(engage).to_have_attribute("title", "latched: reset it with a reason first")
    await expect(page.locator('article[data-loop="PIC-201"] button[data-action="reset"]')).to_be_enabled()
    await page.fill('article[data-loop="PIC-201"] .reason-input', "pressure checked")
    await page.click('article[data-loop="PIC-201"] button[data-action="reset"]')
    await expect(engage).to_be_enabled()
    await expect(page.locator('article[data-loop="PIC-201"] button[data-action="reset"]')).to_be_disabled()


async def test_alarms_sort_high_first_and_a_low_alarm_is_shelved_with_reason_then_unshelved_at_expiry(
    page: Page, plant: Plant
):
    gateway = plant.service.gateway
    gateway.raise_alarm("TEST_LOW:shelve", "nuisance for the test", "low")
    gateway.raise_alarm("TEST_HIGH:shelve", "safety class for the test", "high")
    rows = page.locator("#alarms tr.alarm")
    await expect(page.locator('#alarms tr[data-code="TEST_HIGH:shelve"]')).to_have_count(1)
    codes = await rows.evaluate_all("rs => rs.map(r => r.children[0].textContent)")
    assert codes == sorted(codes, key=["high", "medium", "low"].index)  # high first, low last

    low = page.locator('#alarms tr[data-code="TEST_LOW:shelve"]')
    await low.locator(".shelve-reason").fill("engine retuning, rejections expected")
    await low.locator("button[data-shelve]").click()
    await expect(low.locator("td").nth(8)).to_contain_text("by operator: engine retuning")
    alarm = gateway.alarms["TEST_LOW:shelve"]
    assert alarm.shelved_by == "operator" and alarm.shelved_until is not None

    answer = await post_from_page(
        page, "/hmi/api/alarms/TEST_LOW:shelve/shelve", {"reason": "short", "duration_s": 1}
    )
    assert answer["status"] == 200
    await expect(low.locator("td").nth(8)).to_have_text("", timeout=WAIT_MS)  # unshelved at expiry
    actions = [r for r in gateway.audit.records() if r.kind == "operator_action"]
    assert [r.data["event"] for r in actions if r.data.get("code") == "TEST_LOW:shelve"] == [
        "shelve_alarm",
        "shelve_alarm",
        "unshelve_alarm",
    ]


async def test_a_safety_class_alarm_cannot_be_shelved(page: Page, plant: Plant):
    plant.service.gateway.raise_alarm("TEST_HIGH:unshelvable", "safety class", "high")
    high = page.locator('#alarms tr[data-code="TEST_HIGH:unshelvable"]')
    shelve = high.locator("button[data-shelve]")
    await expect(shelve).to_be_disabled()
    await expect(shelve).to_have_attribute(
        "title", "safety-class alarm (priority high): it cannot be shelved"
    )
    answer = await post_from_page(
        page, "/hmi/api/alarms/TEST_HIGH:unshelvable/shelve", {"reason": "x", "duration_s": 60}
    )
    assert (answer["status"], answer["body"]["error"]) == (409, "alarm_unshelvable")
    assert plant.service.gateway.alarms["TEST_HIGH:unshelvable"].shelved_until is None


async def test_ricker_loops_side_by_side_on_one_1920x1080_screen(page: Page, plant: Plant):
    assert page.viewport_size == FULL_HD
    loops = page.locator("article.loop")
    await expect(loops).to_have_count(len(plant.service.gateway.loops))
    boxes = [await loops.nth(k).bounding_box() for k in range(await loops.count())]
    for box in boxes:
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= FULL_HD["width"]
        assert box["y"] >= 0 and box["y"] + box["height"] <= FULL_HD["height"]  # whole card, no scrolling
    assert len({round(b["y"]) for b in boxes if b}) == 1  # one row
    columns = await page.locator("#loops").evaluate(
        "n => getComputedStyle(n).gridTemplateColumns.split(' ').length"
    )
    assert columns >= 4  # room for a fourth loop in the same row


# Reads every visible text's colour against the first opaque background behind it (WCAG 2.1 formula).
CONTRAST = """() => {
  function rgb(s) { const m = s.match(/[\\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
  function lum(c) { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); }
  function bg(n) { for (; n; n = n.parentElement) { const c = rgb(getComputedStyle(n).backgroundColor); if (c.a > 0.9) return c; }
    return {r: 255, g: 255, b: 255, a: 1}; }
  const bad = [];
  document.querySelectorAll("body *").forEach(n => {
    if (!Array.from(n.childNodes).some(c => c.nodeType === 3 && c.textContent.trim())) return;
    const st = getComputedStyle(n);
    if (st.visibility === "hidden" || st.display === "none" || !n.getClientRects().length) return;
    if (n.closest("option, .u-legend")) return;  // native menu; the legend's swatches carry the colour
    const a = lum(rgb(st.color)), b = lum(bg(n));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    const needed = n.matches("button:disabled, button:disabled *") ? 3.0 : large ? 3.0 : 4.5;
    if (ratio < needed) bad.push(n.tagName + " '" + n.textContent.trim().slice(0, 30) + "' " + ratio.toFixed(2));
  });
  return bad;
}"""

UNLABELLED = """() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter(n => !(n.getAttribute("aria-label") || (n.labels && n.labels.length) || (n.tagName === "BUTTON" && n.textContent.trim())))
  .map(n => n.outerHTML.slice(0, 80))"""


async def test_every_control_has_a_label_and_text_contrast_is_wcag_aa(page: Page, plant: Plant):
    plant.service.gateway.raise_alarm("TEST_A11Y", "an alarm row to check", "medium")
    await expect(page.locator('#alarms tr[data-code="TEST_A11Y"]')).to_have_count(1)
    await page.locator("details.alarm-history summary").click()
    assert await page.evaluate(UNLABELLED) == []
    assert await page.evaluate(CONTRAST) == []
    # The checks can fail: a pale text and a bare input are caught.
    await page.evaluate(
        """() => { const p = document.createElement("p"); p.id = "probe"; p.textContent = "pale";
        p.style.color = "#aaaaaa"; p.style.background = "#ffffff"; document.body.appendChild(p);
        const i = document.createElement("input"); i.id = "probe-input"; document.body.appendChild(i); }"""
    )
    assert await page.evaluate(CONTRAST) == ["P 'pale' 2.32"]
    assert len(await page.evaluate(UNLABELLED)) == 1


# The band's data comes from the gateway's process models (`loops[].prediction`); the test hands the chart
# one entry of that documented shape, so what it draws does not depend on the live forecast.
PIXEL = """([dx, value]) => { const u = document.querySelector('[data-chart="AIC-201"]').uplot;
  const t = u.data[0][u.data[0].length - 1];
  const x = Math.round(u.valToPos(t + dx, "x", true)), y = Math.round(u.valToPos(value, "y", true));
  return Array.from(u.ctx.getImageData(x, y, 1, 1).data); }"""


async def test_trend_draws_the_predicted_band_into_the_future_when_the_state_has_one(page: Page):
    chart = page.locator('[data-chart="AIC-201"]')
    await expect(chart.locator("canvas")).to_have_count(1)
    await chart.evaluate(
        """n => { const u = n.uplot; const t = u.data[0][u.data[0].length - 1];
        const band = {at: t, horizon_s: 120, t_s: [0, 60, 120], expected: [47, 47, 47],
                      band_lo: [46, 45, 44], band_hi: [48, 49, 50]};
        // Held against the live state's own prediction list.
        Object.defineProperty(u, "prediction", {get: () => band, set: () => {}, configurable: true});
        u.setScale("x", {min: t - 600, max: t + 120}); }"""
    )
    inside, outside = await page.evaluate(PIXEL, [60, 48.5]), await page.evaluate(PIXEL, [60, 52.5])
    assert outside[:3] == [255, 255, 255] or outside[3] == 0  # the plot's background
    assert inside != outside and inside[3] > 0  # the band is painted there
    scale = await chart.evaluate("n => n.uplot.scales.x.max - n.uplot.data[0][n.uplot.data[0].length - 1]")
    assert scale == pytest.approx(120.0, abs=1.0)  # the axis reaches the horizon
