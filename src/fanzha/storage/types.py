"""Column types that keep the house rules: aware UTC times and exact money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 4
_MONEY_FACTOR = Decimal(10) ** MONEY_SCALE


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; refuses naive datetimes so a local time can never be stored as if it were UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times must be timezone-aware")
        utc = value.astimezone(UTC)
        # SQLite has no timezone type: store naive UTC there, aware everywhere else.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money_to_storage(value: Decimal) -> int:
    """The stored integer (1/10,000 units) for an amount; refuses floats and excess precision."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, got {type(value).__name__}")
    scaled = value * _MONEY_FACTOR
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {value} has more than {MONEY_SCALE} decimal places")
    return int(scaled)


class Money(TypeDecorator[Decimal]):
    """A Decimal stored as an integer count of 1/10,000 of the currency unit.

    Integers are exact on every backend (SQLite would store NUMERIC as a float) and SQL SUM stays exact.
    The currency always lives in a sibling column: amounts are never summed across currencies.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else money_to_storage(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)) / _MONEY_FACTOR
