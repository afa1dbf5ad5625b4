"""What a case looks like to each reader: the full record for the center, a slice for banks and carriers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.models import Role
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.linking import Link, links_of
from fanzha.cases.models import Case, EntityKind, Transfer
from fanzha.cases.queries import visibility
from fanzha.config import Settings
from fanzha.money import amount_str


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def sla(case: Case, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """The clock from receipt to first action."""
    now = now or datetime.now(UTC)
    end = case.first_action_at or now
    elapsed = max(0.0, (end - case.received_at).total_seconds())
    target = settings.sla_first_action_minutes * 60
    return {
        "received_at": iso(case.received_at), "first_action_at": iso(case.first_action_at),
        "elapsed_seconds": round(elapsed, 1), "target_seconds": target,
        "running": case.first_action_at is None, "overdue": elapsed > target,
    }


def transfer_view(t: Transfer) -> dict[str, Any]:
    return {
        "from_account": t.from_account, "from_bank": t.from_bank, "to_account": t.to_account,
        "to_bank": t.to_bank, "to_name": t.to_name, "amount": amount_str(t.amount, t.currency), "currency": t.currency,
        "occurred_at": iso(t.occurred_at), "method": t.method,
    }


def summary(case: Case, settings: Settings) -> dict[str, Any]:
    ft = FraudType(case.fraud_type)
    return {
        "number": case.number, "channel": case.channel, "status": case.status,
        "fraud_type": {"code": ft.value, "name": ft.zh}, "received_at": iso(case.received_at),
        "sla": sla(case, settings),
    }


def full(session: Session, case: Case, settings: Settings, actor: Actor) -> dict[str, Any]:
    if actor.role in (Role.BANK_LIAISON, Role.CARRIER_LIAISON):
        return external_slice(case, settings, actor)
    data = summary(case, settings)
    data.update({
        "external_ref": case.external_ref,
        "narrative": case.narrative,
        "parties": [
            {"role": p.role, "name": p.name, "phone": p.phone, "id_number": p.id_number} for p in case.parties
        ],
        "transfers": [transfer_view(t) for t in case.transfers],
        "entities": [{"kind": e.kind, "value": e.value, "org": e.org_hint} for e in case.entities],
        "links": [
            {"case": number, "kind": link.kind, "value": link.value}
            for link, number in links_of(session, case.id, visibility(actor))
        ],
        "history": [
            {"from": h.from_status, "to": h.to_status, "at": iso(h.at), "by": h.by_username, "note": h.note}
            for h in case.history
        ],
        "extraction": json.loads(case.extraction or "{}"),
        "warnings": json.loads(case.warnings or "[]"),
    })
    return data


def external_slice(case: Case, settings: Settings, actor: Actor) -> dict[str, Any]:
    """A bank sees only transfers into its own accounts; a carrier only its own numbers. No victim data."""
    data = summary(case, settings)
    if actor.role is Role.BANK_LIAISON:
        data["transfers"] = [transfer_view(t) for t in case.transfers if t.to_bank == actor.org_short_code]
        data["accounts"] = [e.value for e in case.entities
                            if e.kind == EntityKind.ACCOUNT.value and e.org_hint == actor.org_short_code]
    else:
        data["phones"] = [e.value for e in case.entities
                          if e.kind == EntityKind.PHONE.value and e.org_hint == actor.org_short_code]
    return data


def links_view(links: list[Link]) -> list[dict[str, str]]:
    return [{"case": link.other_number, "kind": link.kind, "value": link.value} for link in links]
