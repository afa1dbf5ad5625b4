"""Every role against every endpoint: allowed, or refused without revealing other organisations' records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from tests.conftest import MakePrincipal, Principal
from tests.helpers import report

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.storage.db import Database

R = Role
CENTER_READERS = {R.DUTY_OFFICER, R.SUPERVISOR}
Call = Callable[[TestClient, str], Response]

# endpoint name -> (request, {role: expected status}); roles not listed get 403.
ENDPOINTS: dict[str, tuple[Call, dict[Role, int]]] = {
    "POST /reports": (lambda c, n: c.post("/api/v1/reports", json=report(suspect_phones=[], transfers=[])),
                      {R.DUTY_OFFICER: 201, R.SUPERVISOR: 201, R.HOTLINE_OPERATOR: 201}),
    "GET /cases": (lambda c, n: c.get("/api/v1/cases"),
                   {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 200, R.BANK_LIAISON: 200,
                    R.CARRIER_LIAISON: 200}),
    "GET /cases/{n}": (lambda c, n: c.get(f"/api/v1/cases/{n}"),
                       {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 404, R.BANK_LIAISON: 200,
                        R.CARRIER_LIAISON: 200}),
    "POST /cases/{n}/transitions": (lambda c, n: c.post(f"/api/v1/cases/{n}/transitions", json={"to": "accepted"}),
                                    {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 404}),
    "POST /cases/{n}/facts": (lambda c, n: c.post(f"/api/v1/cases/{n}/facts", json={"suspect_urls": ["a.example.cn"]}),
                              {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 404}),
    "POST /extract": (lambda c, n: c.post("/api/v1/extract", json={"text": "被骗7万元"}),
                      {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 200}),
    "GET /audit": (lambda c, n: c.get("/api/v1/audit"), {R.AUDITOR: 200, R.SUPERVISOR: 200}),
    "GET /audit/verify": (lambda c, n: c.get("/api/v1/audit/verify"), {R.AUDITOR: 200, R.SUPERVISOR: 200}),
    "GET /me": (lambda c, n: c.get("/api/v1/me"), dict.fromkeys(Role, 200)),
    "GET /orgs": (lambda c, n: c.get("/api/v1/orgs?kind=carrier"), dict.fromkeys(Role, 200)),
    "GET /users": (lambda c, n: c.get("/api/v1/users"), {R.ADMIN: 200}),
    "POST /users": (lambda c, n: c.post("/api/v1/users", json={"username": "new.duty", "role": "duty_officer",
                                                                "org": "center", "password": "a-long-password"}),
                    {R.ADMIN: 201}),
    "POST /users/{u}/tokens": (lambda c, n: c.post("/api/v1/users/intake-sys/tokens", json={"name": "110 feed"}),
                               {R.ADMIN: 201}),
}


@pytest.fixture
def center_case(principal: MakePrincipal) -> tuple[str, Principal]:
    """A case filed by the center, paying into an ABC card, called from a China Mobile number."""
    officer = principal(Role.DUTY_OFFICER, username="intake-sys")
    res = officer.client.post("/api/v1/reports", json=report(suspect_phones=["13812345678"]))
    assert res.status_code == 201, res.text
    return res.json()["number"], officer


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_against_every_endpoint(role: Role, center_case: tuple[str, Principal],
                                     principal: MakePrincipal) -> None:
    number, _ = center_case
    caller = principal(role)
    failures = []
    for name, (call, expected) in ENDPOINTS.items():
        want = expected.get(role, 403)
        res = call(caller.client, number)
        if res.status_code != want:
            failures.append(f"{name}: expected {want}, got {res.status_code} {res.text[:200]}")
        elif want >= 400:
            body: dict[str, Any] = res.json()
            assert body["message"], f"{name}: a refusal must say why"
    assert not failures, "\n".join(failures)


def test_unauthenticated_requests_are_401(app_client: TestClient) -> None:
    for name, (call, _) in ENDPOINTS.items():
        res = call(app_client, "SH20261125-000001")
        assert res.status_code == 401, name
    bad = app_client.get("/api/v1/me", headers={"Authorization": "Bearer fz_forged"})
    assert bad.status_code == 401 and "token" in bad.json()["message"]


def _same_refusal(hidden: Response, missing: Response, hidden_number: str, missing_number: str) -> None:
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace(hidden_number, "N") == missing.json()["message"].replace(
        missing_number, "N")


def test_other_banks_case_looks_exactly_like_no_case(center_case: tuple[str, Principal],
                                                      principal: MakePrincipal) -> None:
    number, _ = center_case
    icbc = principal(Role.BANK_LIAISON, "bank:ICBC")
    missing = "SH20991231-999999"
    _same_refusal(icbc.client.get(f"/api/v1/cases/{number}"), icbc.client.get(f"/api/v1/cases/{missing}"),
                  number, missing)
    assert icbc.client.get("/api/v1/cases").json()["items"] == []


def test_hotline_sees_only_its_own_organisations_reports(principal: MakePrincipal) -> None:
    op12345 = principal(Role.HOTLINE_OPERATOR, "hotline:12345")
    colleague = principal(Role.HOTLINE_OPERATOR, "hotline:12345")
    op110 = principal(Role.HOTLINE_OPERATOR, "hotline:110")
    number = op12345.client.post("/api/v1/reports", json=report(channel="12345")).json()["number"]
    assert colleague.client.get(f"/api/v1/cases/{number}").status_code == 200
    missing = "SH20991231-999999"
    _same_refusal(op110.client.get(f"/api/v1/cases/{number}"), op110.client.get(f"/api/v1/cases/{missing}"),
                  number, missing)
    assert [c["number"] for c in op110.client.get("/api/v1/cases").json()["items"]] == []


def test_bank_sees_only_its_slice_and_the_read_is_audited(
    db: Database, center_case: tuple[str, Principal], principal: MakePrincipal
) -> None:
    number, _ = center_case
    abc = principal(Role.BANK_LIAISON, "bank:ABC")
    with db.transaction() as session:
        before = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    data = abc.client.get(f"/api/v1/cases/{number}").json()
    assert data["accounts"] == ["6228480402564890018"]
    assert [t["to_bank"] for t in data["transfers"]] == ["ABC"]
    for secret in ("narrative", "parties", "links", "extraction"):
        assert secret not in data
    with db.transaction() as session:
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalars().all()
        after = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    assert after == before + 1
    assert (entries[0].action, entries[0].actor_org, entries[0].object_id) == ("case.read", "bank:ABC", number)


def test_carrier_sees_only_its_numbers(center_case: tuple[str, Principal], principal: MakePrincipal) -> None:
    number, _ = center_case
    cmcc = principal(Role.CARRIER_LIAISON, "carrier:CMCC")
    ctcc = principal(Role.CARRIER_LIAISON, "carrier:CTCC")
    assert cmcc.client.get(f"/api/v1/cases/{number}").json()["phones"] == ["+8613812345678"]
    assert ctcc.client.get(f"/api/v1/cases/{number}").status_code == 404


def test_role_must_fit_its_organisation(principal: MakePrincipal) -> None:
    admin = principal(Role.ADMIN)
    res = admin.client.post("/api/v1/users", json={"username": "fake.bank", "role": "bank_liaison",
                                                   "org": "carrier:CMCC", "password": "a-long-password"})
    assert res.status_code == 422 and res.json()["field"] == "role"


def test_links_never_reveal_other_organisations_case_numbers(principal: MakePrincipal) -> None:
    op110 = principal(Role.HOTLINE_OPERATOR, "hotline:110")
    op12345 = principal(Role.HOTLINE_OPERATOR, "hotline:12345")
    officer = principal(Role.DUTY_OFFICER)
    first = op110.client.post("/api/v1/reports", json=report()).json()["number"]
    second = op12345.client.post("/api/v1/reports", json=report(channel="12345"))
    assert second.status_code == 201 and second.json()["links"] == []
    number = second.json()["number"]
    assert op12345.client.get(f"/api/v1/cases/{number}").json()["links"] == []
    # The center sees the link, with the shared entities.
    center_view = officer.client.get(f"/api/v1/cases/{number}").json()["links"]
    assert {link["case"] for link in center_view} == {first}
