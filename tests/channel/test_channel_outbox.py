"""One outbox implementation over two tables: the bank and the carrier outbox claim only their own messages, and
both back off the same way (a partner's Retry-After is honoured, up to an hour)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.conftest import MakePrincipal
from tests.helpers import report

from fanzha.auth.models import Role
from fanzha.banking import outbox as bank_outbox
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.channel.outbox import LEASE, ceiling
from fanzha.storage.db import Database
from fanzha.telecom.carriers import outbox as carrier_outbox
from fanzha.telecom.carriers.models import CarrierInstruction, CarrierOutboxMessage

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _one_of_each(db: Database, principal: MakePrincipal) -> tuple[int, int]:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        bank = BankInstruction(case_id=case_id, kind="stop_payment", bank_code="ABC", account="6228480402564890018",
                               currency="CNY", status="queued", message_id="00000000-0000-4000-8000-000000000001",
                               requested_by_id=officer.actor.user_id, created_at=NOW)
        carrier = CarrierInstruction(case_id=case_id, batch="b", action="shutdown", number="+8613812345678",
                                     carrier="CMCC", status="queued", reason="r", officer="o", route_source="library",
                                     message_id="00000000-0000-4000-8000-000000000002",
                                     requested_by_id=officer.actor.user_id, created_at=NOW)
        session.add_all([bank, carrier])
        session.flush()
        bank_row = bank_outbox.enqueue(session, instruction_id=bank.id, message_type="StopPayment",
                                       recipient="bank:ABC", idempotency_key="same-key", envelope='{"to": "bank"}',
                                       now=NOW)
        carrier_row = carrier_outbox.enqueue(session, instruction_id=carrier.id, message_type="CarrierAction",
                                             recipient="carrier:CMCC", idempotency_key="same-key",
                                             envelope='{"to": "carrier"}', now=NOW)
        # A carrier answered by hand: shown in its inbox, delivered at once, never claimed for sending.
        carrier_outbox.enqueue(session, instruction_id=carrier.id, message_type="CarrierAction",
                               recipient="carrier:CUCC", idempotency_key="by-hand", envelope='{"to": "inbox"}',
                               now=NOW, status="inbox")
        assert isinstance(bank_row, OutboxMessage) and isinstance(carrier_row, CarrierOutboxMessage)
        return bank_row.id, carrier_row.id


def test_each_outbox_claims_its_own_table(db: Database, principal: MakePrincipal) -> None:
    bank_id, carrier_id = _one_of_each(db, principal)
    (bank,) = bank_outbox.claim_due(db, NOW)
    (carrier,) = carrier_outbox.claim_due(db, NOW)
    assert (bank.id, bank.envelope) == (bank_id, '{"to": "bank"}')
    assert (carrier.id, carrier.envelope) == (carrier_id, '{"to": "carrier"}')
    assert bank_outbox.claim_due(db, NOW) == [] and carrier_outbox.claim_due(db, NOW) == []  # leased
    with db.transaction() as session:
        bank_outbox.mark_delivered(session, bank.id, NOW)
        inbox = session.execute(select(CarrierOutboxMessage).where(CarrierOutboxMessage.status == "inbox")).scalar_one()
        assert inbox.delivered_at == NOW
    later = NOW + LEASE + timedelta(seconds=1)
    assert bank_outbox.claim_due(db, later) == []
    assert [c.id for c in carrier_outbox.claim_due(db, later)] == [carrier_id]  # the lease ran out


def test_retries_back_off_alike_and_honour_retry_after(db: Database, principal: MakePrincipal) -> None:
    bank_id, carrier_id = _one_of_each(db, principal)
    bank_outbox.claim_due(db, NOW)
    carrier_outbox.claim_due(db, NOW)
    with db.transaction() as session:
        bank_when = bank_outbox.schedule_retry(session, bank_id, NOW, "timeout", random.Random(1))
        carrier_when = carrier_outbox.schedule_retry(session, carrier_id, NOW, "timeout", random.Random(1))
        assert bank_when == carrier_when <= NOW + timedelta(seconds=ceiling(1))
        told = carrier_outbox.schedule_retry(session, carrier_id, NOW, "busy", retry_after_s=30)
        capped = carrier_outbox.schedule_retry(session, carrier_id, NOW, "busy", retry_after_s=86_400)
    assert told == NOW + timedelta(seconds=30) and capped == NOW + timedelta(hours=1)
    assert [ceiling(n) for n in (1, 2, 3, 8, 20)] == [0.5, 1.0, 2.0, 60.0, 60.0]
