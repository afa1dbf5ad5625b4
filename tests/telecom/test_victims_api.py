"""Potential victims over HTTP: graded from the CDR store the server is configured with, audited, callback tasks
opened from the list in one call, and the same refusals as the callback queue for everyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.app import create_app
from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.conftest import MakePrincipal
from tests.telecom.test_victims import FLAGGED, SINCE, UNTIL, P, hand_made_store

URL = "/api/v1/telecom/victims"
WINDOW = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}


@pytest.fixture(scope="module")
def cdr_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_store(tmp_path_factory.mktemp("victims-api"))


@pytest.fixture
def settings(db_url: str, cdr_store: Path) -> Settings:
    """The server reads the hand-made CDRs of test_victims.py as its store."""
    return Settings(database_url=db_url, cdr_dir=cdr_store)


def _grades(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["number"], v["grade"]) for v in body["victims"]]


def test_an_officer_reads_the_graded_list_and_the_read_is_audited(principal: MakePrincipal, db: Database) -> None:
    duty = principal(Role.DUTY_OFFICER)
    res = duty.client.get(URL, params={"number": FLAGGED, **WINDOW})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["number"], body["total"], body["calls_out"]) == (FLAGGED, 10, 13)
    assert _grades(body) == [(P[5], "high"), (P[6], "high"), (P[4], "high"), (P[9], "medium"), (P[3], "medium"),
                             (P[11], "low"), (P[10], "low"), (P[7], "low"), (P[2], "low"), (P[1], "low")]
    assert body["grades"] == {"high": 3, "medium": 2, "low": 5}
    by_number = {v["number"]: v for v in body["victims"]}
    assert by_number[P[5]]["still_connected"] is True and "still connected" in by_number[P[5]]["reasons"][0]
    assert by_number[P[6]]["reasons"] == ["a 12 min call"] and by_number[P[6]]["action"] == "visit or call at once"
    assert by_number[P[6]]["structured_reasons"] == [{"code": "long_call",
                                                     "params": {"flagged": FLAGGED, "longest_s": 700}}]
    assert by_number[P[4]]["talk_s"] == 80 and by_number[P[4]]["calls"] == 4
    assert datetime.fromisoformat(body["since"]) == SINCE and datetime.fromisoformat(body["until"]) == UNTIL
    assert datetime.fromisoformat(body["now"]) == UNTIL  # "recent" is measured from the window's end
    limited = duty.client.get(URL, params={"number": FLAGGED, "limit": 2, **WINDOW}).json()
    assert _grades(limited) == _grades(body)[:2] and limited["total"] == 10

    with db.read() as session:
        reads = session.execute(select(AuditEntry).where(AuditEntry.action == "telecom.victims_read")
                                .order_by(AuditEntry.id)).scalars().all()
    assert [(r.actor, r.object_type, r.object_id) for r in reads] == [(duty.actor.username, "number", FLAGGED)] * 2
    assert '"victims":10' in reads[0].details and '"high":3' in reads[0].details


def test_transfers_raise_the_grade_and_callback_tasks_open_from_the_list(principal: MakePrincipal) -> None:
    duty = principal(Role.DUTY_OFFICER)
    agent = principal(Role.CALLBACK_AGENT)
    transfer = {"phone": P[7], "at": "2024-03-04T12:30:00+08:00", "amount": "5000.00", "currency": "CNY"}
    body = {"number": FLAGGED, **WINDOW, "transfers": [transfer]}
    read = agent.client.post(URL, json=body)  # an agent may read, with transfers too
    assert read.status_code == 200, read.text
    p7 = next(v for v in read.json()["victims"] if v["number"] == P[7])
    assert p7["grade"] == "high" and p7["reasons"] == [
        f"bank transfer (5000.00 CNY) 30 min after an answered call from {FLAGGED}"]
    assert p7["transfers"][0]["amount"] == "5000.00" and "callbacks" not in read.json()
    assert agent.client.post(URL, json={**body, "open_callbacks": True}).status_code == 403

    opened = duty.client.post(URL, json={**body, "open_callbacks": True, "min_grade": "medium",
                                         "fraud_type": "冒充公检法及政府机关"})
    assert opened.status_code == 200, opened.text
    callbacks = opened.json()["callbacks"]
    assert [(t["phone"], t["grade"], t["on_call"]) for t in callbacks["opened"]] == [
        (P[5], "high", True), (P[7], "high", False), (P[6], "high", False), (P[4], "high", False),
        (P[9], "medium", False), (P[3], "medium", False)]
    assert callbacks["skipped"] == 4  # the low ones
    again = duty.client.post(URL, json={**body, "open_callbacks": True, "min_grade": "medium"}).json()["callbacks"]
    assert again["opened"] == [] and len(again["existing"]) == 6

    queue = agent.client.get("/api/v1/callbacks").json()
    assert [t["phone"] for t in queue["ready"]][:1] == [P[5]]  # on the line with the number right now: first
    assert {t["phone"] for t in queue["ready"]} == {P[5], P[7], P[6], P[4], P[9], P[3]}


def test_the_window_defaults_to_the_last_days_up_to_now(principal: MakePrincipal, settings: Settings) -> None:
    supervisor = principal(Role.SUPERVISOR)
    before = datetime.now(UTC)
    body = supervisor.client.get(URL, params={"number": FLAGGED}).json()
    until, since = datetime.fromisoformat(body["until"]), datetime.fromisoformat(body["since"])
    assert before <= until <= datetime.now(UTC)
    assert until - since == timedelta(days=settings.victims_window_days)
    assert body["total"] == 0 and body["victims"] == []  # the records are from 2024
    only_until = supervisor.client.get(URL, params={"number": FLAGGED, "until": UNTIL.isoformat()}).json()
    assert datetime.fromisoformat(only_until["since"]) == UNTIL - timedelta(days=settings.victims_window_days)
    # from 3 March 00:00 CST: P4's calls of 2 March and the earlier ones fall out
    assert {v["number"] for v in only_until["victims"]} == {P[5], P[6], P[7], P[9], P[10], P[11]}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"number": "13900000001"}, "number", "E.164"),
    ({"number": "+0123456"}, "number", "first not 0"),
    ({"number": "+86 139-0000-000x"}, "number", "not E.164"),
    ({"number": FLAGGED, "since": "2024-03-01T00:00:00"}, "since", "timezone"),
    ({"number": FLAGGED, "since": UNTIL.isoformat(), "until": SINCE.isoformat()}, "since", "before until"),
    ({"number": FLAGGED, "limit": 0}, "limit", "greater than"),
])
def test_a_bad_query_is_a_422_naming_the_field(principal: MakePrincipal, params: dict[str, Any], field: str,
                                              message: str) -> None:
    res = principal(Role.DUTY_OFFICER).client.get(URL, params=params)
    assert res.status_code == 422, res.text
    body = res.json()
    named = body.get("field") or body["errors"][0]["field"]
    assert named == field and message in body["message"], body


def test_a_bad_body_is_a_422_naming_the_field(principal: MakePrincipal) -> None:
    duty = principal(Role.DUTY_OFFICER)
    AT = "2024-03-04T12:30:00+08:00"
    for extra, field in (({"case_number": "case-1"}, "case_number"), ({"min_grade": "urgent"}, "min_grade"),
                         ({"transfers": [{"phone": "139", "at": "2024-03-04T12:30:00+08:00"}]}, "transfers.0.phone"),
                         ({"transfers": [{"phone": P[7], "at": "2024-03-04T12:30:00"}]}, "transfers.0.at"),
                         # these were taken as they came: a negative or unpayable amount, any currency, 1970
                         ({"transfers": [{"phone": P[7], "at": AT, "amount": "-5"}]}, "transfers.0.amount"),
                         ({"transfers": [{"phone": P[7], "at": AT, "amount": "10.123"}]}, "transfers.0.amount"),
                         ({"transfers": [{"phone": P[7], "at": AT, "amount": "1e309"}]}, "transfers.0.amount"),
                         ({"transfers": [{"phone": P[7], "at": AT, "currency": "RMB"}]}, "transfers.0.currency"),
                         ({"transfers": [{"phone": P[7], "at": 0}]}, "transfers.0.at")):
        res = duty.client.post(URL, json={"number": FLAGGED, **extra})
        assert res.status_code == 422 and res.json()["errors"][0]["field"] == field, res.text


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_who_may_read_and_open(role: Role, principal: MakePrincipal) -> None:
    caller = principal(role)
    read = caller.client.get(URL, params={"number": FLAGGED, **WINDOW})
    opening = caller.client.post(URL, json={"number": FLAGGED, **WINDOW, "open_callbacks": True})
    hidden = role in (Role.BANK_LIAISON, Role.CARRIER_LIAISON)
    reads = role in (Role.DUTY_OFFICER, Role.SUPERVISOR, Role.CALLBACK_AGENT)
    opens = role in (Role.DUTY_OFFICER, Role.SUPERVISOR)
    assert read.status_code == (404 if hidden else 200 if reads else 403), read.text
    assert opening.status_code == (404 if hidden else 200 if opens else 403), opening.text
    if read.status_code != 200:
        assert read.json()["message"] and FLAGGED not in read.text  # says why, reveals nothing


def test_without_a_cdr_store_the_server_says_so(principal: MakePrincipal, db_url: str, db: Database,
                                                tmp_path: Path) -> None:
    token = principal(Role.DUTY_OFFICER).token
    app = create_app(Settings(database_url=db_url, cdr_dir=tmp_path / "missing"), db)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        res = client.get(URL, params={"number": FLAGGED})
    assert res.status_code == 503 and res.json()["error"] == "no_cdr_store"
    assert "FANZHA_CDR_DIR" in res.json()["message"] and "fanzha telecom ingest" in res.json()["message"]
