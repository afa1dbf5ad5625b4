"""The case list: newest first, filters, paging, clocks, and only what the reader's organisation may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fanzha.auth.models import Role
from fanzha.config import SHANGHAI
from fanzha.web import filters
from tests.web.conftest import ABC_CARD, FileCase, LoginAs, MakeUser
from tests.web.pages import Element, field_error, parse

ICBC_CARD = "6222020200112345678"  # an Industrial and Commercial Bank of China card number


def _rows(page: Element) -> list[Element]:
    tables = page.find_all("table", cls="cases")
    return tables[0].find("tbody").find_all("tr") if tables else []


def _numbers(html: str) -> list[str]:
    return [row.find("a", cls="case-number").text() for row in _rows(parse(html))]


def test_newest_first_with_channel_type_status_and_shanghai_time(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    received = datetime(2026, 1, 2, 13, 5, 3, tzinfo=UTC)
    if received > datetime.now(UTC):  # keep "received" in the past whatever today's date is
        received = datetime.now(UTC) - timedelta(hours=1)
    first = web_file_case(officer, channel="12345", received_at=received, fraud_type="fake_investment")
    second = web_file_case(officer, channel="110")
    page = parse(web_login(officer).get("/cases").text)
    assert [r.find("a").text() for r in _rows(page)] == [second, first]
    cells = [c.text() for c in _rows(page)[1].find_all("td")]
    assert cells[1] == "12345热线"
    assert cells[2] == "虚假网络投资理财"
    assert cells[3] == "已接报"
    assert cells[4] == received.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def test_clock_is_red_for_a_case_nobody_acted_on_in_time(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    late = web_file_case(officer, received_at=datetime.now(UTC) - timedelta(minutes=30))
    fresh = web_file_case(officer)
    page = parse(web_login(officer).get("/cases").text)
    clocks = {row.find("a").text(): row.find("span", cls="sla") for row in _rows(page)}
    assert "overdue" in clocks[late].classes and "running" in clocks[late].classes
    assert clocks[late].find("span", cls="sla-time").text().startswith("30:")
    assert "overdue" not in clocks[fresh].classes


def test_filters_by_status_channel_and_fraud_type(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    investment = web_file_case(officer, channel="12345", fraud_type="fake_investment")
    rebate = web_file_case(officer, channel="110", fraud_type="task_rebate")
    console = web_login(officer)
    assert _numbers(console.get("/cases?channel=12345").text) == [investment]
    assert _numbers(console.get("/cases?fraud_type=task_rebate").text) == [rebate]
    assert _numbers(console.get("/cases?status=closed").text) == []
    assert "没有符合条件的案件" in parse(console.get("/cases?status=closed").text).text()
    # The form shows the filter that is applied.
    form = parse(console.get("/cases?channel=12345").text).find("form", cls="filters")
    assert form.find("option", value="12345").attrs.get("selected") is not None


def test_search_by_case_number_phone_or_account(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    with_phone = web_file_case(officer, suspect_phones=["+85261234567"])
    with_account = web_file_case(officer, transfers=[{"to_account": ABC_CARD, "amount": "70000"}])
    console = web_login(officer)
    assert _numbers(console.get("/cases", params={"q": "+852 6123 4567"}).text) == [with_phone]
    assert _numbers(console.get("/cases", params={"q": "6228 4804 0256 4890 018"}).text) == [with_account]
    assert _numbers(console.get("/cases", params={"q": with_phone.lower()}).text) == [with_phone]


def test_received_dates_are_shanghai_calendar_days(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    # 23:30 in Shanghai on day D is 15:30 UTC on day D: it belongs to day D, not D-1 or D+1.
    day = (datetime.now(SHANGHAI) - timedelta(days=3)).date()
    late_evening = datetime(day.year, day.month, day.day, 23, 30, tzinfo=SHANGHAI)
    number = web_file_case(officer, received_at=late_evening)
    web_file_case(officer)  # today
    console = web_login(officer)
    iso = day.isoformat()
    assert _numbers(console.get(f"/cases?received_from={iso}&received_to={iso}").text) == [number]
    next_day = (day + timedelta(days=1)).isoformat()
    assert number not in _numbers(console.get(f"/cases?received_from={next_day}").text)


def test_bad_filter_values_are_explained_not_ignored(web_user: MakeUser, web_login: LoginAs,
                                                      web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    web_file_case(officer)
    console = web_login(officer)
    page = parse(console.get("/cases?status=bogus&received_from=2026-13-40").text)
    assert field_error(page, "status") == "请从列表中选择"
    assert field_error(page, "received_from") == "日期格式不正确"
    assert _rows(page) == []
    page = parse(console.get("/cases?received_from=2026-05-02&received_to=2026-05-01").text)
    assert field_error(page, "received_to") == "结束日期早于开始日期"


def test_paging_goes_back_in_time_and_keeps_the_filters(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filters, "PAGE_SIZE", 2)
    officer = web_user(Role.DUTY_OFFICER)
    numbers = [web_file_case(officer, channel="110") for _ in range(5)]
    web_file_case(officer, channel="12345")
    console = web_login(officer)
    seen: list[str] = []
    url: str | None = "/cases?channel=110"
    while url:
        page = parse(console.get(url).text)
        seen += [r.find("a").text() for r in _rows(page)]
        older = page.find("nav", cls="pager").find_all("a", rel="next")
        url = older[0].attrs["href"] if older else None
        if url:
            assert "channel=110" in url
    assert seen == list(reversed(numbers))


def test_bank_liaison_sees_only_cases_with_their_banks_accounts_and_cannot_file(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    abc_case = web_file_case(officer, transfers=[{"to_account": ABC_CARD, "amount": "70000"}])
    icbc_case = web_file_case(officer, transfers=[{"to_account": ICBC_CARD, "amount": "5000"}])
    web_file_case(officer)  # no accounts at all
    liaison = web_login(web_user(Role.BANK_LIAISON, org="bank:ABC"))
    html = liaison.get("/cases").text
    assert _numbers(html) == [abc_case]
    assert icbc_case not in html
    page = parse(html)
    assert not page.find_all("a", href="/cases/new")
    assert liaison.get("/cases/new").status_code == 403


def test_hotline_operator_sees_only_their_own_hotlines_reports(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    ours = web_file_case(web_user(Role.HOTLINE_OPERATOR, org="hotline:12345"), channel="12345")
    theirs = web_file_case(web_user(Role.HOTLINE_OPERATOR, org="hotline:110"), channel="110")
    console = web_login(web_user(Role.HOTLINE_OPERATOR, org="hotline:12345"))
    numbers = _numbers(console.get("/cases").text)
    assert ours in numbers and theirs not in numbers
    assert parse(console.get("/cases").text).find_all("a", href="/cases/new")


def test_roles_without_case_access_get_a_plain_refusal(web_user: MakeUser, web_login: LoginAs) -> None:
    response = web_login(web_user(Role.AUDITOR)).get("/cases")
    assert response.status_code == 403
    assert parse(response.text).find("h1").text() == "无权访问"
