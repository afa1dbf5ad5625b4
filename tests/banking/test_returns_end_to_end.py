"""A return end to end, through a real server and the simulated banks process over loopback: the victim's money
is stopped, traced and frozen; a return is proposed, approved by a supervisor, delivered, signed, executed; the
victim's own account gets the money back, the freeze holds the rest, and the center shows the return returned."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.helpers import VALID_ID, report
from tests.sim.simbanks import Sim

from fanzha.app import create_app
from fanzha.audit.models import AuditEntry
from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.first_move import policy_for
from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import BankInstruction
from fanzha.banking.runtime import signer_for
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.storage.db import Database

D = Decimal



def _user(db: Database, role: Role) -> tuple[Actor, str]:
    with db.transaction() as session:
        user = auth_service.create_user(session, None, username=f"e2e-{role.value}-{time.monotonic_ns()}",
                                        display_name="u", role=role, org_code="center", password=None)
        token = auth_service.create_api_token(session, None, user, "test")
        return auth_service.actor_for(user), token


def _until(what: str, check: Callable[[], Any], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_frozen_money_goes_back_to_the_victims_account_and_the_rest_stays_frozen(
    settings: Settings, db: Database, sim: Sim,
) -> None:
    victim = sim.new_account("ICBC", balance="20000", holder="冯某")
    mule = sim.new_account("ABC", balance="0", holder="王某")
    paid = datetime.now(UTC) - timedelta(minutes=30)
    for spec in ({"to": {"bank": "ABC", "account": mule}, "amount": "1000", "channel": "counter",
                  "at": (paid - timedelta(minutes=10)).isoformat()},  # the holder's own money
                 {"from": {"bank": "ICBC", "account": victim}, "to": {"bank": "ABC", "account": mule},
                  "amount": "5000", "at": paid.isoformat()}):
        assert sim.move(**spec).status_code == 201
    configured = settings.model_copy(update={"bank_gateway_url": sim.base, "keys_dir": sim.keys_dir,
                                             "trace_loop": True})
    officer, officer_token = _user(db, Role.DUTY_OFFICER)
    _, supervisor_token = _user(db, Role.SUPERVISOR)
    app = create_app(configured, db)
    with TestClient(app, headers={"Authorization": f"Bearer {officer_token}"}) as client:
        body = report(victim={"name": "冯某", "phone": "13812345678", "id_number": VALID_ID}, transfers=[{
            "from_account": victim, "from_bank": "ICBC", "to_account": mule, "to_bank": "ABC", "amount": "5000",
            "currency": "CNY", "occurred_at": paid.isoformat()}])
        res = client.post("/api/v1/reports", json=body)
        assert res.status_code == 201, res.text
        number = res.json()["number"]

        def items() -> list[dict[str, Any]]:
            listed: list[dict[str, Any]] = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
            return listed

        # The first move: the mule is stopped and its statement comes back (the trace sees the victim's 5,000).
        _until("the stop-payment and the statement", lambda: {(i["kind"], i["status"]) for i in items()}
               >= {("stop_payment", "active"), ("transaction_query", "answered")})
        with db.transaction() as session:
            case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
            freeze = instructions.issue_hold(
                session, officer, case_id=case_id, case_number=number, kind=HoldKind.FREEZE, bank_code="ABC",
                account=mule, amount=D("6000"), currency="CNY", reason="冻结涉案账户", now=datetime.now(UTC),
                signer=signer_for(app), policy=policy_for(configured))
            freeze_id = freeze.id
        _until("the freeze", lambda: any(i["id"] == freeze_id and i["status"] == "active" for i in items()))

        plan = client.post(f"/api/v1/cases/{number}/holds/{freeze_id}/returns")
        assert plan.status_code == 201, plan.text
        (share,) = plan.json()["shares"]
        assert (plan.json()["basis"], share["amount"], share["payee_account"], share["payee_bank"]) == (
            "single_victim", "5000.00", victim, "ICBC")
        assert plan.json()["kept"] == "1000.00"  # the holder's own money stays frozen
        approved = client.post(f"/api/v1/returns/{share['return']}/approve",
                               headers={"Authorization": f"Bearer {supervisor_token}"})
        assert approved.status_code == 200, approved.text

        def settled() -> dict[str, Any] | None:
            holds = client.get(f"/api/v1/cases/{number}/returns").json()["holds"]
            (frozen,) = [h for h in holds if h["id"] == freeze_id]
            (done,) = frozen["returns"]
            return {"hold": frozen, "return": done} if done["status"] in ("returned", "rejected", "failed") else None

        result = _until("the bank's ReturnResult", settled)

    assert result["return"]["status"] == "returned", result
    assert result["return"]["returned_amount"] == "5000.00" and result["return"]["due_at"] is not None
    assert result["hold"]["held_amount"] == "1000.00" and result["hold"]["status"] == "active"
    # The bank's books: the victim has the 5,000 back; the mule keeps 1,000, frozen.
    assert D(sim.account("ICBC", victim)["balances"]["CNY"]) == D("20000")
    books = sim.account("ABC", mule)
    assert D(books["balances"]["CNY"]) == D("1000") and D(books["available"]["CNY"]) == 0
    active = [(h["kind"], D(h["amount"])) for h in books["holds"] if h["state"] == "active"]
    assert active == [("freeze", D("1000"))]
    back = books["transactions"][-1]
    assert (back["direction"], D(back["amount"]), back["counterparty_account"]) == ("out", D("5000"), victim)
    with db.read() as session:
        row = session.get(BankInstruction, share["return"])
        assert row is not None and '"ReturnResult"' in row.answer  # the bank's signed answer is kept
        actions = [a for (a,) in session.execute(
            select(AuditEntry.action).where(AuditEntry.object_id == number, AuditEntry.action.startswith("bank.return"))
            .order_by(AuditEntry.id))]
    assert actions == ["bank.return_proposed", "bank.return_approved", "bank.return_answered"]
