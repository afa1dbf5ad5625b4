"""Append to, seal and verify the hash-chained audit log.

An entry's hash is sha256("<seq>:<previous entry's hash>:<content digest>"), where the content digest
is sha256 of the entry's own fields as canonical JSON. Editing, removing or reordering any sealed entry
therefore breaks the chain from that entry on, and the head row reveals a cut tail.

Appending and sealing are separate so that no request queues behind the chain. On PostgreSQL a request
only inserts its entry (no lock); the sealer (a background thread in each server process, one at a time
by the head row's lock, and `fanzha audit seal`) chains pending entries in insertion order every few
tens of milliseconds. Until then an entry is recorded but not yet tamper-evident. SQLite has a single
writer anyway, so there the writer seals its own entry in its own transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from fanzha.audit.models import AuditEntry, AuditHead
from fanzha.auth.actor import Actor
from fanzha.storage.db import Database

GENESIS_HASH = "0" * 64
HEAD_ID = 1
log = logging.getLogger(__name__)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def content_digest(entry: AuditEntry) -> str:
    body = canonical_json({
        "at": entry.at.astimezone(UTC).isoformat(), "actor": entry.actor, "actor_org": entry.actor_org,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "details": entry.details,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def chain_hash(seq: int, prev_hash: str, digest: str) -> str:
    return hashlib.sha256(f"{seq}:{prev_hash}:{digest}".encode()).hexdigest()


def _hash_of(entry: AuditEntry) -> str:
    assert entry.seq is not None and entry.prev_hash is not None
    return chain_hash(entry.seq, entry.prev_hash, content_digest(entry))


_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditEntry.__table__)
_CONTENT = (_LOG.c.at, _LOG.c.actor, _LOG.c.actor_org, _LOG.c.action, _LOG.c.object_type, _LOG.c.object_id,
            _LOG.c.details)
# Built once: statement construction costs more than executing these on a warm connection.
_INSERT_ENTRY = insert(_LOG).returning(_LOG.c.id)
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == HEAD_ID).with_for_update()
# Another sealer holding the head means there is nothing for this one to do now.
_TRY_LOCK_HEAD = (select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == HEAD_ID)
                  .with_for_update(skip_locked=True))
_PENDING = (select(_LOG.c.id, *_CONTENT).where(_LOG.c.seq.is_(None)).order_by(_LOG.c.id)
            .limit(bindparam("batch")))
_SEAL = (update(_LOG).where(_LOG.c.id == bindparam("entry_id"))
         .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash")))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(
    last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))


def seals_in_writer(conn: Connection) -> bool:
    """SQLite seals in the writer's transaction; PostgreSQL leaves it to the sealer."""
    return conn.dialect.name != "postgresql"


def append(
    session: Session, actor: Actor | None, action: str, object_type: str, object_id: str | int,
    details: dict[str, Any] | None = None, *, at: datetime | None = None,
) -> AuditEntry:
    """Record one event inside the caller's transaction; it commits or rolls back with the change."""
    conn = session.connection()
    entry = AuditEntry(
        at=(at or datetime.now(UTC)).astimezone(UTC), actor=actor.username if actor else "system",
        actor_org=actor.org_code if actor else "system", action=action, object_type=object_type,
        object_id=str(object_id), details=canonical_json(details or {}),
    )
    entry.id = conn.execute(_INSERT_ENTRY, {
        "at": entry.at, "actor": entry.actor, "actor_org": entry.actor_org, "action": entry.action,
        "object_type": entry.object_type, "object_id": entry.object_id, "details": entry.details,
    }).scalar_one()
    if seals_in_writer(conn):
        _seal(conn, _LOCK_HEAD, batch=1_000_000)
    return entry


def _seal(conn: Connection, lock: Any, batch: int) -> int:
    head = conn.execute(lock).first()
    if head is None:
        return 0  # another sealer holds the head (or the head row is missing: verify will say so)
    last_seq, last_hash = head
    rows = conn.execute(_PENDING, {"batch": batch}).all()
    if not rows:
        return 0
    updates = []
    for row in rows:
        entry = AuditEntry(at=row.at, actor=row.actor, actor_org=row.actor_org, action=row.action,
                           object_type=row.object_type, object_id=row.object_id, details=row.details)
        last_seq += 1
        digest = chain_hash(last_seq, last_hash, content_digest(entry))
        updates.append({"entry_id": row.id, "new_seq": last_seq, "new_prev": last_hash, "new_hash": digest})
        last_hash = digest
    conn.execute(_SEAL, updates)
    conn.execute(_MOVE_HEAD, {"new_seq": last_seq, "new_hash": last_hash})
    return len(updates)


def seal_pending(db: Database, batch: int = 5000) -> int:
    """Chain every committed entry still waiting; returns how many were sealed."""
    sealed = 0
    while True:
        with db.transaction() as session:
            count = _seal(session.connection(), _TRY_LOCK_HEAD, batch)
        sealed += count
        if count < batch:
            return sealed


class Sealer:
    """Seals pending entries every `interval_s` in a daemon thread (PostgreSQL servers)."""

    def __init__(self, db: Database, interval_s: float) -> None:
        self.db = db
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        seal_pending(self.db)  # leave nothing unsealed behind on a clean shutdown

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                seal_pending(self.db)
            except Exception:  # keep sealing after a transient database error
                log.exception("sealing the audit log failed; retrying")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    pending: int = 0  # recorded but not yet sealed (normal for a few tens of milliseconds)


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the sealed chain; name the first entry that was edited, removed or reordered."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    pending = session.execute(select(func.count()).select_from(_LOG).where(_LOG.c.seq.is_(None))).scalar_one()
    for entry in _entries(session, batch):
        assert entry.seq is not None
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq,
                                f"entry {expected_seq} is missing or out of order (found {entry.seq} next)", pending)
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.seq,
                                f"entry {entry.seq} does not follow entry {entry.seq - 1} (removed or reordered)",
                                pending)
        if entry.hash is None or _hash_of(entry) != entry.hash:
            return VerifyResult(False, checked, entry.seq, f"entry {entry.seq} was edited", pending)
        prev = entry.hash
        expected_seq += 1
        checked += 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return VerifyResult(False, checked, None, "the chain's head record is missing", pending)
    if head.last_seq != checked or head.last_hash != prev:
        return VerifyResult(False, checked, checked + 1,
                            f"entries after {checked} were removed (the head names entry {head.last_seq})", pending)
    return VerifyResult(True, checked, pending=pending)


def _entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq or last
        session.expunge_all()


def recent(session: Session, *, before_id: int | None = None, limit: int = 100, object_id: str | None = None,
           action: str | None = None, actor: str | None = None) -> list[AuditEntry]:
    """Newest first by insertion order, sealed or not (the seq column says which); each filter is exact."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    return list(session.execute(query).scalars())
