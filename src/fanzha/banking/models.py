"""Instructions to banks (stop-payment, freeze, queries) and the outbox that delivers them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import Money, UTCDateTime

# Queries ask and holds stop; a query is queued -> answered | failed and has no expiry.
QUERY_KINDS = frozenset({"transaction_query", "account_query"})
HOLD_KINDS = frozenset({"stop_payment", "freeze"})
RETURN_KIND = "return"  # money sent back from a hold to a victim (banking/returns.py)


class BankInstruction(Base):
    """One instruction to one bank about one account, with its lifecycle (see banking/lifecycle.py)."""

    __tablename__ = "bank_instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # stop_payment, freeze, transaction_query, account_query, return
    bank_code: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    requested_amount: Mapped[Decimal | None] = mapped_column(Money())  # None: the whole account
    held_amount: Mapped[Decimal | None] = mapped_column(Money())
    major_case: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(24))
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The envelope id of the instruction as first sent; answers name it as their request_id.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The bank said "received, answer to follow" (an Ack); a bank answering at once acknowledges with its answer.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When money was first held; renewals answer later but do not move it (report-to-stop figures use it).
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The expiry the last alarm was raised for: each term of a hold alarms once.
    alarm_for: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Return: the hold the money comes from, the victim's account it goes to, and the rule that allows it.
    target_instruction_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_instructions.id", ondelete="CASCADE", name="fk_bank_instructions_target"))
    payee_account: Mapped[str | None] = mapped_column(String(40))
    payee_bank: Mapped[str | None] = mapped_column(String(64))
    payee_name: Mapped[str | None] = mapped_column(String(64))
    basis: Mapped[str | None] = mapped_column(String(24))  # single_victim, time_order, pro_rata
    notice_until: Mapped[datetime | None] = mapped_column(UTCDateTime())  # pro rata: the 30-day public notice
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the bank executes within 3 working days
    returned_amount: Mapped[Decimal | None] = mapped_column(Money())
    # TransactionQuery: details from this time (a re-query after a short hold asks from the same start).
    query_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[str] = mapped_column(Text, default="{}")  # the bank's last signed answer (JSON)
    last_error: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_bank_instructions_bank_status", "bank_code", "status"),  # a bank liaison's inbox
        Index("ix_bank_instructions_status_expiry", "status", "expires_at"),  # expiry alarms
        Index("ix_bank_instructions_target", "target_instruction_id"),  # a hold's returns
    )


class OutboxMessage(Base):
    """A signed message written in the same transaction as the decision that caused it.

    The dispatcher delivers it; a message whose lease ran out (the dispatcher died) is delivered again
    with the same idempotency key, and the bank answers a repeat with its first answer, so each
    instruction takes effect exactly once.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    instruction_id: Mapped[int] = mapped_column(ForeignKey("bank_instructions.id", ondelete="CASCADE"), index=True)
    message_type: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    envelope: Mapped[str] = mapped_column(Text)  # signed JSON, sent byte for byte on every attempt
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The bank's Ack (received, result to follow): the message stays pending and is resent to poll for it.
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
