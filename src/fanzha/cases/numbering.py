"""Case numbers: prefix, local (Asia/Shanghai) date, per-day sequence — SH20261125-000123.

The number is taken inside the intake transaction. On PostgreSQL it comes from a sequence per day
(non-transactional, so concurrent intakes never wait on each other; a failed intake leaves a gap, as any
sequence does). SQLite serialises writers anyway, so a counter row per day is enough there.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from datetime import date, datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from fanzha.cases.models import CaseCounter
from fanzha.config import SHANGHAI

_SQLITE_NEXT = (
    sqlite.insert(CaseCounter).values(day=bindparam("day"), value=1)
    .on_conflict_do_update(index_elements=[CaseCounter.day], set_={"value": CaseCounter.value + 1})
    .returning(CaseCounter.value)
)
_created_sequences: set[str] = set()
_create_lock = threading.Lock()


def sequence_name(day: date) -> str:
    return f"case_seq_{day:%Y%m%d}"


def number_parts(prefix: str, received_at: datetime) -> tuple[str, str]:
    """The number's fixed part ("SH20261125-") and the name of that day's sequence."""
    day = received_at.astimezone(SHANGHAI).date()
    return f"{prefix}{day:%Y%m%d}-", sequence_name(day)


def ensure_day_sequence(conn: Connection, name: str) -> None:
    """Create the day's sequence once per process, outside the caller's transaction."""
    if name in _created_sequences:
        return
    with _create_lock:
        if name in _created_sequences:
            return
        # Another server process may create it in the same instant (IF NOT EXISTS is not atomic across
        # sessions in PostgreSQL) and this one then sees a unique violation: it exists, which is all we need.
        with conn.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as own, suppress(IntegrityError):
            own.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name}"))  # name is built from a date only
        _created_sequences.add(name)


def next_case_number(conn: Connection, prefix: str, received_at: datetime) -> str:
    day = received_at.astimezone(SHANGHAI).date()
    if conn.dialect.name == "postgresql":
        name = sequence_name(day)
        ensure_day_sequence(conn, name)
        value = conn.execute(text("SELECT nextval(:seq)"), {"seq": name}).scalar_one()
    else:
        value = conn.execute(_SQLITE_NEXT, {"day": day}).scalar_one()
    return f"{prefix}{day:%Y%m%d}-{value:06d}"
