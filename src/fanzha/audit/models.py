"""The tamper-evident audit log: an append-only hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base
from fanzha.storage.types import UTCDateTime


class AuditEntry(Base):
    """One recorded event. It is written with its content at once and sealed into the chain soon after.

    id is the insertion order. seq, prev_hash and hash are set when the entry is sealed: under the head
    lock, so seq is gapless and in chain order (on SQLite at once, in the writer's own transaction; on
    PostgreSQL by the sealer, so no request waits on the chain).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    actor_org: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # Finds the entries still waiting to be sealed without scanning the log.
        Index("ix_audit_log_pending", "id", postgresql_where=text("seq IS NULL"), sqlite_where=text("seq IS NULL")),
    )


class AuditHead(Base):
    """A single row naming the chain's last sealed entry; locking it allows one sealer at a time.

    It also lets verification notice entries cut off the end of the log.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
