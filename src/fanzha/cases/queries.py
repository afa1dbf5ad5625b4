"""Reading cases, scoped to what the caller's organisation may see.

A record the caller may not see is reported exactly like one that does not exist.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, selectinload

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.auth.permissions import Permission, allowed
from fanzha.cases.models import Case, CaseEntity, EntityKind
from fanzha.errors import Forbidden, NotFound

MAX_PAGE = 200


def visibility(actor: Actor) -> ColumnElement[bool]:
    if not allowed(actor.role, Permission.CASE_READ):
        raise Forbidden("your role may not read cases")
    if actor.role in (Role.DUTY_OFFICER, Role.SUPERVISOR):
        return true()
    if actor.role is Role.HOTLINE_OPERATOR:
        return Case.created_by_org_id == actor.org_id
    kind = EntityKind.ACCOUNT if actor.role is Role.BANK_LIAISON else EntityKind.PHONE
    return Case.id.in_(
        select(CaseEntity.case_id).where(CaseEntity.kind == kind.value, CaseEntity.org_hint == actor.org_short_code)
    )


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: str | None = None
    channel: str | None = None
    fraud_type: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None  # case number, or an exact phone / account / URL / device value
    before_id: int | None = None
    limit: int = 50


def _filtered(actor: Actor, f: CaseFilter) -> Select[Case]:
    query = select(Case).where(visibility(actor))
    if f.status:
        query = query.where(Case.status == f.status)
    if f.channel:
        query = query.where(Case.channel == f.channel)
    if f.fraud_type:
        query = query.where(Case.fraud_type == f.fraud_type)
    if f.received_from:
        query = query.where(Case.received_at >= f.received_from)
    if f.received_to:
        query = query.where(Case.received_at < f.received_to)
    if f.q:
        value = f.q.strip()
        query = query.where(
            (Case.number == value.upper())
            | Case.id.in_(select(CaseEntity.case_id).where(CaseEntity.value.in_(_entity_forms(value))))
        )
    return query


def _entity_forms(value: str) -> list[str]:
    """The search text as typed plus its normalised phone / account forms."""
    from fanzha.cases.normalize import account_number, phone_e164

    forms = {value}
    for normalise in (phone_e164, account_number):
        with suppress(ValueError):
            forms.add(normalise(value))
    return sorted(forms)


def list_cases(session: Session, actor: Actor, f: CaseFilter) -> tuple[list[Case], int | None]:
    limit = max(1, min(f.limit, MAX_PAGE))
    query = _filtered(actor, f)
    if f.before_id is not None:
        query = query.where(Case.id < f.before_id)
    rows = list(session.execute(query.order_by(Case.id.desc()).limit(limit + 1)).scalars())
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    rows = rows[:limit]
    if actor.is_external:
        audit.append(session, actor, "case.listed", "case", "*", {"returned": [c.number for c in rows]})
    return rows, next_cursor


def count_cases(session: Session, actor: Actor, f: CaseFilter) -> int:
    return session.execute(select(func.count()).select_from(_filtered(actor, f).subquery())).scalar_one()


def visible_case_ids(session: Session, actor: Actor, ids: set[int]) -> set[int]:
    """Which of these cases the actor may see (e.g. before showing links to them)."""
    if not ids:
        return set()
    rows = session.execute(select(Case.id).where(Case.id.in_(ids), visibility(actor)))
    return {row[0] for row in rows}


def get_case(session: Session, actor: Actor, number: str, *, audit_read: bool = True) -> Case:
    case = session.execute(
        select(Case).where(Case.number == number.upper(), visibility(actor))
        .options(selectinload(Case.parties), selectinload(Case.transfers), selectinload(Case.entities),
                 selectinload(Case.history))
    ).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case {number}")
    if actor.is_external and audit_read:
        audit.append(session, actor, "case.read", "case", case.number)
    return case
