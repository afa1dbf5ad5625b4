"""HTTP API of the callback queue (劝阻), /api/v1/callbacks.

    GET  /callbacks                         the queue: mine, ready (call order), held, waiting, recently closed
    GET  /callbacks/stats?since=&until=     people dissuaded and tasks by status
    GET  /callbacks/{id}                    one task, its attempts and the script for its fraud type
    POST /callbacks                         open a task by hand (duty officers, supervisors)
    POST /callbacks/from-victims            open tasks from `fanzha telecom victims --json` output (same)
    POST /callbacks/claim-next              claim the top of the queue (agents, supervisors)
    POST /callbacks/{id}/claim              claim this task            …/heartbeat: renew the lease
    POST /callbacks/{id}/release            give it back               …/outcome: record the call's outcome

Callback agents and supervisors work the queue, duty officers read it, bank and carrier liaisons get 404,
everyone else 403. A task carries its reasons as text (``reason``, as before) and as ``reasons``: a list of
``{"code", "params"}`` (times ISO 8601 UTC, durations in seconds; code ``text`` is a sentence as written).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from fanzha.auth.dependencies import ActorDep, DbDep, SettingsDep
from fanzha.http import Moment, RowId, refuse_nul
from fanzha.outreach import callbacks as service
from fanzha.outreach.callback_models import CallbackTask, TaskStatus
from fanzha.outreach.scripts import script_for
from fanzha.telecom.victims import FlaggedNumber

router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"], dependencies=[Depends(refuse_nul)])

TEXT_RE = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
CASE_NUMBER_RE = r"^[A-Z]{1,6}\d{8}-\d{6}$"


def _now() -> datetime:
    return datetime.now(UTC)


def _task(session: Any, task: CallbackTask, now: datetime) -> dict[str, Any]:
    return service.views(session, [task], now)[0]


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: Annotated[str, Field(min_length=3, max_length=32, description="the person to call, E.164")]
    grade: Literal["high", "medium", "low"] = "medium"
    reason: Annotated[str, Field(min_length=2, max_length=2000, pattern=TEXT_RE)]
    fraud_type: str | None = Field(default=None, max_length=64, description="code or Chinese name")
    case_number: str | None = Field(default=None, pattern=CASE_NUMBER_RE, description="e.g. SH20261125-000123")
    on_call_now: bool = False
    dedupe_key: str | None = Field(default=None, min_length=1, max_length=160)


class VictimsIn(BaseModel):
    """The output of `fanzha telecom victims --json` (extra fields such as since/until are ignored)."""

    model_config = ConfigDict(extra="ignore")
    flagged: Annotated[list[FlaggedNumber], Field(min_length=1, max_length=100)]
    fraud_type: str | None = Field(default=None, max_length=64)
    case_number: str | None = Field(default=None, pattern=CASE_NUMBER_RE, description="e.g. SH20261125-000123")
    min_grade: Literal["high", "medium", "low"] = Field(default="low", description="skip people graded lower")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["dissuaded", "paid", "not_reached", "refused"]
    station: str | None = Field(default=None, max_length=64, description="refused: the police station that visits, "
                                                                         "e.g. station:BAOSHAN")
    note: str = Field(default="", max_length=2000, pattern=TEXT_RE)


@router.get("")
def list_queue(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    now = _now()
    with db.transaction() as session:
        service.require(actor, service.READERS)
        service.release_lapsed(session, now)
        q = service.queue(session, actor, now)
    return {"now": now, "mine": q.mine, "ready": q.ready, "held": q.held, "waiting": q.waiting,
            "recent": q.recent, "counts": q.counts}


@router.get("/stats")
def stats(actor: ActorDep, db: DbDep, since: Annotated[Moment | None, Query()] = None,
          until: Annotated[Moment | None, Query()] = None) -> dict[str, Any]:
    """People dissuaded in [since, until) (default: the last 24 hours) and open tasks by state."""
    now = _now()
    until = until or now
    since = since or until - timedelta(days=1)
    with db.read() as session:
        q = service.queue(session, actor, now, recent=0)
        return {"since": since, "until": until, "dissuaded": service.dissuaded_count(session, since, until),
                "counts": q.counts}


@router.get("/{task_id}")
def get_one(task_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    now = _now()
    with db.read() as session:
        task = service.get_task(session, actor, task_id)
        body = _task(session, task, now)
        body["attempts_log"] = service.attempts_of(session, task.id)
    body["script"] = script_for(task.fraud_type).as_dict()
    return body


@router.post("", status_code=status.HTTP_201_CREATED)
def open_by_hand(body: TaskIn, actor: ActorDep, db: DbDep, response: Response) -> dict[str, Any]:
    service.require(actor, service.OPENERS)
    now = _now()
    with db.transaction() as session:
        opened = service.open_or_merge(
            session, actor, phone=body.phone, grade=body.grade, source="manual", reason=body.reason, now=now,
            case_number=body.case_number, fraud_type=body.fraud_type, on_call_now=body.on_call_now,
            dedupe_key=body.dedupe_key)
        out = _task(session, opened.task, now)
    if opened.how != "opened":
        response.status_code = status.HTTP_200_OK
    return {**out, "how": opened.how}


@router.post("/from-victims", status_code=status.HTTP_201_CREATED)
def from_victims(body: VictimsIn, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """Open a task per potential victim of each flagged number (graded by the telecom analysis)."""
    service.require(actor, service.OPENERS)
    now = _now()
    with db.transaction() as session:
        result = service.open_from_victims(session, actor, body.flagged, now=now, fraud_type=body.fraud_type,
                                           case_number=body.case_number, min_grade=body.min_grade)

        def brief(tasks: list[CallbackTask]) -> list[dict[str, Any]]:
            return [{"id": t.id, "phone": t.phone, "grade": t.grade, "on_call": t.on_call} for t in tasks]

        return {"opened": brief(result.opened), "merged": brief(result.merged), "existing": brief(result.existing),
                "skipped": result.skipped}


@router.post("/claim-next")
def claim_next(actor: ActorDep, db: DbDep) -> dict[str, Any]:
    """{"task": the claimed task with its script} or {"task": null} when nothing is due."""
    now = _now()
    with db.transaction() as session:
        service.require(actor, service.WORKERS)
        task = service.claim_next(session, actor, now)
        if task is None:
            return {"task": None}
        out = _task(session, task, now)
    out["script"] = script_for(task.fraud_type).as_dict()
    return {"task": out}


@router.post("/{task_id}/claim")
def claim(task_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    now = _now()
    with db.transaction() as session:
        task = service.claim(session, actor, task_id, now)
        out = _task(session, task, now)
    out["script"] = script_for(task.fraud_type).as_dict()
    return out


@router.post("/{task_id}/heartbeat")
def heartbeat(task_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    now = _now()
    with db.transaction() as session:
        task = service.renew(session, actor, task_id, now)
        return {"id": task.id, "lease_until": task.lease_until}


@router.post("/{task_id}/release")
def release(task_id: RowId, actor: ActorDep, db: DbDep) -> dict[str, Any]:
    now = _now()
    with db.transaction() as session:
        return _task(session, service.release(session, actor, task_id, now), now)


@router.post("/{task_id}/outcome")
def outcome(task_id: RowId, body: OutcomeIn, actor: ActorDep, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    now = _now()
    task = service.record(db, settings, actor, task_id, body.outcome, now, station=body.station, note=body.note)
    with db.read() as session:
        out = _task(session, task, now)
    out["closed"] = task.status != TaskStatus.OPEN.value
    return out
