"""Engine and transaction helpers for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
READ_ONLY = "fanzha_read_only"
# One write queue per SQLite file in this process. SQLite lets one writer in at a time and makes the others
# wait in its busy handler, which sleeps in steps of up to 100 ms: under load that, not the work, set the
# tail latency. Threads of one process queue here instead and are woken the moment the writer commits, and
# people's requests go before background work (the bank dispatcher, the tracing loop), so a report filed
# while answers pour in is not kept waiting behind them.
WRITER_QUEUE_S = 10.0
_background = threading.local()


def mark_background() -> None:
    """Mark the calling thread as background work: its SQLite writes yield to waiting requests.

    Use as a thread pool's ``initializer`` (or call at the start of a worker thread)."""
    _background.on = True


class WriterQueue:
    """A reentrant lock that serves waiting foreground threads before background ones."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._foreground_waiting = 0

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        background = getattr(_background, "on", False)
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return True
            if not background:
                self._foreground_waiting += 1
            try:
                free = self._cond.wait_for(
                    lambda: self._owner is None and (not background or self._foreground_waiting == 0), timeout)
            finally:
                if not background:
                    self._foreground_waiting -= 1
            if not free:
                if not background:
                    self._cond.notify_all()  # background waiters may go now that this one gave up
                return False
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()


_SQLITE_WRITERS: dict[str, WriterQueue] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _sqlite_writer(database: str) -> WriterQueue:
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(database, WriterQueue())


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    # No pre-ping: it costs a round trip per transaction; recycling bounds the life of stale connections.
    return create_engine(url, pool_size=20, max_overflow=20, pool_recycle=1800)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (below) instead of pysqlite's implicit deferred BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes can
        # fail with "database is locked" at once instead of waiting its turn. Pure reads need no lock.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


class Database:
    """One engine and its session factory; every unit of work is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})
        self._readers = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
        database = make_url(url).database
        self._writer = (_sqlite_writer(str(Path(database).resolve()) if database != ":memory:" else url)
                        if self.dialect == "sqlite" and database else None)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on success, roll back everything on any error: nothing is ever half-written."""
        if self._writer is None:
            with self.sessions.begin() as session:
                yield session
            return
        # A thread that waits too long (another thread of its own work holds the lock) goes on to SQLite's own
        # busy handler, as it would without this lock, rather than waiting forever.
        queued = self._writer.acquire(timeout=WRITER_QUEUE_S)
        if not queued:
            log.warning("waited %.0f s for this process's SQLite write lock; going on without it", WRITER_QUEUE_S)
        try:
            with self.sessions.begin() as session:
                yield session
        finally:
            if queued:
                self._writer.release()

    def read_one(self, statement: Executable, params: dict[str, Any]) -> Row[Any] | None:
        """One row from one read-only statement, outside any transaction (no BEGIN/COMMIT round trips).

        Used on every request to resolve the caller, where a transaction would cost two extra round trips.
        """
        with self._autocommit.connect() as conn:
            row: Row[Any] | None = conn.execute(statement, params).first()
            return row

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction that only reads: on SQLite it does not take the write lock."""
        with self._readers.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
