"""Reading carrier instructions, scoped to the reader: a carrier liaison sees only its own carrier's.

Anything a reader may not see is a 404 identical to a missing instruction; a bank liaison, a hotline
operator or a carrier liaison of another carrier learns nothing about it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.cases.models import Case
from fanzha.errors import Forbidden, NotFound
from fanzha.telecom.carriers.models import ActionStatus, CarrierInstruction, CarrierOutboxMessage

OFFICERS = (Role.DUTY_OFFICER, Role.SUPERVISOR)
# Not yet the carrier's business: waiting for a supervisor, declined, or still in the outbox.
_NOT_SENT = (ActionStatus.PENDING_APPROVAL.value, ActionStatus.DECLINED.value)
OVERDUE_SECONDS = 300


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def may_see(actor: Actor, instruction: CarrierInstruction) -> bool:
    if actor.role in OFFICERS:
        return True
    if actor.role is Role.CARRIER_LIAISON:
        return instruction.carrier == actor.org_short_code and instruction.status not in _NOT_SENT
    return False


def load(session: Session, actor: Actor, instruction_id: int, *,
         for_update: bool = False) -> tuple[CarrierInstruction, str]:
    """The instruction and its case number if the actor may see it; otherwise the same 404 as a missing one."""
    instruction = session.get(CarrierInstruction, instruction_id, with_for_update=for_update)
    if instruction is None or not may_see(actor, instruction):
        raise NotFound(f"no carrier instruction {instruction_id}")
    number = session.execute(select(Case.number).where(Case.id == instruction.case_id)).scalar_one()
    return instruction, str(number)


def view(instruction: CarrierInstruction, case_number: str, *, attempts: int = 0,
         now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    awaiting = instruction.status in (ActionStatus.QUEUED.value, ActionStatus.SENT.value)
    waiting = (now - instruction.created_at).total_seconds() if awaiting else None
    try:
        answer = json.loads(instruction.answer or "{}")
    except ValueError:
        answer = {}
    return {
        "id": instruction.id, "batch": instruction.batch, "case": case_number, "action": instruction.action,
        "number": instruction.number, "carrier": instruction.carrier, "status": instruction.status,
        "reason": instruction.reason, "officer": instruction.officer, "route_source": instruction.route_source,
        "true_carrier": instruction.true_carrier, "virtual_operator": instruction.virtual_operator,
        "rerouted_from": instruction.rerouted_from_id, "hops": instruction.hops,
        "created_at": _iso(instruction.created_at), "sent_at": _iso(instruction.sent_at),
        "answered_at": _iso(instruction.answered_at), "effective_at": _iso(instruction.effective_at),
        "waiting_seconds": round(waiting, 1) if waiting is not None else None,
        "overdue": waiting is not None and waiting > OVERDUE_SECONDS,
        "by_hand": bool(answer.get("by_hand")) if isinstance(answer, dict) else False,
        "attempts": attempts, "last_error": instruction.last_error or None,
    }


def _attempts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(CarrierOutboxMessage.instruction_id, func.sum(CarrierOutboxMessage.attempts))
        .where(CarrierOutboxMessage.instruction_id.in_(ids)).group_by(CarrierOutboxMessage.instruction_id)
    ).all()
    return {int(i): int(n or 0) for i, n in rows}


def _rows(session: Session, query: Select[CarrierInstruction, str]) -> list[dict[str, Any]]:
    rows = session.execute(query).all()
    attempts = _attempts(session, [r[0].id for r in rows])
    now = datetime.now(UTC)
    return [view(instruction, number, attempts=attempts.get(instruction.id, 0), now=now)
            for instruction, number in rows]


def _base() -> Select[CarrierInstruction, str]:
    return select(CarrierInstruction, Case.number).join(Case, Case.id == CarrierInstruction.case_id)


def list_actions(session: Session, actor: Actor, *, case_id: int | None = None, batch: str | None = None,
                 number: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Officers: instructions by case, batch or number, newest first."""
    if actor.role not in OFFICERS:
        raise Forbidden("only duty officers and supervisors list carrier instructions; liaisons use their inbox")
    query = _base()
    if case_id is not None:
        query = query.where(CarrierInstruction.case_id == case_id)
    if batch is not None:
        query = query.where(CarrierInstruction.batch == batch)
    if number is not None:
        query = query.where(CarrierInstruction.number == number)
    return _rows(session, query.order_by(CarrierInstruction.id.desc()).limit(limit))


def inbox_of(session: Session, actor: Actor, limit: int = 200) -> list[dict[str, Any]]:
    """A carrier liaison's inbox: their carrier's instructions, those awaiting a hand answer first."""
    if actor.role is not Role.CARRIER_LIAISON:
        raise Forbidden("the inbox belongs to a carrier's liaison")
    query = (
        _base().where(CarrierInstruction.carrier == actor.org_short_code,
                      CarrierInstruction.status.not_in(_NOT_SENT))
        .order_by((CarrierInstruction.status == ActionStatus.SENT.value).desc(), CarrierInstruction.id.desc())
        .limit(limit)
    )
    return _rows(session, query)


def counts_by_status(session: Session, actor: Actor) -> dict[str, int]:
    if actor.role not in OFFICERS:
        raise Forbidden("only duty officers and supervisors see the carrier totals")
    rows = session.execute(select(CarrierInstruction.status, func.count()).group_by(CarrierInstruction.status))
    return {str(status): int(n) for status, n in rows.all()}
