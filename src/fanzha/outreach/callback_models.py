"""The callback queue (劝阻): people to phone and talk out of paying, each call's outcome, and dedupe keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import UTCDateTime


class Grade(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Stored beside the grade so the queue orders by an integer: high first.
GRADE_RANK = {Grade.HIGH: 0, Grade.MEDIUM: 1, Grade.LOW: 2}


class Source(StrEnum):
    WATCHER = "watcher"  # the live-call watcher: the person is (or was just) on a call with a flagged number
    POTENTIAL_VICTIM = "potential_victim"  # the telecom analysis: a flagged number called this person
    MANUAL = "manual"  # an officer typed it in


class TaskStatus(StrEnum):
    OPEN = "open"  # in the queue (perhaps waiting for its next attempt, perhaps claimed)
    DISSUADED = "dissuaded"  # talked out of paying
    PAID = "paid"  # had already paid: a report was opened
    VISIT = "visit"  # refused to listen: the local police station visits
    GAVE_UP = "gave_up"  # not reached after every retry


class Outcome(StrEnum):
    DISSUADED = "dissuaded"
    PAID = "paid"
    NOT_REACHED = "not_reached"
    REFUSED = "refused"


CLOSED = frozenset({TaskStatus.DISSUADED, TaskStatus.PAID, TaskStatus.VISIT, TaskStatus.GAVE_UP})


class CallbackTask(Base):
    """One person to phone. At most one open task per phone number (a partial unique index)."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    grade: Mapped[str] = mapped_column(String(8))
    grade_rank: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)  # the reasons as text (English or as typed), for the API
    # The same reasons as a JSON list of {"code", "params"} (outreach/reasons.py), said in the reader's language by
    # the console; NULL on tasks stored before reasons had codes (their text is shown).
    reasons: Mapped[str | None] = mapped_column(Text)
    fraud_type: Mapped[str | None] = mapped_column(String(32))  # FraudType code
    case_number: Mapped[str | None] = mapped_column(String(32))  # the case that flagged the caller, if any
    flagged_number: Mapped[str | None] = mapped_column(String(32))  # the fraud number that called this person
    on_call: Mapped[bool] = mapped_column(Boolean, default=False)  # on a call with a flagged number right now
    on_call_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls that did not reach the person
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())  # due from then on
    # The claim is a lease: the holder's page renews it; once it lapses anyone may claim the task.
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_case_number: Mapped[str | None] = mapped_column(String(32))  # opened when the person had paid
    station_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))  # visits on refusal
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Every change bumps it; a change is written only if nobody changed the row since it was read.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_callback_tasks_queue", "status", "next_attempt_at"),
        Index("ix_callback_tasks_closed", "status", "closed_at"),
        Index("uq_callback_tasks_open_phone", "phone", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )


class CallbackAttempt(Base):
    """One call an agent made and its outcome."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # not reached: when to call again


class CallbackKey(Base):
    """A caller's dedupe key (e.g. one per watched call): the same key always answers with the same task."""

    __tablename__ = "callback_task_keys"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
