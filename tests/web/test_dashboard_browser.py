"""The dashboard in a real browser (Debian's Chromium, headless) against a live server on loopback: the tiles and
the ECharts charts draw, a new report shows up without reloading the page, and English is one click away.

Screenshots are kept in test-artifacts/ (dashboard-*.png). Run with ``pytest -m browser tests/web``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.cases import intake
from fanzha.cases.schemas import ReportIn
from tests.reports.dataset import build
from tests.web.chromium import ARTIFACTS
from tests.web.live_server import Live, Person, StartLive, log_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(live_server: StartLive) -> Live:
    """The figures data set (ten days ago) and a supervisor to read it."""
    return live_server(Person("chief", Role.SUPERVISOR, "中心主任 李"), seed=build)


def _log_in(page: Page, next_path: str) -> None:
    log_in(page, "chief", next_path)
    expect(page.locator("h1")).to_have_text("中心数据看板")


def _series(page: Page, chart_id: str) -> list[object]:
    data: list[object] = page.evaluate(
        "id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series.map(s => s.data)", chart_id)
    return data


def _file_now(live: Live, channel: str) -> None:
    with live.db.transaction() as session:
        officer = auth_service.actor_for(auth_service.create_user(
            session, None, username=f"desk-{time.monotonic_ns()}", display_name="值班", role=Role.DUTY_OFFICER,
            org_code="center", password=None))
    report = ReportIn.model_validate({
        "channel": channel, "fraud_type": "fake_loan", "victim": {"name": "刘某"}, "narrative": "市民报称被骗。",
        "received_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "transfers": [{"to_account": "6228480402564890018", "to_bank": "ABC", "amount": "3000", "currency": "CNY"}],
    })
    intake.create_case(live.db, live.settings, officer, report)


def test_the_dashboard_draws_its_charts_and_refreshes_without_reloading(page: Page, live: Live) -> None:
    # The last 30 days hold all nine cases of the data set: C0..C8.
    _log_in(page, "/dashboard?period=30d&refresh=2")
    expect(page.locator("#tile-cases .tile-value")).to_have_text("9")
    # 96,000 + C0's 50,000 + C7's 1,000 + C8's 4,000
    expect(page.locator("#tile-stopped")).to_contain_text("151,000.00 CNY")
    expect(page.locator("#tile-frozen")).to_contain_text("299,000.00 EUR")
    expect(page.locator("#tile-frozen")).to_contain_text("71,000.00 CNY")  # C1's 70,000 and C7's 1,000
    # Returned: C1's 58,000 and C7's 1,000; C3's 299,000 EUR at the second attempt.
    expect(page.locator("#tile-returned")).to_contain_text("59,000.00 CNY")
    expect(page.locator("#tile-returned")).to_contain_text("299,000.00 EUR")
    # 180, 300, 300, 600, 720, 1200, 1800, 2400 seconds: the median is 660 s, 11 minutes.
    expect(page.locator("#tile-stop-time .tile-value")).to_have_text(re.compile(r"^11\.0\s+分钟$"))
    for chart in ("chart-channel", "chart-fraud-type", "chart-trend"):
        expect(page.locator(f"#{chart} canvas")).to_have_count(1)
        expect(page.locator(f"#{chart}")).to_have_attribute("data-rendered", re.compile(r"^\d{4}-"))
    assert _series(page, "chart-channel") == [[{"name": "110报警", "value": 5}, {"name": "12345热线", "value": 1},
                                               {"name": "派出所内线", "value": 1}, {"name": "网上报警", "value": 1},
                                               {"name": "反诈App", "value": 1}]]
    trend = _series(page, "chart-trend")
    assert sum(trend[0]) == 9 and len(trend[0]) == 30  # type: ignore[arg-type]
    # The canvases hold a drawing, not a blank rectangle.
    drawn = page.evaluate("""() => [...document.querySelectorAll('.dash-chart canvas')].map(c => {
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0; for (let i = 0; i < px.length; i += 16) if (px[i + 3] > 0) ink++;
        return ink; })""")
    assert all(n > 500 for n in drawn), drawn
    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-1366x768.png"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)
    print(f"\nscreenshots: {ARTIFACTS / 'dashboard-1366x768.png'} and dashboard-full.png")

    # A report arrives: within a poll the tiles and the charts show it; the page itself never reloads.
    page.evaluate("window.__notReloaded = true")
    rendered = page.locator("#chart-trend").get_attribute("data-rendered")
    _file_now(live, "app")
    expect(page.locator("#tile-cases .tile-value")).to_have_text("10", timeout=8_000)
    expect(page.locator("#tile-cases")).to_contain_text("反诈App 2")
    expect(page.locator("#chart-trend")).not_to_have_attribute("data-rendered", rendered or "")
    assert page.evaluate("window.__notReloaded") is True
    assert sum(_series(page, "chart-trend")[0]) == 10  # type: ignore[arg-type]
    assert {"name": "反诈App", "value": 2} in _series(page, "chart-channel")[0]  # type: ignore[operator]


def test_english_and_filters(page: Page) -> None:
    _log_in(page, "/dashboard?period=30d")
    page.locator("select[name=channel]").select_option("110")
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(re.compile(r"channel=110"))
    expect(page.locator("#tile-cases .tile-value")).to_have_text("5")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Center dashboard")
    expect(page.locator("#tile-cases h2")).to_have_text("Cases received")
    expect(page.locator("#tile-cases .tile-value")).to_have_text("5")
    expect(page.locator("#chart-fraud-type")).to_have_attribute("data-rendered", re.compile(r"^\d{4}-"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-en-1366x768.png"))
    page.get_by_role("link", name="中文").click()
    expect(page.locator("h1")).to_have_text("中心数据看板")
