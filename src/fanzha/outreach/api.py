"""HTTP API of the live call watch (/api/v1/outreach). The callback queue's routes are in ``callbacks_api.py``.

    POST   /outreach/call-events                      carriers' call events (set-up, answer, release), a batch
    GET    /outreach/flagged-numbers                  the flagged set (?all=true: removed ones too)
    PUT    /outreach/flagged-numbers/{number}         flag a number, or change its fraud type / case / reason
    DELETE /outreach/flagged-numbers/{number}         stop watching it (the row stays, inactive)
    GET    /outreach/watched-calls?status=&subscriber=     calls with a flagged number: watching, warned, ended first
    GET    /outreach/warnings?status=&number=&since=&before_id=&limit=   flash warnings, newest first
    GET    /outreach/warnings/summary?since=          counts by status and the share delivered
    GET    /outreach/warnings/{id}                    one warning, with its delivery

Call events come from a carrier's system account (a carrier liaison token: its own carrier's events only) or
from the center's officers; flagged numbers are managed by duty officers and supervisors (audited); the
warnings are read by the center's officers and callback agents.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from fanzha.audit import service as audit
from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import ActorDep, DbDep
from fanzha.auth.models import Role
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.normalize import phone_e164
from fanzha.config import Settings
from fanzha.errors import Forbidden, InvalidInput, NotFound
from fanzha.http import BeforeId, Moment, RowId, refuse_nul
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach import watcher as watch
from fanzha.outreach.events import CallEventsIn
from fanzha.outreach.models import CallStatus, WarningStatus
from fanzha.storage.db import Database

router = APIRouter(prefix="/api/v1/outreach", tags=["outreach"], dependencies=[Depends(refuse_nul)])

EVENT_SENDERS = frozenset({Role.CARRIER_LIAISON, Role.DUTY_OFFICER, Role.SUPERVISOR})
LIST_KEEPERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
READERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR, Role.CALLBACK_AGENT})
TEXT_RE = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
_lock = threading.Lock()


def watcher_for(app: FastAPI) -> watch.Watcher:
    """The server's watcher: the running live watch's, or (no lifespan, e.g. a bare test client) one of its own."""
    live: watch.LiveWatch | None = getattr(app.state, "live_watch", None)
    if live is not None:
        return live.watcher
    if not hasattr(app.state, "watcher"):
        with _lock:
            if not hasattr(app.state, "watcher"):
                settings: Settings = app.state.settings
                db: Database = app.state.db
                app.state.watcher = watch.Watcher(db, watch_minutes=settings.watch_minutes,
                                                  flagged=watch.FlaggedSet(db, settings.flagged_reload_s))
    existing: watch.Watcher = app.state.watcher
    return existing


def _require(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"{actor.role.value} may not {what}")


def _number(raw: str, where: str) -> str:
    try:
        value = phone_e164(raw)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=where) from None
    if not value.startswith("+"):
        raise InvalidInput(f"{raw!r} is a service number, not a subscriber's", field=where)
    return value


@router.post("/call-events")
def post_call_events(body: CallEventsIn, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Set-up, answer and release events of live calls; calls with a flagged number are watched."""
    _require(actor, EVENT_SENDERS, "send call events")
    events = body.events
    if actor.role == Role.CARRIER_LIAISON:
        own = actor.org_short_code
        for i, event in enumerate(events):
            if event.carrier is not None and event.carrier != own:
                raise Forbidden(f"events.{i}: a carrier sends its own calls' events only ({own})")
        events = [e if e.carrier else e.model_copy(update={"carrier": own}) for e in events]
    result = watcher_for(request.app).handle(events)
    return result.as_dict()


class FlaggedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fraud_type: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="fraud type code or Chinese name: chooses the flash SMS text")
    case_number: Annotated[str, Field(pattern=r"^[A-Z]{1,6}\d{8}-\d{6}$")] | None = None
    reason: Annotated[str, Field(min_length=2, max_length=500, pattern=TEXT_RE)]


