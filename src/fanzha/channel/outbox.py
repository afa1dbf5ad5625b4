"""A transactional outbox for signed messages to partners, over any table with the outbox columns.

A decision writes its signed message into the outbox in its own transaction, so a message exists if and only
if the decision committed. Dispatchers claim due messages under a lease; a dispatcher that dies leaves its
lease to run out and the message is claimed again, resent with the same idempotency key, and the partner
answers the repeat without acting twice. Each channel has its own table (``outbox``, ``carrier_outbox``) and
an ``Outbox`` over it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from fanzha.storage.db import Database
from fanzha.storage.types import UTCDateTime

LEASE = timedelta(seconds=30)
RETRY_BASE_S = 0.5
RETRY_CAP_S = 60.0
RETRY_AFTER_CAP_S = 3600.0  # a partner's Retry-After is honoured up to an hour, not forever


class OutboxRow(Protocol):
    """The columns every outbox table has (the ORM model of one)."""

    __tablename__: str

    def __init__(self, **kwargs: Any) -> None: ...

    status: str
    attempts: int
    next_attempt_at: datetime
    leased_until: datetime | None
    last_error: str
    delivered_at: datetime | None


Row = TypeVar("Row", bound=OutboxRow)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    instruction_id: int
    message_type: str
    recipient: str
    envelope: str
    attempts: int  # including this one


_CLAIM = """
UPDATE {table} SET leased_until = :until, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM {table}
    WHERE status = 'pending' AND next_attempt_at <= :now AND (leased_until IS NULL OR leased_until <= :now)
    ORDER BY {order}id LIMIT :limit {lock}
)
RETURNING id, instruction_id, message_type, recipient, envelope, attempts
"""
# Typed parameters: UTCDateTime stores times the same way the ORM does on each backend.
_PARAMS = (bindparam("now", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime()))


def ceiling(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th try at most: 0.5 s doubling up to a minute."""
    return min(RETRY_CAP_S, RETRY_BASE_S * 2.0 ** max(0, attempts - 1))


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    # Jitter, so that many retries do not arrive at a recovering partner together.
    return timedelta(seconds=ceiling(attempts) * (0.5 + 0.5 * (rng or random).random()))


class Outbox(Generic[Row]):
    """Enqueue, claim and settle messages in the table of ``model``."""

    def __init__(self, model: type[Row], urgent: frozenset[str] = frozenset()) -> None:
        """``urgent``: message types claimed before any other due message (then oldest first)."""
        self.model = model
        table = model.__tablename__
        if any(not re.fullmatch(r"[A-Za-z]+", kind) for kind in urgent):
            raise ValueError(f"message types are plain names, got {sorted(urgent)}")
        kinds = ", ".join(f"'{kind}'" for kind in sorted(urgent))
        order = f"CASE WHEN message_type IN ({kinds}) THEN 0 ELSE 1 END, " if urgent else ""
        # SKIP LOCKED lets several dispatchers share the outbox without waiting on each other's rows;
        # SQLite's single writer needs no row locks.
        self._claim_pg = text(_CLAIM.format(table=table, order=order, lock="FOR UPDATE SKIP LOCKED")
                              ).bindparams(*_PARAMS)
        self._claim_sqlite = text(_CLAIM.format(table=table, order=order, lock="")).bindparams(*_PARAMS)

    def enqueue(self, session: Session, *, instruction_id: int, message_type: str, recipient: str,
                idempotency_key: str, envelope: str, now: datetime, status: str = "pending",
                delivered_at: datetime | None = None) -> Row:
        message = self.model(
            instruction_id=instruction_id, message_type=message_type, recipient=recipient,
            idempotency_key=idempotency_key, envelope=envelope, status=status, attempts=0, next_attempt_at=now,
            created_at=now, last_error="", delivered_at=delivered_at,
        )
        session.add(message)
        session.flush()
        return message

    def claim_due(self, db: Database, now: datetime, limit: int, lease: timedelta = LEASE) -> list[Claimed]:
        statement = self._claim_pg if db.dialect == "postgresql" else self._claim_sqlite
        with db.transaction() as session:
            rows = session.execute(statement, {"now": now, "until": now + lease, "limit": limit}).all()
        return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)

    def locked(self, session: Session, message_id: int) -> Row | None:
        return session.get(self.model, message_id, with_for_update=True)

    def mark_delivered(self, session: Session, message_id: int, now: datetime) -> None:
        message = self.locked(session, message_id)
        if message is None or message.status != "pending":
            return  # already settled by an earlier delivery of the same message
        message.status, message.delivered_at, message.leased_until, message.last_error = "delivered", now, None, ""

    def schedule_retry(self, session: Session, message_id: int, now: datetime, error: str,
                       rng: random.Random | None = None, retry_after_s: float | None = None) -> datetime:
        """Back off exponentially with jitter; never sooner than the partner's own Retry-After, if given."""
        message = self.locked(session, message_id)
        assert message is not None
        delay = backoff(message.attempts, rng)
        if retry_after_s is not None:
            delay = max(delay, timedelta(seconds=min(retry_after_s, RETRY_AFTER_CAP_S)))
        message.next_attempt_at = now + delay
        message.leased_until = None
        message.last_error = error[:2000]
        return message.next_attempt_at

    def mark_failed(self, session: Session, message_id: int, error: str) -> None:
        message = self.locked(session, message_id)
        assert message is not None
        message.status, message.leased_until, message.last_error = "failed", None, error[:2000]
