"""Append to and verify the hash-chained audit log.

Each entry's hash covers its own fields and the previous entry's hash, so editing, removing or
reordering any entry breaks every hash after it. Appends lock the single head row, which serialises
them in commit order on PostgreSQL; callers append last in their transaction to hold it briefly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.audit.models import AuditEntry, AuditHead
from fanzha.auth.actor import Actor

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(
    *, seq: int, at: datetime, actor: str, actor_org: str, action: str, object_type: str,
    object_id: str, details: str, prev_hash: str,
) -> str:
    body = canonical_json({
        "seq": seq, "at": at.astimezone(UTC).isoformat(), "actor": actor, "actor_org": actor_org,
        "action": action, "object_type": object_type, "object_id": object_id, "details": details,
        "prev_hash": prev_hash,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _locked_head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:  # the migration seeds it; recreate if a test database was built without data
        head = AuditHead(id=HEAD_ID, last_seq=0, last_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def append(
    session: Session, actor: Actor | None, action: str, object_type: str, object_id: str | int,
    details: dict[str, Any] | None = None, *, at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction."""
    head = _locked_head(session)
    at = (at or datetime.now(UTC)).astimezone(UTC)
    fields = {
        "seq": head.last_seq + 1,
        "at": at,
        "actor": actor.username if actor else "system",
        "actor_org": actor.org_code if actor else "system",
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "details": canonical_json(details or {}),
        "prev_hash": head.last_hash,
    }
    digest = entry_hash(**fields)
    entry = AuditEntry(**fields, hash=digest)
    session.add(entry)
    head.last_seq = entry.seq
    head.last_hash = digest
    session.flush()
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
        recomputed = entry_hash(
            seq=entry.seq, at=entry.at, actor=entry.actor, actor_org=entry.actor_org, action=entry.action,
            object_type=entry.object_type, object_id=entry.object_id, details=entry.details,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
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
