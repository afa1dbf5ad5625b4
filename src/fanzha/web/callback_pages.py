"""The callback queue in the console (劝阻回访): an agent's queue with live updates, the call in hand with its
script and one-click outcomes, and, for the duty officer, the queue's state and the flash warnings sent (闪信,
from the live-call watch's ``flash_warnings``) with their delivery.

Callback agents and supervisors work the queue; duty officers read it; bank and carrier liaisons get the 404 a
missing page gets; anyone else a 403. The queue part of the page re-reads itself every few seconds (htmx); the
call in hand renews its lease every 30 s, so a task whose agent closed the page goes back to the queue.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.auth.actor import Actor
from fanzha.auth.dependencies import DbDep, SettingsDep
from fanzha.auth.models import Role
from fanzha.config import SHANGHAI
from fanzha.errors import Conflict, InvalidInput
from fanzha.orgs.models import Organisation, OrgKind
from fanzha.outreach import callbacks as cb
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach.callback_models import CallbackTask, TaskStatus
from fanzha.outreach.models import WarningStatus
from fanzha.outreach.reasons import CALL_RECORD_CODES, ParamValue, Reason, ReasonCode
from fanzha.outreach.scripts import script_for
from fanzha.storage.db import Database
from fanzha.web.console import ConsoleRoute, FormDep, PageActor, check_csrf, field
from fanzha.web.i18n import Translator, catalogue
from fanzha.web.templating import local_time, money, render, render_fragment

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

POLL_SECONDS = 5
HEARTBEAT_SECONDS = 30
NOTICES = frozenset({"claimed", "dissuaded", "paid", "not_reached", "gave_up", "refused", "released", "none"})
ERRORS = frozenset({"taken", "stale", "station", "not_yours"})
CASE_NUMBER = re.compile(r"^[A-Z]{1,6}\d{8}-\d{6}$")
CASE_READERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})  # may open the case a paid outcome filed


def _now() -> datetime:
    return datetime.now(UTC)


def _today_start(now: datetime) -> datetime:
    local = now.astimezone(SHANGHAI)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _stations(session: Session) -> list[Organisation]:
    return list(session.execute(
        select(Organisation).where(Organisation.kind == OrgKind.POLICE_STATION.value, Organisation.active.is_(True))
        .order_by(Organisation.code)).scalars())


def warnings_sent(session: Session, since: datetime, limit: int = 20) -> dict[str, Any]:
    """The flash warnings (闪信) the live-call watch sent: today's counts by status and the latest ones."""
    summary = flash_warnings.summary(session, since=since)
    recent = [flash_warnings.view(w) for w in flash_warnings.list_warnings(session, limit=limit)]
    return {"summary": summary, "recent": recent}


def _sweep(db: Database, now: datetime) -> None:
    """Tasks whose agent went away go back to the queue (a write only when there is one)."""
    with db.read() as session:
        lapsed = session.execute(
            select(CallbackTask.id).where(CallbackTask.status == TaskStatus.OPEN.value,
                                          CallbackTask.claimed_by_id.is_not(None), CallbackTask.lease_until < now)
            .limit(1)).first()
    if lapsed is not None:
        with db.transaction() as session:
            cb.release_lapsed(session, now)


# ---- reasons in the reader's language ----------------------------------------------------------------------

def _duration(t: Translator, seconds: float) -> str:
    # Whole minutes from one minute on, as the analysis's own words round them.
    if seconds >= 60:
        return t("callback.reason.minutes", n=f"{seconds / 60:.0f}")
    return t("callback.reason.seconds", n=f"{seconds:.0f}")


def _param(t: Translator, name: str, value: ParamValue, params: dict[str, ParamValue]) -> str:
    """One parameter as the reader reads it (see the naming rules in `fanzha.outreach.reasons`)."""
    if isinstance(value, bool):
        return t(f"callback.reason.{name}.{'true' if value else 'false'}")
    if name == "amount":
        return money(str(value), str(params.get("currency") or "CNY")) if value is not None \
            else t("callback.reason.amount_unknown")
    if name.endswith("_at") and isinstance(value, str):
        return local_time(value)  # stored UTC, shown in Shanghai
    if name.endswith("_s") and isinstance(value, int | float):
        return _duration(t, value)
    return "—" if value is None else str(value)


def _say(t: Translator, item: Reason) -> str:
    """One reason in the reader's language; raises KeyError/ValueError when its parameters do not fit."""
    if item.code is ReasonCode.TEXT:
        return str(item.params["text"])
    key = f"callback.reason.{item.code.value}"
    if item.params.get("calls") == 1 and f"{key}.one" in catalogue(t.lang):
        key += ".one"
    message = catalogue(t.lang)[key]
    return message.format(**{name: _param(t, name, value, item.params) for name, value in item.params.items()})


def reason_lines(t: Translator, task: dict[str, Any]) -> list[str]:
    """A task's reasons (`callbacks.view`) in the reader's language, Shanghai times: one line per source, the
    number that called said once before a run of reasons read from its call records. Reasons that cannot be said
    (a parameter missing) give way to the task's stored text rather than to an error page."""
    lines: list[str] = []
    run: tuple[str, list[str]] | None = None  # the number that called, and what its records show
    try:
        for item in (Reason.model_validate(raw) for raw in task.get("reasons") or []):
            flagged = item.params.get("flagged") if item.code in CALL_RECORD_CODES else None
            if isinstance(flagged, str):
                if run is None or run[0] != flagged:
                    run = (flagged, [])
                    lines.append("")
                run[1].append(_say(t, item))
                lines[-1] = t("callback.reason.called_by", flagged=flagged,
                              reasons=t("callback.reason.sep").join(run[1]))
            else:
                run = None
                lines.append(_say(t, item))
    except (KeyError, ValueError, IndexError):
        return [task["reason"]]
    return lines or [task["reason"]]


