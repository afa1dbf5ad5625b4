"""Filing a report (统一受理): the intake form and its live extraction preview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep, SettingsDep
from fanzha.auth.permissions import Permission
from fanzha.banking.runtime import first_move_for
from fanzha.cases import intake
from fanzha.cases.extract import extract
from fanzha.config import Settings
from fanzha.errors import DomainError, Forbidden
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field, need
from fanzha.web.forms import Errors, IntakeForm, domain_errors, local_datetime
from fanzha.web.highlight import segments
from fanzha.web.suggestions import suggest
from fanzha.web.templating import render, render_fragment

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# The channel a hotline or police station files on, by its organisation code.
_DEFAULT_CHANNEL = {"hotline:110": "110", "hotline:12345": "12345", "hotline:web": "web"}


def default_channel(actor: Actor) -> str:
    if actor.org_kind == "police_station":
        return "station"
    return _DEFAULT_CHANNEL.get(actor.org_code, "")


def preview(text: str, received_at: datetime | None, settings: Settings) -> dict[str, Any]:
    """What the preview panel shows for a narrative: highlighted pieces, suggestions and warnings."""
    if not text.strip():
        return {"segments": [], "suggestions": [], "warnings": [], "too_long": False}
    if len(text) > settings.max_narrative_chars:
        return {"segments": [], "suggestions": [], "warnings": [], "too_long": True}
    extraction = extract(text, received_at or datetime.now(UTC)).to_dict()
    return {"segments": segments(text, extraction), "suggestions": suggest(text, extraction),
            "warnings": extraction.get("warnings") or [], "too_long": False}


def _received_at(value: str) -> datetime | None:
    parsed = local_datetime(value)
    return parsed if isinstance(parsed, datetime) else None


def _form_page(request: Request, actor: Actor, settings: Settings, form: IntakeForm, errors: Errors,
               status_code: int = 200) -> Response:
    return render(request, "intake.html", actor, status_code=status_code, form=form, errors=errors,
                  preview=preview(form.narrative, _received_at(form.received_at), settings),
                  stationed_banks=settings.stationed_banks)


@router.get("/cases/new")
def intake_form(request: Request, actor: PageActor, settings: SettingsDep) -> Response:
    need(actor, Permission.REPORT_CREATE)
    return _form_page(request, actor, settings, IntakeForm(channel=default_channel(actor)), {})


@router.post("/cases/new")
def file_report(request: Request, actor: PageActor, form: FormDep, db: DbDep, settings: SettingsDep) -> Response:
    check_csrf(request, actor, form)
    need(actor, Permission.REPORT_CREATE)
    state = IntakeForm.from_form(form)
    report, errors = state.to_report()
    if report is None:
        return _form_page(request, actor, settings, state, errors, status_code=422)
    try:
        result = intake.create_case(db, settings, actor, report, first_move_for(request.app))
    except Forbidden:
        raise
    except DomainError as exc:
        return _form_page(request, actor, settings, state, domain_errors(exc, state.transfer_rows()),
                          status_code=exc.status_code)
    notice = "created" if result.created else "duplicate"
    return RedirectResponse(f"/cases/{result.case.number}?notice={notice}", status_code=303)


@router.post("/ui/extract")
def extract_preview(request: Request, actor: PageActor, form: FormDep, settings: SettingsDep) -> Response:
    """The preview panel for the narrative typed so far (htmx swaps it in)."""
    check_csrf(request, actor, form)
    need(actor, Permission.EXTRACT_PREVIEW)
    text = form.get("narrative")
    data = preview(text if isinstance(text, str) else "", _received_at(field(form, "received_at")), settings)
    return HTMLResponse(render_fragment(request, "partials/extract_preview.html", actor, preview=data,
                                        mode="use"))
