"""Instructions to carriers (shut down, intercept, block), their outbox, and what carriers taught us about routing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import UTCDateTime


class CarrierActionKind(StrEnum):
    SHUTDOWN = "shutdown"  # 停机: the carrier's own subscriber number
    INTERCEPT = "intercept"  # 拦截: another network's number, stopped at this carrier's switches
    BLOCK = "block"  # 封堵: a virtual-operator number, blocked on the host network that carries it


class ActionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"  # a large batch waits for a supervisor
    QUEUED = "queued"  # signed and in the outbox, or on its way
    SENT = "sent"  # in the carrier liaison's inbox (carriers answered by hand)
    DONE = "done"
    REFUSED = "refused"
    NOT_OURS = "not_ours"  # the carrier says another one holds the number (re-routed when it names it)
    FAILED = "failed"  # could not be delivered, or the carrier refused the message itself
    DECLINED = "declined"  # a supervisor did not approve the batch


AWAITING = frozenset({ActionStatus.QUEUED.value, ActionStatus.SENT.value})
# An instruction in one of these states stands: the same number, carrier and action is not asked twice.
STANDING = frozenset({ActionStatus.PENDING_APPROVAL.value, ActionStatus.QUEUED.value, ActionStatus.SENT.value,
                      ActionStatus.DONE.value})


class CarrierInstruction(Base):
    """One instruction to one carrier about one number."""

    __tablename__ = "carrier_instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # The request it came from: a supervisor approves a large batch as one.
    batch: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32), index=True)  # E.164
    carrier: Mapped[str] = mapped_column(String(16))  # the instructed carrier's short code (CMCC...)
    status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(String(64))  # the officer named in the signed instruction
    # Why this carrier: "library" (phonenumbers allocation data), "learned" (a carrier's earlier answer),
    # "officer" (an intercept at carriers the officer chose), "default" (an intercept at the stationed
    # carriers: no domestic carrier holds the number) or "answer" (re-routed by the previous carrier's answer).
    route_source: Mapped[str] = mapped_column(String(16))
    true_carrier: Mapped[str | None] = mapped_column(String(16))
    virtual_operator: Mapped[str | None] = mapped_column(String(16))
    rerouted_from_id: Mapped[int | None] = mapped_column(ForeignKey("carrier_instructions.id", ondelete="SET NULL"))
    hops: Mapped[int] = mapped_column(Integer, default=0)
    # The envelope id of the instruction as sent; the carrier's answer names it as its request_id.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(Text, default="{}")  # the carrier's signed answer (JSON), or a hand answer
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_carrier_instructions_carrier_status", "carrier", "status"),  # a carrier liaison's inbox
    )


class CarrierOutboxMessage(Base):
    """A signed message to a carrier, written in the transaction of the decision that caused it."""

    __tablename__ = "carrier_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("carrier_instructions.id", ondelete="CASCADE"),
                                                index=True)
    message_type: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    envelope: Mapped[str] = mapped_column(Text)  # signed JSON, sent byte for byte on every attempt
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed, inbox
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_carrier_outbox_due", "status", "next_attempt_at"),)


class CarrierRoute(Base):
    """What a carrier's answer taught us about a number: who holds it now (numbers move between carriers)."""

    __tablename__ = "carrier_routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    carrier: Mapped[str] = mapped_column(String(16))
    virtual_operator: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # "answer" (signed) or "hand" (a liaison's word)
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("carrier_instructions.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
