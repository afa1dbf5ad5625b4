"""The carrier API: officers request and read, a supervisor approves, a carrier liaison sees and answers only its
own carrier's instructions (anyone else gets the same 404 as for a missing one), and every 4xx says why."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from fanzha.telecom.carriers.models import CarrierInstruction
from tests.conftest import MakePrincipal, Principal
from tests.helpers import report
from tests.sim.simcarriers import fresh_number


def _case(officer: Principal) -> str:
    response = officer.client.post("/api/v1/reports", json=report(transfers=[]))
    assert response.status_code == 201, response.text
    number: str = response.json()["number"]
    return number


def _request(officer: Principal, case: str, numbers: list[str], **extra: Any) -> dict[str, Any]:
    response = officer.client.post("/api/v1/telecom/actions", json={
        "case_number": case, "numbers": numbers, "reason": "电信网络诈骗涉案号码", **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_officer_requests_actions_and_reads_them_back(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    case = _case(officer)
    cmcc, mvno = fresh_number("138"), fresh_number("1705")
    body = _request(officer, case, [cmcc, "021 6234 5678", mvno])  # a fixed line: no carrier known -> intercepts
    assert body["needs_supervisor"] is False and body["existing"] == []
    assert [(i["number"], i["action"], i["carrier"], i["status"]) for i in body["items"]] == [
        (cmcc, "shutdown", "CMCC", "queued"), ("+862162345678", "intercept", "CMCC", "queued"),
        ("+862162345678", "intercept", "CUCC", "queued"), ("+862162345678", "intercept", "CTCC", "queued"),
        (mvno, "block", "CMCC", "queued")]
    assert {i["case"] for i in body["items"]} == {case}
    again = officer.client.post("/api/v1/telecom/actions", json={"case_number": case, "numbers": [cmcc],
                                                                "reason": "再次下达"})
    assert again.status_code == 200 and again.json()["items"] == []  # standing: not asked twice
    assert [i["id"] for i in again.json()["existing"]] == [body["items"][0]["id"]]
    listed = officer.client.get("/api/v1/telecom/actions", params={"case_number": case}).json()["items"]
    assert sorted(i["id"] for i in listed) == sorted(i["id"] for i in body["items"])
    by_number = officer.client.get("/api/v1/telecom/actions", params={"number": "138" + cmcc[6:]}).json()["items"]
    assert [i["number"] for i in by_number] == [cmcc]
    route = officer.client.get(f"/api/v1/telecom/routes/{mvno}").json()
    assert route["route"]["carrier"] == "CMCC" and route["route"]["virtual"] is True
    assert route["library"]["source"] == "library"


def test_every_4xx_says_what_was_wrong(principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    case = _case(officer)

    def post(**body: Any) -> tuple[int, dict[str, Any]]:
        response = officer.client.post("/api/v1/telecom/actions", json={
            "case_number": case, "numbers": [fresh_number("138")], "reason": "涉诈", **body})
        return response.status_code, response.json()

    status, body = post(numbers=["12345"])
    assert (status, body["field"]) == (422, "numbers.0") and "service number" in body["message"]
    status, body = post(numbers=[fresh_number("138"), "not a phone"])
    assert (status, body["field"]) == (422, "numbers.1") and "not a phone number" in body["message"]
    status, body = post(case_number="SH20990101-999999")
    assert status == 404 and "SH20990101-999999" in body["message"]
    status, body = post(case_number="case-1")
    assert status == 422 and body["errors"][0]["field"] == "case_number"
    status, body = post(action="intercept", intercept_at=["att"])
    assert status == 422 and body["errors"][0]["field"] == "intercept_at.0"
    status, body = post(action="intercept", intercept_at=["CBN", "XYZ"])
    assert (status, body["field"]) == (422, "intercept_at") and "XYZ" in body["message"]
    status, body = post(action="shutdown", numbers=["+14155550100"])
    assert status == 422 and "only an intercept" in body["message"]
    status, body = post(reason="x\x07y")
    assert status == 422 and body["errors"][0]["field"] == "reason"
    status, body = post(numbers=[])
    assert status == 422 and body["errors"][0]["field"] == "numbers"
    status, body = post(action="erase")
    assert status == 422 and body["errors"][0]["field"] == "action"
    for role in (Role.HOTLINE_OPERATOR, Role.BANK_LIAISON, Role.CARRIER_LIAISON, Role.AUDITOR):
        refused = principal(role).client.post("/api/v1/telecom/actions", json={
            "case_number": case, "numbers": [fresh_number("138")], "reason": "涉诈"})
        assert refused.status_code == 403 and "duty officers and supervisors" in refused.json()["message"]


def test_a_large_batch_is_approved_by_a_supervisor_only(principal: MakePrincipal, settings: Settings,
                                                         db: Database) -> None:
    officer = principal(Role.DUTY_OFFICER)
    case = _case(officer)
    numbers = [fresh_number("136") for _ in range(settings.carrier_supervisor_batch + 1)]
    body = _request(officer, case, numbers)
    assert body["needs_supervisor"] is True and {i["status"] for i in body["items"]} == {"pending_approval"}
    batch = body["batch"]
    refused = officer.client.post(f"/api/v1/telecom/batches/{batch}/approve")
    assert refused.status_code == 403 and "supervisor" in refused.json()["message"]
    supervisor = principal(Role.SUPERVISOR)
    unknown = supervisor.client.post("/api/v1/telecom/batches/no-such-batch/approve")
    assert unknown.status_code == 404 and "no-such-batch" in unknown.json()["message"]
    # A carrier liaison sees nothing of a batch nobody has sent yet.
    liaison = principal(Role.CARRIER_LIAISON, "carrier:CMCC")
    assert liaison.client.get("/api/v1/telecom/carrier/inbox").json()["items"] == []
    assert liaison.client.get(f"/api/v1/telecom/actions/{body['items'][0]['id']}").status_code == 404
    approved = supervisor.client.post(f"/api/v1/telecom/batches/{batch}/approve")
    assert approved.status_code == 200 and len(approved.json()["approved"]) == len(numbers)
    twice = supervisor.client.post(f"/api/v1/telecom/batches/{batch}/approve")
    assert twice.status_code == 409 and "awaits approval" in twice.json()["message"]
    no_reason = supervisor.client.post(f"/api/v1/telecom/batches/{batch}/decline", json={})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    with db.read() as session:
        rows = session.execute(select(CarrierInstruction.status)).scalars().all()
    assert set(rows) == {"queued"}


# role -> expected status for reading one CMCC instruction
READ_MATRIX = {Role.DUTY_OFFICER: 200, Role.SUPERVISOR: 200, Role.HOTLINE_OPERATOR: 404, Role.BANK_LIAISON: 404,
               Role.CALLBACK_AGENT: 404, Role.AUDITOR: 404, Role.ADMIN: 404}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_may_read_a_carrier_instruction(role: Role, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    item = _request(officer, _case(officer), [fresh_number("138")])["items"][0]
    if role is Role.CARRIER_LIAISON:
        own, other = principal(role, "carrier:CMCC"), principal(role, "carrier:CUCC")
        assert own.client.get(f"/api/v1/telecom/actions/{item['id']}").status_code == 200
        missing = other.client.get(f"/api/v1/telecom/actions/{item['id']}")
        assert missing.status_code == 404 and missing.json() == other.client.get(
            "/api/v1/telecom/actions/99999999").json() | {"message": f"no carrier instruction {item['id']}"}
        return
    caller = principal(role)
    assert caller.client.get(f"/api/v1/telecom/actions/{item['id']}").status_code == READ_MATRIX[role]


def test_a_carrier_liaison_sees_only_its_own_carriers_instructions_and_the_read_is_audited(
        principal: MakePrincipal, db: Database) -> None:
    officer = principal(Role.DUTY_OFFICER)
    case = _case(officer)
    cmcc_number, cucc_number = fresh_number("138"), fresh_number("186")
    items = _request(officer, case, [cmcc_number, cucc_number])["items"]
    cmcc, cucc = principal(Role.CARRIER_LIAISON, "carrier:CMCC"), principal(Role.CARRIER_LIAISON, "carrier:CUCC")
    mvno_liaison = principal(Role.CARRIER_LIAISON, "mvno:JD")
    assert [i["number"] for i in cmcc.client.get("/api/v1/telecom/carrier/inbox").json()["items"]] == [cmcc_number]
    assert [i["number"] for i in cucc.client.get("/api/v1/telecom/carrier/inbox").json()["items"]] == [cucc_number]
    assert mvno_liaison.client.get("/api/v1/telecom/carrier/inbox").json()["items"] == []
    assert cucc.client.get(f"/api/v1/telecom/actions/{items[0]['id']}").status_code == 404
    for role in (Role.BANK_LIAISON, Role.DUTY_OFFICER, Role.HOTLINE_OPERATOR):
        refused = principal(role).client.get("/api/v1/telecom/carrier/inbox")
        assert refused.status_code == 403 and "carrier's liaison" in refused.json()["message"]
    for role in (Role.CARRIER_LIAISON, Role.BANK_LIAISON):
        assert principal(role).client.get("/api/v1/telecom/actions").status_code == 403
        assert principal(role).client.get(f"/api/v1/telecom/routes/{cmcc_number}").status_code == 403
    with db.read() as session:
        reads = session.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "carrier.inbox_read").order_by(AuditEntry.id)).all()
    assert (reads[0].actor, reads[0].details) == (cmcc.actor.username, f'{{"returned":[{items[0]["id"]}]}}')


def test_a_liaison_answers_by_hand_for_its_carrier_only(principal: MakePrincipal, settings: Settings,
                                                         db: Database) -> None:
    hand = settings.model_copy(update={"hand_answered_carriers": ("CMCC",)})
    officer = principal(Role.DUTY_OFFICER)
    case = _case(officer)
    number = fresh_number("138")
    from fastapi.testclient import TestClient

    from fanzha.app import create_app

    with TestClient(create_app(hand, db), headers={"Authorization": f"Bearer {officer.token}"}) as client:
        made = client.post("/api/v1/telecom/actions", json={"case_number": case, "numbers": [number],
                                                             "reason": "涉诈号码"})
        assert made.status_code == 201 and made.json()["items"][0]["status"] == "sent"
        item = made.json()["items"][0]
        cmcc = principal(Role.CARRIER_LIAISON, "carrier:CMCC")
        cucc = principal(Role.CARRIER_LIAISON, "carrier:CUCC")

        def answer(p: Principal, **body: Any) -> tuple[int, dict[str, Any]]:
            response = client.post(f"/api/v1/telecom/actions/{item['id']}/answer", json=body,
                                   headers={"Authorization": f"Bearer {p.token}"})
            return response.status_code, response.json()

        assert answer(cucc, status="done")[0] == 404
        assert answer(officer, status="done")[0] == 403
        status, body = answer(cmcc, status="refused")
        assert (status, body["field"]) == (422, "reason") and "reason" in body["message"]
        status, body = answer(cmcc, status="not_ours", true_carrier="ATT")
        assert (status, body["field"]) == (422, "true_carrier")
        status, body = answer(cmcc, status="maybe")
        assert status == 422 and body["errors"][0]["field"] == "status"
        status, body = answer(cmcc, status="not_ours", true_carrier="CUCC", reason="已携号转网")
        assert (status, body) == (200, {"status": "not_ours", "rerouted_to": "CUCC"})
        status, body = answer(cmcc, status="done")
        assert status == 409 and "not_ours" in body["message"]
        inbox = cmcc.client.get("/api/v1/telecom/carrier/inbox").json()["items"]
        assert [(i["status"], i["by_hand"]) for i in inbox] == [("not_ours", True)]
        rerouted = cucc.client.get("/api/v1/telecom/carrier/inbox").json()["items"]
        assert [(i["carrier"], i["rerouted_from"], i["status"]) for i in rerouted] == [("CUCC", item["id"], "queued")]
