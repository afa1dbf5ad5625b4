"""The transactional outbox for messages to banks: the channel's outbox (``fanzha.channel.outbox``) over ``outbox``.

A decision (an officer's approval, an automatic first stop-payment) writes its signed message here in
the same transaction, so a message exists if and only if the decision committed. Dispatchers claim due
messages under a lease; a dispatcher that dies leaves its lease to run out and the message is claimed
again, resent with the same idempotency key, and the bank answers the repeat without acting twice.
Only banks acknowledge (``Ack``, then the result on a resend), hence ``schedule_poll`` here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fanzha.banking.models import OutboxMessage
from fanzha.channel.outbox import LEASE, RETRY_BASE_S, RETRY_CAP_S, Claimed, Outbox, backoff, ceiling
from fanzha.storage.db import Database

__all__ = [
    "LEASE", "OUTBOX", "RETRY_BASE_S", "RETRY_CAP_S", "Claimed", "backoff", "claim_due", "enqueue",
    "mark_delivered", "mark_failed", "schedule_poll", "schedule_retry",
]

# Holds first: a stop-payment or freeze races the cash-out, while statements, renewals and returns can wait
# a moment; with the tracing loop on, queries would otherwise queue a new report's first stop behind them.
OUTBOX = Outbox(OutboxMessage, urgent=frozenset({"StopPayment", "Freeze"}))
enqueue = OUTBOX.enqueue
mark_delivered = OUTBOX.mark_delivered
schedule_retry = OUTBOX.schedule_retry
mark_failed = OUTBOX.mark_failed


def claim_due(db: Database, now: datetime, limit: int = 50, lease: timedelta = LEASE) -> list[Claimed]:
    return OUTBOX.claim_due(db, now, limit, lease)


def schedule_poll(session: Session, message_id: int, now: datetime) -> bool:
    """The bank acknowledged: resend the same envelope later to collect the result. True on the first Ack.

    Polls back off like retries (0.5 s doubling to a minute) but are not errors: ``last_error`` is cleared.
    """
    message = OUTBOX.locked(session, message_id)
    assert message is not None
    first = message.acknowledged_at is None
    if first:
        message.acknowledged_at = now
    message.next_attempt_at = now + timedelta(seconds=ceiling(message.attempts))
    message.leased_until = None
    message.last_error = ""
    return first
