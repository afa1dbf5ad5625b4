"""Case numbers: prefix, local (Asia/Shanghai) date, per-day sequence — SH20261125-000123."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from fanzha.cases.models import CaseCounter
from fanzha.config import SHANGHAI


def next_case_number(engine: Engine, prefix: str, received_at: datetime) -> str:
    """Take the next number in its own short transaction.

    Keeping the counter out of the intake transaction means concurrent reports do not queue behind each
    other's whole intake; a failed intake leaves a gap, as a sequence would.
    """
    day = received_at.astimezone(SHANGHAI).date()
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(CaseCounter).values(day=day, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[CaseCounter.day], set_={"value": CaseCounter.value + 1}
    ).returning(CaseCounter.value)
    with engine.begin() as conn:
        value = conn.execute(stmt).scalar_one()
    return f"{prefix}{day:%Y%m%d}-{value:06d}"