@router.get("/flagged-numbers")
def list_flagged(actor: ActorDep, db: DbDep,
                 include_removed: bool = Query(default=False, alias="all")) -> dict[str, Any]:
    _require(actor, READERS, "read the flagged numbers")
    with db.read() as session:
        rows = watch.list_flagged(session, include_removed=include_removed)
        return {"items": [watch.flagged_view(r) for r in rows]}


@router.put("/flagged-numbers/{number}")
def put_flagged(number: str, body: FlaggedIn, actor: ActorDep, db: DbDep, request: Request,
                response: Response) -> dict[str, Any]:
    _require(actor, LIST_KEEPERS, "flag numbers")
    e164 = _number(number, "number")
    fraud_type = None
    if body.fraud_type:
        try:
            fraud_type = FraudType.parse(body.fraud_type).value
        except ValueError as exc:
            raise InvalidInput(str(exc), field="fraud_type") from None
    now = datetime.now(UTC)
    with db.transaction() as session:
        row, activated = watch.put_flagged(session, number=e164, fraud_type=fraud_type, case_number=body.case_number,
                                           reason=body.reason.strip(), by=actor.username, now=now)
        audit.append(session, actor, "outreach.flagged_put", "phone", e164,
                     {"fraud_type": fraud_type, "case_number": body.case_number, "reason": row.reason,
                      "activated": activated}, at=now)
        view = watch.flagged_view(row)
    watcher_for(request.app).flagged.invalidate()
    response.status_code = status.HTTP_201_CREATED if activated else status.HTTP_200_OK
    return view


@router.delete("/flagged-numbers/{number}", status_code=status.HTTP_204_NO_CONTENT)
def delete_flagged(number: str, actor: ActorDep, db: DbDep, request: Request) -> Response:
    _require(actor, LIST_KEEPERS, "remove flagged numbers")
    e164 = _number(number, "number")
    now = datetime.now(UTC)
    with db.transaction() as session:
        row = watch.remove_flagged(session, number=e164, by=actor.username, now=now)
        if row is None:
            raise NotFound(f"{e164} is not a flagged number")
        audit.append(session, actor, "outreach.flagged_removed", "phone", e164, {}, at=now)
    watcher_for(request.app).flagged.invalidate()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/watched-calls")
def watched_calls(actor: ActorDep, db: DbDep, status_: CallStatus | None = Query(default=None, alias="status"),
                  subscriber: str | None = Query(default=None, max_length=32),
                  limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    _require(actor, READERS, "read watched calls")
    who = _number(subscriber, "subscriber") if subscriber else None
    with db.read() as session:
        rows = watch.list_watched(session, status=status_.value if status_ else None, subscriber=who, limit=limit)
        return {"items": [watch.watched_view(r) for r in rows]}


@router.get("/warnings")
def list_warnings(actor: ActorDep, db: DbDep, status_: WarningStatus | None = Query(default=None, alias="status"),
                  number: str | None = Query(default=None, max_length=32), since: Moment | None = None,
                  before_id: BeforeId = None,
                  limit: int = Query(default=100, ge=1, le=1000)) -> dict[str, Any]:
    _require(actor, READERS, "read flash warnings")
    who = _number(number, "number") if number else None
    with db.read() as session:
        rows = flash_warnings.list_warnings(session, status=status_.value if status_ else None, number=who,
                                            since=since, before_id=before_id, limit=limit)
        return {"items": [flash_warnings.view(w) for w in rows]}


@router.get("/warnings/summary")
def warnings_summary(actor: ActorDep, db: DbDep, since: Moment | None = None) -> dict[str, Any]:
    _require(actor, READERS, "read flash warnings")
    with db.read() as session:
        return flash_warnings.summary(session, since=since)


@router.get("/warnings/{warning_id}")
def get_warning(warning_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    _require(actor, READERS, "read flash warnings")
    with db.read() as session:
        return flash_warnings.view(flash_warnings.get_warning(session, warning_id))
