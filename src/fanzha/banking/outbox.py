"""The transactional outbox for messages to banks.

A decision (an officer's approval, an automatic first stop-payment) writes its signed message here in
the same transaction, so a message exists if and only if the decision committed. Dispatchers claim due
messages under a lease; a dispatcher that dies leaves its lease to run out and the message is claimed
again, resent with the same idempotency key, and the bank answers the repeat without acting twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from fanzha.banking.models import OutboxMessage
from fanzha.storage.db import Database
from fanzha.storage.types import UTCDateTime

LEASE = timedelta(seconds=30)
RETRY_BASE_S = 0.5
RETRY_CAP_S = 60.0


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    instruction_id: int
    message_type: str
    recipient: str
    envelope: str
    attempts: int  # including this one


def enqueue(session: Session, *, instruction_id: int, message_type: str, recipient: str, idempotency_key: str,
            envelope: str, now: datetime) -> OutboxMessage:
    message = OutboxMessage(
        instruction_id=instruction_id, message_type=message_type, recipient=recipient,
        idempotency_key=idempotency_key, envelope=envelope, status="pending", attempts=0, next_attempt_at=now,
        created_at=now, last_error="",
    )
    session.add(message)
    session.flush()
    return message


_CLAIM = """
UPDATE outbox SET leased_until = :until, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox
    WHERE status = 'pending' AND next_attempt_at <= :now AND (leased_until IS NULL OR leased_until <= :now)
    ORDER BY id LIMIT :limit {lock}
)
RETURNING id, instruction_id, message_type, recipient, envelope, attempts
"""
# SKIP LOCKED lets several dispatchers share the outbox without waiting on each other's rows; SQLite's
# single writer needs no row locks.
# Typed parameters: UTCDateTime stores times the same way the ORM does on each backend.
_PARAMS = (bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()))
_CLAIM_PG = text(_CLAIM.format(lock="FOR UPDATE SKIP LOCKED")).bindparams(*_PARAMS)
_CLAIM_SQLITE = text(_CLAIM.format(lock="")).bindparams(*_PARAMS)


def claim_due(db: Database, now: datetime, limit: int = 50, lease: timedelta = LEASE) -> list[Claimed]:
    statement = _CLAIM_PG if db.dialect == "postgresql" else _CLAIM_SQLITE
    with db.transaction() as session:
        rows = session.execute(statement, {"now": now, "until": now + lease, "limit": limit}).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def mark_delivered(session: Session, message_id: int, now: datetime) -> None:
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != "pending":
        return  # already settled by an earlier delivery of the same message
    message.status, message.delivered_at, message.leased_until, message.last_error = "delivered", now, None, ""


def schedule_retry(session: Session, message_id: int, now: datetime, error: str,
                   rng: random.Random | None = None) -> datetime:
    """Back off exponentially (with jitter, so many retries do not arrive at a recovering bank together)."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    assert message is not None
    delay = backoff(message.attempts, rng)
    message.next_attempt_at = now + delay
    message.leased_until = None
    message.last_error = error[:2000]
    return message.next_attempt_at


def schedule_poll(session: Session, message_id: int, now: datetime) -> bool:
    """The bank acknowledged: resend the same envelope later to collect the result. True on the first Ack.

    Polls back off like retries (0.5 s doubling to a minute) but are not errors: ``last_error`` is cleared.
    """
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    assert message is not None
    first = message.acknowledged_at is None
    if first:
        message.acknowledged_at = now
    delay_s = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, message.attempts - 1))
    message.next_attempt_at = now + timedelta(seconds=delay_s)
    message.leased_until = None
    message.last_error = ""
    return first


def mark_failed(session: Session, message_id: int, error: str) -> None:
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    assert message is not None
    message.status, message.leased_until, message.last_error = "failed", None, error[:2000]


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=ceiling * (0.5 + 0.5 * (rng or random).random()))
