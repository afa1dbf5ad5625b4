"""The returns page of a case (资金返还): each freeze with its returns — basis, shares, notice end, due date — and
the buttons each role may press; the page's forms do what they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.dependencies import SESSION_COOKIE
from fanzha.auth.models import Role
from fanzha.banking.models import BankInstruction
from fanzha.config import SHANGHAI, Settings
from fanzha.storage.db import Database
from tests.banking.test_returns import MULE, PAYER_A, World, leg, propose
from tests.conftest import MakePrincipal
from tests.web.pages import Element, parse


@pytest.fixture
def world(db: Database, principal: MakePrincipal) -> World:
    return World(db, principal, principal(Role.DUTY_OFFICER))


def _rows(page: Element, hold: int) -> list[Element]:
    return page.by_id(f"hold-{hold}").find_all("tr", cls="return-row")


def _buttons(row: Element) -> list[str]:
    return [f.attrs["action"].rsplit("/", 1)[1] for f in row.find_all("form")]


def _direct(world: World) -> tuple[str, int]:
    """One victim's money in the mule, frozen: a direct return waits for a supervisor."""
    number, case_id = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_id, [leg(MULE, "m1", 1, "in", "5000", PAYER_A, "5000")])
    return number, world.freeze(case_id, "5000")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_sees_the_page(role: Role, world: World, principal: MakePrincipal) -> None:
    number, _, hold = world.worked()
    propose(world.db, world.officer.actor, hold)
    page = principal(role).client.get(f"/cases/{number}/returns")
    readers = (Role.DUTY_OFFICER, Role.SUPERVISOR, Role.BANK_LIAISON)
    assert page.status_code == (200 if role in readers else 404), page.text
    if page.status_code == 404:
        assert PAYER_A[1] not in page.text and "甲某" not in page.text


def test_pro_rata_returns_show_basis_shares_and_the_notice(world: World, principal: MakePrincipal) -> None:
    number, _, hold = world.worked()
    proposal = propose(world.db, world.officer.actor, hold)
    page = parse(world.officer.client.get(f"/cases/{number}/returns").text)
    rows = _rows(page, hold)
    texts = [[td.text() for td in row.find_all("td")] for row in rows]
    assert [t[0] for t in texts] == [f"甲某 招商银行 {PAYER_A[1]}", "乙某 中国银行 6216610100001234567"]
    assert [t[1] for t in texts] == ["按损失比例返还（公告30天）"] * 2
    assert [t[2] for t in texts] == ["1,875.00 CNY", "1,125.00 CNY"]
    assert [t[3] for t in texts] == ["公示中"] * 2
    notice = proposal.notice_until
    assert notice is not None and texts[0][4] == notice.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    # During the notice the officer records objections; nobody can approve yet; the officer cannot cancel.
    assert _buttons(rows[0]) == ["object"]
    supervisor_page = parse(principal(Role.SUPERVISOR).client.get(f"/cases/{number}/returns").text)
    assert _buttons(_rows(supervisor_page, hold)[0]) == ["object", "cancel"]
    bank_page = parse(principal(Role.BANK_LIAISON).client.get(f"/cases/{number}/returns").text)
    assert _buttons(_rows(bank_page, hold)[0]) == []


