"""Acknowledged, then answered: a bank that decides later says "received" first (a signed Ack, or its
liaison's click), the case shows both times, and renewals and releases reach a hand-answered bank's inbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.banking.test_first_move import _server, _token, _wait_for
from tests.conftest import MakePrincipal
from tests.helpers import SettableClock as Clock
from tests.helpers import report
from tests.sim.simbanks import Sim

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking import messages as m
from fanzha.banking.adapter import HttpBankAdapter
from fanzha.banking.dispatcher import Dispatcher
from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.banking.signing import sign_envelope
from fanzha.cases.models import Case
from fanzha.config import Settings
from fanzha.storage.db import Database


def _hold(db: Database, sim: Sim, principal: MakePrincipal, account: str, amount: str,
          now: datetime) -> tuple[int, str]:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        instruction = instructions.issue_hold(
            session, officer.actor, case_id=case_id, case_number=number, kind=HoldKind.STOP_PAYMENT,
            bank_code="ABC", account=account, amount=Decimal(amount), currency="CNY", reason="电信诈骗涉案账户",
            now=now, signer=sim.center, policy=instructions.ApprovalPolicy())
        return instruction.id, number


def _row(db: Database, instruction_id: int) -> BankInstruction:
    with db.transaction() as session:
        row = session.get(BankInstruction, instruction_id)
        assert row is not None
        return row


def _audit(db: Database, number: str, action: str) -> int:
    with db.transaction() as session:
        return session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.object_id == number, AuditEntry.action == action)).scalar_one()


def test_bank_acknowledges_first_and_the_result_is_collected_later(
        db: Database, sim: Sim, principal: MakePrincipal) -> None:
    account = sim.new_account(balance="3000")
    clock = Clock()
    instruction_id, number = _hold(db, sim, principal, account, "2500", clock.now)
    applied = sim.stats("ABC").get("applied", 0)
    sim.arm("ABC", "deferred", count=1, delay_ms=60_000)  # the bank decides a minute (of its clock) later
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=5) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        first = dispatcher.run_once()
        acked = _row(db, instruction_id)
        clock.now += timedelta(minutes=2)
        polled = dispatcher.run_once()  # the bank has not decided yet: another Ack, not another receipt
        sim.http.post("/admin/clock", json={"advance_seconds": 61})
        clock.now += timedelta(minutes=2)
        collected = dispatcher.run_once()
        dispatcher.close()
    assert (first.acknowledged, polled.acknowledged, collected.delivered) == (1, 1, 1)
    assert acked.status == "sent" and acked.answered_at is None
    assert acked.acknowledged_at is not None and acked.sent_at is not None
    done = _row(db, instruction_id)
    assert done.status == "active" and done.held_amount == Decimal("2500")
    assert done.acknowledged_at == acked.acknowledged_at  # received once; polls do not move it
    assert done.answered_at is not None and done.answered_at > done.acknowledged_at
    assert done.held_at == done.answered_at
    assert _audit(db, number, "bank.acknowledged") == 1
    assert sim.stats("ABC").get("applied", 0) == applied + 1  # acted on once across three deliveries
    with db.transaction() as session:
        case = session.execute(select(Case).where(Case.number == number)).scalar_one()
        assert case.first_action_at == acked.sent_at  # the hold reached the bank: the SLA clock stopped
        (message,) = session.execute(select(OutboxMessage).where(OutboxMessage.instruction_id == instruction_id)
                                     ).scalars()
        assert message.status == "delivered" and message.acknowledged_at == acked.acknowledged_at


def test_an_answer_at_once_is_its_own_acknowledgement_and_a_renewal_keeps_the_hold_time(
        db: Database, sim: Sim, principal: MakePrincipal) -> None:
    account = sim.new_account(balance="1000")
    clock = Clock()
    instruction_id, number = _hold(db, sim, principal, account, "800", clock.now)
    officer = principal(Role.DUTY_OFFICER)
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=5) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        dispatcher.run_once()
        held = _row(db, instruction_id)
        clock.now += timedelta(hours=40)
        with db.transaction() as session:
            row = session.get(BankInstruction, instruction_id)
            assert row is not None
            instructions.request_renewal(session, officer.actor, row, case_number=number, now=clock.now,
                                         signer=sim.center)
        dispatcher.run_once()
        dispatcher.close()
    assert held.acknowledged_at == held.answered_at == held.held_at == clock.now - timedelta(hours=40)
    renewed = _row(db, instruction_id)
    assert renewed.renewals == 1 and renewed.answered_at == clock.now
    assert renewed.held_at == held.held_at  # the first-stop time is when money was first held
    assert renewed.expires_at is not None and held.expires_at is not None and renewed.expires_at > held.expires_at


def test_adapter_returns_the_banks_signed_ack_until_it_decides(sim: Sim) -> None:
    account = sim.new_account(balance="100")
    body = m.StopPayment(case_number="SH20261126-000001", officer="o", account=account, bank_code="ABC",
                         amount=Decimal("100"), currency="CNY", reason="r")
    envelope = sign_envelope(body, sim.center, recipient="bank:ABC", idempotency_key="ack-test-1")
    sim.arm("ABC", "deferred", count=1, delay_ms=600_000)
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=5) as adapter:
        ack = adapter.send(envelope)
        again = adapter.send(envelope)
    assert ack.type is m.MessageType.ACK and again.type is m.MessageType.ACK
    ack_body = ack.typed_body()
    assert isinstance(ack_body, m.Ack) and ack_body.request_id == envelope.id
    assert ack_body.expected_by is not None and ack_body.expected_by > ack_body.received_at


def _hand_bank_hold(client: TestClient, number_account: str) -> tuple[str, int]:
    body = report(transfers=[{"to_account": number_account, "to_bank": "CCB", "amount": "5000"}])
    number = client.post("/api/v1/reports", json=body).json()["number"]
    (waiting,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
    return number, waiting["id"]


def test_hand_answered_bank_acknowledges_renews_and_releases_in_its_inbox(
        settings: Settings, db: Database, sim: Sim) -> None:
    token = _token(db, "ccb-liaison-ack", Role.BANK_LIAISON, "bank:CCB")
    with _server(settings, db, sim, hand_answered_banks=("CCB",)) as client:
        number, hold_id = _hand_bank_hold(client, "6217000010099990001")
        ccb = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
        (item,) = ccb.get("/api/v1/bank/inbox").json()["items"]
        assert (item["awaiting"], item["acknowledged_at"]) == ("StopPayment", None)
        ack = ccb.post(f"/api/v1/instructions/{hold_id}/acknowledge")
        assert ack.status_code == 200 and ack.json()["acknowledged_at"]
        again = ccb.post(f"/api/v1/instructions/{hold_id}/acknowledge")
        assert again.json()["acknowledged_at"] == ack.json()["acknowledged_at"]  # a second click changes nothing
        answered = ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": True, "amount": "5000"})
        assert answered.status_code == 200
        (held,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        assert held["acknowledged_at"] == ack.json()["acknowledged_at"] and held["answered_at"]
        assert held["held_at"] == held["answered_at"]

        # A renewal goes to the same inbox, never to the network.
        assert client.post(f"/api/v1/instructions/{hold_id}/renew").status_code == 200
        (item,) = ccb.get("/api/v1/bank/inbox").json()["items"]
        assert item["awaiting"] == "Renew" and item["acknowledged_at"] is None
        renewed = ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": True})
        assert renewed.status_code == 200 and renewed.json()["status"] == "active"
        (after,) = client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
        assert after["renewals"] == 1 and after["expires_at"] > held["expires_at"]
        assert after["held_at"] == held["held_at"]

        # A release refused by the bank keeps the money held; one confirmed ends the hold.
        release = client.post(f"/api/v1/instructions/{hold_id}/release", json={"reason": "资金非涉案"})
        assert release.status_code == 200 and release.json()["status"] == "releasing"
        (item,) = ccb.get("/api/v1/bank/inbox").json()["items"]
        assert item["awaiting"] == "Release"
        no_reason = ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": False})
        assert no_reason.status_code == 409 and "reason" in no_reason.json()["message"]
        refused = ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": False, "reason": "另案冻结"})
        assert refused.json()["status"] == "active"
        assert ccb.get("/api/v1/bank/inbox").json()["items"][0]["awaiting"] is None
        client.post(f"/api/v1/instructions/{hold_id}/release", json={"reason": "资金非涉案"})
        released = ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": True})
        assert released.json()["status"] == "released"
    assert sim.stats("CCB").get("received", 0) == 0
    assert _audit(db, number, "bank.answered_by_hand") == 4
    assert _audit(db, number, "bank.acknowledged") == 1


def test_liaison_acknowledges_and_answers_a_renewal_in_the_console(settings: Settings, db: Database, sim: Sim) -> None:
    token = _token(db, "ccb-liaison-ack-2", Role.BANK_LIAISON, "bank:CCB")
    with _server(settings, db, sim, hand_answered_banks=("CCB",)) as client:
        number, hold_id = _hand_bank_hold(client, "6217000010099990002")
        ccb = TestClient(client.app, headers={"Authorization": f"Bearer {token}"})
        ccb.post(f"/api/v1/instructions/{hold_id}/answer", json={"held": True, "amount": "5000"})
        client.post(f"/api/v1/instructions/{hold_id}/renew")
        page = ccb.get("/bank/inbox")
        assert "待回执：续期" in page.text and "已续期" in page.text
        assert 'name="amount"' not in page.text  # a renewal is answered yes or no, not with an amount
        acked = ccb.post(f"/bank/inbox/{hold_id}/acknowledge", follow_redirects=False)
        assert acked.status_code == 303
        assert "已确认收到" in ccb.get("/bank/inbox").text
        answered = ccb.post(f"/bank/inbox/{hold_id}/answer", data={"held": "yes"}, follow_redirects=False)
        assert answered.status_code == 303
        (after,) = _wait_for(client, number, "active")
    assert after["renewals"] == 1


def test_a_slow_bank_does_not_hold_back_another_banks_instruction(
        db: Database, sim: Sim, principal: MakePrincipal) -> None:
    slow_account, quick_account = sim.new_account(balance="100"), sim.new_account(bank="CCB", balance="100")
    clock = Clock()
    slow_id, number = _hold(db, sim, principal, slow_account, "100", clock.now)
    sim.arm("ABC", "late", count=1, delay_ms=2_000)  # ABC answers only after two seconds
    received = sim.stats("ABC").get("received", 0)
    stop = threading.Event()
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=10) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        worker = threading.Thread(target=dispatcher.run_forever, args=(stop,))
        worker.start()
        try:
            _until(lambda: sim.stats("ABC").get("received", 0) > received)  # ABC's send is in flight
            officer = principal(Role.DUTY_OFFICER)
            with db.transaction() as session:
                case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
                quick_id = instructions.issue_hold(
                    session, officer.actor, case_id=case_id, case_number=number, kind=HoldKind.STOP_PAYMENT,
                    bank_code="CCB", account=quick_account, amount=Decimal("100"), currency="CNY", reason="涉案账户",
                    now=clock.now, signer=sim.center, policy=instructions.ApprovalPolicy()).id
            _until(lambda: _row(db, quick_id).status == "active")
            slow_status_when_quick_done = _row(db, slow_id).status
            _until(lambda: _row(db, slow_id).status == "active")
        finally:
            stop.set()
            worker.join(timeout=30)
            dispatcher.close()
    assert slow_status_when_quick_done == "queued"  # CCB was answered while ABC's answer was still coming


def _until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_a_hand_answer_holds_an_amount_the_hold_can_store(principal: MakePrincipal, db: Database) -> None:
    # More decimals than storage keeps was a server error; more than the currency has was stored as said.
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    (hold,) = [i for i in officer.client.get(f"/api/v1/cases/{number}/instructions").json()["items"]
               if i["kind"] == "stop_payment"]
    liaison = principal(Role.BANK_LIAISON, "bank:ABC")
    url = f"/api/v1/instructions/{hold['id']}/answer"
    for amount, says in (("100.123456", "at most 2 decimal places"), ("100.123", "at most 2 decimal places"),
                         ("1e309", "implausibly large")):
        answer = liaison.client.post(url, json={"held": True, "amount": amount})
        assert answer.status_code == 422 and answer.json()["field"] == "amount", answer.text
        assert says in answer.json()["message"]
    assert _row(db, hold["id"]).held_amount is None
    held = liaison.client.post(url, json={"held": True, "amount": "70000.00"})
    assert held.status_code == 200, held.text
    assert _row(db, hold["id"]).held_amount == Decimal("70000")
