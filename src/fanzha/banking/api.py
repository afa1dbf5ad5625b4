"""HTTP API for a case's instructions to banks, with their clocks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.banking.queries import instructions_of
from fanzha.cases import queries

router = APIRouter(prefix="/api/v1", tags=["banking"])


@router.get("/cases/{number}/instructions")
def case_instructions(number: str, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Every stop-payment and freeze of a case: status, amounts, sent/answered times, expiry and alarm."""
    with (db.transaction() if actor.is_external else db.read()) as session:
        case = queries.get_case(session, actor, number)
        return {"items": instructions_of(session, actor, case)}
