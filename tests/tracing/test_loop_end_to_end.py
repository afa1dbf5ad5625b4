"""Follow the money through a real server and the simulated banks process: the victim's money is split over
three more accounts at three more banks and partly withdrawn; the loop queries each bank, traces the money
and stops every account still holding it, for exactly the attributable amount."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.app import create_app
from fanzha.audit.models import AuditEntry
from fanzha.auth import service as auth_service
from fanzha.auth.models import Role
from fanzha.config import Settings
from fanzha.storage.db import Database
from tests.helpers import report
from tests.sim.simbanks import Sim, running


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    with running(tmp_path_factory.mktemp("keys")) as simulator:
        yield simulator


def _client(settings: Settings, db: Database, sim: Sim, role: Role = Role.DUTY_OFFICER, org: str = "center",
            **overrides: Any) -> TestClient:
    configured = settings.model_copy(update={"bank_gateway_url": sim.base, "keys_dir": sim.keys_dir,
                                             "trace_loop": True, **overrides})
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username=f"u-{time.monotonic_ns()}", display_name="u",
                                        role=role, org_code=org, password=None)
        token = auth_service.create_api_token(session, None, user, "test")
    return TestClient(create_app(configured, db), headers={"Authorization": f"Bearer {token}"})


def _move(sim: Sim, **spec: Any) -> None:
    response = sim.move(**spec)
    assert response.status_code == 201, response.text


def _mule_network(sim: Sim) -> tuple[dict[str, str], datetime]:
    """A1 (ABC, own 2,000) gets the victim's 50,000, sends 30,000 to M2 (ICBC) and 15,000 to M3 (CCB);
    M3 withdraws 5,000 at an ATM; M2 sends 10,000 on to M4 (CMB)."""
    acc = {"A1": sim.new_account("ABC", balance="2000"), "M2": sim.new_account("ICBC", balance="0"),
           "M3": sim.new_account("CCB", balance="0"), "M4": sim.new_account("CMB", balance="0")}
    paid = datetime.now(UTC) - timedelta(minutes=30)

    def at(minutes: int) -> str:
        return (paid + timedelta(minutes=minutes)).isoformat()

    _move(sim, to={"bank": "ABC", "account": acc["A1"]}, amount="50000", channel="transfer", at=at(0),
          counterparty_name="冯某")
    _move(sim, **{"from": {"bank": "ABC", "account": acc["A1"]}}, to={"bank": "ICBC", "account": acc["M2"]},
          amount="30000", at=at(5))
    _move(sim, **{"from": {"bank": "ABC", "account": acc["A1"]}}, to={"bank": "CCB", "account": acc["M3"]},
          amount="15000", at=at(6))
    _move(sim, **{"from": {"bank": "CCB", "account": acc["M3"]}}, amount="5000", channel="atm", at=at(10))
    _move(sim, **{"from": {"bank": "ICBC", "account": acc["M2"]}}, to={"bank": "CMB", "account": acc["M4"]},
          amount="10000", at=at(12))
    return acc, paid


def _settled(client: TestClient, number: str, accounts: int, timeout_s: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        stops = {i["account"] for i in items if i["kind"] == "stop_payment"}
        if len(stops) >= accounts and all(i["status"] in ("active", "answered", "rejected", "failed")
                                          for i in items):
            return items
        time.sleep(0.1)
    raise AssertionError(f"the loop did not settle: {items}")


def test_loop_stops_every_downstream_account_for_the_attributable_amount(
    settings: Settings, db: Database, sim: Sim,
) -> None:
    acc, paid = _mule_network(sim)
    body = report(transfers=[{"to_account": acc["A1"], "to_bank": "ABC", "amount": "50000", "currency": "CNY",
                              "occurred_at": paid.isoformat()}])
    with _client(settings, db, sim) as client:
        res = client.post("/api/v1/reports", json=body)
        assert res.status_code == 201, res.text
        number = res.json()["number"]
        items = _settled(client, number, accounts=4)
        trace = client.get(f"/api/v1/cases/{number}/trace").json()
        evidence = client.get(f"/api/v1/cases/{number}/trace",
                              params={"account": f"CMB/{acc['M4']}"}).json()["evidence"]["CNY"]

    holds = _holds_of(items)
    # LIBR: A1's own 2,000 went first to M2, so M2 got 28,000 of the victim's; M2 spent that 2,000 first
    # on M4, so M4 holds 8,000 of it. The first stop asked 50,000 and the bank could hold only the 7,000 left.
    # Each stop asks what A1's statement attributed when the account was found (speed first); the bank holds
    # what is still there, and the next statement shows where the rest went.
    assert holds[acc["A1"]] == ("active", "50000.00", "7000.00")
    assert holds[acc["M2"]] == ("active", "28000.00", "20000.00")
    assert holds[acc["M3"]] == ("active", "15000.00", "10000.00")
    assert holds[acc["M4"]] == ("active", "8000.00", "8000.00")
    (cny,) = trace["traces"]
    (victim,) = cny["victims"]
    assert (victim["credit"], victim["held"], victim["lost"]) == ("50000.00", "45000.00", "5000.00")
    assert victim["credit_source"] == "statement"  # the bank's statement showed the credit the victim reported
    assert [(x["account"], x["channel"], x["amount"]) for x in cny["losses"]] == [
        (f"CCB/{acc['M3']}", "atm", "5000.00")]
    statuses = {n["id"]: n["status"] for n in cny["accounts"]}
    assert statuses == {f"ABC/{acc['A1']}": "stopped", f"ICBC/{acc['M2']}": "stopped",
                        f"CCB/{acc['M3']}": "stopped", f"CMB/{acc['M4']}": "stopped"}
    # The evidence for M4: victim's credit into A1, A1 -> M2, M2 -> M4.
    ((path,),) = evidence.values()
    assert [(hop["from"], hop["to"]) for hop in path][1:] == [
        (f"ABC/{acc['A1']}", f"ICBC/{acc['M2']}"), (f"ICBC/{acc['M2']}", f"CMB/{acc['M4']}")]
    # What the banks really hold is exactly what the trace attributes: nothing beyond it.
    held_at_banks = sum(sum(Decimal(h["amount"]) for h in sim.account(bank, acc[name])["holds"])
                        for name, bank in (("A1", "ABC"), ("M2", "ICBC"), ("M3", "CCB"), ("M4", "CMB")))
    assert held_at_banks == Decimal("45000")
    queried = sorted(i["account"] for i in items if i["kind"] == "transaction_query")
    assert set(queried) == set(acc.values())  # every account's bank was asked for its statement
    with db.transaction() as session:
        actions = [a for (a,) in session.execute(
            select(AuditEntry.action).where(AuditEntry.object_id == number)).all()]
    assert "trace.statement" in actions and "trace.step" in actions and "trace.failed" not in actions


def _holds_of(items: list[dict[str, Any]]) -> dict[str, tuple[str, str | None, str | None]]:
    return {i["account"]: (i["status"], i["requested_amount"], i["held_amount"])
            for i in items if i["kind"] == "stop_payment"}


def test_trace_is_for_the_centers_officers_only(settings: Settings, db: Database, sim: Sim) -> None:
    acc, paid = _mule_network(sim)
    body = report(transfers=[{"to_account": acc["A1"], "to_bank": "ABC", "amount": "50000", "currency": "CNY",
                              "occurred_at": paid.isoformat()}])
    with _client(settings, db, sim) as officer:
        number = officer.post("/api/v1/reports", json=body).json()["number"]
        assert officer.get(f"/api/v1/cases/{number}/trace").status_code == 200
    with _client(settings, db, sim, role=Role.BANK_LIAISON, org="bank:ABC") as bank:
        response = bank.get(f"/api/v1/cases/{number}/trace")
        assert response.status_code == 404, response.text
    with _client(settings, db, sim, role=Role.HOTLINE_OPERATOR, org="hotline:12345") as hotline:
        assert hotline.get(f"/api/v1/cases/{number}/trace").status_code == 404
