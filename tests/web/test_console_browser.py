"""The console in a real browser (Debian's Chromium, headless) against a live server on loopback.

Run with ``pytest -m browser tests/web``; the browser is never downloaded (no internet at runtime).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fanzha.auth.models import Role
from tests.web.chromium import ARTIFACTS
from tests.web.conftest import ABC_CARD, FENG_NARRATIVE
from tests.web.live_server import Live, Person, StartLive, log_in

pytestmark = pytest.mark.browser

SECOND_NARRATIVE = (
    "11月24日晚8时许，市民陈某接到自称上海公安的电话（+852 6123 4567），称其银行卡涉嫌洗钱，"
    "要求配合调查。陈某通过网上银行向工商银行账户6222020200112345678转账5万元。"
)


@pytest.fixture(scope="module")
def live(live_server: StartLive) -> Live:
    return live_server(Person("duty", Role.DUTY_OFFICER, "值班民警 王警官"))


def _log_in(page: Page) -> None:
    log_in(page, "duty", "/cases")


def _file_report(page: Page, *, victim: str, narrative: str, adopt: tuple[str, ...]) -> str:
    """Type a report as an officer would, adopt the named suggestions, submit; returns the case number."""
    page.get_by_role("link", name="新建报案").first.click()
    expect(page.get_by_role("heading", name="新建报案")).to_be_visible()
    page.locator("select[name=channel]").select_option("110")
    page.locator("input[name=victim_name]").fill(victim)
    page.locator("#narrative").press_sequentially(narrative)
    preview = page.locator("#preview")
    expect(preview.locator("div.narrative-hl")).to_have_text(narrative)
    for kind in adopt:
        button = preview.locator(f"button[data-adopt={kind}]").first
        button.click()
        expect(button).to_have_text("已采用")
    return narrative


def _submit(page: Page) -> str:
    page.get_by_role("button", name="提交报案").click()
    expect(page).to_have_url(re.compile(r"/cases/SH\d{8}-\d{6}\?notice=created$"))
    number = page.locator("h1.case-number").inner_text()
    assert page.url.split("/cases/")[1].startswith(number)
    return number


def test_officer_files_two_reports_and_sees_them_linked(page: Page) -> None:
    _log_in(page)

    _file_report(page, victim="冯某", narrative=FENG_NARRATIVE, adopt=())
    preview = page.locator("#preview")
    expect(preview.locator("mark.hl-amount")).to_have_text("7万元")
    expect(preview.locator("mark.hl-account")).to_have_text(ABC_CARD)
    expect(preview.locator("mark.hl-phone")).to_have_text("+85261234567")
    expect(preview.locator("p.legend .hl-amount")).to_have_text("金额")

    # Nothing extracted is used until the officer says so.
    expect(page.locator("input[name=t_to_account]")).to_have_value("")
    expect(page.locator("#suspect_phones")).to_have_value("")
    for kind in ("transfer", "phone", "fraud_type"):
        preview.locator(f"button[data-adopt={kind}]").click()
    row = page.locator("#transfers [data-transfer-row]").first
    expect(row.locator("input[name=t_to_account]")).to_have_value(ABC_CARD)
    expect(row.locator("input[name=t_amount]")).to_have_value("70000")
    expect(row.locator("input[name=t_currency]")).to_have_value("CNY")
    expect(row.locator("input[name=t_to_bank]")).to_have_value("ABC")
    expect(row.locator("select[name=t_method]")).to_have_value("mobile_banking")
    expect(page.locator("#suspect_phones")).to_have_value("+85261234567")
    expect(page.locator("#fraud_type")).to_have_value("impersonate_authority")
    # The officer may still edit what was adopted before filing.
    row.locator("input[name=t_occurred_at]").fill("2026-04-25T09:40")
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "intake-1366x768.png"))
    page.screenshot(path=str(ARTIFACTS / "intake-full.png"), full_page=True)

    first = _submit(page)
    expect(page.locator("table.transfers")).to_contain_text("70,000.00 CNY")
    expect(page.locator("table.transfers")).to_contain_text("2026-04-25 09:40:00")
    expect(page.locator("#links")).to_contain_text("暂无关联案件")

    # A second victim of the same number: the phone links the two cases at once.
    _file_report(page, victim="陈某", narrative=SECOND_NARRATIVE, adopt=("phone",))
    expect(page.locator("#suspect_phones")).to_have_value("+85261234567")
    second = _submit(page)
    assert second != first
    link = page.locator("#links li")
    expect(link).to_have_count(1)
    expect(link).to_contain_text(first)
    expect(link).to_contain_text("电话")
    expect(link).to_contain_text("+85261234567")

    link.get_by_role("link", name=first).click()
    expect(page.locator("h1.case-number")).to_have_text(first)
    back = page.locator("#links li")
    expect(back).to_contain_text(second)
    expect(back).to_contain_text("电话 +85261234567")
    page.screenshot(path=str(ARTIFACTS / "case-1366x768.png"))
    page.screenshot(path=str(ARTIFACTS / "case-full.png"), full_page=True)

    page.get_by_role("link", name="案件列表").click()
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(second)  # newest first
    page.screenshot(path=str(ARTIFACTS / "cases-1366x768.png"))


def test_case_clock_ticks_and_wall_clock_shows_shanghai_time(page: Page) -> None:
    _log_in(page)
    _file_report(page, victim="赵某", narrative="市民赵某报称接到冒充客服电话，要求退款。", adopt=())
    _submit(page)
    clock = page.locator(".sla .sla-time")
    first_reading = clock.inner_text()
    expect(clock).not_to_have_text(first_reading, timeout=3_000)  # it ticks while nobody has acted
    expect(page.locator(".sla")).to_have_class(re.compile(r"\brunning\b"))
    expect(page.locator("#clock")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"))

    page.get_by_role("button", name="受理").click()
    expect(page.locator(".case-head .badge")).to_have_text("已受理")
    stopped = page.locator(".sla")
    expect(stopped).to_have_class(re.compile(r"\bdone\b"))
    reading = page.locator(".sla .sla-time").inner_text()
    # A stopped clock stays put: wait past the next tick of the wall clock, then read it again.
    wall = page.locator("#clock").inner_text()
    expect(page.locator("#clock")).not_to_have_text(wall)
    assert page.locator(".sla .sla-time").inner_text() == reading


def test_english_switch_changes_the_whole_interface(page: Page) -> None:
    _log_in(page)
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    page.get_by_role("link", name="New report").first.click()
    expect(page.get_by_role("button", name="File report")).to_be_visible()
    page.locator("#narrative").fill(FENG_NARRATIVE)
    expect(page.locator("#preview p.legend")).to_contain_text("Amount")
    expect(page.locator("#preview button[data-adopt=transfer]")).to_have_text("Use")
    page.locator("#preview button[data-adopt=transfer]").click()
    expect(page.locator("#preview button[data-adopt=transfer]")).to_have_text("Used")
    page.screenshot(path=str(ARTIFACTS / "intake-en-1366x768.png"))
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="新建报案")).to_be_visible()


def test_a_report_with_mistakes_comes_back_with_everything_typed(page: Page) -> None:
    _log_in(page)
    _file_report(page, victim="", narrative=FENG_NARRATIVE, adopt=("transfer",))
    page.locator("input[name=t_amount]").first.fill("7O000")
    page.get_by_role("button", name="提交报案").click()
    expect(page.locator("#err-victim-name")).to_have_text("必填")
    expect(page.locator("#err-transfers-0-amount")).to_contain_text("请填写数字金额")
    expect(page.locator("input[name=victim_name]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#narrative")).to_have_value(FENG_NARRATIVE)
    expect(page.locator("input[name=t_to_account]").first).to_have_value(ABC_CARD)
    expect(page.locator("#preview mark.hl-account")).to_have_text(ABC_CARD)
    # The suggestion already in the form shows as used, without the officer doing it again.
    expect(page.locator("#preview button[data-adopt=transfer]")).to_have_text("已采用")
    page.screenshot(path=str(ARTIFACTS / "intake-errors-1366x768.png"), full_page=True)
    page.locator("input[name=victim_name]").fill("冯某")
    page.locator("input[name=t_amount]").first.fill("70000")
    _submit(page)
