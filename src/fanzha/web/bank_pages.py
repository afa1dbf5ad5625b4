"""A bank liaison's inbox: their own bank's instructions, and a form to record the bank's answer by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.first_move import policy_for, rules_for
from fanzha.banking.models import BankInstruction
from fanzha.banking.queries import inbox_of
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.money import minor_units
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
    typed = field(form, "amount").replace(",", "").strip()
    try:
        with db.transaction() as session:
            instruction, number = _own(session, actor, instruction_id)
            # Only a hold's answer carries an amount; a renewal or release is answered yes or no.
            amount = typed_amount(typed, instruction.currency) if held and typed else None
            instructions.answer_by_hand(session, actor, instruction, case_number=number, held=held,
                                        amount=amount, expires_at=None, reason=field(form, "reason"),
                                        now=datetime.now(UTC), rules=rules_for(request.app.state.settings))
    except InvalidInput:
        return _page(request, actor, db, error="amount", status_code=422)
    except Conflict:
        return _page(request, actor, db, error="rule", status_code=409)
    return RedirectResponse("/bank/inbox?notice=answered", status_code=303)


def typed_amount(typed: str, currency: str) -> Decimal:
    """The amount a liaison typed: a finite number with no more decimals than the currency has (NaN, 1e30 or
    0.001 yuan would otherwise fail deep in the hold rules or in storage, as a server error)."""
    try:
        amount = Decimal(typed)
        if amount.is_finite() and amount == amount.quantize(Decimal(1).scaleb(-minor_units(currency))):
            return amount
    except InvalidOperation:
        pass
    raise InvalidInput(f"{typed!r} is not an amount in {currency}", field="amount")


@router.post("/bank/inbox/{instruction_id}/acknowledge")
def acknowledge(request: Request, instruction_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    """收到: the liaison confirms the bank has the instruction; the case's timeline shows the time."""
    check_csrf(request, actor, form)
    _liaison(actor)
    try:
        with db.transaction() as session:
            instruction, number = _own(session, actor, instruction_id)
            instructions.acknowledge_by_hand(session, actor, instruction, case_number=number, now=datetime.now(UTC))
    except Conflict:
        return _page(request, actor, db, error="rule", status_code=409)
    return RedirectResponse("/bank/inbox?notice=acknowledged", status_code=303)


def _own(session: Session, actor: Actor, instruction_id: int) -> tuple[BankInstruction, str]:
    """One of the liaison's own bank's instructions, on a case they may see; else the same 404 as a missing one."""
    instruction = session.get(BankInstruction, instruction_id, with_for_update=True)
    if instruction is None or instruction.bank_code != actor.org_short_code:
        raise NotFound(f"no instruction {instruction_id}")
    case = session.get(Case, instruction.case_id)
    assert case is not None
    queries.get_case(session, actor, case.number, audit_read=False)
    return instruction, case.number


@router.post("/cases/{number}/instructions/{instruction_id}/{action}")
def act_on_instruction(request: Request, number: str, instruction_id: int, action: str, actor: PageActor,
                       form: FormDep, db: DbDep) -> Response:
    """Approve, renew or release a hold from the case page (duty officers and supervisors)."""
    check_csrf(request, actor, form)
    if actor.role not in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        raise Forbidden("only duty officers and supervisors instruct banks")
    if action not in ("approve", "renew", "release"):
        raise NotFound(f"no action {action}")
    settings = request.app.state.settings
    now = datetime.now(UTC)
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
        instruction = session.get(BankInstruction, instruction_id, with_for_update=True)
        if instruction is None or instruction.case_id != case.id:
            raise NotFound(f"no instruction {instruction_id}")
        signer = signer_for(request.app)
        by_hand = instruction.bank_code in policy_for(settings).hand_answered_banks
        try:
            if action == "approve":
                instructions.approve(session, actor, instruction, case_number=case.number,
                                     reason=f"电信网络诈骗报案 {case.number}", now=now, signer=signer,
                                     policy=policy_for(settings))
            elif action == "renew":
                instructions.request_renewal(session, actor, instruction, case_number=case.number, now=now,
                                             signer=signer, by_hand=by_hand, rules=rules_for(settings))
            else:
                reason = field(form, "reason").strip()
                if len(reason) < 2:
                    return RedirectResponse(f"/cases/{case.number}?notice=release_needs_reason#instructions",
                                            status_code=303)
                instructions.request_release(session, actor, instruction, case_number=case.number, reason=reason,
                                             now=now, signer=signer, by_hand=by_hand)
        except Conflict:
            return RedirectResponse(f"/cases/{case.number}?notice=instruction_refused#instructions", status_code=303)
    return RedirectResponse(f"/cases/{case.number}?notice=instruction_{action}#instructions", status_code=303)
