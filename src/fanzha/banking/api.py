"""HTTP API for a case's instructions to banks, with their clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.auth.models import Role
from fanzha.banking import instructions
from fanzha.banking.alarms import ALARMED_ROLES, open_alarms
from fanzha.banking.first_move import policy_for, rules_for
from fanzha.banking.models import BankInstruction
from fanzha.banking.queries import inbox_of, instructions_of
from fanzha.banking.runtime import signer_for
from fanzha.cases import queries
from fanzha.cases.models import Case
from fanzha.errors import Forbidden, InvalidInput, NotFound
from fanzha.http import Moment, RowId, refuse_nul
from fanzha.money import amount_str, check_amount

router = APIRouter(prefix="/api/v1", tags=["banking"], dependencies=[Depends(refuse_nul)])


@router.get("/cases/{number}/instructions")
def case_instructions(number: str, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Every stop-payment and freeze of a case: status, amounts, sent/answered times, expiry and alarm."""
    with (db.transaction() if actor.is_external else db.read()) as session:
        case = queries.get_case(session, actor, number)
        return {"items": instructions_of(session, actor, case)}


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=500, description="why the money is released")


def _load(db_session: Session, actor: Actor, instruction_id: int) -> tuple[BankInstruction, str]:
    """The instruction if the caller may see its case; otherwise the same 404 as a missing one."""
    instruction = db_session.get(BankInstruction, instruction_id, with_for_update=True)
    if instruction is None:
        raise NotFound(f"no instruction {instruction_id}")
    case = db_session.get(Case, instruction.case_id)
    assert case is not None
    try:
        queries.get_case(db_session, actor, case.number, audit_read=False)
    except NotFound:
        raise NotFound(f"no instruction {instruction_id}") from None
    if actor.role is Role.BANK_LIAISON and instruction.bank_code != actor.org_short_code:
        raise NotFound(f"no instruction {instruction_id}")
    return instruction, case.number


@router.post("/instructions/{instruction_id}/approve")
def approve_instruction(instruction_id: RowId, actor: ActorDep, db: DbDep, request: Request) -> dict[str, str]:
    """One click: send a pending stop-payment or freeze (a supervisor for large ones)."""
    with db.transaction() as session:
        instruction, number = _load(session, actor, instruction_id)
        instructions.approve(session, actor, instruction, case_number=number, reason=f"电信网络诈骗报案 {number}",
                             now=datetime.now(UTC), signer=signer_for(request.app),
                             policy=policy_for(request.app.state.settings))
        return {"status": instruction.status}


@router.post("/instructions/{instruction_id}/renew")
def renew_instruction(instruction_id: RowId, actor: ActorDep, db: DbDep, request: Request) -> dict[str, str]:
    """Ask the bank to renew an active hold before it expires (a stop-payment at most twice)."""
    with db.transaction() as session:
        instruction, number = _load(session, actor, instruction_id)
        instructions.request_renewal(session, actor, instruction, case_number=number, now=datetime.now(UTC),
                                     signer=signer_for(request.app), by_hand=_by_hand(request, instruction),
                                     rules=rules_for(request.app.state.settings))
        return {"status": instruction.status}


@router.post("/instructions/{instruction_id}/release")
def release_instruction(instruction_id: RowId, body: ReleaseIn, actor: ActorDep, db: DbDep,
                        request: Request) -> dict[str, str]:
    with db.transaction() as session:
        instruction, number = _load(session, actor, instruction_id)
        instructions.request_release(session, actor, instruction, case_number=number, reason=body.reason,
                                     now=datetime.now(UTC), signer=signer_for(request.app),
                                     by_hand=_by_hand(request, instruction))
        return {"status": instruction.status}


def _by_hand(request: Request, instruction: BankInstruction) -> bool:
    """A bank without a system link answers renewals and releases in its liaison's inbox too."""
    return instruction.bank_code in policy_for(request.app.state.settings).hand_answered_banks


class HandAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held: bool = Field(description="true: the bank did what was asked (held or froze, renewed, released, "
                                   "returned the money); false: refused")
    amount: Decimal | None = Field(default=None, ge=0,
                                   description="held (or returned) amount; required when a hold or return is done")
    expires_at: Moment | None = Field(default=None, description="the bank's stated expiry, if shorter")
    reason: str = Field(default="", max_length=500, description="the bank's reason, required for a refusal")


@router.get("/alarms")
def expiry_alarms(actor: ActorDep, db: DbDep, request: Request) -> dict[str, Any]:
    """Holds the reader may see that are about to expire (the console's alarm badge polls the same list)."""
    if actor.role not in ALARMED_ROLES:
        raise Forbidden("expiry alarms are for duty officers, supervisors and bank liaisons")
    with db.read() as session:
        items = open_alarms(session, actor, datetime.now(UTC), rules_for(request.app.state.settings))
    return {"items": [{
        "instruction": a.instruction_id, "case": a.case_number, "kind": a.kind, "bank": a.bank_code,
        "account": a.account, "currency": a.currency,
        "held_amount": amount_str(a.held_amount, a.currency) if a.held_amount is not None else None,
        "expires_at": a.expires_at.isoformat(), "renewals": a.renewals, "renewable": a.renewable,
    } for a in items]}


@router.get("/bank/inbox")
def bank_inbox(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """A bank liaison's own bank's instructions, awaiting an answer first."""
    with db.transaction() as session:  # a bank's read is audited
        items = inbox_of(session, actor)
        audit.append(session, actor, "bank.inbox_read", "bank", actor.org_code, {"returned": [i["id"] for i in items]})
        return {"items": items}


@router.post("/instructions/{instruction_id}/acknowledge")
def acknowledge_instruction(instruction_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, str | None]:
    """A bank liaison confirms the bank has the instruction (收到); the answer follows."""
    with db.transaction() as session:
        instruction, number = _load(session, actor, instruction_id)
        instructions.acknowledge_by_hand(session, actor, instruction, case_number=number, now=datetime.now(UTC))
        acknowledged = instruction.acknowledged_at
        return {"status": instruction.status, "acknowledged_at": acknowledged.isoformat() if acknowledged else None}


@router.post("/instructions/{instruction_id}/answer")
def answer_instruction(instruction_id: RowId, body: HandAnswerIn, actor: ActorDep, db: DbDep,
                       request: Request) -> dict[str, str]:
    """A bank liaison records the bank's answer by hand (banks without a system link)."""
    with db.transaction() as session:
        instruction, number = _load(session, actor, instruction_id)
        awaiting = instructions.awaiting_by_hand(session, instruction)
        moves_money = awaiting is None or awaiting.message_type in ("StopPayment", "Freeze", "Return")
        if body.held and body.amount is None and moves_money:
            raise InvalidInput("say how much was held", field="amount")
        amount = body.amount
        if amount is not None and amount != 0:  # a held amount in the hold's currency, as a report's would be
            try:
                amount = check_amount(amount, instruction.currency,
                                      Decimal(request.app.state.settings.max_transfer_amount))
            except ValueError as exc:
                raise InvalidInput(str(exc), field="amount") from None
        instructions.answer_by_hand(session, actor, instruction, case_number=number, held=body.held,
                                    amount=amount, expires_at=body.expires_at, reason=body.reason,
                                    now=datetime.now(UTC), rules=rules_for(request.app.state.settings))
        return {"status": instruction.status}
