"""Expiry alarms: an active hold nearing its end is raised once per term, to every reader who must decide.

A stop-payment that runs out frees the money, a freeze that lapses does too; DOMAIN.md §3 wants an alarm
before each expiry. ``raise_due`` runs in each server's sweeper: it marks the hold's ``alarm_for`` with the
expiry it alarmed for (so a renewal, which moves the expiry, alarms again next term) and audits it.
``open_alarms`` is what the console polls: the holds a reader may see that are in their alarm window now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.banking.lifecycle import HoldKind, HoldRules, HoldStatus
from fanzha.banking.models import BankInstruction
from fanzha.cases.models import Case
from fanzha.cases.queries import visibility

# Who is alarmed: the center's officers decide renewals; a bank liaison sees its own bank's holds run out.
ALARMED_ROLES = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR, Role.BANK_LIAISON})


@dataclass(frozen=True, slots=True)
class Alarm:
    instruction_id: int
    case_number: str
    kind: str
    bank_code: str
    account: str
    currency: str
    held_amount: Decimal | None
    expires_at: datetime
    renewals: int
    renewable: bool  # a stop-payment at its renewal limit must be frozen instead


def _in_window(now: datetime, rules: HoldRules) -> ColumnElement[bool]:
    return and_(
        BankInstruction.status == HoldStatus.ACTIVE.value, BankInstruction.expires_at > now,
        or_(and_(BankInstruction.kind == HoldKind.STOP_PAYMENT.value,
                 BankInstruction.expires_at <= now + rules.stop_payment_alarm_before),
            and_(BankInstruction.kind == HoldKind.FREEZE.value,
                 BankInstruction.expires_at <= now + rules.freeze_alarm_before)))


def _alarm(row: BankInstruction, number: str, rules: HoldRules) -> Alarm:
    assert row.expires_at is not None
    renewable = row.kind == HoldKind.FREEZE.value or row.renewals < rules.max_stop_payment_renewals
    return Alarm(row.id, number, row.kind, row.bank_code, row.account, row.currency, row.held_amount,
                 row.expires_at, row.renewals, renewable)


def raise_due(session: Session, now: datetime, rules: HoldRules = HoldRules()) -> list[Alarm]:
    """Raise each hold newly in its alarm window (once per expiry), audited; returns the alarms raised."""
    rows = session.execute(
        select(BankInstruction, Case.number).join(Case, Case.id == BankInstruction.case_id)
        .where(_in_window(now, rules),
               or_(BankInstruction.alarm_for.is_(None), BankInstruction.alarm_for != BankInstruction.expires_at))
        .order_by(BankInstruction.expires_at).with_for_update(of=BankInstruction, skip_locked=True)
    ).all()
    raised = []
    for row, number in rows:
        row.alarm_for = row.expires_at
        alarm = _alarm(row, number, rules)
        audit.append(session, None, f"bank.{row.kind}_expiry_alarm", "case", number, {
            "instruction": row.id, "bank": row.bank_code, "account": row.account,
            "expires_at": alarm.expires_at.isoformat(), "renewable": alarm.renewable,
        })
        raised.append(alarm)
    return raised


def open_alarms(session: Session, actor: Actor, now: datetime, rules: HoldRules = HoldRules(),
                limit: int = 50) -> list[Alarm]:
    """The holds this reader may see that are in their alarm window now, soonest expiry first."""
    if actor.role not in ALARMED_ROLES:
        return []
    # A liaison's own bank's holds are its business (as in its inbox); officers see what their role may see.
    scope = (BankInstruction.bank_code == actor.org_short_code if actor.role is Role.BANK_LIAISON
             else visibility(actor))
    query = (select(BankInstruction, Case.number).join(Case, Case.id == BankInstruction.case_id)
             .where(_in_window(now, rules), scope).order_by(BankInstruction.expires_at).limit(limit))
    return [_alarm(row, number, rules) for row, number in session.execute(query).all()]
