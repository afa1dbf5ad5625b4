"""The live-watch API on SQLite and PostgreSQL: carriers post call events over HTTP, officers keep the flagged
list (audited), the duty officer reads the warnings; roles are enforced and every 4xx says why."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.app import create_app
from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.outreach import flash
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal, Principal
from tests.outreach.conftest import T0, Spy, fresh_mobile


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, watch_minutes=0, flagged_reload_s=0.01)


def _events(call_id: str, caller: str, callee: str, **extra: object) -> list[dict[str, object]]:
    answered = T0 + timedelta(seconds=6)
    return [{"kind": "setup", "call_id": call_id, "at": T0.isoformat(), "caller": caller, "callee": callee, **extra},
            {"kind": "answer", "call_id": call_id, "at": answered.isoformat(), "caller": caller, "callee": callee,
             **extra}]


def _flag(officer: Principal, number: str, **body: object) -> dict[str, object]:
    response = officer.client.put(f"/api/v1/outreach/flagged-numbers/{number}",
                                  json={"reason": "涉诈号码，案件关联", **body})
    assert response.status_code in (200, 201), response.text
    data: dict[str, object] = response.json()
    return data


def test_call_events_over_http_warn_the_victim(principal: MakePrincipal, db: Database, open_task: Spy) -> None:
    officer, carrier = principal(Role.DUTY_OFFICER), principal(Role.CARRIER_LIAISON)
    scammer, victim, bystander = fresh_mobile("170"), fresh_mobile(), fresh_mobile()
    flagged = _flag(officer, scammer, fraud_type="冒充公检法及政府机关", case_number="SH20261125-000123")
    assert flagged["fraud_type"] == "impersonate_authority" and flagged["active"] is True
    response = carrier.client.post("/api/v1/outreach/call-events", json={
        "events": _events("h1", scammer, victim) + _events("h2", bystander, victim)})
    assert response.status_code == 200, response.text
    assert response.json() == {"events": 4, "watched": 2, "warned": 1, "ended_first": 0}
    again = carrier.client.post("/api/v1/outreach/call-events", json={"events": _events("h1", scammer, victim)})
    assert again.json()["warned"] == 0  # the same call is never warned twice
    warnings = officer.client.get("/api/v1/outreach/warnings").json()["items"]
    assert [(w["number"], w["call_id"], w["status"]) for w in warnings] == [(victim, "h1", "queued")]
    assert warnings[0]["text"] == flash.text_for("impersonate_authority")
    assert warnings[0]["callback_task_id"] is not None
    one = officer.client.get(f"/api/v1/outreach/warnings/{warnings[0]['id']}").json()
    assert one["id"] == warnings[0]["id"] and one["final"] is False
    summary = officer.client.get("/api/v1/outreach/warnings/summary").json()
    assert summary["total"] == 1 and summary["by_status"]["queued"] == 1 and summary["waiting"] == 1
    calls = officer.client.get("/api/v1/outreach/watched-calls", params={"subscriber": victim}).json()["items"]
    assert [(c["call_id"], c["status"], c["carrier"]) for c in calls] == [("h1", "warned", "CMCC")]
    agent = principal(Role.CALLBACK_AGENT)
    assert agent.client.get("/api/v1/outreach/warnings", params={"number": victim}).json()["items"][0]["id"] \
        == warnings[0]["id"]
    assert officer.client.get("/api/v1/outreach/warnings/999999").status_code == 404


def test_the_flagged_list_is_kept_by_officers_and_audited(principal: MakePrincipal, db: Database) -> None:
    officer, supervisor = principal(Role.DUTY_OFFICER), principal(Role.SUPERVISOR)
    number = fresh_mobile("170")
    national = number[3:]
    created = officer.client.put(f"/api/v1/outreach/flagged-numbers/{national}", json={"reason": "刷单诈骗号码"})
    assert created.status_code == 201 and created.json()["number"] == number  # normalised to E.164
    updated = supervisor.client.put(f"/api/v1/outreach/flagged-numbers/{number}",
                                    json={"reason": "刷单诈骗号码", "fraud_type": "task_rebate"})
    assert updated.status_code == 200 and updated.json()["fraud_type"] == "task_rebate"
    listed = officer.client.get("/api/v1/outreach/flagged-numbers").json()["items"]
    assert number in [i["number"] for i in listed]
    assert officer.client.delete(f"/api/v1/outreach/flagged-numbers/{number}").status_code == 204
    assert officer.client.delete(f"/api/v1/outreach/flagged-numbers/{number}").status_code == 404
    assert number not in [i["number"] for i in officer.client.get("/api/v1/outreach/flagged-numbers").json()["items"]]
    everything = officer.client.get("/api/v1/outreach/flagged-numbers", params={"all": "true"}).json()["items"]
    assert [i["active"] for i in everything if i["number"] == number] == [False]
    assert officer.client.put(f"/api/v1/outreach/flagged-numbers/{number}",
                              json={"reason": "再次标记"}).status_code == 201  # active again
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == number)
                                  .order_by(AuditEntry.id)).all()
    assert actions == ["outreach.flagged_put", "outreach.flagged_put", "outreach.flagged_removed",
                       "outreach.flagged_put"]


def test_roles_and_every_4xx_says_why(principal: MakePrincipal) -> None:
    officer, carrier = principal(Role.DUTY_OFFICER), principal(Role.CARRIER_LIAISON)
    agent, bank = principal(Role.CALLBACK_AGENT), principal(Role.BANK_LIAISON)
    number, victim = fresh_mobile("170"), fresh_mobile()
    body = {"events": _events("q1", number, victim)}
    assert agent.client.post("/api/v1/outreach/call-events", json=body).status_code == 403
    assert bank.client.get("/api/v1/outreach/warnings").status_code == 403
    assert carrier.client.put(f"/api/v1/outreach/flagged-numbers/{number}",
                              json={"reason": "不可以"}).status_code == 403
    other = carrier.client.post("/api/v1/outreach/call-events",
                                json={"events": _events("q2", number, victim, carrier="CUCC")})
    assert other.status_code == 403 and "CMCC" in other.json()["message"]
    naive = _events("q3", number, victim)
    naive[0]["at"] = "2026-11-25T09:30:00"
    for events, where in ((naive, "at"), (_events("q4", "13812345678", victim), "caller"),
                          (_events("bad id!", number, victim), "call_id")):
        response = carrier.client.post("/api/v1/outreach/call-events", json={"events": events})
        assert response.status_code == 422 and where in response.text, response.text
    assert carrier.client.post("/api/v1/outreach/call-events", json={"events": []}).status_code == 422
    bad_type = officer.client.put(f"/api/v1/outreach/flagged-numbers/{number}",
                                  json={"reason": "涉诈", "fraud_type": "no such type"})
    assert bad_type.status_code == 422 and "fraud_type" in bad_type.text
    assert officer.client.put("/api/v1/outreach/flagged-numbers/110", json={"reason": "涉诈"}).status_code == 422
    assert officer.client.put("/api/v1/outreach/flagged-numbers/not-a-number",
                              json={"reason": "涉诈"}).status_code == 422


def test_a_running_server_picks_up_list_changes_without_a_restart(settings: Settings, db: Database,
                                                                   principal: MakePrincipal, open_task: Spy) -> None:
    officer, carrier = principal(Role.DUTY_OFFICER), principal(Role.CARRIER_LIAISON)
    scammer = fresh_mobile("170")
    with TestClient(create_app(settings, db), headers=carrier.client.headers) as server:
        def post(call_id: str) -> dict[str, int]:
            response = server.post("/api/v1/outreach/call-events",
                                   json={"events": _events(call_id, scammer, fresh_mobile())})
            assert response.status_code == 200, response.text
            counts: dict[str, int] = response.json()
            return counts

        assert post("u1")["watched"] == 0
        with TestClient(create_app(settings, db), headers=officer.client.headers) as other_server:
            assert other_server.put(f"/api/v1/outreach/flagged-numbers/{scammer}",
                                    json={"reason": "另一台服务器标记"}).status_code == 201
        time.sleep(0.05)  # flagged_reload_s is 0.01 here (1 s by default)
        assert post("u2")["warned"] == 1  # changed by another server: this one reloaded by itself
        assert server.delete(f"/api/v1/outreach/flagged-numbers/{scammer}").status_code == 403  # a carrier may not
        assert officer.client.delete(f"/api/v1/outreach/flagged-numbers/{scammer}").status_code == 204
        time.sleep(0.05)
        assert post("u3")["watched"] == 0
