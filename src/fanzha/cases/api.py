"""HTTP API for reports and cases (/api/v1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.auth.permissions import Permission, allowed
from fanzha.banking.runtime import first_move_for
from fanzha.cases import intake, queries, views, workflow
from fanzha.cases.extract import extract
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.linking import Link
from fanzha.cases.models import CaseStatus, Channel
from fanzha.cases.schemas import ExtractIn, FactsIn, ReportIn, TransitionIn
from fanzha.errors import Forbidden, InvalidInput
from fanzha.http import BeforeId, Moment, refuse_nul
from fanzha.storage.db import Database

router = APIRouter(prefix="/api/v1", tags=["cases"], dependencies=[Depends(refuse_nul)])


@router.post("/reports", status_code=status.HTTP_201_CREATED)
def file_report(report: ReportIn, actor: ActorDep, db: DbDep, settings: SettingsDep, request: Request,
                response: Response) -> dict[str, Any]:
    """File a report from any channel; the same `external_ref` sent again returns the same case (200).

    A transfer to an account at a known bank gets a stop-payment at once (FANZHA_FIRST_MOVE).
    """
    result = intake.create_case(db, settings, actor, report, first_move_for(request.app))
    if not result.created:
        response.status_code = status.HTTP_200_OK
    body = views.summary(result.case, settings)
    body.update({"created": result.created, "links": _visible_links(db, actor, result.links),
                 "warnings": result.warnings})
    return body


def _visible_links(db: Database, actor: Actor, links: list[Link]) -> list[dict[str, str]]:
    """Only links to cases the caller may see: other organisations' case numbers stay hidden."""
    with db.read() as session:
        visible = queries.visible_case_ids(session, actor, {link.other_case_id for link in links})
    return views.links_view([link for link in links if link.other_case_id in visible])


@router.get("/cases")
def list_cases(
    actor: ActorDep, db: DbDep, settings: SettingsDep,
    status_: CaseStatus | None = Query(default=None, alias="status"),
    channel: Channel | None = None,
    fraud_type: str | None = None,
    received_from: Moment | None = None,
    received_to: Moment | None = None,
    q: str | None = Query(default=None, max_length=128),
    before_id: BeforeId = None,
    limit: int = Query(default=50, ge=1, le=queries.MAX_PAGE),
) -> dict[str, Any]:
    try:
        ft = FraudType.parse(fraud_type).value if fraud_type else None
    except ValueError as exc:
        raise InvalidInput(str(exc), field="fraud_type") from exc
    f = queries.CaseFilter(
        status=status_.value if status_ else None, channel=channel.value if channel else None, fraud_type=ft,
        received_from=received_from, received_to=received_to, q=q, before_id=before_id, limit=limit,
    )
    # Bank and carrier reads write an audit entry; everyone else's reads take no write lock.
    with (db.transaction() if actor.is_external else db.read()) as session:
        rows, cursor = queries.list_cases(session, actor, f)
        items = [views.summary(c, settings) for c in rows]
    return {"items": items, "next_before_id": cursor}


@router.get("/cases/{number}")
def get_case(number: str, actor: ActorDep, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    with (db.transaction() if actor.is_external else db.read()) as session:
        case = queries.get_case(session, actor, number)
        return views.full(session, case, settings, actor)


@router.post("/cases/{number}/transitions")
def transition_case(number: str, body: TransitionIn, actor: ActorDep, db: DbDep,
                    settings: SettingsDep) -> dict[str, Any]:
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
    updated = workflow.transition(db, actor, case.id, body.to, body.note)
    return views.summary(updated, settings)


@router.post("/cases/{number}/facts")
def confirm_facts(number: str, body: FactsIn, actor: ActorDep, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    """Add officer-confirmed facts (e.g. adopted extraction suggestions); new shared entities link at once."""
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
    result = intake.add_facts(db, settings, actor, case, body)
    out = views.summary(result.case, settings)
    out.update({"links": _visible_links(db, actor, result.links), "warnings": result.warnings})
    return out


@router.post("/extract")
def extract_preview(body: ExtractIn, actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    """Entities found in a narrative, with character spans, for the officer to confirm or correct."""
    if not allowed(actor.role, Permission.EXTRACT_PREVIEW):
        raise Forbidden("your role may not use extraction")
    if len(body.text) > settings.max_narrative_chars:
        raise InvalidInput(f"text is {len(body.text)} characters; the limit is {settings.max_narrative_chars}",
                           field="text")
    return extract(body.text, body.received_at).to_dict()
