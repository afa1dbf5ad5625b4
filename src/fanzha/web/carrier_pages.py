"""Carrier pages: a carrier liaison's inbox (their own carrier's instructions, answered by hand where the carrier
has no system link) and the official-numbers list (a supervisor edits it; everyone signed in may read it)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep
from fanzha.auth.models import Role
from fanzha.banking.runtime import signer_for
from fanzha.errors import Conflict, Forbidden, InvalidInput
from fanzha.storage.db import Database
from fanzha.telecom import official
from fanzha.telecom.carriers import actions, queries, routing
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

INBOX_NOTICES = frozenset({"answered", "rerouted"})
OFFICIAL_NOTICES = frozenset({"added", "changed"})
# A refused form says which field, in the reader's language (keys carrier.error.* / official.error.*).
ANSWER_ERRORS = {"reason": "reason", "true_carrier": "true_carrier", "status": "status"}
OFFICIAL_ERRORS = {"pattern": "pattern", "kind": "kind", "name_zh": "name", "name_en": "name"}


def _liaison(actor: Actor) -> None:
    if actor.role is not Role.CARRIER_LIAISON:
        raise Forbidden("the inbox belongs to a carrier's liaison")


def _inbox(request: Request, actor: Actor, db: Database, *, error: str = "", status_code: int = 200) -> Response:
    with db.transaction() as session:  # a carrier's read is audited
        items = queries.inbox_of(session, actor)
        audit.append(session, actor, "carrier.inbox_read", "carrier", actor.org_code,
                     {"returned": [i["id"] for i in items]})
    notice = request.query_params.get("notice", "")
    return render(request, "carrier_inbox.html", actor, status_code=status_code, items=items, error=error,
                  notice=notice if notice in INBOX_NOTICES else "",
                  other_carriers=[c for c in routing.BASE_CARRIERS if c != actor.org_short_code])


@router.get("/carrier/inbox")
def inbox(request: Request, actor: PageActor, db: DbDep) -> Response:
    _liaison(actor)
    return _inbox(request, actor, db)


@router.post("/carrier/inbox/{instruction_id}/answer")
def answer(request: Request, instruction_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    _liaison(actor)
    settings = request.app.state.settings
    try:
        with db.transaction() as session:
            instruction, number = queries.load(session, actor, instruction_id, for_update=True)
            again = actions.answer_by_hand(
                session, actor, instruction, status=field(form, "status"),
                true_carrier=field(form, "true_carrier") or None, reason=field(form, "reason"),
                now=datetime.now(UTC), case_number=number, signer=signer_for(request.app),
                policy=actions.policy_for(settings))
    except InvalidInput as exc:
        return _inbox(request, actor, db, error=ANSWER_ERRORS.get(exc.field or "", "status"), status_code=422)
    except Conflict:
        return _inbox(request, actor, db, error="stale", status_code=409)
    notice = "rerouted" if again is not None else "answered"
    return RedirectResponse(f"/carrier/inbox?notice={notice}", status_code=303)


# ---- the official-numbers list -------------------------------------------------------------------------------

def _official(request: Request, actor: Actor, db: Database, *, error: str = "", form: dict[str, str] | None = None,
              status_code: int = 200) -> Response:
    with db.transaction() as session:  # the first read loads the defaults
        rows = [official.view(r) for r in official.all_entries(session)]
    notice = request.query_params.get("notice", "")
    return render(request, "carrier_official.html", actor, status_code=status_code, items=rows, error=error,
                  notice=notice if notice in OFFICIAL_NOTICES else "", form=form or {},
                  kinds=[k.value for k in official.OfficialKind], editable=actor.role is Role.SUPERVISOR)


@router.get("/telecom/official-numbers")
def official_numbers(request: Request, actor: PageActor, db: DbDep) -> Response:
    return _official(request, actor, db)


@router.post("/telecom/official-numbers")
def add_official(request: Request, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    values = {name: field(form, name) for name in ("pattern", "kind", "name_zh", "name_en")}
    try:
        with db.transaction() as session:
            official.add(session, actor, pattern=values["pattern"], kind=values["kind"],
                         name_zh=values["name_zh"], name_en=values["name_en"])
    except InvalidInput as exc:
        return _official(request, actor, db, error=OFFICIAL_ERRORS.get(exc.field or "", "pattern"), form=values,
                         status_code=422)
    except Conflict:
        return _official(request, actor, db, error="duplicate", form=values, status_code=409)
    return RedirectResponse("/telecom/official-numbers?notice=added", status_code=303)


@router.post("/telecom/official-numbers/{entry_id}/active")
def set_active(request: Request, entry_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    with db.transaction() as session:
        official.update(session, actor, entry_id, active=field(form, "active") == "yes")
    return RedirectResponse("/telecom/official-numbers?notice=changed", status_code=303)
