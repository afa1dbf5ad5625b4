"""The transactional outbox for messages to carriers (the bank channel's outbox, for ``carrier_outbox``).

A decision writes its signed message here in the same transaction, so a message exists if and only if the
decision committed. Dispatchers claim due messages under a lease; a dispatcher that dies leaves its lease to
run out, the message is claimed again and resent with the same idempotency key, and the carrier answers the
repeat with its first answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from fanzha.banking.outbox import LEASE, backoff
from fanzha.storage.db import Database
from fanzha.storage.types import UTCDateTime
from fanzha.telecom.carriers.models import CarrierOutboxMessage

__all__ = ["LEASE", "Claimed", "claim_due", "enqueue", "mark_delivered", "mark_failed", "schedule_retry"]


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    instruction_id: int
    message_type: str
    recipient: str
    envelope: str
    attempts: int  # including this one


def enqueue(session: Session, *, instruction_id: int, message_type: str, recipient: str, idempotency_key: str,
            envelope: str, now: datetime, status: str = "pending") -> CarrierOutboxMessage:
    message = CarrierOutboxMessage(
        instruction_id=instruction_id, message_type=message_type, recipient=recipient,
        idempotency_key=idempotency_key, envelope=envelope, status=status, attempts=0, next_attempt_at=now,
        created_at=now, last_error="", delivered_at=now if status == "inbox" else None,
    )
    session.add(message)
    session.flush()
    return message


_CLAIM = """
UPDATE carrier_outbox SET leased_until = :until, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM carrier_outbox
    WHERE status = 'pending' AND next_attempt_at <= :now AND (leased_until IS NULL OR leased_until <= :now)
    ORDER BY id LIMIT :limit {lock}
)
RETURNING id, instruction_id, message_type, recipient, envelope, attempts
"""
_PARAMS = (bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()))
_CLAIM_PG = text(_CLAIM.format(lock="FOR UPDATE SKIP LOCKED")).bindparams(*_PARAMS)
_CLAIM_SQLITE = text(_CLAIM.format(lock="")).bindparams(*_PARAMS)


def claim_due(db: Database, now: datetime, limit: int = 32, lease: timedelta = LEASE) -> list[Claimed]:
    statement = _CLAIM_PG if db.dialect == "postgresql" else _CLAIM_SQLITE
    with db.transaction() as session:
        rows = session.execute(statement, {"now": now, "until": now + lease, "limit": limit}).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def mark_delivered(session: Session, message_id: int, now: datetime) -> None:
    message = session.get(CarrierOutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != "pending":
        return
    message.status, message.delivered_at, message.leased_until, message.last_error = "delivered", now, None, ""


def schedule_retry(session: Session, message_id: int, now: datetime, error: str,
                   rng: random.Random | None = None, retry_after_s: float | None = None) -> datetime:
    """Back off exponentially with jitter; never sooner than the carrier's own Retry-After."""
    message = session.get(CarrierOutboxMessage, message_id, with_for_update=True)
    assert message is not None
    delay = backoff(message.attempts, rng)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=min(retry_after_s, 3600)))
    message.next_attempt_at = now + delay
    message.leased_until = None
    message.last_error = error[:2000]
    return message.next_attempt_at


def mark_failed(session: Session, message_id: int, error: str) -> None:
    message = session.get(CarrierOutboxMessage, message_id, with_for_update=True)
    assert message is not None
    message.status, message.leased_until, message.last_error = "failed", None, error[:2000]
