"""Organisations: the center, banks, carriers, virtual operators, hotlines and police stations."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from fanzha.storage.base import Base


class OrgKind(StrEnum):
    CENTER = "center"
    BANK = "bank"
    CARRIER = "carrier"
    VIRTUAL_OPERATOR = "virtual_operator"
    HOTLINE = "hotline"
    POLICE_STATION = "police_station"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable, human-readable key: "center", "bank:ABC", "carrier:CMCC", "hotline:12345", "station:BAOSHAN".
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    # For banks the BIN-table bank code; for carriers and virtual operators their short code.
    short_code: Mapped[str | None] = mapped_column(String(32), index=True)
    # Banks and carriers with staff in the room answer by hand; the rest by system link.
    stationed: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
