"""The official-numbers list: sensible defaults on first use, a supervisor's edits (each audited), a number
looked up as it is shown on a phone, and a 4xx that says what was wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.storage.db import Database
from fanzha.telecom import official
from fanzha.telecom.official import OfficialList, OfficialNumber
from tests.conftest import MakePrincipal


def _audit(db: Database, prefix: str) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.execute(select(AuditEntry).where(AuditEntry.action.startswith(prefix))
                                    .order_by(AuditEntry.id)).scalars())


def test_defaults_are_loaded_once_on_first_use(db: Database) -> None:
    with db.transaction() as session:
        session.query(OfficialNumber).delete()  # as on a fresh database (the migration creates the table empty)
    with db.transaction() as session:
        listed = official.active_list(session)
        assert len(listed) == len(official.DEFAULTS)
        assert {"110", "96110", "12381", "95xxx", "12368", "12309"} <= {e.pattern for e in listed.entries}
        assert official.ensure_defaults(session) == 0
    with db.transaction() as session:
        assert session.execute(select(func.count()).select_from(OfficialNumber)).scalar_one() == len(official.DEFAULTS)
    assert [e.details for e in _audit(db, "official.defaults_loaded")] == [f'{{"count":{len(official.DEFAULTS)}}}']


@pytest.mark.parametrize(("shown", "pattern"), [
    ("110", "110"), ("96110", "96110"), ("021-96110", "96110"), ("+86 21 96110", "96110"),
    ("0086 95588", "95588"), ("95123", "95xxx"), ("(010) 12368", "12368"), ("12381", "12381"),
    ("+86 95566", "95566"),
])
def test_a_number_is_official_bare_after_an_area_code_or_after_86(shown: str, pattern: str) -> None:
    found = OfficialList.defaults().lookup(shown)
    assert found is not None and found.pattern == pattern


@pytest.mark.parametrize("shown", ["+85295588", "13812345678", "021-62345678", "1010", "0110", "9511", "955888",
                                   "95588x", "", "+86"])
def test_a_number_that_only_looks_official_is_not(shown: str) -> None:
    assert OfficialList.defaults().lookup(shown) is None


def test_a_supervisor_adds_renames_deactivates_and_reactivates_each_audited(db: Database,
                                                                         principal: MakePrincipal) -> None:
    supervisor = principal(Role.SUPERVISOR).actor
    with db.transaction() as session:
        entry = official.add(session, supervisor, pattern="021-2402 1110", kind="police", name_zh="上海市公安局",
                             name_en="Shanghai Public Security Bureau")
        entry_id = entry.id
        assert entry.pattern == "02124021110" and entry.updated_by == supervisor.username
    with db.transaction() as session:
        official.update(session, supervisor, entry_id, name_en="Shanghai police switchboard")
        official.update(session, supervisor, entry_id, active=False)
        assert official.active_list(session).lookup("021-24021110") is None
        official.update(session, supervisor, entry_id, active=True)
        official.update(session, supervisor, entry_id, active=True)  # no change: no audit entry
        assert official.active_list(session).lookup("+86 21 2402 1110") is not None
    actions = [e.action for e in _audit(db, "official.") if e.action != "official.defaults_loaded"]
    assert actions == ["official.added", "official.updated", "official.deactivated", "official.reactivated"]
    changes = [e for e in _audit(db, "official.") if e.action != "official.defaults_loaded"]
    assert all(e.actor == supervisor.username for e in changes)


def test_only_a_supervisor_changes_the_list_and_bad_entries_are_refused(db: Database,
                                                                     principal: MakePrincipal) -> None:
    officer, supervisor = principal(Role.DUTY_OFFICER).actor, principal(Role.SUPERVISOR).actor
    with db.transaction() as session, pytest.raises(Forbidden):
        official.add(session, officer, pattern="12380", kind="other", name_zh="x", name_en="x")
    for pattern in ("12", "x2345", "12a45", "1234567890123", "+8612345"):
        with db.transaction() as session, pytest.raises(InvalidInput) as bad:
            official.add(session, supervisor, pattern=pattern, kind="other", name_zh="名", name_en="n")
        assert bad.value.field == "pattern"
    with db.transaction() as session, pytest.raises(InvalidInput) as kind:
        official.add(session, supervisor, pattern="12380", kind="secret", name_zh="名", name_en="n")
    assert kind.value.field == "kind" and "police" in kind.value.message
    with db.transaction() as session, pytest.raises(Conflict):
        official.add(session, supervisor, pattern="110", kind="police", name_zh="名", name_en="n")
    with db.transaction() as session, pytest.raises(NotFound):
        official.update(session, supervisor, 999_999, active=False)
    assert [e for e in _audit(db, "official.") if e.action != "official.defaults_loaded"] == []


def test_the_api_reads_for_everyone_and_writes_for_supervisors(principal: MakePrincipal) -> None:
    bank = principal(Role.BANK_LIAISON)
    listed = bank.client.get("/api/v1/telecom/official-numbers")
    assert listed.status_code == 200 and any(i["pattern"] == "96110" for i in listed.json()["items"])
    check = bank.client.get("/api/v1/telecom/official-numbers/check", params={"number": "021-96110"}).json()
    assert check["official"] is True and check["entry"]["pattern"] == "96110"
    assert bank.client.get("/api/v1/telecom/official-numbers/check",
                           params={"number": "13812345678"}).json()["official"] is False

    body = {"pattern": "12380", "kind": "other", "name_zh": "测试专线", "name_en": "Test line"}
    refused = principal(Role.DUTY_OFFICER).client.post("/api/v1/telecom/official-numbers", json=body)
    assert refused.status_code == 403 and "supervisor" in refused.json()["message"]
    supervisor = principal(Role.SUPERVISOR).client
    created = supervisor.post("/api/v1/telecom/official-numbers", json=body)
    assert created.status_code == 201 and created.json()["pattern"] == "12380"
    duplicate = supervisor.post("/api/v1/telecom/official-numbers", json=body)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "pattern"
    bad = supervisor.post("/api/v1/telecom/official-numbers", json={**body, "pattern": "12-3a"})
    assert bad.status_code == 422 and bad.json()["field"] == "pattern" and "digits" in bad.json()["message"]
    bad_kind = supervisor.post("/api/v1/telecom/official-numbers", json={**body, "pattern": "12399", "kind": "x"})
    assert bad_kind.status_code == 422 and bad_kind.json()["errors"][0]["field"] == "kind"

    entry_id = created.json()["id"]
    gone = supervisor.delete(f"/api/v1/telecom/official-numbers/{entry_id}")
    assert gone.status_code == 200 and gone.json()["active"] is False
    assert all(i["pattern"] != "12380" for i in bank.client.get("/api/v1/telecom/official-numbers").json()["items"])
    kept = bank.client.get("/api/v1/telecom/official-numbers", params={"include_inactive": True}).json()["items"]
    assert any(i["pattern"] == "12380" and not i["active"] for i in kept)
    back = supervisor.patch(f"/api/v1/telecom/official-numbers/{entry_id}", json={"active": True, "name_en": "T"})
    assert back.status_code == 200 and back.json()["active"] is True and back.json()["name_en"] == "T"
    missing = supervisor.patch("/api/v1/telecom/official-numbers/999999", json={"active": True})
    assert missing.status_code == 404 and "999999" in missing.json()["message"]
