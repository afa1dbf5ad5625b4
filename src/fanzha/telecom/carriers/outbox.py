"""The transactional outbox for messages to carriers: the channel's outbox (``fanzha.channel.outbox``) over
``carrier_outbox``.

A decision writes its signed message here in the same transaction, so a message exists if and only if the
decision committed. Dispatchers claim due messages under a lease; a dispatcher that dies leaves its lease to
run out, the message is claimed again and resent with the same idempotency key, and the carrier answers the
repeat with its first answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fanzha.channel.outbox import LEASE, Claimed, Outbox
from fanzha.storage.db import Database
from fanzha.telecom.carriers.models import CarrierOutboxMessage

__all__ = ["LEASE", "OUTBOX", "Claimed", "claim_due", "enqueue", "mark_delivered", "mark_failed", "schedule_retry"]

OUTBOX = Outbox(CarrierOutboxMessage)
mark_delivered = OUTBOX.mark_delivered
schedule_retry = OUTBOX.schedule_retry
mark_failed = OUTBOX.mark_failed


def enqueue(session: Session, *, instruction_id: int, message_type: str, recipient: str, idempotency_key: str,
            envelope: str, now: datetime, status: str = "pending") -> CarrierOutboxMessage:
    """``status="inbox"``: for a carrier answered by hand, shown in its liaison's inbox (delivered now), never sent."""
    return OUTBOX.enqueue(session, instruction_id=instruction_id, message_type=message_type, recipient=recipient,
                          idempotency_key=idempotency_key, envelope=envelope, now=now, status=status,
                          delivered_at=now if status == "inbox" else None)


def claim_due(db: Database, now: datetime, limit: int = 32, lease: timedelta = LEASE) -> list[Claimed]:
    return OUTBOX.claim_due(db, now, limit, lease)
