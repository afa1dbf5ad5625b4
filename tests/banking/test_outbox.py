"""The outbox: claimed under a lease, never by two dispatchers at once, retried with backoff, resumed after a crash."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.conftest import MakePrincipal
from tests.helpers import report

from fanzha.auth.models import Role
from fanzha.banking import outbox
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.storage.db import Database

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _instructions(db: Database, principal: MakePrincipal, count: int) -> list[int]:
    officer = principal(Role.DUTY_OFFICER)
    number = officer.client.post("/api/v1/reports", json=report()).json()["number"]
    ids = []
    with db.transaction() as session:
        case_id = session.execute(select(Case.id).where(Case.number == number)).scalar_one()
        for i in range(count):
            instruction = BankInstruction(
                case_id=case_id, kind="stop_payment", bank_code="ABC", account="6228480402564890018",
                currency="CNY", status="queued", message_id=f"00000000-0000-4000-8000-{i:012d}",
                requested_by_id=officer.actor.user_id, created_at=NOW)
            session.add(instruction)
            session.flush()
            outbox.enqueue(session, instruction_id=instruction.id, message_type="StopPayment", recipient="bank:ABC",
                           idempotency_key=f"key-{i}", envelope=f'{{"n": {i}}}', now=NOW)
            ids.append(instruction.id)
    return ids


def test_due_messages_are_claimed_once_under_a_lease(db: Database, principal: MakePrincipal) -> None:
    _instructions(db, principal, 3)
    first = outbox.claim_due(db, NOW)
    assert [c.envelope for c in first] == ['{"n": 0}', '{"n": 1}', '{"n": 2}'] and all(c.attempts == 1 for c in first)
    assert outbox.claim_due(db, NOW + timedelta(seconds=5)) == []  # still leased
    # The dispatcher died: after the lease the same messages are claimed again, same bytes, attempt 2.
    again = outbox.claim_due(db, NOW + outbox.LEASE + timedelta(seconds=1))
    assert [c.envelope for c in again] == [c.envelope for c in first] and all(c.attempts == 2 for c in again)


def test_concurrent_dispatchers_never_share_a_message(db: Database, principal: MakePrincipal) -> None:
    _instructions(db, principal, 40)
    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda _: outbox.claim_due(db, NOW, limit=7), range(8)))
    claimed = [c.id for batch in batches for c in batch]
    assert len(claimed) == len(set(claimed)) == 40


def test_delivered_messages_are_not_sent_again(db: Database, principal: MakePrincipal) -> None:
    _instructions(db, principal, 1)
    (claimed,) = outbox.claim_due(db, NOW)
    with db.transaction() as session:
        outbox.mark_delivered(session, claimed.id, NOW)
        outbox.mark_delivered(session, claimed.id, NOW)  # a duplicate answer changes nothing
    assert outbox.claim_due(db, NOW + timedelta(hours=1)) == []


def test_retry_backs_off_and_failure_is_final(db: Database, principal: MakePrincipal) -> None:
    _instructions(db, principal, 2)
    first, second = outbox.claim_due(db, NOW)
    with db.transaction() as session:
        when = outbox.schedule_retry(session, first.id, NOW, "bank timed out", random.Random(1))
        outbox.mark_failed(session, second.id, "bad answer signature")
    assert NOW + timedelta(seconds=0.25) <= when <= NOW + timedelta(seconds=0.5)
    assert outbox.claim_due(db, NOW) == []
    (retried,) = outbox.claim_due(db, when)
    assert retried.id == first.id and retried.attempts == 2
    with db.transaction() as session:
        failed = session.get(OutboxMessage, second.id)
        assert failed is not None and failed.status == "failed" and "signature" in failed.last_error


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(7)
    ceilings = [outbox.backoff(n, rng).total_seconds() for n in range(1, 12)]
    assert ceilings[0] <= 0.5 and ceilings[3] > ceilings[0]
    assert max(ceilings) <= outbox.RETRY_CAP_S


def test_holds_are_claimed_before_older_queries(db: Database, principal: MakePrincipal) -> None:
    """A new report's first stop does not wait behind the statements the tracing loop asked for earlier."""
    (hold,) = _instructions(db, principal, 1)
    with db.transaction() as session:
        for i, kind in enumerate(("TransactionQuery", "TransactionQuery", "Release")):
            outbox.enqueue(session, instruction_id=hold, message_type=kind, recipient="bank:ABC",
                           idempotency_key=f"early-{i}", envelope=f'{{"early": {i}}}', now=NOW - timedelta(minutes=1))
        outbox.enqueue(session, instruction_id=hold, message_type="Freeze", recipient="bank:ABC",
                       idempotency_key="freeze", envelope='{"freeze": 1}', now=NOW)
    claimed = [c.message_type for c in outbox.claim_due(db, NOW, limit=2)]
    assert claimed == ["StopPayment", "Freeze"]
    assert [c.message_type for c in outbox.claim_due(db, NOW)] == ["TransactionQuery", "TransactionQuery", "Release"]
