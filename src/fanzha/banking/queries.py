"""Reading a case's instructions to banks, scoped to the reader (a bank sees only its own)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.instructions import hold_of
from fanzha.banking.lifecycle import HoldRules, HoldStatus, alarm_due
from fanzha.banking.models import HOLD_KINDS, BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.errors import Forbidden
from fanzha.money import amount_str

# An instruction still unanswered after this long is shown as overdue (the race is against cash-out).
OVERDUE_SECONDS = 60


def _amount(value: Any, currency: str) -> str | None:
    return amount_str(value, currency) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def instructions_of(session: Session, actor: Actor, case: Case, now: datetime | None = None) -> list[dict[str, Any]]:
    """The case's stop-payments and freezes with their clocks; the caller has already been allowed the case."""
    if actor.role is Role.CARRIER_LIAISON:
        return []  # carriers have no business with bank instructions
    now = now or datetime.now(UTC)
    query = select(BankInstruction).where(BankInstruction.case_id == case.id).order_by(BankInstruction.id)
    if actor.role is Role.BANK_LIAISON:
        query = query.where(BankInstruction.bank_code == actor.org_short_code)
    rows = list(session.execute(query).scalars())
    # An instruction has one outbox message per thing sent (the hold, renewals, a release).
    attempts: dict[int, int] = {}
    errors: dict[int, str] = {}
    if rows:
        sent = session.execute(
            select(OutboxMessage.instruction_id, OutboxMessage.attempts, OutboxMessage.status, OutboxMessage.last_error)
            .where(OutboxMessage.instruction_id.in_([r.id for r in rows])).order_by(OutboxMessage.id)
        ).all()
        for instruction_id, tries, status, error in sent:
            attempts[instruction_id] = attempts.get(instruction_id, 0) + tries
            if status != "delivered" and error:
                errors[instruction_id] = error
    items = []
    for instruction in rows:
        hold = hold_of(instruction) if instruction.kind in HOLD_KINDS else None
        awaiting = instruction.status in (HoldStatus.PENDING_APPROVAL, HoldStatus.QUEUED, HoldStatus.SENT)
        waiting = (now - instruction.created_at).total_seconds() if awaiting else None
        items.append({
            "id": instruction.id, "kind": instruction.kind, "bank": instruction.bank_code,
            "account": instruction.account, "currency": instruction.currency,
            "requested_amount": _amount(instruction.requested_amount, instruction.currency),
            "held_amount": _amount(instruction.held_amount, instruction.currency),
            "status": instruction.status, "renewals": instruction.renewals,
            "created_at": _iso(instruction.created_at), "sent_at": _iso(instruction.sent_at),
            "acknowledged_at": _iso(instruction.acknowledged_at), "answered_at": _iso(instruction.answered_at),
            "held_at": _iso(instruction.held_at), "expires_at": _iso(instruction.expires_at),
            "waiting_seconds": round(waiting, 1) if waiting is not None else None,
            "overdue": waiting is not None and waiting > OVERDUE_SECONDS,
            "since": _iso(instruction.query_since),
            "alarm": alarm_due(hold, now, HoldRules()) if hold is not None else False,
            "attempts": attempts.get(instruction.id, 0),
            "last_error": errors.get(instruction.id) or instruction.last_error or None,
            **_return_fields(instruction),
        })
    return items


def _return_fields(instruction: BankInstruction) -> dict[str, Any]:
    """A return's destination, rule and clocks (banking/returns.py); nothing for other kinds."""
    if instruction.target_instruction_id is None:
        return {}
    return {
        "target": instruction.target_instruction_id, "payee_account": instruction.payee_account,
        "payee_bank": instruction.payee_bank, "payee_name": instruction.payee_name, "basis": instruction.basis,
        "notice_until": _iso(instruction.notice_until), "due_at": _iso(instruction.due_at),
        "returned_amount": _amount(instruction.returned_amount, instruction.currency),
    }


def inbox_of(session: Session, actor: Actor, limit: int = 100, now: datetime | None = None) -> list[dict[str, Any]]:
    """A bank liaison's inbox: their bank's instructions, those awaiting an answer first.

    ``awaiting`` names what waits for the bank's answer by hand (StopPayment, Freeze, Renew or Release), with
    the time it arrived and whether the liaison has acknowledged it.
    """
    if actor.role is not Role.BANK_LIAISON:
        raise Forbidden("the inbox belongs to a bank's liaison")
    now = now or datetime.now(UTC)
    waiting = (select(OutboxMessage.instruction_id, func.max(OutboxMessage.id).label("message_id"))
               .where(OutboxMessage.status == "inbox").group_by(OutboxMessage.instruction_id).subquery())
    rows = session.execute(
        select(BankInstruction, Case.number, OutboxMessage)
        .join(Case, Case.id == BankInstruction.case_id)
        .outerjoin(waiting, waiting.c.instruction_id == BankInstruction.id)
        .outerjoin(OutboxMessage, OutboxMessage.id == waiting.c.message_id)
        .where(BankInstruction.bank_code == actor.org_short_code,
               BankInstruction.status.not_in([HoldStatus.PENDING_APPROVAL.value, HoldStatus.QUEUED.value]))
        .order_by(waiting.c.message_id.is_(None), (BankInstruction.status == HoldStatus.SENT.value).desc(),
                  BankInstruction.id.desc())
        .limit(limit)
    ).all()
    items = []
    for instruction, number, pending in rows:
        since = pending.created_at if pending is not None else None
        waited = (now - since).total_seconds() if since is not None else None
        items.append({
            "id": instruction.id, "case": number, "kind": instruction.kind, "account": instruction.account,
            "currency": instruction.currency,
            "requested_amount": _amount(instruction.requested_amount, instruction.currency),
            "held_amount": _amount(instruction.held_amount, instruction.currency), "status": instruction.status,
            "created_at": _iso(instruction.created_at), "expires_at": _iso(instruction.expires_at),
            "awaiting": pending.message_type if pending is not None else None,
            "awaiting_since": _iso(since),
            "acknowledged_at": _iso(pending.acknowledged_at if pending is not None else instruction.acknowledged_at),
            "waiting_seconds": round(waited, 1) if waited is not None else None,
            "overdue": waited is not None and waited > OVERDUE_SECONDS,
        })
    return items
