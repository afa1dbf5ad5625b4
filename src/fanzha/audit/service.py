"""Append to and verify the hash-chained audit log.

An entry's hash is sha256("<seq>:<previous entry's hash>:<content digest>"), where the content digest
is sha256 of the entry's own fields as canonical JSON. Editing, removing or reordering any entry
therefore breaks the chain from that entry on. Appends are serialised by the single head row. On
PostgreSQL the whole append (lock head, chain, insert, move head) is one statement, so the lock is
held for one round trip plus the commit rather than for several Python-driven round trips.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from fanzha.audit.models import AuditEntry, AuditHead
from fanzha.auth.actor import Actor

GENESIS_HASH = "0" * 64
HEAD_ID = 1


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
    return chain_hash(entry.seq, entry.prev_hash, content_digest(entry))


_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditEntry.__table__)
# Built once: statement construction costs more than executing these on a warm connection.
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == HEAD_ID).with_for_update()
_INSERT_ENTRY = insert(_LOG)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(
    last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
# The same chaining as chain_hash(), done by PostgreSQL inside one statement.
_PG_APPEND = text("""
WITH old AS (SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE),
moved AS (
    UPDATE audit_head SET last_seq = old.last_seq + 1,
        last_hash = encode(sha256(convert_to((old.last_seq + 1)::text || ':' || old.last_hash || ':' || :digest,
                                             'UTF8')), 'hex')
    FROM old WHERE audit_head.id = 1
    RETURNING audit_head.last_seq AS seq, audit_head.last_hash AS hash, old.last_hash AS prev
)
INSERT INTO audit_log (seq, at, actor, actor_org, action, object_type, object_id, details, prev_hash, hash)
SELECT moved.seq, :at, :actor, :actor_org, :action, :object_type, :object_id, :details, moved.prev, moved.hash
FROM moved
RETURNING seq, prev_hash, hash
""")


def append(
    session: Session, actor: Actor | None, action: str, object_type: str, object_id: str | int,
    details: dict[str, Any] | None = None, *, at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction; call it last, just before commit."""
    session.flush()  # the caller's own writes go first, so the head lock is held only until commit
    conn = session.connection()
    entry = AuditEntry(
        at=(at or datetime.now(UTC)).astimezone(UTC), actor=actor.username if actor else "system",
        actor_org=actor.org_code if actor else "system", action=action, object_type=object_type,
        object_id=str(object_id), details=canonical_json(details or {}),
    )
    digest = content_digest(entry)
    if conn.dialect.name == "postgresql":
        row = conn.execute(_PG_APPEND, {
            "digest": digest, "at": entry.at, "actor": entry.actor, "actor_org": entry.actor_org,
            "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
            "details": entry.details,
        }).one()
        entry.seq, entry.prev_hash, entry.hash = row
        return entry
    head = conn.execute(_LOCK_HEAD).first()
    if head is None:  # the migration seeds it; recreate if a database was built without data
        conn.execute(insert(_HEAD).values(id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
        last_seq, last_hash = 0, GENESIS_HASH
    else:
        last_seq, last_hash = head
    entry.seq, entry.prev_hash = last_seq + 1, last_hash
    entry.hash = chain_hash(entry.seq, entry.prev_hash, digest)
    conn.execute(_INSERT_ENTRY, {
        "seq": entry.seq, "at": entry.at, "actor": entry.actor, "actor_org": entry.actor_org,
        "action": entry.action, "object_type": entry.object_type, "object_id": entry.object_id,
        "details": entry.details, "prev_hash": entry.prev_hash, "hash": entry.hash,
    })
    conn.execute(_UPDATE_HEAD, {"new_seq": entry.seq, "new_hash": entry.hash})
    return entry


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the whole chain; name the first entry that was edited, removed or reordered."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    for entry in _entries(session, batch):
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq,
                                f"entry {expected_seq} is missing or out of order (found {entry.seq} next)")
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.seq,
                                f"entry {entry.seq} does not follow entry {entry.seq - 1} (removed or reordered)")
        if _hash_of(entry) != entry.hash:
            return VerifyResult(False, checked, entry.seq, f"entry {entry.seq} was edited")
        prev = entry.hash
        expected_seq += 1
        checked += 1
    head = session.get(AuditHead, HEAD_ID)
    last_seq = head.last_seq if head else 0
    if head is not None and (last_seq != checked or head.last_hash != prev):
        return VerifyResult(False, checked, checked + 1,
                            f"entries after {checked} were removed (the head names entry {last_seq})")
    return VerifyResult(True, checked)


def _entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.execute(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def recent(session: Session, *, before_seq: int | None = None, limit: int = 100,
           object_id: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == object_id)
    return list(session.execute(query).scalars())
