"""The case list and a case's page: clock, parties, money, linked cases, timeline and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep, SettingsDep
from fanzha.auth.permissions import Permission, allowed
from fanzha.banking.queries import instructions_of
from fanzha.cases import intake, queries, views, workflow
from fanzha.cases.models import CaseStatus
from fanzha.cases.normalize import account_number, phone_e164, url_value
from fanzha.config import Settings
from fanzha.errors import Conflict, DomainError, Forbidden, InvalidInput
from fanzha.storage.db import Database
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field, home_for, need
from fanzha.web.filters import ListForm, to_filter
from fanzha.web.forms import Errors, FieldError, facts_from_form, known_refusal
from fanzha.web.highlight import segments
from fanzha.web.suggestions import Suggestion, suggest
from fanzha.web.templating import render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# Banners a redirect may ask the next page to show (anything else in ?notice= is ignored).
NOTICES = frozenset({"created", "duplicate", "facts_added", "status_changed", "instruction_approve",
                     "instruction_renew", "instruction_release", "instruction_refused", "release_needs_reason"})


@router.get("/")
def home(actor: PageActor) -> Response:
    """Each reader's own first page (a callback agent has no case list to land on)."""
    return RedirectResponse(home_for(actor), status_code=303)


@router.get("/cases")
def case_list(request: Request, actor: PageActor, db: DbDep, settings: SettingsDep) -> Response:
    need(actor, Permission.CASE_READ)
    form = ListForm.from_query(dict(request.query_params))
    case_filter, errors = to_filter(form)
    items: list[dict[str, Any]] = []
    next_cursor: int | None = None
    if not errors:
        with db.transaction() as session:
            rows, next_cursor = queries.list_cases(session, actor, case_filter)
            items = [views.summary(case, settings) for case in rows]
    return render(request, "cases_list.html", actor, form=form, errors=errors, items=items,
                  next_cursor=next_cursor)


def _normalised(normalise: Callable[[str], str], value: str) -> str:
    try:
        return normalise(value)
    except ValueError:
        return value


def _already_held(suggestion: Suggestion, data: dict[str, Any]) -> bool:
    """Whether the case already has what this suggestion would add (compared in the stored, canonical form)."""
    entities = {(e["kind"], e["value"]) for e in data.get("entities", [])}
    values = suggestion.data
    if suggestion.kind == "phone":
        return ("phone", _normalised(phone_e164, values["phone"])) in entities
    if suggestion.kind == "url":
        return ("url", _normalised(url_value, values["url"])) in entities
    if suggestion.kind == "account":
        return ("account", _normalised(account_number, values["number"])) in entities
    if suggestion.kind == "transfer":
        account = _normalised(account_number, values["to_account"])
        return any(t["to_account"] == account for t in data.get("transfers", []))
    if suggestion.kind == "fraud_type":
        return bool(data.get("fraud_type", {}).get("code") == values["fraud_type"])
    return False


def _adoptable(data: dict[str, Any]) -> list[Suggestion]:
    text = data.get("narrative") or ""
    extraction = data.get("extraction") or {}
    # A lone amount has no account to stop payment on; on a case page only whole facts are offered.
    return [s for s in suggest(text, extraction) if s.kind != "amount" and not _already_held(s, data)]


def _detail_page(request: Request, actor: Actor, db: Database, settings: Settings, number: str, *,
                 errors: Errors | None = None, note: str = "", status_code: int = 200) -> Response:
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
        data = views.full(session, case, settings, actor)
        data["instructions"] = instructions_of(session, actor, case)
    full_view = "narrative" in data
    next_statuses = []
    if allowed(actor.role, Permission.CASE_TRANSITION):
        allowed_next = workflow.TRANSITIONS[CaseStatus(data["status"])]
        next_statuses = [s.value for s in CaseStatus if s in allowed_next]
    notice = request.query_params.get("notice", "")
    return render(
        request, "case_detail.html", actor, status_code=status_code, case=data, full_view=full_view,
        segments=segments(data.get("narrative") or "", data.get("extraction") or {}) if full_view else [],
        suggestions=_adoptable(data) if full_view else [], next_statuses=next_statuses,
        errors=errors or {}, note=note, notice=notice if notice in NOTICES else "",
    )


@router.get("/cases/{number}")
def case_detail(request: Request, number: str, actor: PageActor, db: DbDep, settings: SettingsDep) -> Response:
    need(actor, Permission.CASE_READ)
    return _detail_page(request, actor, db, settings, number)


@router.post("/cases/{number}/transition")
def change_status(request: Request, number: str, actor: PageActor, form: FormDep, db: DbDep,
                  settings: SettingsDep) -> Response:
    check_csrf(request, actor, form)
    need(actor, Permission.CASE_TRANSITION)
    note = field(form, "note")
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
    try:
        workflow.transition(db, actor, case.id, field(form, "to"), note)
    except Forbidden:
        raise
    except (InvalidInput, Conflict) as exc:
        code = "note_required" if exc.field == "note" else "stale_status" if isinstance(exc, Conflict) else "choice"
        # The message for the code says it all in the reader's language; the service's English adds nothing.
        return _detail_page(request, actor, db, settings, number, note=note, status_code=exc.status_code,
                            errors={"note" if exc.field == "note" else "transition": FieldError(code)})
    return RedirectResponse(f"/cases/{case.number}?notice=status_changed", status_code=303)


@router.post("/cases/{number}/facts")
def adopt_facts(request: Request, number: str, actor: PageActor, form: FormDep, db: DbDep,
                settings: SettingsDep) -> Response:
    check_csrf(request, actor, form)
    need(actor, Permission.CASE_TRANSITION)
    with db.transaction() as session:
        case = queries.get_case(session, actor, number)
    facts, errors = facts_from_form(form)
    if facts is None:
        return _detail_page(request, actor, db, settings, number, errors=errors, status_code=422)
    try:
        intake.add_facts(db, settings, actor, case, facts)
    except Forbidden:
        raise
    except DomainError as exc:
        return _detail_page(request, actor, db, settings, number, status_code=exc.status_code,
                            errors={"adopt": known_refusal(exc.message) or FieldError("domain", exc.message)})
    return RedirectResponse(f"/cases/{case.number}?notice=facts_added#links", status_code=303)
