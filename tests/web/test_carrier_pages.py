"""Console pages of the carrier channel: a carrier liaison's inbox (only its own carrier's instructions, answered
by hand), and the official-numbers list a supervisor keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.banking.first_move import center_signer
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.telecom.carriers import actions
from fanzha.telecom.carriers.models import CarrierInstruction
from tests.sim.simcarriers import fresh_number
from tests.web.conftest import FileCase, LoginAs, MakeUser, WebUser
from tests.web.pages import parse

HAND = actions.CarrierPolicy(hand_answered=frozenset({"CMCC", "CUCC"}))


def _instructions(db: Database, settings: Settings, officer: WebUser, case_number: str,
                  numbers: list[str]) -> list[int]:
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == case_number)).scalar_one()
        result = actions.request_actions(session, officer.actor, case_id=case_id, case_number=case_number,
                                         numbers=numbers, action="auto", intercept_at=None, reason="涉诈号码，请停机",
                                         now=datetime.now(UTC), signer=center_signer(settings), policy=HAND)
        return [i.id for i in result.created]


def _status(db: Database, instruction_id: int) -> str:
    with db.read() as session:
        row = session.get(CarrierInstruction, instruction_id)
        assert row is not None
        return row.status


@pytest.fixture
def two_carriers(web_db: Database, web_settings: Settings, web_user: MakeUser,
                 web_file_case: FileCase) -> tuple[str, str, int, int]:
    officer = web_user(Role.DUTY_OFFICER)
    case = web_file_case(officer)
    cmcc_number, cucc_number = fresh_number("138"), fresh_number("186")
    cmcc_id, cucc_id = _instructions(web_db, web_settings, officer, case, [cmcc_number, cucc_number])
    return cmcc_number, cucc_number, cmcc_id, cucc_id


def test_a_liaison_sees_only_its_carriers_instructions_and_answers_one(
        web_user: MakeUser, web_login: LoginAs, web_db: Database, two_carriers: tuple[str, str, int, int]) -> None:
    cmcc_number, cucc_number, cmcc_id, _ = two_carriers
    liaison = web_user(Role.CARRIER_LIAISON, "carrier:CMCC")
    console = web_login(liaison)
    page = console.get("/carrier/inbox")
    assert page.status_code == 200
    doc = parse(page.text)
    table = doc.find("table", cls="carrier-inbox").text()
    assert cmcc_number in table and cucc_number not in table
    assert "停机" in table and "待回复" in table and "涉诈号码，请停机" in table
    assert doc.find("a", href="/carrier/inbox").attrs.get("aria-current") == "page"
    done = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "done"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/carrier/inbox?notice=answered"
    after = parse(console.get("/carrier/inbox?notice=answered").text)
    assert "已记录回复" in after.find("p", cls="alert").text()
    assert "已执行" in after.by_id(f"instruction-{cmcc_id}").text() and "人工回复" in after.text()
    assert _status(web_db, cmcc_id) == "done"
    with web_db.read() as session:
        answered = session.execute(select(AuditEntry.actor).where(AuditEntry.action == "carrier.answer")).scalars()
        assert list(answered) == [liaison.username]


def test_not_ours_goes_on_to_the_carrier_named(web_user: MakeUser, web_login: LoginAs, web_db: Database,
                                              two_carriers: tuple[str, str, int, int]) -> None:
    cmcc_number, _, cmcc_id, _ = two_carriers
    cmcc = web_login(web_user(Role.CARRIER_LIAISON, "carrier:CMCC"))
    cmcc.get("/carrier/inbox")
    moved = cmcc.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "not_ours", "true_carrier": "CTCC"},
                      follow_redirects=False)
    assert moved.headers["location"] == "/carrier/inbox?notice=rerouted"
    assert _status(web_db, cmcc_id) == "not_ours"
    ctcc = web_login(web_user(Role.CARRIER_LIAISON, "carrier:CTCC"))
    row = parse(ctcc.get("/carrier/inbox").text).find("table", cls="carrier-inbox").text()
    assert cmcc_number in row and f"由指令 #{cmcc_id} 转来" in row


def test_refusals_stale_forms_and_other_carriers_instructions(
        web_user: MakeUser, web_login: LoginAs, web_db: Database, two_carriers: tuple[str, str, int, int]) -> None:
    _, _, cmcc_id, cucc_id = two_carriers
    console = web_login(web_user(Role.CARRIER_LIAISON, "carrier:CMCC"))
    console.get("/carrier/inbox")
    other = console.post(f"/carrier/inbox/{cucc_id}/answer", {"status": "done"})
    assert other.status_code == 404 and _status(web_db, cucc_id) == "sent"
    no_reason = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "refused", "reason": ""})
    assert no_reason.status_code == 422
    assert "拒绝时须填写原因" in parse(no_reason.text).find("p", cls="alert").text()
    bad_carrier = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "not_ours", "true_carrier": "CMCC"})
    assert bad_carrier.status_code == 422
    forged = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "done"}, csrf=False)
    assert forged.status_code == 403 and _status(web_db, cmcc_id) == "sent"
    refused = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "refused", "reason": "用户为政府专线"},
                           follow_redirects=False)
    assert refused.status_code == 303 and _status(web_db, cmcc_id) == "refused"
    stale = console.post(f"/carrier/inbox/{cmcc_id}/answer", {"status": "done"})
    assert stale.status_code == 409 and "不在待回复状态" in stale.text


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_the_inbox_page_is_for_carrier_liaisons_only(role: Role, web_user: MakeUser, web_login: LoginAs) -> None:
    response = web_login(web_user(role)).get("/carrier/inbox")
    assert response.status_code == (200 if role is Role.CARRIER_LIAISON else 403)


def test_anonymous_readers_are_sent_to_log_in(web_anonymous: TestClient) -> None:
    for path in ("/carrier/inbox", "/telecom/official-numbers"):
        response = web_anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


def test_a_supervisor_keeps_the_official_numbers_list(web_user: MakeUser, web_login: LoginAs,
                                                      web_db: Database) -> None:
    supervisor = web_user(Role.SUPERVISOR)
    console = web_login(supervisor)
    page = parse(console.get("/telecom/official-numbers").text)
    assert "96110" in page.find("table", cls="official-numbers").text()
    assert page.find("form", cls="official-add") is not None
    assert page.find("a", href="/telecom/official-numbers").text() == "官方号码库"
    added = console.post("/telecom/official-numbers", {"pattern": "021-2402 1110", "kind": "police",
                                                       "name_zh": "上海市公安局总机", "name_en": "Shanghai police"},
                         follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/telecom/official-numbers?notice=added"
    listed = parse(console.get("/telecom/official-numbers?notice=added").text)
    assert "02124021110" in listed.find("table", cls="official-numbers").text()
    duplicate = console.post("/telecom/official-numbers", {"pattern": "110", "kind": "police", "name_zh": "报警",
                                                           "name_en": "Police"})
    assert duplicate.status_code == 409 and "已在号码库中" in parse(duplicate.text).find("p", cls="alert").text()
    bad = console.post("/telecom/official-numbers", {"pattern": "12-ab", "kind": "police", "name_zh": "某",
                                                     "name_en": "x"})
    assert bad.status_code == 422 and "号码格式不正确" in bad.text and 'value="12-ab"' in bad.text
    with web_db.read() as session:
        entry_id = session.execute(select(AuditEntry.details).where(AuditEntry.action == "official.added")).scalar_one()
    row_id = int(entry_id.split('"id":')[1].split(",")[0])
    off = console.post(f"/telecom/official-numbers/{row_id}/active", {"active": "no"}, follow_redirects=False)
    assert off.status_code == 303
    row = parse(console.get("/telecom/official-numbers").text).by_id(f"official-{row_id}")
    assert "已停用" in row.text() and "inactive" in row.classes
    with web_db.read() as session:
        trail = session.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.action.in_(["official.added", "official.deactivated"])).order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in trail] == [("official.added", supervisor.username),
                                         ("official.deactivated", supervisor.username)]


def test_others_read_the_list_but_cannot_change_it(web_user: MakeUser, web_login: LoginAs) -> None:
    officer = web_login(web_user(Role.DUTY_OFFICER))
    page = parse(officer.get("/telecom/official-numbers").text)
    assert page.find_all("form", cls="official-add") == [] and "仅主管可修改" in page.text()
    refused = officer.post("/telecom/official-numbers", {"pattern": "12380", "kind": "other", "name_zh": "x",
                                                         "name_en": "x"})
    assert refused.status_code == 403
    bank = web_login(web_user(Role.BANK_LIAISON))
    assert bank.get("/telecom/official-numbers").status_code == 200
    assert "/telecom/official-numbers" not in bank.get("/cases").text  # no nav link for those who do not use it
    english = web_login(web_user(Role.SUPERVISOR))
    english.get("/ui/lang/en?next=/telecom/official-numbers")
    text = parse(english.get("/telecom/official-numbers").text).text()
    assert "Official numbers" in text and "Anti-fraud warning and dissuasion line" in text


def test_the_preset_entries_say_who_set_them_in_the_readers_language(web_user: MakeUser, web_login: LoginAs) -> None:
    """The list loaded at first use was set by the system, not by a person: said so, not the account name."""
    supervisor = web_login(web_user(Role.SUPERVISOR))
    for lang, preset in (("zh", "系统预置"), ("en", "preset")):
        supervisor.client.cookies.set("lang", lang)
        rows = parse(supervisor.get("/telecom/official-numbers").text).find("table", cls="official-numbers")
        first = rows.find("tbody").find("tr").find_all("td")[4]
        assert first.find("span", cls="muted").text() == preset
        assert "system" not in rows.text()
