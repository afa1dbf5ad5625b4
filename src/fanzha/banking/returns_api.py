"""HTTP API for returning frozen money to victims (资金返还; banking/returns.py).

Proposing and contesting is for the center's officers; approving and cancelling for a supervisor (money leaves
a frozen account). A bank liaison reads its own bank's returns. Anything the caller may not see is the same
404 as something missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.banking import returns
from fanzha.banking.first_move import policy_for
from fanzha.banking.models import RETURN_KIND, BankInstruction
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.errors import NotFound
from fanzha.http import RowId, refuse_nul
from fanzha.tracing.loop import TraceConfig

router = APIRouter(prefix="/api/v1", tags=["returns"], dependencies=[Depends(refuse_nul)])

# Who reads a case's returns; anyone else gets the 404 of a case they cannot see.
READERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR, Role.BANK_LIAISON})


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=2, max_length=500, description="the objection heard during the public notice")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500, description="why the return is dropped")


def _case(session: Session, actor: Actor, number: str, *, audit_read: bool = False) -> Case:
    if actor.role not in READERS:
        raise NotFound(f"no case {number}")
    return queries.get_case(session, actor, number, audit_read=audit_read)


def _return(session: Session, actor: Actor, return_id: int) -> tuple[BankInstruction, str]:
    """The return if the caller may see it (its case, and for a bank its own bank); otherwise a 404."""
    row = session.get(BankInstruction, return_id, with_for_update=True)
    if row is None or row.kind != RETURN_KIND or actor.role not in READERS:
        raise NotFound(f"no return {return_id}")
    if actor.role is Role.BANK_LIAISON and row.bank_code != actor.org_short_code:
        raise NotFound(f"no return {return_id}")
    case = session.get(Case, row.case_id)
    assert case is not None
    try:
        queries.get_case(session, actor, case.number, audit_read=False)
    except NotFound:
        raise NotFound(f"no return {return_id}") from None
    return row, case.number


def _status(session: Session, row: BankInstruction, number: str) -> dict[str, Any]:
    session.flush()  # the objection just recorded is read back with the others
    return returns.return_view(row, datetime.now(UTC), returns.objections_of(session, number).get(row.id, ()))


@router.get("/cases/{number}/returns")
def case_returns(number: str, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """The case's holds with the returns from each: basis, share, payee, notice end, due date, status."""
    with (db.transaction() if actor.is_external else db.read()) as session:  # a bank's read is audited
        case = _case(session, actor, number, audit_read=True)
        return {"case": case.number, "holds": returns.returns_of(session, actor, case)}


@router.post("/cases/{number}/holds/{instruction_id}/returns", status_code=201)
def propose(number: str, instruction_id: RowId, actor: ActorDep, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    """Plan the return of a freeze's money to the victims whose money reached it; one return per share."""
    with db.transaction() as session:
        case = _case(session, actor, number)
        hold = session.get(BankInstruction, instruction_id, with_for_update=True)
        if hold is None or hold.case_id != case.id or hold.kind == RETURN_KIND:
            raise NotFound(f"no hold {instruction_id} in case {case.number}")
        if actor.role is Role.BANK_LIAISON and hold.bank_code != actor.org_short_code:
            raise NotFound(f"no hold {instruction_id} in case {case.number}")
        proposal = returns.propose_returns(session, actor, hold, case_number=case.number, now=datetime.now(UTC),
                                           config=TraceConfig.from_settings(settings))
        return returns.proposal_view(proposal)


@router.post("/returns/{return_id}/approve")
def approve(return_id: RowId, actor: ActorDep, db: DbDep, request: Request) -> dict[str, Any]:
    """A supervisor sends the return to the bank (a pro rata one only after its public notice)."""
    with db.transaction() as session:
        row, number = _return(session, actor, return_id)
        returns.approve_return(session, actor, row, case_number=number, now=datetime.now(UTC),
                               signer=signer_for(request.app),
                               by_hand=row.bank_code in policy_for(request.app.state.settings).hand_answered_banks)
        return _status(session, row, number)


@router.post("/returns/{return_id}/object")
def object_to(return_id: RowId, body: ObjectionIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Record an objection heard during the public notice; the return waits for a supervisor's decision."""
    with db.transaction() as session:
        row, number = _return(session, actor, return_id)
        returns.object_to_return(session, actor, row, case_number=number, text=body.text, now=datetime.now(UTC))
        return _status(session, row, number)


@router.post("/returns/{return_id}/cancel")
def cancel(return_id: RowId, body: CancelIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """A supervisor drops a return not yet sent; its money stays frozen."""
    with db.transaction() as session:
        row, number = _return(session, actor, return_id)
        returns.cancel_return(session, actor, row, case_number=number, reason=body.reason, now=datetime.now(UTC))
        return _status(session, row, number)
