"""A case's page: what it shows, who sees it, status changes and adopting extracted facts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fanzha.auth.models import Role
from fanzha.config import SHANGHAI
from tests.web.conftest import ABC_CARD, FENG_NARRATIVE, Console, FileCase, LoginAs, MakeUser
from tests.web.pages import Element, field_error, parse


def _links(page: Element) -> list[str]:
    return [li.text() for li in page.by_id("links").find_all("li")]


def _status(page: Element) -> str:
    return page.find("section", cls="case-head").find("span", cls="badge").text()


def test_case_page_shows_parties_money_entities_and_timeline_in_shanghai_time(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER, username="wang")
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    number = web_file_case(officer, narrative=FENG_NARRATIVE, victim="冯某", received_at=received,
                           transfers=[{"to_account": ABC_CARD, "amount": "70000", "method": "mobile_banking"}],
                           suspect_phones=["+85261234567"])
    page = parse(web_login(officer).get(f"/cases/{number}").text)
    head = page.find("section", cls="case-head").text()
    assert number in head and "已接报" in head and "冒充公检法及政府机关" in head and "110报警" in head
    assert received.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") in head
    clock = page.find("span", cls="sla")
    assert "running" in clock.classes
    assert clock.attrs["data-target"] == "300"
    assert datetime.fromisoformat(clock.attrs["data-received"]) == received
    assert "受害人 冯某" in page.find("dl", cls="parties").text()
    assert "70,000.00 CNY" in page.find("table", cls="transfers").text()
    assert "手机银行" in page.find("table", cls="transfers").text()
    timeline = page.find("ol", cls="timeline").text()
    assert "wang" in timeline and received.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in timeline
    # The narrative is shown with its highlights.
    assert page.find("div", cls="narrative-hl").text() == FENG_NARRATIVE
    assert page.find("mark", cls="hl-phone").text() == "+85261234567"


def test_cases_sharing_a_phone_link_to_each_other_naming_the_phone(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    first = web_file_case(officer, suspect_phones=["+85261234567"])
    second = web_file_case(officer, suspect_phones=["+852 6123 4567", "13800001111"])
    console = web_login(officer)
    for here, other in ((first, second), (second, first)):
        page = parse(console.get(f"/cases/{here}").text)
        assert _links(page) == [f"{other} 共有 电话 +85261234567"]
        assert page.by_id("links").find("a").attrs["href"] == f"/cases/{other}"


def test_a_case_outside_ones_view_looks_exactly_like_a_missing_one(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    other_hotline = web_file_case(web_user(Role.HOTLINE_OPERATOR, org="hotline:110"), channel="110")
    console = web_login(web_user(Role.HOTLINE_OPERATOR, org="hotline:12345"))
    hidden = console.get(f"/cases/{other_hotline}")
    missing = console.get("/cases/SH20200101-999999")
    assert hidden.status_code == missing.status_code == 404
    assert parse(hidden.text).find("main").text() == parse(missing.text).find("main").text()
    assert other_hotline not in parse(hidden.text).find("main").text()


def test_officer_moves_a_case_through_its_allowed_statuses(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER, username="li")
    number = web_file_case(officer)
    console = web_login(officer)
    page = parse(console.get(f"/cases/{number}").text)
    offered = [b.attrs["value"] for b in page.find("div", cls="buttons").find_all("button")]
    assert offered == ["accepted", "closed"]
    response = console.post(f"/cases/{number}/transition", {"to": "accepted", "note": ""})
    assert response.status_code == 303
    page = parse(console.get(response.headers["location"]).text)
    assert _status(page) == "已受理"
    assert "案件状态已更新" in page.find("p", cls="alert").text()
    assert [b.attrs["value"] for b in page.find("div", cls="buttons").find_all("button")] == [
        "in_progress", "referred", "closed"]
    assert "已接报 → 已受理 li" in page.find("ol", cls="timeline").text()
    # The first action stops the clock.
    assert "done" in page.find("span", cls="sla").classes


def test_closing_needs_a_note_and_keeps_what_was_typed(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer)
    console = web_login(officer)
    console.get(f"/cases/{number}")
    refused = console.post(f"/cases/{number}/transition", {"to": "closed", "note": "   "})
    assert refused.status_code == 422
    page = parse(refused.text)
    # In the reader's language only: no English words from the service after the message.
    assert field_error(page, "note") == "结案须填写原因"
    assert _status(page) == "已接报"
    closed = console.post(f"/cases/{number}/transition", {"to": "closed", "note": "报案人确认未转账"})
    assert closed.status_code == 303
    page = parse(console.get(f"/cases/{number}").text)
    assert _status(page) == "已结案"
    assert "报案人确认未转账" in page.find("ol", cls="timeline").text()


def test_a_status_someone_else_already_changed_is_explained(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer)
    console = web_login(officer)
    console.get(f"/cases/{number}")
    console.post(f"/cases/{number}/transition", {"to": "accepted"})
    stale = console.post(f"/cases/{number}/transition", {"to": "accepted"})  # a second tab's old button
    assert stale.status_code == 409
    assert field_error(parse(stale.text), "transition") == "案件状态已被他人更改，请查看最新状态后再操作"


def test_status_changes_need_the_csrf_token(web_user: MakeUser, web_login: LoginAs,
                                            web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer)
    console = web_login(officer)
    refused = console.post(f"/cases/{number}/transition", {"to": "accepted", "csrf_token": "x"}, csrf=False)
    assert refused.status_code == 403
    assert _status(parse(console.get(f"/cases/{number}").text)) == "已接报"


def test_hotline_operator_sees_no_status_buttons_and_cannot_post_them(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    operator = web_user(Role.HOTLINE_OPERATOR, org="hotline:12345")
    number = web_file_case(operator, channel="12345", narrative=FENG_NARRATIVE)
    console = web_login(operator)
    page = parse(console.get(f"/cases/{number}").text)
    assert not page.find_all("form", action=f"/cases/{number}/transition")
    assert not page.find_all("form", id="adopt-form")
    assert console.post(f"/cases/{number}/transition", {"to": "accepted"}).status_code == 403


def test_bank_liaison_sees_only_their_slice_of_a_case(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer, narrative=FENG_NARRATIVE, victim="冯某",
                           transfers=[{"to_account": ABC_CARD, "amount": "70000"},
                                      {"to_account": "6222020200112345678", "amount": "5000"}])
    html = web_login(web_user(Role.BANK_LIAISON, org="bank:ABC")).get(f"/cases/{number}").text
    page = parse(html)
    assert ABC_CARD in page.find("table", cls="transfers").text()
    assert "6222020200112345678" not in html
    assert "冯某" not in html and "宝山公安" not in html
    assert not page.find_all("form", action=f"/cases/{number}/transition")


def test_carrier_liaison_sees_only_their_own_numbers(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer, narrative=FENG_NARRATIVE, suspect_phones=["13800001111", "+85261234567"])
    html = web_login(web_user(Role.CARRIER_LIAISON, org="carrier:CMCC")).get(f"/cases/{number}").text
    shown = parse(html).find("ul", cls="entities").text()
    assert shown == "+8613800001111"  # a China Mobile number; the Hong Kong one is not theirs
    assert "+85261234567" not in html and "冯某" not in html


def test_filing_the_same_source_reference_twice_opens_the_first_case(
        web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.HOTLINE_OPERATOR, org="hotline:110"))
    console.get("/cases/new")
    form = {"channel": "110", "external_ref": "JJ20261125-0042", "victim_name": "冯某", "narrative": FENG_NARRATIVE}
    first = console.post("/cases/new", form)
    again = console.post("/cases/new", form)
    assert first.headers["location"].split("?")[0] == again.headers["location"].split("?")[0]
    page = parse(console.get(again.headers["location"]).text)
    assert "已登记过" in page.find("p", cls="alert").text()
    # Switching language does not repeat the one-off banner.
    assert "notice" not in page.find("div", cls="langswitch").find("a").attrs["href"]


def _adopt_form(console: Console, number: str) -> dict[str, list[str]]:
    form = parse(console.get(f"/cases/{number}").text).by_id("adopt-form")
    boxes: dict[str, list[str]] = {}
    for box in form.find_all("input", type="checkbox"):
        boxes.setdefault(box.attrs["name"], []).append(box.attrs["value"])
    return boxes


def test_adopting_a_suggested_phone_links_the_case_at_once(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    earlier = web_file_case(officer, suspect_phones=["+85261234567"])
    number = web_file_case(officer, narrative=FENG_NARRATIVE)  # nothing confirmed yet
    console = web_login(officer)
    assert _links(parse(console.get(f"/cases/{number}").text)) == []
    boxes = _adopt_form(console, number)
    assert json.loads(boxes["adopt_phone"][0]) == {"phone": "+85261234567"}
    assert json.loads(boxes["adopt_transfer"][0])["to_account"] == ABC_CARD
    response = console.post(f"/cases/{number}/facts", {"adopt_phone": boxes["adopt_phone"]})
    assert response.status_code == 303
    page = parse(console.get(f"/cases/{number}").text)
    assert _links(page) == [f"{earlier} 共有 电话 +85261234567"]
    assert "+85261234567" in page.find("ul", cls="entities").text()
    # Only the ticked suggestion was used; the transfer is still on offer, the phone is not.
    remaining = _adopt_form(console, number)
    assert "adopt_phone" not in remaining and "adopt_transfer" in remaining
    assert not page.find_all("table", cls="transfers")


def test_adopting_nothing_is_explained(web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer, narrative=FENG_NARRATIVE)
    console = web_login(officer)
    console.get(f"/cases/{number}")
    response = console.post(f"/cases/{number}/facts", {})
    assert response.status_code == 422
    assert field_error(parse(response.text), "adopt") == "请先勾选要采用的信息"


def test_adopting_facts_needs_the_csrf_token(web_user: MakeUser, web_login: LoginAs,
                                             web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer, narrative=FENG_NARRATIVE)
    console = web_login(officer)
    boxes = _adopt_form(console, number)
    refused = console.post(f"/cases/{number}/facts", {"adopt_phone": boxes["adopt_phone"]}, csrf=False)
    assert refused.status_code == 403
    assert "adopt_phone" in _adopt_form(console, number)


def test_unknown_page_is_a_console_404(web_user: MakeUser, web_login: LoginAs) -> None:
    response = web_login(web_user(Role.DUTY_OFFICER)).get("/cases/NOPE-1")
    assert response.status_code == 404
    assert parse(response.text).find("h1").text() == "找不到该案件"
    assert response.headers["content-type"].startswith("text/html")
