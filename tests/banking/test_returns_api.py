"""The returns API: who may propose, approve, object and cancel; what each reader sees; 4xx bodies that say why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.banking.test_returns import MULE, ONWARD, PAYER_A, World, leg, row_of
from tests.conftest import MakePrincipal

from fanzha.app import create_app
from fanzha.auth import service as auth_service
from fanzha.auth.dependencies import SESSION_COOKIE
from fanzha.auth.models import Role
from fanzha.banking.models import OutboxMessage
from fanzha.config import Settings
from fanzha.storage.db import Database


class Clients:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings, self.db = settings, db
        self.made: list[TestClient] = []

    def __call__(self, role: Role, org: str | None = None) -> TestClient:
        default = {Role.BANK_LIAISON: "bank:ABC", Role.HOTLINE_OPERATOR: "hotline:12345",
                   Role.CARRIER_LIAISON: "carrier:CMCC"}
        with self.db.transaction() as session:
            user = auth_service.create_user(session, None, username=f"api-{role.value}-{len(self.made)}",
                                            display_name="x", role=role, org_code=org or default.get(role, "center"),
                                            password=None)
            token = auth_service.create_api_token(session, None, user, "test")
        client = TestClient(create_app(self.settings, self.db),
                            headers={"Authorization": f"Bearer {token}"})
        self.made.append(client)
        return client


@pytest.fixture
def clients(settings: Settings, db: Database) -> Iterator[Clients]:
    made = Clients(settings, db)
    yield made
    for client in made.made:
        client.close()


@pytest.fixture
def world(db: Database, principal: MakePrincipal) -> World:
    return World(db, principal, principal(Role.DUTY_OFFICER))


def _propose(client: TestClient, number: str, hold: int) -> Any:
    res = client.post(f"/api/v1/cases/{number}/holds/{hold}/returns")
    assert res.status_code == 201, res.text
    return res.json()


def test_officer_proposes_and_the_plan_says_basis_and_shares(world: World, clients: Clients) -> None:
    number_a, number_b, hold = world.worked()
    body = _propose(clients(Role.DUTY_OFFICER), number_a, hold)
    assert (body["basis"], body["held"], body["returned"], body["kept"]) == ("pro_rata", "3000.00", "3000.00", "0.00")
    assert [(s["victim"], s["amount"], s["loss"], s["payee_account"], s["status"]) for s in body["shares"]] == [
        (number_a, "1875.00", "5000.00", PAYER_A[1], "notice"),
        (number_b, "1125.00", "3000.00", "6216610100001234567", "notice")]
    assert body["shares"][0]["attributed"]["libr"] == "1875.00" and body["notice_until"] is not None
    listed = clients(Role.SUPERVISOR).get(f"/api/v1/cases/{number_a}/returns").json()
    (frozen,) = [h for h in listed["holds"] if h["id"] == hold]
    assert [(r["amount"], r["status"], r["basis"]) for r in frozen["returns"]] == [
        ("1875.00", "notice", "pro_rata"), ("1125.00", "notice", "pro_rata")]


def test_only_a_supervisor_approves_and_not_during_the_notice(world: World, clients: Clients) -> None:
    number_a, _, hold = world.worked()
    first = _propose(clients(Role.DUTY_OFFICER), number_a, hold)["shares"][0]["return"]
    refused = clients(Role.DUTY_OFFICER).post(f"/api/v1/returns/{first}/approve")
    assert refused.status_code == 403 and "supervisor" in refused.json()["message"]
    early = clients(Role.SUPERVISOR).post(f"/api/v1/returns/{first}/approve")
    assert early.status_code == 409 and early.json()["error"] == "conflict"
    assert "public notice" in early.json()["message"] and "runs until" in early.json()["message"]
    with world.db.read() as session:
        assert session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == first)).first() is None


def test_a_direct_return_is_sent_when_a_supervisor_approves(world: World, clients: Clients) -> None:
    number_a, case_a = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_a, [leg(MULE, "m1", 1, "in", "5000", PAYER_A, "5000")])
    hold = world.freeze(case_a, "5000")
    share = _propose(clients(Role.SUPERVISOR), number_a, hold)["shares"][0]
    assert (share["status"], share["amount"]) == ("pending_approval", "5000.00")
    res = clients(Role.SUPERVISOR).post(f"/api/v1/returns/{share['return']}/approve")
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "queued" and res.json()["due_at"] is not None
    with world.db.read() as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == share["return"])
                                  ).scalar_one()
    assert message.message_type == "Return" and message.recipient == "bank:ABC"


def test_objection_and_cancellation(world: World, clients: Clients) -> None:
    number_a, _, hold = world.worked()
    first = _propose(clients(Role.DUTY_OFFICER), number_a, hold)["shares"][0]["return"]
    officer = clients(Role.DUTY_OFFICER)
    empty = officer.post(f"/api/v1/returns/{first}/object", json={"text": ""})
    assert empty.status_code == 422 and [e["field"] for e in empty.json()["errors"]] == ["text"]
    res = officer.post(f"/api/v1/returns/{first}/object", json={"text": "账户持有人称该款为其货款"})
    assert res.status_code == 200 and res.json()["status"] == "disputed"
    assert res.json()["objections"][0]["text"] == "账户持有人称该款为其货款"
    assert officer.post(f"/api/v1/returns/{first}/cancel", json={"reason": "待核实"}).status_code == 403
    done = clients(Role.SUPERVISOR).post(f"/api/v1/returns/{first}/cancel", json={"reason": "待核实"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    again = clients(Role.SUPERVISOR).post(f"/api/v1/returns/{first}/cancel", json={"reason": "再次"})
    assert again.status_code == 409 and "cancelled" in again.json()["message"]


def test_a_stop_payment_is_refused_with_freeze_it_first(world: World, clients: Clients) -> None:
    number_a, case_a = world.file("甲某", PAYER_A, "5000", 1)
    world.statements(case_a, [leg(MULE, "m1", 1, "in", "5000", PAYER_A, "5000")])
    stopped = world.freeze(case_a, "5000", kind="stop_payment")
    res = clients(Role.DUTY_OFFICER).post(f"/api/v1/cases/{number_a}/holds/{stopped}/returns")
    assert res.status_code == 409 and "freeze it first" in res.json()["message"]
    missing = clients(Role.DUTY_OFFICER).post(f"/api/v1/cases/{number_a}/holds/999999/returns")
    assert missing.status_code == 404


def test_bank_liaisons_see_only_their_own_banks_returns(world: World, clients: Clients) -> None:
    number_a, _, hold = world.worked()
    case_a = row_of(world.db, hold).case_id
    world.statements(case_a, [leg(ONWARD, "o1", 3, "in", "4000", MULE, "4000")])
    onward = world.freeze(case_a, "4000", account=ONWARD)
    officer = clients(Role.DUTY_OFFICER)
    _propose(officer, number_a, hold)
    _propose(officer, number_a, onward)
    abc = clients(Role.BANK_LIAISON, "bank:ABC")
    seen = abc.get(f"/api/v1/cases/{number_a}/returns")
    assert seen.status_code == 200
    assert {h["bank"] for h in seen.json()["holds"]} == {"ABC"}
    assert all(r["bank"] == "ABC" for h in seen.json()["holds"] for r in h["returns"])
    icbc_return = next(h for h in clients(Role.SUPERVISOR).get(f"/api/v1/cases/{number_a}/returns").json()["holds"]
                       if h["bank"] == "ICBC")["returns"][0]["id"]
    assert abc.post(f"/api/v1/returns/{icbc_return}/cancel", json={"reason": "看看"}).status_code == 404
    abc_return = seen.json()["holds"][0]["returns"][0]["id"]
    assert abc.post(f"/api/v1/returns/{abc_return}/approve").status_code == 403  # seen, but not theirs to decide
    # A bank whose accounts the case does not name cannot see the case at all.
    assert clients(Role.BANK_LIAISON, "bank:ICBC").get(f"/api/v1/cases/{number_a}/returns").status_code == 404


@pytest.mark.parametrize("role", [Role.HOTLINE_OPERATOR, Role.CARRIER_LIAISON, Role.CALLBACK_AGENT, Role.ADMIN,
                                  Role.AUDITOR])
def test_others_get_the_404_of_a_case_they_cannot_see(role: Role, world: World, clients: Clients) -> None:
    number_a, _, hold = world.worked()
    first = _propose(clients(Role.DUTY_OFFICER), number_a, hold)["shares"][0]["return"]
    client = clients(role)
    assert client.get(f"/api/v1/cases/{number_a}/returns").status_code == 404
    assert client.post(f"/api/v1/returns/{first}/object", json={"text": "异议"}).status_code == 404
    assert client.post(f"/api/v1/cases/{number_a}/holds/{hold}/returns").status_code == 404


def test_cookie_sessions_need_the_csrf_header(world: World, clients: Clients, db: Database,
                                              settings: Settings) -> None:
    number_a, _, hold = world.worked()
    first = _propose(clients(Role.DUTY_OFFICER), number_a, hold)["shares"][0]["return"]
    with db.transaction() as session:
        auth_service.create_user(session, None, username="sup", display_name="主管", role=Role.SUPERVISOR,
                                 org_code="center", password="night-shift-2026")
    with db.transaction() as session:
        login = auth_service.login(session, "sup", "night-shift-2026", 12)
    assert login is not None
    with TestClient(create_app(settings, db)) as browser:
        browser.cookies.set(SESSION_COOKIE, login.session_token)
        refused = browser.post(f"/api/v1/returns/{first}/cancel", json={"reason": "无效"})
        assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
        ok = browser.post(f"/api/v1/returns/{first}/cancel", json={"reason": "无效"},
                          headers={"X-CSRF-Token": login.csrf_token})
        assert ok.status_code == 200 and ok.json()["status"] == "cancelled"


def test_the_listing_shows_the_notice_running_for_thirty_days(world: World, clients: Clients) -> None:
    number_a, _, hold = world.worked()
    _propose(clients(Role.DUTY_OFFICER), number_a, hold)
    listed = clients(Role.DUTY_OFFICER).get(f"/api/v1/cases/{number_a}/returns").json()
    (frozen,) = [h for h in listed["holds"] if h["id"] == hold]
    r = frozen["returns"][0]
    assert r["notice_running"] is True and r["overdue"] is False and r["due_at"] is None
    left = datetime.fromisoformat(r["notice_until"]) - datetime.now(UTC)
    assert timedelta(days=30) - timedelta(minutes=5) < left <= timedelta(days=30)
