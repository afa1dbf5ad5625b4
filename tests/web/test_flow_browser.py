"""The money-flow page in a real browser (Debian's Chromium, headless) against a live server on loopback.

The case is filed through the API by a duty officer's system account, and the banks' statements are stored as
the loop stores them (see test_flow_pages.py for the story). Run with ``pytest -m browser tests/web``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.cases.models import Case
from fanzha.tracing import store
from tests.helpers import report
from tests.web.chromium import ARTIFACTS
from tests.web.live_server import Live, Person, StartLive, log_in, open_tab
from tests.web.test_flow_pages import LEGS, A, B, D

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/flow.png")


@pytest.fixture(scope="module")
def live(live_server: StartLive) -> Live:
    return live_server(Person("duty", Role.DUTY_OFFICER, "值班民警 王警官"))


@pytest.fixture(scope="module")
def live_case(live: Live) -> tuple[str, str]:
    """One traced case, filed through the API by the 110 system; returns (base URL, case number)."""
    with live.db.transaction() as session:
        system = auth_service.create_user(session, None, username="intake-110", display_name="110 接警系统",
                                          role=Role.DUTY_OFFICER, org_code="center", password=None)
        token = auth_service.create_api_token(session, None, system, "browser test")
    filed = httpx.post(f"{live.base}/api/v1/reports", json=report(suspect_phones=["13812345678"]),
                       headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert filed.status_code == 201, filed.text
    number = filed.json()["number"]
    with live.db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        store.save_legs(session, case_id=case_id, instruction_id=None, source="bank", legs=LEGS)
    return live.base, number


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    # Strict: any failed load, a page's own included, is an error here (an inline style or script would be one).
    with open_tab(browser, live.base, strict=True) as tab:
        yield tab


def _log_in(page: Page, next_path: str) -> None:
    log_in(page, "duty", next_path)


def test_officer_opens_the_flow_clicks_an_account_and_reads_its_statement(
        page: Page, live_case: tuple[str, str]) -> None:
    _, number = live_case
    _log_in(page, f"/cases/{number}")
    page.get_by_role("link", name="资金流向").click()
    expect(page).to_have_url(re.compile(rf"/cases/{number}/flow$"))
    expect(page.get_by_role("heading", name="资金流向（CNY）")).to_be_visible()

    svg = page.locator("svg.flow-svg")
    expect(svg).to_be_visible()
    a_node = svg.locator(f'a[data-flow-account="ABC/{A[1]}"]')
    expect(a_node).to_contain_text("中国农业银行")
    expect(a_node).to_contain_text(A[1])
    expect(a_node).to_contain_text("止付待回复")
    d_node = svg.locator(f'a[data-flow-account="BOC/{D[1]}"]')
    expect(d_node).to_contain_text("未止付")
    expect(d_node).to_contain_text("25,000.00")
    expect(svg.locator("g.fs-sink")).to_contain_text("ATM")
    expect(page.locator("#flow-panel")).to_contain_text("点击图中的账户")
    panel_box = page.locator("#flow-panel").bounding_box()

    # The cash-out mule: two ATM withdrawals in its statement.
    svg.locator(f'a[data-flow-account="ICBC/{B[1]}"]').click()
    legs = page.locator("#flow-panel table.flow-legs tbody tr")
    expect(legs).to_have_count(3)
    expect(legs.nth(1)).to_contain_text("2026-11-25 10:05:00")
    expect(legs.nth(1)).to_contain_text("ATM")
    expect(legs.nth(2)).to_contain_text("−20,000.00")
    expect(page).to_have_url(re.compile(rf"/cases/{number}/flow$"))  # the page stayed; the panel changed
    expect(svg.locator(f'a[data-flow-account="ICBC/{B[1]}"]')).to_have_class(re.compile(r"\bselected\b"))

    # The first mule, by keyboard: its three legs, the stop-payment and the victim's path.
    a_node.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#flow-panel h2")).to_contain_text(A[1])
    expect(legs).to_have_count(3)
    expect(legs.first).to_contain_text("+70,000.00")
    expect(legs.first).to_contain_text("中国工商银行 6222000011112222333")
    expect(page.locator("#flow-panel .flow-instructions")).to_contain_text("紧急止付")
    expect(page.locator("#flow-panel ol.flow-path")).to_contain_text("70,000.00 CNY")
    expect(a_node).to_have_class(re.compile(r"\bselected\b"))
    expect(svg.locator(f'a[data-flow-account="ICBC/{B[1]}"]')).not_to_have_class(re.compile(r"\bselected\b"))
    # The panel sits where it sat before anything was chosen: opening it moved nothing.
    assert page.locator("#flow-panel").bounding_box() is not None
    box = page.locator("#flow-panel").bounding_box()
    assert panel_box is not None and box is not None
    assert (box["x"], box["y"], box["width"]) == (panel_box["x"], panel_box["y"], panel_box["width"])

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flow-full.png"), full_page=True)

    # The to-do below the graph: the account nothing holds yet comes first.
    first = page.locator("#todo-CNY tbody tr").first
    expect(first).to_contain_text(D[1])
    expect(first).to_contain_text("未止付")


def test_flow_page_in_english(page: Page, live_case: tuple[str, str]) -> None:
    _, number = live_case
    _log_in(page, f"/cases/{number}/flow")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Money flow (CNY)")).to_be_visible()
    expect(page.locator(f'svg.flow-svg a[data-flow-account="BOC/{D[1]}"]')).to_contain_text("Not stopped")
    expect(page.locator("svg.flow-svg g.flow-columns")).to_contain_text("Layer 1")
    page.locator(f'svg.flow-svg a[data-flow-account="ICBC/{B[1]}"]').click()
    expect(page.locator("#flow-panel table.flow-legs tbody tr")).to_have_count(3)
    expect(page.locator("#flow-panel")).to_contain_text("Out ATM")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "flow-en-1366x768.png"))
