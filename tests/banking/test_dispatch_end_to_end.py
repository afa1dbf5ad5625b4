"""From a hold decision to the bank's signed answer, over loopback to the simulated banks process:
delivered once, retried on faults, resumed after a dispatcher dies, never applied twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from tests.conftest import MakePrincipal, Principal
from tests.helpers import SettableClock as Clock
from tests.helpers import report
from tests.sim.simbanks import Sim

from fanzha.audit.models import AuditEntry
from fanzha.auth.models import Role
from fanzha.banking import instructions, outbox
from fanzha.banking.adapter import HttpBankAdapter
from fanzha.banking.dispatcher import Dispatcher
from fanzha.banking.lifecycle import HoldKind
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.storage.db import Database


def _case(principal: MakePrincipal) -> tuple[Principal, int, str]:
    officer = principal(Role.DUTY_OFFICER)
    # No transfers in the report: each test issues its own hold to an account it opened at the bank.
    number = officer.client.post("/api/v1/reports", json=report(transfers=[])).json()["number"]
    return officer, 0, number


def _issue(db: Database, sim: Sim, officer: Principal, number: str, account: str, amount: str | None,
           now: datetime, policy: instructions.ApprovalPolicy | None = None) -> int:
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        instruction = instructions.issue_hold(
            session, officer.actor, case_id=case_id, case_number=number, kind=HoldKind.STOP_PAYMENT,
            bank_code="ABC", account=account, amount=Decimal(amount) if amount else None, currency="CNY",
            reason="电信诈骗涉案账户", now=now, signer=sim.center,
            policy=policy or instructions.ApprovalPolicy())
        return instruction.id


def _instruction(db: Database, instruction_id: int) -> BankInstruction:
    with db.transaction() as session:
        row = session.get(BankInstruction, instruction_id)
        assert row is not None
        return row


def test_stop_payment_is_held_at_the_bank_and_recorded(db: Database, sim: Sim, principal: MakePrincipal) -> None:
    officer, _, number = _case(principal)
    account = sim.new_account(balance="10000")
    clock = Clock()
    instruction_id = _issue(db, sim, officer, number, account, "7000", clock.now)
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=5) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        stats = dispatcher.run_once()
        dispatcher.close()
    assert (stats.delivered, stats.retried, stats.failed) == (1, 0, 0)
    held = _instruction(db, instruction_id)
    assert held.status == "active" and held.held_amount == Decimal("7000")
    assert held.expires_at is not None and held.expires_at <= clock.now + timedelta(hours=48)
    assert '"StopPaymentResult"' in held.answer  # the bank's signed answer is kept
    bank_view = sim.account("ABC", account)
    assert sum(Decimal(h["amount"]) for h in bank_view["holds"]) == Decimal("7000")
    with db.transaction() as session:
        actions = [e.action for e in session.execute(
            select(AuditEntry).where(AuditEntry.object_id == number).order_by(AuditEntry.id)).scalars()]
    assert actions[-2:] == ["bank.stop_payment_requested", "bank.answer"]


def test_timeouts_and_500s_are_retried_and_applied_once(db: Database, sim: Sim, principal: MakePrincipal) -> None:
    officer, _, number = _case(principal)
    account = sim.new_account(balance="5000")
    clock = Clock()
    instruction_id = _issue(db, sim, officer, number, account, None, clock.now)
    before = sim.stats("ABC").get("applied", 0)
    sim.arm("ABC", "timeout", count=1, delay_ms=1500)
    sim.arm("ABC", "error_500", count=1)
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=0.5) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        outcomes = []
        for _ in range(3):
            stats = dispatcher.run_once()
            outcomes.append((stats.delivered, stats.retried, stats.failed))
            clock.now += timedelta(minutes=2)  # past any backoff
        dispatcher.close()
    assert outcomes == [(0, 1, 0), (0, 1, 0), (1, 0, 0)]
    assert _instruction(db, instruction_id).held_amount == Decimal("5000")  # the whole account
    assert sim.stats("ABC").get("applied", 0) == before + 1


def test_dispatcher_that_died_after_sending_is_resumed_without_doubling(
    db: Database, sim: Sim, principal: MakePrincipal,
) -> None:
    officer, _, number = _case(principal)
    account = sim.new_account(balance="9000")
    clock = Clock()
    instruction_id = _issue(db, sim, officer, number, account, "1000", clock.now)
    before = sim.stats("ABC").get("applied", 0)
    # A dispatcher claims the message, the bank acts on it, and the dispatcher dies before recording.
    (claimed,) = outbox.claim_due(db, clock.now)
    with HttpBankAdapter(sim.base, sim.banks_ring) as adapter:
        from fanzha.banking.messages import parse_envelope

        adapter.send(parse_envelope(claimed.envelope))
        # A new dispatcher finds it after the lease and sends the same bytes again.
        clock.now += outbox.LEASE + timedelta(seconds=1)
        dispatcher = Dispatcher(db, adapter, clock=clock)
        stats = dispatcher.run_once()
        dispatcher.close()
    assert stats.delivered == 1
    assert _instruction(db, instruction_id).held_amount == Decimal("1000")
    assert sim.stats("ABC").get("applied", 0) == before + 1
    assert sum(Decimal(h["amount"]) for h in sim.account("ABC", account)["holds"]) == Decimal("1000")
    with db.transaction() as session:
        message = session.execute(select(OutboxMessage).where(OutboxMessage.id == claimed.id)).scalar_one()
    assert message.status == "delivered" and message.attempts == 2


def test_unknown_account_is_rejected_not_retried(db: Database, sim: Sim, principal: MakePrincipal) -> None:
    officer, _, number = _case(principal)
    clock = Clock()
    instruction_id = _issue(db, sim, officer, number, "6228480499999999999", "100", clock.now)
    with HttpBankAdapter(sim.base, sim.banks_ring) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        stats = dispatcher.run_once()
        again = dispatcher.run_once()
        dispatcher.close()
    assert stats.delivered + stats.failed == 1 and again.delivered + again.retried + again.failed == 0
    assert _instruction(db, instruction_id).status == "rejected"


def test_large_holds_wait_for_a_supervisor(db: Database, sim: Sim, principal: MakePrincipal) -> None:
    officer, _, number = _case(principal)
    account = sim.new_account(balance="3000000")
    clock = Clock()
    instruction_id = _issue(db, sim, officer, number, account, "2000000", clock.now)
    assert _instruction(db, instruction_id).status == "pending_approval"
    assert outbox.claim_due(db, clock.now) == []  # nothing is sent before approval
    supervisor = principal(Role.SUPERVISOR)
    with db.transaction() as session:
        instruction = session.get(BankInstruction, instruction_id)
        assert instruction is not None
        with pytest.raises(Exception, match="supervisor"):
            instructions.approve(session, officer.actor, instruction, case_number=number, reason="涉诈",
                                 now=clock.now, signer=sim.center, policy=instructions.ApprovalPolicy())
    with db.transaction() as session:
        instruction = session.get(BankInstruction, instruction_id)
        assert instruction is not None
        instructions.approve(session, supervisor.actor, instruction, case_number=number, reason="涉诈",
                             now=clock.now, signer=sim.center, policy=instructions.ApprovalPolicy())
    assert len(outbox.claim_due(db, clock.now)) == 1


def test_late_and_duplicated_deliveries_are_applied_once(db: Database, sim: Sim, principal: MakePrincipal) -> None:
    officer, _, number = _case(principal)
    late_account = sim.new_account(balance="400")
    twice_account = sim.new_account(balance="600")
    clock = Clock()
    late_id = _issue(db, sim, officer, number, late_account, "400", clock.now)
    before = sim.stats("ABC").get("applied", 0)
    sim.arm("ABC", "late", count=1, delay_ms=1200)  # acts at once, answers after the client gave up
    with HttpBankAdapter(sim.base, sim.banks_ring, timeout_s=0.5) as adapter:
        dispatcher = Dispatcher(db, adapter, clock=clock)
        first = dispatcher.run_once()
        clock.now += timedelta(minutes=2)
        second = dispatcher.run_once()
        twice_id = _issue(db, sim, officer, number, twice_account, "600", clock.now)
        sim.arm("ABC", "duplicate", count=1)  # the instruction reaches the bank twice
        third = dispatcher.run_once()
        dispatcher.close()
    assert (first.retried, second.delivered, third.delivered) == (1, 1, 1)
    assert _instruction(db, late_id).held_amount == Decimal("400")
    assert _instruction(db, twice_id).held_amount == Decimal("600")
    assert sim.stats("ABC").get("applied", 0) == before + 2  # two holds, each applied once
    for account, amount in ((late_account, "400"), (twice_account, "600")):
        assert sum(Decimal(h["amount"]) for h in sim.account("ABC", account)["holds"]) == Decimal(amount)
