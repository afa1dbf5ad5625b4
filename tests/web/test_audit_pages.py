"""The audit log in the console: an auditor lands on it, filters it, pages through it and checks the chain;
roles that may not read it are refused."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.storage.db import Database
from tests.web.conftest import FileCase, LoginAs, MakeUser
from tests.web.pages import parse

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_an_auditor_lands_on_the_audit_log_and_sees_a_cases_entries_in_shanghai_time(
        web_user: MakeUser, web_login: LoginAs, web_file_case: FileCase, web_db: Database) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    number = web_file_case(officer)
    auditor = web_user(Role.AUDITOR)
    console = web_login(auditor)
    home = console.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/audit"
    page = console.get(f"/audit?object_id={number}")
    assert page.status_code == 200
    doc = parse(page.text)
    rows = doc.find("table", cls="audit").find_all("tr")[1:]
    assert rows, "the case's entries are listed"
    texts = [r.text() for r in rows]
    assert all(number in t for t in texts)
    assert any("report.created" in t and officer.username in t for t in texts), texts
    with web_db.read() as session:
        at = session.execute(select(AuditEntry.at).where(AuditEntry.object_id == number,
                                                         AuditEntry.action == "report.created")).scalar_one()
    assert at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in " ".join(texts)  # stored UTC, shown Shanghai
    nav = doc.find("nav", cls="mainnav").text()
    assert "审计日志" in nav and "案件" not in nav  # an auditor sees no case list


def test_the_log_pages_back_through_older_entries(web_user: MakeUser, web_login: LoginAs,
                                                  web_file_case: FileCase) -> None:
    officer = web_user(Role.DUTY_OFFICER)
    for _ in range(110):  # one entry per report: more than one page of 100
        web_file_case(officer)
    console = web_login(web_user(Role.AUDITOR))
    first = parse(console.get("/audit").text)
    older = first.find("a", rel="next").attrs["href"]
    second = parse(console.get(older).text)
    ids_first = {r.attrs["id"] for r in first.find("table", cls="audit").find_all("tr")[1:]}
    ids_second = {r.attrs["id"] for r in second.find("table", cls="audit").find_all("tr")[1:]}
    assert len(ids_first) == 100 and ids_second and not ids_first & ids_second
    newest_first = sorted(int(i.removeprefix("audit-")) for i in ids_first)
    assert max(int(i.removeprefix("audit-")) for i in ids_second) < newest_first[0]


def test_checking_the_chain_says_intact_and_then_where_it_was_tampered(
        web_user: MakeUser, web_login: LoginAs, web_db: Database, web_file_case: FileCase) -> None:
    web_file_case(web_user(Role.DUTY_OFFICER))
    console = web_login(web_user(Role.AUDITOR))
    intact = parse(console.get("/audit?verify=1").text).by_id("audit-verify")
    assert "完整" in intact.text() and "ok" in intact.classes
    with web_db.transaction() as session:  # someone edits a sealed entry behind the application's back
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(details='{"forged": true}'))
    broken = parse(console.get("/audit?verify=1").text).by_id("audit-verify")
    assert "error" in broken.classes and "2" in broken.text()


def test_the_english_console_speaks_english(web_user: MakeUser, web_login: LoginAs) -> None:
    console = web_login(web_user(Role.AUDITOR))
    console.get("/ui/lang/en?next=/audit")
    doc = parse(console.get("/audit?verify=1").text)
    assert doc.find("h1").text().startswith("Audit log")
    assert "intact" in doc.by_id("audit-verify").text()


def test_roles_that_may_not_read_the_log_are_refused(web_user: MakeUser, web_login: LoginAs) -> None:
    for role in (Role.DUTY_OFFICER, Role.BANK_LIAISON, Role.CALLBACK_AGENT, Role.ADMIN):
        console = web_login(web_user(role))
        assert console.get("/audit").status_code == 403, role
    supervisor = web_login(web_user(Role.SUPERVISOR))
    assert supervisor.get("/audit").status_code == 200
