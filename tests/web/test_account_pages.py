"""Account administration in the console: an administrator creates an account (its one-time password works
at the login form), resets a password (the old one stops working) and disables an account (its session ends);
nobody else may."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.storage.db import Database
from tests.web.conftest import Console, LoginAs, MakeUser, login
from tests.web.pages import parse


def _one_time_password(html: str) -> str:
    return parse(html).by_id("one-time-password").text()


def test_an_administrator_creates_an_account_whose_password_signs_in_once_shown(
        web_user: MakeUser, web_login: LoginAs, web_app: FastAPI, web_db: Database) -> None:
    admin = web_login(web_user(Role.ADMIN))
    assert admin.get("/").headers["location"] == "/accounts"
    admin.get("/accounts")
    created = admin.post("/accounts", {"username": "liu.abc", "display_name": "刘行员", "role": "bank_liaison",
                                       "org": "bank:ABC"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    password = _one_time_password(created.text)
    assert len(password) >= 12
    with TestClient(web_app, follow_redirects=False) as client:
        assert login(client, "liu.abc", password, "/bank/inbox").status_code == 303
        assert client.get("/bank/inbox").status_code == 200
    listed = parse(admin.get("/accounts").text)
    assert "one-time-password" not in admin.get("/accounts").text  # shown once, in the answer that made it
    assert "银行驻点人员" in listed.by_id("account-liu.abc").text()
    with web_db.read() as session:
        details = [e.details for e in session.execute(select(AuditEntry).where(
            AuditEntry.action == "user.created", AuditEntry.object_id == "liu.abc")).scalars()]
    assert details and password not in details[0]


def test_a_refused_account_says_why_in_chinese_and_keeps_what_was_typed(web_user: MakeUser,
                                                                        web_login: LoginAs) -> None:
    admin = web_login(web_user(Role.ADMIN))
    admin.get("/accounts")
    wrong_org = admin.post("/accounts", {"username": "zhang", "display_name": "张", "role": "bank_liaison",
                                         "org": "carrier:CMCC"})
    assert wrong_org.status_code == 422
    doc = parse(wrong_org.text)
    assert "单位" in doc.by_id("accounts-error").text()
    assert doc.find("input", name="username").attrs["value"] == "zhang"
    unknown = admin.post("/accounts", {"username": "zhang", "role": "bank_liaison", "org": "bank:NOPE"})
    assert unknown.status_code == 422 and "不存在" in parse(unknown.text).by_id("accounts-error").text()
    bad_name = admin.post("/accounts", {"username": "a b", "role": "auditor", "org": "center"})
    assert bad_name.status_code == 422


def test_a_reset_password_replaces_the_old_one_and_ends_the_persons_sessions(
        web_user: MakeUser, web_login: LoginAs, web_app: FastAPI) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    officers_console = web_login(officer)
    assert officers_console.get("/cases").status_code == 200
    admin = web_login(web_user(Role.ADMIN))
    admin.get("/accounts")
    reset = admin.post(f"/accounts/{officer.username}/password")
    assert reset.status_code == 200
    new_password = _one_time_password(reset.text)
    assert officers_console.get("/cases").status_code == 303  # signed out: back to the login page
    with TestClient(web_app, follow_redirects=False) as client:
        assert login(client, officer.username, officer.password).status_code != 303
        assert login(client, officer.username, new_password).status_code == 303


def test_disabling_an_account_ends_its_session_and_an_admin_cannot_disable_themselves(
        web_user: MakeUser, web_login: LoginAs) -> None:
    agent = web_user(Role.CALLBACK_AGENT)
    agents_console: Console = web_login(agent)
    assert agents_console.get("/callbacks").status_code == 200
    admin_user = web_user(Role.ADMIN)
    admin = web_login(admin_user)
    admin.get("/accounts")
    disabled = admin.post(f"/accounts/{agent.username}/active", {"active": "0"})
    assert disabled.status_code == 303
    assert agents_console.get("/callbacks").status_code == 303
    page = parse(admin.get("/accounts").text)
    assert "已停用" in page.by_id(f"account-{agent.username}").text()
    itself = admin.post(f"/accounts/{admin_user.username}/active", {"active": "0"})
    assert itself.status_code == 409 and "自己" in parse(itself.text).by_id("accounts-error").text()
    assert admin.post(f"/accounts/{agent.username}/active", {"active": "1"}).status_code == 303


def test_only_administrators_manage_accounts(web_user: MakeUser, web_login: LoginAs) -> None:
    for role in (Role.SUPERVISOR, Role.DUTY_OFFICER, Role.AUDITOR, Role.BANK_LIAISON):
        console = web_login(web_user(role))
        assert console.get("/accounts").status_code == 403, role
        refused = console.post("/accounts", {"username": "x1", "role": "admin", "org": "center"})
        assert refused.status_code == 403, role


def test_an_unknown_address_gets_the_consoles_page_not_json(web_user: MakeUser, web_login: LoginAs,
                                                            web_anonymous: TestClient) -> None:
    console = web_login(web_user(Role.DUTY_OFFICER))
    page = console.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    doc = parse(page.text)
    assert doc.find("h1").text() == "找不到该页面"
    assert "案件" in doc.find("nav", cls="mainnav").text()  # the reader's navigation is still there
    api = web_anonymous.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"] == "not_found"
    assert "/api/v1/no-such-thing" in api.json()["message"]
