"""Intake (统一受理): a report from any channel becomes one numbered, linked, audited case."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.permissions import Permission, allowed
from fanzha.cases.extract import extract
from fanzha.cases.facts import new_entities, prepare_facts
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.linking import Link, find_links, store_links
from fanzha.cases.models import Case, CaseStatus
from fanzha.cases.schemas import FactsIn, ReportIn
from fanzha.cases.writer import NewCase, insert_new_case

if TYPE_CHECKING:
    from fanzha.banking.first_move import FirstMove
from fanzha.config import Settings
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.storage.db import Database

# How far back a forwarding system may date a report (older ones are typed in as new reports).
MAX_REPORT_AGE = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class IntakeResult:
    case: Case
    created: bool
    links: list[Link] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _check_times(received_at: datetime, now: datetime) -> None:
    if received_at > now + CLOCK_SKEW:
        raise InvalidInput("received_at is in the future", field="received_at")
    if received_at < now - MAX_REPORT_AGE:
        raise InvalidInput("received_at is more than a year ago", field="received_at")


def _existing_by_ref(session: Session, actor: Actor, channel: str, ref: str) -> Case | None:
    case = session.execute(
        select(Case).where(Case.channel == channel, Case.external_ref == ref)
    ).scalar_one_or_none()
    if case is not None and case.created_by_org_id != actor.org_id:
        raise Conflict("external_ref is already used by another organisation's report", field="external_ref")
    return case


def create_case(db: Database, settings: Settings, actor: Actor, report: ReportIn,
                first_move: FirstMove | None = None) -> IntakeResult:
    if not allowed(actor.role, Permission.REPORT_CREATE):
        raise Forbidden("your role may not file reports")
    if len(report.narrative) > settings.max_narrative_chars:
        raise InvalidInput(f"narrative is {len(report.narrative)} characters; the limit is "
                           f"{settings.max_narrative_chars}", field="narrative")
    now = datetime.now(UTC)
    received_at = (report.received_at or now).astimezone(UTC)
    _check_times(received_at, now)
    prepared = prepare_facts(report, received_at=received_at, max_amount=Decimal(settings.max_transfer_amount))

    if report.external_ref:
        with db.transaction() as session:
            existing = _existing_by_ref(session, actor, report.channel.value, report.external_ref)
            if existing is not None:
                return IntakeResult(existing, created=False)

    extraction = extract(report.narrative, received_at).to_dict()
    fraud_type = report.fraud_type or FraudType.parse(extraction["fraud_type"]["code"]).value
    case_row: dict[str, Any] = {
        "channel": report.channel.value, "external_ref": report.external_ref, "status": CaseStatus.RECEIVED.value,
        "fraud_type": fraud_type, "narrative": report.narrative,
        "extraction": json.dumps(extraction, ensure_ascii=False),
        "warnings": json.dumps(prepared.warnings, ensure_ascii=False), "received_at": received_at,
        "first_action_at": None, "created_by_id": actor.user_id, "created_by_org_id": actor.org_id,
    }
    new = NewCase(
        case=case_row,
        parties=[{"role": role, "name": p.name, "phone": p.phone, "id_number": p.id_number}
                 for role, p in (("reporter", report.reporter), ("victim", report.victim)) if p is not None],
        transfers=[{c: getattr(t, c) for c in TRANSFER_COLUMNS} for t in prepared.transfers],
        entities=[{"kind": kind, "value": value, "org_hint": hint}
                  for (kind, value), hint in prepared.entities.items()],
        username=actor.username,
    )
    try:
        with db.transaction() as session:
            conn = session.connection()
            case_id, number, links = insert_new_case(conn, new, settings.case_prefix, received_at)
            store_links(session, case_id, links, new_case=True)
            audit.append(session, actor, "report.created", "case", number, {
                "channel": report.channel.value, "fraud_type": fraud_type,
                "transfers": len(prepared.transfers), "entities": len(prepared.entities),
                "linked": sorted({link.other_number for link in links}),
            })
            if first_move is not None:
                # The stop-payment and its signed message commit with the case, or not at all.
                first_move.on_new_case(session, case_id=case_id, case_number=number, transfers=new.transfers,
                                       now=now)
    except IntegrityError:
        if not report.external_ref:
            raise
        # The same report arrived twice at once; the other request created it.
        with db.transaction() as session:
            existing = _existing_by_ref(session, actor, report.channel.value, report.external_ref)
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    case = Case(id=case_id, number=number, **case_row)
    return IntakeResult(case, created=True, links=links, warnings=prepared.warnings)


TRANSFER_COLUMNS = ("from_account", "from_bank", "to_account", "to_bank", "to_name", "amount", "currency",
                    "occurred_at", "method")


def add_facts(db: Database, settings: Settings, actor: Actor, case: Case, facts: FactsIn) -> IntakeResult:
    """An officer confirms or adds facts after intake; they link like facts given at intake."""
    if not allowed(actor.role, Permission.CASE_TRANSITION):
        raise Forbidden("your role may not change cases")
    prepared = prepare_facts(facts, received_at=datetime.now(UTC), max_amount=Decimal(settings.max_transfer_amount))
    with db.transaction() as session:
        locked = session.get(Case, case.id, with_for_update=True)
        if locked is None:
            raise NotFound("case not found")
        for transfer in prepared.transfers:
            transfer.case_id = locked.id
            session.add(transfer)
        added = new_entities(session, locked.id, prepared)
        session.add_all(added)
        if facts.fraud_type:
            locked.fraud_type = facts.fraud_type
        if prepared.warnings:
            locked.warnings = json.dumps(json.loads(locked.warnings or "[]") + prepared.warnings, ensure_ascii=False)
        if locked.first_action_at is None:
            locked.first_action_at = datetime.now(UTC)
        session.flush()
        links = find_links(session.connection(), locked.id, [(e.kind, e.value) for e in added])
        store_links(session, locked.id, links)
        audit.append(session, actor, "case.facts_confirmed", "case", locked.number, {
            "transfers": len(prepared.transfers), "entities": [f"{e.kind}:{e.value}" for e in added],
            "fraud_type": facts.fraud_type, "linked": sorted({link.other_number for link in links}),
        })
    return IntakeResult(locked, created=False, links=links, warnings=prepared.warnings)
