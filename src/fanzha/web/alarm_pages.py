"""Expiry alarms in the console: a badge every page of an officer or bank liaison polls, and the list behind it.

The badge re-reads itself every 30 s (htmx), so an alarm raised by the server's sweeper reaches every open
console within half a minute without a reload; the list links each hold to its case, where it is renewed or
frozen.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fanzha.auth.dependencies import DbDep
from fanzha.banking.alarms import ALARMED_ROLES, open_alarms
from fanzha.banking.first_move import rules_for
from fanzha.errors import Forbidden
from fanzha.web.console import ConsoleRoute, PageActor
from fanzha.web.templating import render, render_fragment

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

BADGE_POLL_SECONDS = 30


@router.get("/alarms")
def alarms_page(request: Request, actor: PageActor, db: DbDep) -> Response:
    if actor.role not in ALARMED_ROLES:
        raise Forbidden("expiry alarms are for duty officers, supervisors and bank liaisons")
    with db.read() as session:
        items = open_alarms(session, actor, datetime.now(UTC), rules_for(request.app.state.settings))
    return render(request, "alarms.html", actor, items=items)


@router.get("/alarms/badge")
def alarms_badge(request: Request, actor: PageActor, db: DbDep) -> HTMLResponse:
    """The nav's alarm count (empty for roles that are not alarmed); polled by every console page."""
    items = []
    if actor.role in ALARMED_ROLES:
        with db.read() as session:
            items = open_alarms(session, actor, datetime.now(UTC), rules_for(request.app.state.settings))
    return HTMLResponse(render_fragment(request, "alarms_badge.html", actor, items=items))
