"""A bank liaison's inbox: their own bank's instructions, and a form to record the bank's answer by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.models import BankInstruction
from fanzha.banking.queries import inbox_of
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.errors import Conflict, Forbidden, NotFound
from fanzha.storage.db import Database
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _liaison(actor: Actor) -> None:
    if actor.role is not Role.BANK_LIAISON:
        raise Forbidden("the inbox belongs to a bank's liaison")


def _page(request: Request, actor: Actor, db: Database, *, error: str = "", status_code: int = 200) -> Response:
    with db.transaction() as session:  # a bank's read is audited
        items = inbox_of(session, actor)
        audit.append(session, actor, "bank.inbox_read", "bank", actor.org_code, {"returned": [i["id"] for i in items]})
    return render(request, "bank_inbox.html", actor, status_code=status_code, items=items, error=error)


@router.get("/bank/inbox")
def inbox(request: Request, actor: PageActor, db: DbDep) -> Response:
    _liaison(actor)
    return _page(request, actor, db)


@router.post("/bank/inbox/{instruction_id}/answer")
def answer(request: Request, instruction_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    _liaison(actor)
    held = field(form, "held") == "yes"
    try:
        amount = Decimal(field(form, "amount").replace(",", "")) if held else None
    except InvalidOperation:
        return _page(request, actor, db, error="amount", status_code=422)
    try:
        with db.transaction() as session:
            instruction = session.get(BankInstruction, instruction_id, with_for_update=True)
            if instruction is None or instruction.bank_code != actor.org_short_code:
                raise NotFound(f"no instruction {instruction_id}")
            case = session.get(Case, instruction.case_id)
            assert case is not None
            queries.get_case(session, actor, case.number, audit_read=False)
            instructions.answer_by_hand(session, actor, instruction, case_number=case.number, held=held,
                                        amount=amount, expires_at=None, reason=field(form, "reason"),
                                        now=datetime.now(UTC))
    except Conflict:
        return _page(request, actor, db, error="rule", status_code=409)
    return RedirectResponse("/bank/inbox?notice=answered", status_code=303)
