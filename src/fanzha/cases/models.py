"""Cases: one per fraud report, with its people, transfers, entities, links and status history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fanzha.storage.base import Base
from fanzha.storage.types import Money, UTCDateTime


class Channel(StrEnum):
    POLICE_110 = "110"
    HOTLINE_12345 = "12345"
    STATION = "station"
    WEB = "web"
    APP = "app"


class CaseStatus(StrEnum):
    RECEIVED = "received"  # on the clock, nobody has acted yet
    ACCEPTED = "accepted"  # an officer confirmed the facts
    IN_PROGRESS = "in_progress"  # stops, freezes, queries under way
    REFERRED = "referred"  # handed to investigators
    CLOSED = "closed"


class EntityKind(StrEnum):
    PHONE = "phone"
    ACCOUNT = "account"
    URL = "url"
    DEVICE = "device"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    # A reference in the sending system (110 incident number...): the same report sent twice is one case.
    external_ref: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    fraud_type: Mapped[str] = mapped_column(String(32), index=True)
    narrative: Mapped[str] = mapped_column(Text)
    # What the extractor suggested (JSON); the officer's confirmed facts are the rows below.
    extraction: Mapped[str] = mapped_column(Text, default="{}")
    # Things the officer should check (a card failing Luhn, an odd device id), as a JSON list of strings.
    warnings: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    first_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)

    parties: Mapped[list[CaseParty]] = relationship(back_populates="case", order_by="CaseParty.id")
    transfers: Mapped[list[Transfer]] = relationship(back_populates="case", order_by="Transfer.id")
    entities: Mapped[list[CaseEntity]] = relationship(back_populates="case", order_by="CaseEntity.id")
    history: Mapped[list[CaseStatusEvent]] = relationship(
        back_populates="case", order_by="CaseStatusEvent.id"
    )

    __table_args__ = (UniqueConstraint("channel", "external_ref", name="uq_cases_channel_external_ref"),)


class CaseParty(Base):
    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # reporter or victim
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))  # E.164
    id_number: Mapped[str | None] = mapped_column(String(18))

    case: Mapped[Case] = relationship(back_populates="parties")


class Transfer(Base):
    """A payment the victim made to the fraudsters, as reported."""

    __tablename__ = "case_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_account: Mapped[str | None] = mapped_column(String(40))
    from_bank: Mapped[str | None] = mapped_column(String(32))
    to_account: Mapped[str] = mapped_column(String(40))
    to_bank: Mapped[str | None] = mapped_column(String(32), index=True)  # BIN-table bank code
    to_name: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(32))

    case: Mapped[Case] = relationship(back_populates="transfers")


class CaseEntity(Base):
    """A suspect-side value (phone, account, URL, device) indexed for linking cases (串并案)."""

    __tablename__ = "case_entities"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    # The organisation that may see this entity: bank code for accounts, carrier code for phones.
    org_hint: Mapped[str | None] = mapped_column(String(32))

    case: Mapped[Case] = relationship(back_populates="entities")

    __table_args__ = (
        Index("ix_case_entities_kind_value", "kind", "value"),
        Index("ix_case_entities_org_hint", "kind", "org_hint"),
        UniqueConstraint("case_id", "kind", "value", name="uq_case_entities_case_kind_value"),
    )


class CaseLink(Base):
    """Two cases share an entity; stored both ways so either case lists the other at once."""

    __tablename__ = "case_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    other_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("case_id", "other_case_id", "kind", "value", name="uq_case_links_pair_entity"),
    )


class CaseStatusEvent(Base):
    __tablename__ = "case_status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    by_username: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="history")


class CaseCounter(Base):
    """Per-day sequence behind case numbers (SH20261125-000123)."""

    __tablename__ = "case_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
