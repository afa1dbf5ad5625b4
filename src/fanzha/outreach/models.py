"""Tables of the live call watch: the flagged numbers, the calls being watched, and the flash warnings sent.

The callback queue's tables are in ``outreach/callbacks.py`` (another part of issue 6).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CursorResult, Index, Integer, Result, String, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import UTCDateTime


class FlaggedNumber(Base):
    """A number the center has flagged as a fraud number: a subscriber on a call with it is watched.

    Removing a number keeps the row (``active`` false) so its history stays; putting it back reactivates it.
    ``revision`` grows on every edit: a new total is how every watcher notices a change without a restart.
    """

    __tablename__ = "flagged_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # E.164
    fraud_type: Mapped[str | None] = mapped_column(String(32))  # FraudType code: chooses the flash text
    case_number: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # +1 on every edit: watchers reload on a new sum
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class CallStatus(StrEnum):
    WATCHING = "watching"  # ringing, or connected for less than N minutes
    WARNED = "warned"  # connected N minutes: flash SMS and callback task (once; the unique call_id)
    ENDED_FIRST = "ended_first"  # released before the N minutes were up: recorded, no SMS


class WatchedCall(Base):
    """One call between a subscriber and a flagged number, as the carriers' events told it.

    Events of one call may reach different watchers (a consumer group shares entries, not calls), so this row is
    the call's shared state: each event fills in its column, and the move out of ``watching`` is a conditional
    update that exactly one watcher wins.
    """

    __tablename__ = "watched_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the carrier's call reference
    subscriber: Mapped[str] = mapped_column(String(32), index=True)  # E.164, the possible victim
    flagged: Mapped[str] = mapped_column(String(32))  # E.164, the flagged party
    # "to_subscriber": the flagged number called the subscriber; "from_subscriber": the subscriber called it.
    direction: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str | None] = mapped_column(String(16))
    fraud_type: Mapped[str | None] = mapped_column(String(32))
    case_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    set_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_cause: Mapped[str | None] = mapped_column(String(32))
    # When the subscriber will have been connected N minutes (set-up time when N = 0, "at ring").
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # warned or recorded as ended first

    __table_args__ = (Index("ix_watched_calls_status_due_at", "status", "due_at"),)


class WarningStatus(StrEnum):
    QUEUED = "queued"  # waits for the SMSC (none configured, not connected, or throttled)
    SENDING = "sending"  # submit_sm written; no submit_sm_resp yet
    SUBMITTED = "submitted"  # the SMSC accepted it (message_id known); waiting for the delivery receipt
    DELIVERED = "delivered"  # receipt: DELIVRD
    UNDELIVERED = "undelivered"  # receipt: UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN
    REJECTED = "rejected"  # the SMSC refused the submit_sm (command_status in last_error)
    UNCONFIRMED = "unconfirmed"  # written before a crash, never answered: not sent again (never twice)
    NOT_SENT = "not_sent"  # no SMS possible (not a mainland mobile number); the callback task stands


# Warnings that have left the queue for good (nothing more will be sent for them).
FINAL = frozenset({WarningStatus.DELIVERED.value, WarningStatus.UNDELIVERED.value, WarningStatus.REJECTED.value,
                   WarningStatus.UNCONFIRMED.value, WarningStatus.NOT_SENT.value})


class FlashWarning(Base):
    """One flash SMS (闪信) to one subscriber for one call: at most one per call, ever (unique ``call_id``)."""

    __tablename__ = "flash_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164 of the subscriber warned
    flagged: Mapped[str] = mapped_column(String(32))
    fraud_type: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(String(70))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_task_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last submit_sm written
    # Which sender wrote the submit_sm, and until when its answer is awaited: after that a restarted sender
    # marks the warning unconfirmed instead of sending it again.
    sending_by: Mapped[str | None] = mapped_column(String(40))
    sending_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_id: Mapped[str | None] = mapped_column(String(65), index=True)  # the SMSC's id, from submit_sm_resp
    delivery_status: Mapped[str | None] = mapped_column(String(16))  # the receipt's stat: DELIVRD, UNDELIV...
    delivery_error: Mapped[str | None] = mapped_column(String(16))  # the receipt's err
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when the receipt arrived
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_flash_warnings_status", "status"),)


def dialect_insert(session: Session, model: type[Base]) -> Any:
    """An INSERT with ON CONFLICT support (PostgreSQL or SQLite) for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE changed."""
    cursor: CursorResult[Any] = result  # type: ignore[assignment]
    return cursor.rowcount or 0
