"""A case's returns of frozen money (资金返还): each freeze with its returns, and the buttons each role may press.

Officers propose and record objections; a supervisor approves or cancels; a bank liaison sees its own bank's
returns only. Anyone else gets the same 404 as for a case they cannot see (as the API does).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.banking import returns
from fanzha.banking.first_move import policy_for
from fanzha.banking.models import RETURN_KIND, BankInstruction
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.errors import Conflict, InvalidInput, NotFound
from fanzha.storage.db import Database
from fanzha.tracing.loop import TraceConfig
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

READERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR, Role.BANK_LIAISON})
ACTIONS = ("approve", "object", "cancel")


def _case(session: Session, actor: Actor, number: str, *, audit_read: bool = False) -> Case:
    if actor.role not in READERS:
        raise NotFound(f"no case {number}")  # the very answer a case outside one's view gets
    return queries.get_case(session, actor, number, audit_read=audit_read)


def _page(request: Request, actor: Actor, db: Database, number: str, *, error: str = "",
          status_code: int = 200) -> Response:
    with (db.transaction() if actor.is_external else db.read()) as session:  # a bank's read is audited
        case = _case(session, actor, number, audit_read=True)
        holds = returns.returns_of(session, actor, case)
    role = actor.role
    return render(request, "case_returns.html", actor, status_code=status_code, case_number=case.number,
                  case_status=case.status, holds=holds, error=error,
                  notice=request.query_params.get("notice", ""),
                  may_propose=role in returns.OFFICERS, may_object=role in returns.OFFICERS,
                  may_decide=role is Role.SUPERVISOR)


@router.get("/cases/{number}/returns")
def case_returns(request: Request, number: str, actor: PageActor, db: DbDep) -> Response:
    return _page(request, actor, db, number)


@router.post("/cases/{number}/holds/{hold_id}/returns")
def propose(request: Request, number: str, hold_id: int, actor: PageActor, form: FormDep, db: DbDep,
            settings: SettingsDep) -> Response:
    """Plan (or plan again, when a victim is newly found) the returns from one freeze."""
    check_csrf(request, actor, form)
    try:
        with db.transaction() as session:
            case = _case(session, actor, number)
            hold = session.get(BankInstruction, hold_id, with_for_update=True)
            if hold is None or hold.case_id != case.id or hold.kind == RETURN_KIND:
                raise NotFound(f"no hold {hold_id} in case {case.number}")
            returns.propose_returns(session, actor, hold, case_number=case.number, now=datetime.now(UTC),
                                    config=TraceConfig.from_settings(settings))
    except (Conflict, InvalidInput) as exc:
        return _page(request, actor, db, number, error=exc.message, status_code=exc.status_code)
    return RedirectResponse(f"/cases/{case.number}/returns?notice=proposed#hold-{hold_id}", status_code=303)


@router.post("/cases/{number}/returns/{return_id}/{action}")
def act(request: Request, number: str, return_id: int, action: str, actor: PageActor, form: FormDep,
        db: DbDep) -> Response:
    """Approve, object to or cancel one return."""
    check_csrf(request, actor, form)
    if action not in ACTIONS:
        raise NotFound(f"no action {action}")
    now = datetime.now(UTC)
    try:
        with db.transaction() as session:
            case = _case(session, actor, number)
            row = session.get(BankInstruction, return_id, with_for_update=True)
            if row is None or row.kind != RETURN_KIND or row.case_id != case.id \
                    or (actor.role is Role.BANK_LIAISON and row.bank_code != actor.org_short_code):
                raise NotFound(f"no return {return_id} in case {case.number}")
            if action == "approve":
                hand = policy_for(request.app.state.settings).hand_answered_banks
                returns.approve_return(session, actor, row, case_number=case.number, now=now,
                                       signer=signer_for(request.app), by_hand=row.bank_code in hand)
            elif action == "object":
                returns.object_to_return(session, actor, row, case_number=case.number, text=field(form, "text"),
                                         now=now)
            else:
                returns.cancel_return(session, actor, row, case_number=case.number, reason=field(form, "reason"),
                                      now=now)
    except (Conflict, InvalidInput) as exc:
        return _page(request, actor, db, number, error=exc.message, status_code=exc.status_code)
    anchor = f"#hold-{row.target_instruction_id}" if row.target_instruction_id else ""
    return RedirectResponse(f"/cases/{case.number}/returns?notice={action}{anchor}", status_code=303)
