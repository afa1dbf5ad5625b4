"""Transactions the banks reported (TransactionQuery answers) or an analyst loaded, kept for tracing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import Money, UTCDateTime


class LedgerEntry(Base):
    """One leg of one account's statement: money in or out of ``(bank_code, account)``.

    A transfer between two accounts whose statements we both hold appears twice (the payer's out leg and
    the payee's in leg); tracing/store.py pairs them so the money is walked once. ``source`` says where the
    leg came from: a bank's signed answer (``bank``), an analyst's CSV (``csv``) or the victim's report
    (``report``: the credit the victim described, when the bank's statement has not shown it yet).
    """

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("bank_instructions.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(8))  # bank | csv | report
    bank_code: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(40))
    txn_id: Mapped[str] = mapped_column(String(64))  # the bank's own id for the leg
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    counterparty_bank: Mapped[str | None] = mapped_column(String(64))
    counterparty_account: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))  # transfer, atm, counter, pos, abroad, platform
    balance_after: Mapped[Decimal | None] = mapped_column(Money())

    __table_args__ = (
        UniqueConstraint("case_id", "bank_code", "account", "txn_id", name="uq_ledger_entry"),
        Index("ix_ledger_entries_account", "bank_code", "account"),  # cases that share a mule account
    )