def say_reasons(t: Translator, task: dict[str, Any]) -> str:
    return t("callback.reason.sep").join(reason_lines(t, task))


def _queue_context(db: Database, actor: Actor, now: datetime) -> dict[str, Any]:
    _sweep(db, now)
    with db.read() as session:
        q = cb.queue(session, actor, now)
        dissuaded_today = cb.dissuaded_count(session, _today_start(now), now + timedelta(seconds=1))
        warnings = warnings_sent(session, _today_start(now))
        attempts = cb.attempts_of(session, q.mine["id"]) if q.mine else []
        stations = _stations(session) if q.mine else []
    return {
        "q": q, "counts": {**q.counts, "dissuaded_today": dissuaded_today}, "now": now,
        "worker": cb.can_work(actor), "case_links": actor.role in CASE_READERS,
        "warnings": warnings, "warning_statuses": [s.value for s in WarningStatus],
        "mine": q.mine, "mine_attempts": attempts, "stations": stations,
        "script": script_for(q.mine["fraud_type"]) if q.mine else None,
        "poll_seconds": POLL_SECONDS, "heartbeat_seconds": HEARTBEAT_SECONDS,
        "reason_lines": reason_lines, "say_reasons": say_reasons,
    }


def _page(request: Request, actor: Actor, db: Database, *, error: str = "", status_code: int = 200) -> Response:
    cb.require(actor, cb.READERS)
    notice = request.query_params.get("notice", "")
    case = request.query_params.get("case", "")
    context = _queue_context(db, actor, _now())
    return render(request, "callback_queue.html", actor, status_code=status_code,
                  notice=notice if notice in NOTICES else "", error=error if error in ERRORS else "",
                  report_case=case if CASE_NUMBER.match(case) else "", **context)


@router.get("/callbacks")
def queue_page(request: Request, actor: PageActor, db: DbDep) -> Response:
    error = request.query_params.get("error", "")
    return _page(request, actor, db, error=error)


@router.get("/callbacks/queue")
def queue_fragment(request: Request, actor: PageActor, db: DbDep) -> Response:
    """The part of the page that refreshes itself (htmx polling)."""
    cb.require(actor, cb.READERS)
    context = _queue_context(db, actor, _now())
    return HTMLResponse(render_fragment(request, "callback_queue_live.html", actor, **context))


def _back(notice: str = "", *, error: str = "", case: str = "") -> Response:
    query = f"notice={notice}" if notice else f"error={error}"
    if case:
        query += f"&case={case}"
    return RedirectResponse(f"/callbacks?{query}", status_code=303)


@router.post("/callbacks/claim-next")
def claim_next(request: Request, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    cb.require(actor, cb.WORKERS)
    with db.transaction() as session:
        task = cb.claim_next(session, actor, _now())
    return _back("claimed" if task is not None else "none")


@router.post("/callbacks/{task_id}/claim")
def claim(request: Request, task_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    cb.require(actor, cb.WORKERS)
    try:
        with db.transaction() as session:
            cb.claim(session, actor, task_id, _now())
    except Conflict:
        return _back(error="taken")
    return _back("claimed")


@router.post("/callbacks/{task_id}/release")
def release(request: Request, task_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    check_csrf(request, actor, form)
    cb.require(actor, cb.WORKERS)
    try:
        with db.transaction() as session:
            cb.release(session, actor, task_id, _now())
    except Conflict:
        return _back(error="not_yours")
    return _back("released")


@router.post("/callbacks/{task_id}/heartbeat")
def heartbeat(request: Request, task_id: int, actor: PageActor, form: FormDep, db: DbDep) -> Response:
    """htmx, every 30 s while the call is on the agent's screen: renew the lease and say until when."""
    check_csrf(request, actor, form)
    cb.require(actor, cb.WORKERS)
    try:
        with db.transaction() as session:
            task = cb.renew(session, actor, task_id, _now())
            lease_until: datetime | None = task.lease_until
    except Conflict:
        lease_until = None
    return HTMLResponse(render_fragment(request, "callback_lease.html", actor, task_id=task_id,
                                        lease_until=lease_until, heartbeat_seconds=HEARTBEAT_SECONDS))


@router.post("/callbacks/{task_id}/outcome")
def outcome(request: Request, task_id: int, actor: PageActor, form: FormDep, db: DbDep,
            settings: SettingsDep) -> Response:
    """One click: the button pressed is the outcome (the station is read only for "refused")."""
    check_csrf(request, actor, form)
    cb.require(actor, cb.WORKERS)
    what = field(form, "outcome")
    try:
        task = cb.record(db, settings, actor, task_id, what, _now(), station=field(form, "station") or None,
                         note=field(form, "note"))
    except InvalidInput as exc:
        return _page(request, actor, db, error="station" if exc.field == "station" else "stale", status_code=422)
    except Conflict:
        return _back(error="not_yours")
    if task.status == TaskStatus.PAID.value:
        return _back("paid", case=task.report_case_number or "")
    if task.status == TaskStatus.GAVE_UP.value:
        return _back("gave_up")
    if task.status == TaskStatus.VISIT.value:
        return _back("refused")
    return _back(what)
