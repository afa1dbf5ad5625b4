"""Storage rules: money is exact on every backend, times are aware UTC, case numbers never repeat."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, select

from fanzha.cases.numbering import next_case_number
from fanzha.storage.db import Database
from fanzha.storage.types import Money, UTCDateTime

money = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999999999.9999"), places=4,
                    allow_nan=False, allow_infinity=False)


def _scratch(db: Database) -> Table:
    meta = MetaData()
    table = Table("scratch_values", meta, Column("id", Integer, primary_key=True), Column("amount", Money()),
                  Column("at", UTCDateTime()))
    meta.drop_all(db.engine)
    meta.create_all(db.engine)
    return table


@given(amount=money)
def test_money_round_trips_exactly(db: Database, amount: Decimal) -> None:
    table = _scratch(db)
    with db.engine.begin() as conn:
        conn.execute(table.insert().values(id=1, amount=amount))
        stored = conn.execute(select(table.c.amount)).scalar_one()
    assert stored == amount


def test_money_refuses_floats_and_excess_precision(db: Database) -> None:
    table = _scratch(db)
    with db.engine.begin() as conn, pytest.raises(Exception, match="Decimal"):
        conn.execute(table.insert().values(id=1, amount=1.5))
    with db.engine.begin() as conn, pytest.raises(Exception, match="decimal places"):
        conn.execute(table.insert().values(id=2, amount=Decimal("1.00001")))


def test_times_are_stored_utc_and_naive_times_refused(db: Database) -> None:
    table = _scratch(db)
    shanghai_nine = datetime(2026, 4, 25, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    with db.engine.begin() as conn:
        conn.execute(table.insert().values(id=1, at=shanghai_nine))
        stored = conn.execute(select(table.c.at)).scalar_one()
    assert stored == shanghai_nine and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    with db.engine.begin() as conn, pytest.raises(Exception, match="naive"):
        conn.execute(table.insert().values(id=2, at=datetime(2026, 4, 25, 9, 0)))


def _number(db: Database, when: datetime) -> str:
    with db.transaction() as session:
        return next_case_number(session.connection(), "SH", when)


def test_concurrent_case_numbers_are_unique_and_dense(db: Database) -> None:
    when = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda _: _number(db, when), range(80)))
    assert len(set(numbers)) == 80
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 81))
    assert all(n.startswith("SH20261125-") for n in numbers)


def test_case_number_uses_shanghai_date(db: Database) -> None:
    late_utc = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 01:30 on the 26th in Shanghai
    assert _number(db, late_utc) == "SH20261126-000001"