def test_an_officer_proposes_from_the_page_and_a_supervisor_approves(world: World, principal: MakePrincipal) -> None:
    number, hold = _direct(world)
    page = parse(world.officer.client.get(f"/cases/{number}/returns").text)
    form = page.by_id(f"hold-{hold}").find("form")
    assert form.attrs["action"] == f"/cases/{number}/holds/{hold}/returns"
    res = world.officer.client.post(form.attrs["action"], data={}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"].startswith(f"/cases/{number}/returns?notice=proposed")
    (row,) = _rows(parse(world.officer.client.get(f"/cases/{number}/returns").text), hold)
    assert [td.text() for td in row.find_all("td")][1:4] == ["单一受害人，直接返还", "5,000.00 CNY", "待审批"]
    assert _buttons(row) == []  # a duty officer cannot send money out of a freeze
    supervisor = principal(Role.SUPERVISOR).client
    (row,) = _rows(parse(supervisor.get(f"/cases/{number}/returns").text), hold)
    assert _buttons(row) == ["approve", "cancel"]
    approve = row.find("form").attrs["action"]
    done = supervisor.post(approve, data={}, follow_redirects=False)
    assert done.status_code == 303 and "notice=approve" in done.headers["location"]
    page = parse(supervisor.get(done.headers["location"]).text)
    (row,) = _rows(page, hold)
    cells = [td.text() for td in row.find_all("td")]
    assert cells[3] == "待发送" and cells[5] != "—"  # the bank's due date is set
    assert page.find("p", cls="alert").text() == "已批准，返还指令已发往银行。"


def test_a_refused_action_says_why_on_the_page(world: World, principal: MakePrincipal) -> None:
    number, _, hold = world.worked()
    first = propose(world.db, world.officer.actor, hold).shares[0].instruction_id
    supervisor = principal(Role.SUPERVISOR).client
    res = supervisor.post(f"/cases/{number}/returns/{first}/approve", data={})
    assert res.status_code == 409
    alert = parse(res.text).find("p", cls="error")
    assert "操作未执行" in alert.text() and "runs until" in alert.text()
    empty = world.officer.client.post(f"/cases/{number}/returns/{first}/object", data={"text": ""})
    assert empty.status_code == 422
    ok = world.officer.client.post(f"/cases/{number}/returns/{first}/object", data={"text": "账户持有人提出异议"},
                                   follow_redirects=False)
    assert ok.status_code == 303
    (row, _) = _rows(parse(world.officer.client.get(f"/cases/{number}/returns").text), hold)
    cells = [td.text() for td in row.find_all("td")]
    assert cells[3].startswith("有异议") and "账户持有人提出异议" in cells[3]


def test_a_return_past_its_bank_due_date_is_highlighted(world: World, principal: MakePrincipal) -> None:
    number, hold = _direct(world)
    (share,) = propose(world.db, world.officer.actor, hold).shares
    with world.db.transaction() as session:
        row = session.get(BankInstruction, share.instruction_id)
        assert row is not None
        row.status, row.due_at = "sent", datetime.now(UTC) - timedelta(hours=1)
    (tr,) = _rows(parse(world.officer.client.get(f"/cases/{number}/returns").text), hold)
    assert "overdue" in tr.classes and "已超期" in tr.text()


def test_a_stop_payment_says_freeze_it_first_and_offers_no_return(world: World) -> None:
    number, case_id = world.file("甲某", PAYER_A, "5000", 1)
    stopped = world.freeze(case_id, "5000", kind="stop_payment")
    page = parse(world.officer.client.get(f"/cases/{number}/returns").text)
    section = page.by_id(f"hold-{stopped}")
    assert section.find_all("form") == [] and "请先冻结" in section.text()


def test_a_bank_liaison_sees_its_own_banks_holds_only(world: World, principal: MakePrincipal) -> None:
    number, _, hold = world.worked()
    propose(world.db, world.officer.actor, hold)
    with world.db.read() as session:
        case_id = session.execute(select(BankInstruction.case_id).where(BankInstruction.id == hold)).scalar_one()
    other = world.freeze(case_id, "1000", account=("ICBC", "6222020200112233445"))
    page = parse(principal(Role.BANK_LIAISON).client.get(f"/cases/{number}/returns").text)
    assert len(_rows(page, hold)) == 2 and _buttons(_rows(page, hold)[0]) == []
    assert not page.find_all(id=f"hold-{other}")


def test_the_case_page_links_to_the_returns_for_officers(world: World, principal: MakePrincipal) -> None:
    number, _, _ = world.worked()
    link = f'href="/cases/{number}/returns"'
    assert link in world.officer.client.get(f"/cases/{number}").text
    assert link in principal(Role.SUPERVISOR).client.get(f"/cases/{number}").text


def test_forms_from_a_cookie_session_need_the_csrf_token(world: World, db: Database, settings: Settings) -> None:
    number, _, hold = world.worked()
    first = propose(world.db, world.officer.actor, hold).shares[0].instruction_id
    with db.transaction() as session:
        auth_service.create_user(session, None, username="sup", display_name="主管", role=Role.SUPERVISOR,
                                 org_code="center", password="night-shift-2026")
    with db.transaction() as session:
        login = auth_service.login(session, "sup", "night-shift-2026", 12)
    assert login is not None
    with TestClient(create_app(settings, db), follow_redirects=False) as browser:
        browser.cookies.set(SESSION_COOKIE, login.session_token)
        url = f"/cases/{number}/returns/{first}/cancel"
        assert browser.post(url, data={"reason": "另行处理"}).status_code == 403
        ok = browser.post(url, data={"reason": "另行处理", "csrf_token": login.csrf_token})
        assert ok.status_code == 303
    with db.read() as session:
        row = session.get(BankInstruction, first)
        assert row is not None and row.status == "cancelled"
