"""Every role against every console page: allowed, or refused without revealing other organisations' cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from fanzha.auth.models import Role
from tests.conftest import MakePrincipal
from tests.helpers import report

R = Role
Call = Callable[[TestClient, str], Response]
READERS = {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 200, R.BANK_LIAISON: 200,
           R.CARRIER_LIAISON: 200}

# page -> (request, {role: expected status}); roles not listed get 403. The case was filed by the center,
# pays into an ABC card and names a China Mobile number, so a 12345 operator reading it gets 404.
PAGES: dict[str, tuple[Call, dict[Role, int]]] = {
    "GET /cases": (lambda c, n: c.get("/cases"), READERS),
    "GET /cases/new": (lambda c, n: c.get("/cases/new"),
                       {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 200}),
    "GET /cases/{n}": (lambda c, n: c.get(f"/cases/{n}"), {**READERS, R.HOTLINE_OPERATOR: 404}),
    "POST /ui/extract": (lambda c, n: c.post("/ui/extract", data={"narrative": "被骗7万元"}),
                         {R.DUTY_OFFICER: 200, R.SUPERVISOR: 200, R.HOTLINE_OPERATOR: 200}),
    # A role that may never change cases is refused before any look-up, so 403 says nothing about the case.
    "POST /cases/{n}/transition": (lambda c, n: c.post(f"/cases/{n}/transition", data={"to": "accepted"},
                                                       follow_redirects=False),
                                   {R.DUTY_OFFICER: 303, R.SUPERVISOR: 303}),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_against_every_console_page(role: Role, principal: MakePrincipal) -> None:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report(suspect_phones=["13812345678"])).json()["number"]
    caller = principal(role)
    failures = []
    for name, (call, expected) in PAGES.items():
        want = expected.get(role, 403)
        res = call(caller.client, number)
        if res.status_code != want:
            failures.append(f"{name}: expected {want}, got {res.status_code}")
    assert not failures, "\n".join(failures)


def test_bank_inbox_is_for_bank_liaisons_only(principal: MakePrincipal) -> None:
    for role in Role:
        caller = principal(role)
        want = 200 if role is Role.BANK_LIAISON else 403
        assert caller.client.get("/bank/inbox").status_code == want, role
