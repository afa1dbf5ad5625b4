"""HTTP API for the audit log: read and verify (auditors and supervisors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from fanzha.audit import service
from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.auth.permissions import Permission, allowed
from fanzha.errors import Forbidden
from fanzha.http import BIG_ID_MAX, refuse_nul

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(refuse_nul)])


def _require(actor: ActorDep) -> None:
    if not allowed(actor.role, Permission.AUDIT_READ):
        raise Forbidden("only auditors and supervisors read the audit log")


@router.get("")
def list_entries(actor: ActorDep, db: DbDep, before_id: int | None = Query(default=None, ge=1, le=BIG_ID_MAX),
                 object_id: str | None = Query(default=None, max_length=64),
                 limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    _require(actor)
    with db.read() as session:
        rows = service.recent(session, before_id=before_id, limit=limit, object_id=object_id)
        return {"items": [
            {"id": e.id, "seq": e.seq, "sealed": e.seq is not None, "at": e.at.isoformat(), "actor": e.actor,
             "actor_org": e.actor_org, "action": e.action,
             "object_type": e.object_type, "object_id": e.object_id, "details": e.details, "hash": e.hash}
            for e in rows
        ]}


@router.get("/verify")
def verify(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require(actor)
    with db.read() as session:
        result = service.verify(session)
    return {"ok": result.ok, "checked": result.checked, "first_bad_seq": result.first_bad_seq,
            "problem": result.problem, "pending": result.pending}
