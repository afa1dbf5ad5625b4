"""HTTP API for the organisation directory (anyone logged in: it names banks, carriers and hotlines)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.http import refuse_nul
from fanzha.orgs.models import OrgKind
from fanzha.orgs.service import list_orgs

router = APIRouter(prefix="/api/v1", tags=["orgs"], dependencies=[Depends(refuse_nul)])


@router.get("/orgs")
def orgs(actor: ActorDep, db: DbDep, kind: OrgKind | None = None) -> dict[str, Any]:
    with db.read() as session:
        return {"items": [
            {"code": o.code, "kind": o.kind, "name_zh": o.name_zh, "name_en": o.name_en,
             "short_code": o.short_code, "stationed": o.stationed}
            for o in list_orgs(session, kind.value if kind else None)
        ]}
