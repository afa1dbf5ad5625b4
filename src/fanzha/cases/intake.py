"""Intake (统一受理): a report from any channel becomes one numbered, linked, audited case."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.permissions import Permission, allowed
from fanzha.cases.extract import extract
from fanzha.cases.facts import PreparedFacts, new_entities, prepare_facts
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.linking import Link, find_links, store_links
from fanzha.cases.models import Case, CaseEntity, CaseParty, CaseStatus, CaseStatusEvent, Transfer
from fanzha.cases.numbering import next_case_number
from fanzha.cases.schemas import FactsIn, ReportIn
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


def create_case(db: Database, settings: Settings, actor: Actor, report: ReportIn) -> IntakeResult:
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
    case = Case(
        number="", channel=report.channel.value, external_ref=report.external_ref,
        status=CaseStatus.RECEIVED.value, fraud_type=fraud_type, narrative=report.narrative,
        extraction=json.dumps(extraction, ensure_ascii=False), received_at=received_at, first_action_at=None,
        warnings=json.dumps(prepared.warnings, ensure_ascii=False),
        created_by_id=actor.user_id, created_by_org_id=actor.org_id,
    )
    try:
        with db.transaction() as session:
            case.number = next_case_number(session.connection(), settings.case_prefix, received_at)
            links = _insert_case(session, actor, case, report, prepared)
            audit.append(session, actor, "report.created", "case", case.number, {
                "channel": report.channel.value, "fraud_type": fraud_type,
                "transfers": len(prepared.transfers), "entities": len(prepared.entities),
                "linked": sorted({link.other_number for link in links}),
            })
    except IntegrityError:
        if not report.external_ref:
            raise
        # The same report arrived twice at once; the other request created it.
        with db.transaction() as session:
            existing = _existing_by_ref(session, actor, report.channel.value, report.external_ref)
        if existing is None:
            raise
        return IntakeResult(existing, created=False)
    return IntakeResult(case, created=True, links=links, warnings=prepared.warnings)


_INSERT_CASE = insert(Case).returning(Case.id)


def _insert_case(session: Session, actor: Actor, case: Case, report: ReportIn, prepared: PreparedFacts) -> list[Link]:
    """All rows of a new case in a few statements (plain SQL inserts: intake is the hottest write path)."""
    conn = session.connection()
    columns = ("number", "channel", "external_ref", "status", "fraud_type", "narrative", "extraction", "warnings",
               "received_at", "first_action_at", "created_by_id", "created_by_org_id")
    case.id = conn.execute(_INSERT_CASE, {c: getattr(case, c) for c in columns}).scalar_one()
    parties = [
        {"case_id": case.id, "role": role, "name": p.name, "phone": p.phone, "id_number": p.id_number}
        for role, p in (("reporter", report.reporter), ("victim", report.victim)) if p is not None
    ]
    conn.execute(insert(CaseParty), parties)
    if prepared.transfers:
        conn.execute(insert(Transfer), [
            {"case_id": case.id, "from_account": t.from_account, "from_bank": t.from_bank,
             "to_account": t.to_account, "to_bank": t.to_bank, "to_name": t.to_name, "amount": t.amount,
             "currency": t.currency, "occurred_at": t.occurred_at, "method": t.method}
            for t in prepared.transfers
        ])
    if prepared.entities:
        conn.execute(insert(CaseEntity), [
            {"case_id": case.id, "kind": kind, "value": value, "org_hint": hint}
            for (kind, value), hint in prepared.entities.items()
        ])
    conn.execute(insert(CaseStatusEvent), {
        "case_id": case.id, "from_status": None, "to_status": CaseStatus.RECEIVED.value, "at": case.received_at,
        "by_user_id": actor.user_id, "by_username": actor.username, "note": "",
    })
    links = find_links(session, case.id, list(prepared.entities))
    store_links(session, case.id, links, new_case=True)
    return links


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
        links = find_links(session, locked.id, [(e.kind, e.value) for e in added])
        store_links(session, locked.id, links)
        audit.append(session, actor, "case.facts_confirmed", "case", locked.number, {
            "transfers": len(prepared.transfers), "entities": [f"{e.kind}:{e.value}" for e in added],
            "fraud_type": facts.fraud_type, "linked": sorted({link.other_number for link in links}),
        })
    return IntakeResult(locked, created=False, links=links, warnings=prepared.warnings)
