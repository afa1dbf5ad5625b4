"""The callback queue's HTTP API on SQLite and PostgreSQL: every role against every endpoint, the telecom
analysis's potential victims becoming tasks, and an agent's call from claim to outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.outreach import callbacks as cb
from fanzha.outreach import reasons as why
from fanzha.outreach.reasons import ReasonCode
from fanzha.storage.db import Database
from fanzha.telecom.victims import FlaggedNumber, Grade, PotentialVictim, VictimsReport
from tests.conftest import MakePrincipal

R = Role
WORK = {R.CALLBACK_AGENT: 200, R.SUPERVISOR: 200}
READ = {**WORK, R.DUTY_OFFICER: 200}
OPEN = {R.DUTY_OFFICER: 201, R.SUPERVISOR: 201}
HIDDEN = {R.BANK_LIAISON: 404, R.CARRIER_LIAISON: 404}
Call = Callable[[TestClient, int], Response]
NOW = datetime.now(UTC)


def report_json(*victims: PotentialVictim, number: str = "+85261234567") -> dict[str, Any]:
    """What `fanzha telecom victims --json` prints."""
    flagged = FlaggedNumber(number=number, calls_out=len(victims), victims=list(victims),
                            grades={g: sum(1 for v in victims if v.grade == g) for g in Grade})
    report = VictimsReport(since=None, until=None, now=NOW, flagged=[flagged])
    data: dict[str, Any] = json.loads(report.model_dump_json())
    return data


def victim(number: str, grade: Grade, *, still: bool = False) -> PotentialVictim:
    return PotentialVictim(number=number, grade=grade, action="call", reasons=["a 12 min call"], calls=1,
                           calls_from_flagged=1, calls_to_flagged=0, answered=1, talk_s=720, longest_s=720,
                           first_call=NOW - timedelta(minutes=30), last_call=NOW - timedelta(minutes=30),
                           still_connected=still)


# In order: each role runs the whole list against a fresh task, so later calls see earlier ones' effects.
ENDPOINTS: list[tuple[str, Call, dict[Role, int]]] = [
    ("GET /callbacks", lambda c, t: c.get("/api/v1/callbacks"), READ),
    ("GET /callbacks/stats", lambda c, t: c.get("/api/v1/callbacks/stats"), READ),
    ("GET /callbacks/{id}", lambda c, t: c.get(f"/api/v1/callbacks/{t}"), READ),
    ("POST /callbacks", lambda c, t: c.post("/api/v1/callbacks", json={
        "phone": "13900000009", "grade": "high", "reason": "市民来电称正与自称公安的人通话"}), OPEN),
    ("POST /callbacks/from-victims", lambda c, t: c.post("/api/v1/callbacks/from-victims", json=report_json(
        victim("+8613900000010", Grade.MEDIUM))), OPEN),
    ("POST /callbacks/claim-next", lambda c, t: c.post("/api/v1/callbacks/claim-next"), WORK),
    ("POST /callbacks/{id}/claim", lambda c, t: c.post(f"/api/v1/callbacks/{t}/claim"), WORK),
    ("POST /callbacks/{id}/heartbeat", lambda c, t: c.post(f"/api/v1/callbacks/{t}/heartbeat"), WORK),
    ("POST /callbacks/{id}/release", lambda c, t: c.post(f"/api/v1/callbacks/{t}/release"), WORK),
    ("POST /callbacks/{id}/claim again", lambda c, t: c.post(f"/api/v1/callbacks/{t}/claim"), WORK),
    ("POST /callbacks/{id}/outcome", lambda c, t: c.post(f"/api/v1/callbacks/{t}/outcome",
                                                         json={"outcome": "dissuaded"}), WORK),
]


@pytest.fixture
def on_call_task(db: Database) -> int:
    with db.transaction() as session:
        return cb.open_task(session, phone="+8613800000001", grade="high", source="watcher",
                            reason="on a call with +85261234567 for 5 min", now=NOW, on_call_now=True,
                            fraud_type="impersonate_authority", dedupe_key="call-1").id


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_against_every_callback_endpoint(role: Role, principal: MakePrincipal, on_call_task: int) -> None:
    caller = principal(role)
    failures = []
    for name, call, expected in ENDPOINTS:
        want = expected.get(role, HIDDEN.get(role, 403))
        res = call(caller.client, on_call_task)
        if res.status_code != want:
            failures.append(f"{name}: expected {want}, got {res.status_code} {res.text[:200]}")
        elif want >= 400:
            assert res.json()["message"], f"{name}: a refusal must say why"
    assert not failures, "\n".join(failures)


def test_unauthenticated_calls_are_401(app_client: TestClient, on_call_task: int) -> None:
    for name, call, _ in ENDPOINTS:
        assert call(app_client, on_call_task).status_code == 401, name


def test_from_potential_victims_to_a_dissuaded_person(principal: MakePrincipal, db: Database) -> None:
    duty = principal(R.DUTY_OFFICER)
    agent = principal(R.CALLBACK_AGENT)
    body = report_json(victim("+8613900000001", Grade.MEDIUM), victim("+8613900000002", Grade.HIGH, still=True),
                       victim("+8613900000003", Grade.LOW))
    opened = duty.client.post("/api/v1/callbacks/from-victims", json={**body, "fraud_type": "冒充公检法及政府机关",
                                                                      "min_grade": "medium"})
    assert opened.status_code == 201, opened.text
    result = opened.json()
    assert [t["phone"] for t in result["opened"]] == ["+8613900000001", "+8613900000002"]
    assert result["skipped"] == 1
    again = duty.client.post("/api/v1/callbacks/from-victims", json={**body, "min_grade": "medium"}).json()
    assert again["opened"] == [] and len(again["existing"]) == 2

    queue = agent.client.get("/api/v1/callbacks").json()
    assert [t["phone"] for t in queue["ready"]] == ["+8613900000002", "+8613900000001"]
    claimed = agent.client.post("/api/v1/callbacks/claim-next").json()["task"]
    assert claimed["phone"] == "+8613900000002" and claimed["on_call"] is True
    assert claimed["script"]["title_zh"] == "冒充公检法及政府机关"
    assert any("安全账户" in p["zh"] for p in claimed["script"]["points"])
    assert "96110" in claimed["script"]["opening"]["zh"]
    detail = duty.client.get(f"/api/v1/callbacks/{claimed['id']}").json()
    assert detail["claimed_by"] == agent.actor.username and detail["lease_live"] is True
    done = agent.client.post(f"/api/v1/callbacks/{claimed['id']}/outcome",
                             json={"outcome": "dissuaded", "note": "已挂断对方电话"})
    assert done.status_code == 200 and done.json()["status"] == "dissuaded" and done.json()["closed"]
    log = duty.client.get(f"/api/v1/callbacks/{claimed['id']}").json()["attempts_log"]
    assert [(a["outcome"], a["agent"], a["note"]) for a in log] == [
        ("dissuaded", agent.actor.username, "已挂断对方电话")]
    stats = duty.client.get("/api/v1/callbacks/stats").json()
    assert stats["dissuaded"] == 1 and stats["counts"]["open"] == 1
    assert agent.client.post("/api/v1/callbacks/claim-next").json()["task"]["phone"] == "+8613900000001"


def test_already_paid_over_the_api_opens_a_case_the_duty_officer_reads(principal: MakePrincipal,
                                                                       on_call_task: int, db: Database) -> None:
    agent = principal(R.CALLBACK_AGENT)
    duty = principal(R.DUTY_OFFICER)
    assert agent.client.post(f"/api/v1/callbacks/{on_call_task}/claim").status_code == 200
    paid = agent.client.post(f"/api/v1/callbacks/{on_call_task}/outcome", json={"outcome": "paid"})
    assert paid.status_code == 200, paid.text
    number = paid.json()["report_case_number"]
    case = duty.client.get(f"/api/v1/cases/{number}").json()
    assert case["fraud_type"]["code"] == "impersonate_authority"
    assert [p["phone"] for p in case["parties"] if p["role"] == "victim"] == ["+8613800000001"]
    listed = duty.client.get("/api/v1/cases").json()
    assert number in json.dumps(listed)
    with db.read() as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.action == "callback.outcome")).scalar_one()
    assert entry.actor == agent.actor.username and number in entry.details


def test_refusals_say_what_is_wrong(principal: MakePrincipal, on_call_task: int) -> None:
    agent = principal(R.CALLBACK_AGENT)
    other = principal(R.CALLBACK_AGENT)
    assert agent.client.post(f"/api/v1/callbacks/{on_call_task}/outcome",
                             json={"outcome": "dissuaded"}).status_code == 409
    agent.client.post(f"/api/v1/callbacks/{on_call_task}/claim")
    taken = other.client.post(f"/api/v1/callbacks/{on_call_task}/claim")
    assert taken.status_code == 409 and "another agent" in taken.json()["message"]
    refused = agent.client.post(f"/api/v1/callbacks/{on_call_task}/outcome", json={"outcome": "refused"})
    assert refused.status_code == 422 and refused.json()["field"] == "station"
    visit = agent.client.post(f"/api/v1/callbacks/{on_call_task}/outcome",
                              json={"outcome": "refused", "station": "station:XUHUI"})
    assert visit.json()["status"] == "visit" and visit.json()["station"]["code"] == "station:XUHUI"
    assert agent.client.get("/api/v1/callbacks/999999").status_code == 404
    bad = principal(R.DUTY_OFFICER).client.post("/api/v1/callbacks", json={"phone": "12", "reason": "xx"})
    assert bad.status_code == 422


def test_the_api_gives_the_reasons_as_codes_beside_the_text(principal: MakePrincipal, db: Database) -> None:
    """`reason` stays the English text for old clients; `reasons` are the codes the console translates."""
    duty = principal(R.DUTY_OFFICER)
    graded = victim("+8613900000011", Grade.HIGH).model_copy(update={"structured_reasons": [
        why.reason(ReasonCode.LONG_CALL, flagged="+85261234567", longest_s=720)]})
    opened = duty.client.post("/api/v1/callbacks/from-victims", json=report_json(graded))
    assert opened.status_code == 201, opened.text
    task_id = opened.json()["opened"][0]["id"]
    detail = duty.client.get(f"/api/v1/callbacks/{task_id}").json()
    assert detail["reason"] == "called by +85261234567: a 12 min call"
    assert detail["reasons"] == [{"code": "long_call", "params": {"flagged": "+85261234567", "longest_s": 720}}]
    queue = duty.client.get("/api/v1/callbacks").json()
    assert next(t for t in queue["ready"] if t["id"] == task_id)["reasons"] == detail["reasons"]

    typed = duty.client.post("/api/v1/callbacks", json={"phone": "13900000012", "reason": "市民来电求助"}).json()
    assert typed["reasons"] == [{"code": "text", "params": {"text": "市民来电求助"}}]

    # a code the console could not say is refused at the door, naming where
    bad = report_json(graded)
    bad["flagged"][0]["victims"][0]["structured_reasons"] = [{"code": "made_up", "params": {}}]
    refused = duty.client.post("/api/v1/callbacks/from-victims", json=bad)
    assert refused.status_code == 422 and "structured_reasons" in refused.text


@pytest.mark.parametrize("case_number", ["zzz", " ", "SH2026-1", "sh20261125-000123"])
def test_a_task_names_a_case_by_its_number_or_not_at_all(principal: MakePrincipal, db: Database,
                                                         case_number: str) -> None:
    # Any text was stored as the task's case number (and shown to the agent as one).
    duty = principal(R.DUTY_OFFICER)
    by_hand = duty.client.post("/api/v1/callbacks", json={"phone": "+8613900000009", "reason": "called by fraud",
                                                           "case_number": case_number})
    assert by_hand.status_code == 422 and by_hand.json()["errors"][0]["field"] == "case_number", by_hand.text
    body = report_json(victim("+8613900000001", Grade.HIGH))
    listed = duty.client.post("/api/v1/callbacks/from-victims", json={**body, "case_number": case_number})
    assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "case_number", listed.text
    with db.read() as session:
        assert session.execute(select(cb.CallbackTask)).first() is None
