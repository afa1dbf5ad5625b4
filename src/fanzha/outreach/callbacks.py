"""The callback queue (劝阻): the people to phone before they pay, who is phoning them, and what came of it.

Tasks come from the live-call watcher (a person is on a call with a flagged number right now), from the telecom
analysis of potential victims (`open_from_victims`), or from an officer. A person has at most one open task: a
second source for the same phone raises the open task's grade instead of queueing the person twice.

The queue is ordered: on a call right now first, then grade (high, medium, low), then age (oldest first).
An agent claims a task; the claim is a lease that the agent's page renews, so a task whose agent went away is
free again once the lease lapses, and two agents never hold one task (every change is a compare-and-set on the
row's version, under a row lock on PostgreSQL). The agent records the outcome in one click:

- dissuaded: closed, and counted in `dissuaded_count`;
- already paid: a report is opened through intake, prefilled with the phone and fraud type (`record`);
- not reached: due again after the next step of `RETRY_SCHEDULE`, given up after the last;
- refused: escalated to a visit by the local police station (status ``visit``, with the station).

Every state change is audited (``callback.*``); lease renewals are not state changes and are not.

A task's reasons are kept twice: as text (``reason``: English from the analysis, as typed by a person, and what the
API has always returned) and as codes with parameters (``reasons``, see `fanzha.outreach.reasons`), which the
console says in its reader's language with Shanghai times. A merge keeps both sources' reasons in both forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.auth import service as auth_service
from fanzha.auth.actor import Actor
from fanzha.auth.models import Role, User
from fanzha.cases.fraud_types import FraudType
from fanzha.cases.normalize import phone_e164
from fanzha.config import Settings
from fanzha.errors import Conflict, Forbidden, InvalidInput, NotFound
from fanzha.orgs.models import Organisation, OrgKind
from fanzha.outreach import reasons as why
from fanzha.outreach.callback_models import (
    CLOSED,
    GRADE_RANK,
    CallbackAttempt,
    CallbackKey,
    CallbackTask,
    Grade,
    Outcome,
    Source,
    TaskStatus,
)
from fanzha.storage.db import Database

LEASE = timedelta(seconds=90)  # the agent's page renews every 30 s
RETRY_SCHEDULE: tuple[timedelta, ...] = (timedelta(minutes=10), timedelta(minutes=30), timedelta(hours=2))
MAX_REASON = 2000
DESK_USERNAME = "callback-desk"  # files the report when a person had already paid (see `open_report`)

# Who may do what. Bank and carrier liaisons are told nothing exists (404); other roles are refused (403).
WORKERS = frozenset({Role.CALLBACK_AGENT, Role.SUPERVISOR})
READERS = WORKERS | {Role.DUTY_OFFICER}
OPENERS = frozenset({Role.DUTY_OFFICER, Role.SUPERVISOR})
HIDDEN_FROM = frozenset({Role.BANK_LIAISON, Role.CARRIER_LIAISON})

QUEUE_ORDER = (CallbackTask.on_call.desc(), CallbackTask.grade_rank, CallbackTask.created_at, CallbackTask.id)


# ---- access ------------------------------------------------------------------------------------------------

def require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role in HIDDEN_FROM:
        raise NotFound("not found")
    if actor.role not in roles:
        raise Forbidden("your role may not use the callback queue" if roles is READERS
                        else "your role may not do this in the callback queue")


def can_work(actor: Actor) -> bool:
    return actor.role in WORKERS


def can_open(actor: Actor) -> bool:
    return actor.role in OPENERS


# ---- opening tasks -----------------------------------------------------------------------------------------

def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def _phone(raw: str, where: str = "phone") -> str:
    try:
        value = phone_e164(raw)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=where) from None
    if not value.startswith("+"):
        raise InvalidInput(f"{raw!r} is a service number, not a person's phone", field=where)
    return value


def _fraud_type(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return FraudType.parse(value).value
    except ValueError as exc:
        raise InvalidInput(str(exc), field="fraud_type") from None


def _choice(kind: type[Grade] | type[Source], value: str, where: str) -> str:
    try:
        return kind(value).value
    except ValueError:
        raise InvalidInput(f"{value!r} is not one of {', '.join(m.value for m in kind)}", field=where) from None


@dataclass(slots=True)
class Opened:
    task: CallbackTask
    how: Literal["opened", "merged", "existing"]


def open_task(session: Session, *, phone: str, grade: Literal["high", "medium", "low"],
              source: Literal["watcher", "potential_victim", "manual"], reason: str, now: datetime,
              case_number: str | None = None, fraud_type: str | None = None, on_call_now: bool = False,
              dedupe_key: str | None = None, reasons: Sequence[why.Reason] | None = None) -> CallbackTask:
    """Queue a person to phone (E.164). The same dedupe_key answers with the same task; a person who already has
    an open task gets that task back, its grade raised and marked on a call if this source says so. Audited.
    `reasons`: the reason as codes (the console says them in its reader's language); None: the text as written."""
    return open_or_merge(session, None, phone=phone, grade=grade, source=source, reason=reason, now=now,
                         case_number=case_number, fraud_type=fraud_type, on_call_now=on_call_now,
                         dedupe_key=dedupe_key, reasons=reasons).task


def open_or_merge(session: Session, actor: Actor | None, *, phone: str, grade: str, source: str, reason: str,
                  now: datetime, case_number: str | None = None, fraud_type: str | None = None,
                  on_call_now: bool = False, dedupe_key: str | None = None,
                  flagged_number: str | None = None, reasons: Sequence[why.Reason] | None = None) -> Opened:
    """`open_task` for a named actor (None: the system), saying whether the task is new, merged or known."""
    now = _aware(now)
    phone = _phone(phone)
    grade = _choice(Grade, grade, "grade")
    source = _choice(Source, source, "source")
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise InvalidInput("say why this person should be called", field="reason")
    # A person's words stay as typed; only machine-made reasons come as codes.
    coded = list(reasons or []) if source != Source.MANUAL.value else []
    fraud_type = _fraud_type(fraud_type)
    if dedupe_key is not None and not 0 < len(dedupe_key) <= 160:
        raise InvalidInput("dedupe_key: 1 to 160 characters", field="dedupe_key")
    incoming = _Incoming(grade=Grade(grade), source=source, reason=reason,
                         reasons=tuple(coded or [why.text(reason)]), fraud_type=fraud_type,
                         case_number=case_number, flagged_number=flagged_number, on_call=on_call_now)
    if dedupe_key is not None:
        known = _task_for_key(session, dedupe_key)
        if known is not None:
            return _known(session, actor, known, incoming, now)
    opened = _merge_or_insert(session, actor, phone, incoming, now)
    if dedupe_key is not None:
        try:
            with session.begin_nested():
                session.add(CallbackKey(key=dedupe_key, task_id=opened.task.id, created_at=now))
        except IntegrityError:
            # The same key arrived twice at once; the other caller's task is the one.
            known = _task_for_key(session, dedupe_key)
            if known is not None:
                return _known(session, actor, known, incoming, now)
            raise
    return opened


def _known(session: Session, actor: Actor | None, known: CallbackTask, new: _Incoming, now: datetime) -> Opened:
    """A repeated key is the same event: its task, still raised by what this copy adds if it is open."""
    locked = _open_task_of(session, known.phone)
    if locked is not None and locked.id == known.id:
        return Opened(locked, "merged" if _merge(session, actor, locked, new, now) else "existing")
    return Opened(known, "existing")


@dataclass(frozen=True, slots=True)
class _Incoming:
    grade: Grade
    source: str
    reason: str
    reasons: tuple[why.Reason, ...]
    fraud_type: str | None
    case_number: str | None
    flagged_number: str | None
    on_call: bool


def _task_for_key(session: Session, key: str) -> CallbackTask | None:
    task_id = session.execute(select(CallbackKey.task_id).where(CallbackKey.key == key)).scalar_one_or_none()
    return session.get(CallbackTask, task_id) if task_id is not None else None


def _open_task_of(session: Session, phone: str) -> CallbackTask | None:
    return session.execute(
        select(CallbackTask).where(CallbackTask.phone == phone, CallbackTask.status == TaskStatus.OPEN.value)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _merge_or_insert(session: Session, actor: Actor | None, phone: str, new: _Incoming, now: datetime) -> Opened:
    existing = _open_task_of(session, phone)
    if existing is None:
        task = CallbackTask(
            phone=phone, grade=new.grade.value, grade_rank=GRADE_RANK[new.grade], source=new.source,
            reason=new.reason, reasons=why.dumps(new.reasons), fraud_type=new.fraud_type, case_number=new.case_number,
            flagged_number=new.flagged_number, on_call=new.on_call, on_call_since=now if new.on_call else None,
            status=TaskStatus.OPEN.value, attempts=0, next_attempt_at=now, created_at=now, updated_at=now, version=1)
        try:
            with session.begin_nested():
                session.add(task)
        except IntegrityError:
            # Another source opened a task for this person at the same moment: merge into that one.
            existing = _open_task_of(session, phone)
            if existing is None:
                raise
        else:
            audit.append(session, actor, "callback.opened", "callback", task.id, {
                "phone": phone, "grade": task.grade, "source": task.source, "on_call": task.on_call,
                "fraud_type": task.fraud_type, "case_number": task.case_number,
                "flagged_number": task.flagged_number,
            })
            return Opened(task, "opened")
    return Opened(existing, "merged" if _merge(session, actor, existing, new, now) else "existing")


def _merge(session: Session, actor: Actor | None, task: CallbackTask, new: _Incoming, now: datetime) -> bool:
    """Raise an open task with what a second source knows; False when it adds nothing."""
    changes: dict[str, Any] = {}
    if GRADE_RANK[new.grade] < task.grade_rank:
        changes.update(grade=new.grade.value, grade_rank=GRADE_RANK[new.grade])
    if new.on_call and not task.on_call:
        changes.update(on_call=True, on_call_since=now)
    if new.on_call and task.next_attempt_at > now:
        changes["next_attempt_at"] = now  # on a call with a fraudster right now: no waiting for the retry slot
    if new.reason not in task.reason:
        changes["reason"] = f"{task.reason}; {new.reason}"[:MAX_REASON]
    # Both sources' reasons as codes too; a task from before codes keeps its text as the first one.
    known = why.loads(task.reasons, task.reason)
    together = why.merged(known, new.reasons)
    if together != known:
        changes["reasons"] = why.dumps(together)
    for name in ("fraud_type", "case_number", "flagged_number"):
        if getattr(task, name) is None and getattr(new, name) is not None:
            changes[name] = getattr(new, name)
    if not changes:
        return False
    _write(session, task, changes, now)
    audit.append(session, actor, "callback.merged", "callback", task.id, {
        "source": new.source,
        **{k: v for k, v in changes.items() if k not in ("reason", "reasons", "grade_rank")},
    })
    return True


def _write(session: Session, task: CallbackTask, changes: dict[str, Any], now: datetime) -> None:
    """Apply changes if nobody changed the task since it was read (compare-and-set on its version)."""
    result = session.execute(
        update(CallbackTask).where(CallbackTask.id == task.id, CallbackTask.version == task.version)
        .values(**changes, updated_at=now, version=task.version + 1)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("the task was changed by someone else meanwhile; reload the queue")
    session.refresh(task)


# ---- from the telecom analysis -------------------------------------------------------------------------------

@dataclass(slots=True)
class ImportResult:
    opened: list[CallbackTask] = field(default_factory=list)
    merged: list[CallbackTask] = field(default_factory=list)
    existing: list[CallbackTask] = field(default_factory=list)
    skipped: int = 0  # below the lowest grade asked for


def open_from_victims(session: Session, actor: Actor | None, flagged: Iterable[Any], *, now: datetime,
                      fraud_type: str | None = None, case_number: str | None = None,
                      min_grade: str = Grade.LOW.value) -> ImportResult:
    """Open a task per graded potential victim (`fanzha.telecom.victims.FlaggedNumber` items, or the same shape
    as plain objects). One key per (flagged number, person, last call): importing the same analysis again opens
    nothing new; a later call from the same number does."""
    if actor is not None:
        require(actor, OPENERS)
    floor = GRADE_RANK[Grade(_choice(Grade, min_grade, "min_grade"))]
    result = ImportResult()
    for item in flagged:
        caller = _phone(str(item.number), "flagged.number")
        for victim in item.victims:
            grade = Grade(str(getattr(victim.grade, "value", victim.grade)))
            if GRADE_RANK[grade] > floor:
                result.skipped += 1
                continue
            last_call: datetime = victim.last_call
            reasons = "; ".join(victim.reasons) or "called"
            opened = open_or_merge(
                session, actor, phone=victim.number, grade=grade.value, source=Source.POTENTIAL_VICTIM.value,
                reason=f"called by {caller}: {reasons}", now=now, case_number=case_number, fraud_type=fraud_type,
                on_call_now=bool(victim.still_connected), flagged_number=caller,
                reasons=_coded(victim, caller),
                dedupe_key=f"pv:{caller}:{victim.number}:{last_call.astimezone(UTC).isoformat()}")
            getattr(result, opened.how).append(opened.task)
    return result


def _coded(victim: Any, caller: str) -> list[why.Reason] | None:
    """A potential victim's reasons as codes; None for analysis output made before reasons had codes. Each names
    the number that called as the task's text does (JSON sent to the API may leave it out)."""
    coded = [r if isinstance(r, why.Reason) else why.Reason.model_validate(r)
             for r in getattr(victim, "structured_reasons", None) or []]
    return [r.model_copy(update={"params": {**r.params, "flagged": caller}})
            if r.code in why.CALL_RECORD_CODES else r for r in coded] or None


def call_ended(session: Session, *, phone: str, now: datetime) -> CallbackTask | None:
    """The watcher saw the person's call with the flagged number end: their task is no longer 'on a call'."""
    now = _aware(now)
    task = _open_task_of(session, _phone(phone))
    if task is None or not task.on_call:
        return task
    _write(session, task, {"on_call": False}, now)
    audit.append(session, None, "callback.call_ended", "callback", task.id, {"phone": task.phone})
    return task


# ---- claims ---------------------------------------------------------------------------------------------------

def _locked(session: Session, task_id: int) -> CallbackTask:
    task = session.execute(
        select(CallbackTask).where(CallbackTask.id == task_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if task is None:
        raise NotFound("no such callback task")
    return task


def _live(task: CallbackTask, now: datetime) -> bool:
    return task.claimed_by_id is not None and task.lease_until is not None and task.lease_until >= now


def held_by(session: Session, actor: Actor) -> CallbackTask | None:
    """The open task the actor holds (a lapsed lease nobody else took still counts: the call may be going on)."""
    return session.execute(
        select(CallbackTask).where(CallbackTask.claimed_by_id == actor.user_id,
                                   CallbackTask.status == TaskStatus.OPEN.value)
        .order_by(CallbackTask.claimed_at.desc()).limit(1)
    ).scalar_one_or_none()


def claim(session: Session, actor: Actor, task_id: int, now: datetime, *, lease: timedelta = LEASE) -> CallbackTask:
    """Take a task to call. Refused if another agent's lease on it is live, or the actor holds another task."""
    require(actor, WORKERS)
    now = _aware(now)
    mine = held_by(session, actor)
    if mine is not None and mine.id != task_id:
        raise Conflict(f"finish or release task {mine.id} first")
    task = _locked(session, task_id)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict("this task is already closed")
    if task.claimed_by_id == actor.user_id:
        _write(session, task, {"lease_until": now + lease}, now)
        return task
    if _live(task, now):
        raise Conflict("another agent is calling this person")
    previous = task.claimed_by_id
    _write(session, task, {"claimed_by_id": actor.user_id, "claimed_at": now, "lease_until": now + lease}, now)
    details: dict[str, Any] = {"lease_until": task.lease_until, "grade": task.grade}
    if previous is not None:
        details["lease_lapsed_for"] = _username(session, previous)
    audit.append(session, actor, "callback.claimed", "callback", task.id, details)
    return task


def _claimable(now: datetime) -> Select[CallbackTask]:
    return (select(CallbackTask)
            .where(CallbackTask.status == TaskStatus.OPEN.value, CallbackTask.next_attempt_at <= now,
                   (CallbackTask.claimed_by_id.is_(None)) | (CallbackTask.lease_until < now))
            .order_by(*QUEUE_ORDER))


def claim_next(session: Session, actor: Actor, now: datetime, *, lease: timedelta = LEASE) -> CallbackTask | None:
    """The top of the queue, claimed (or the task the actor already holds); None when nothing is due."""
    require(actor, WORKERS)
    now = _aware(now)
    mine = held_by(session, actor)
    if mine is not None:
        return claim(session, actor, mine.id, now, lease=lease)
    # PostgreSQL: two agents asking at once get different tasks (SKIP LOCKED); SQLite has one writer anyway.
    candidates = session.execute(_claimable(now).limit(10).with_for_update(skip_locked=True)).scalars().all()
    for candidate in candidates:
        try:
            with session.begin_nested():
                return claim(session, actor, candidate.id, now, lease=lease)
        except Conflict:
            continue
    return None


def renew(session: Session, actor: Actor, task_id: int, now: datetime, *, lease: timedelta = LEASE) -> CallbackTask:
    """The agent's page is still open: extend the lease (not audited; nothing changes hands)."""
    require(actor, WORKERS)
    now = _aware(now)
    task = _locked(session, task_id)
    if task.status != TaskStatus.OPEN.value or task.claimed_by_id != actor.user_id:
        raise Conflict("this task is no longer yours")
    _write(session, task, {"lease_until": now + lease}, now)
    return task


def release(session: Session, actor: Actor, task_id: int, now: datetime) -> CallbackTask:
    """Give a task back to the queue without calling."""
    require(actor, WORKERS)
    now = _aware(now)
    task = _locked(session, task_id)
    if task.status != TaskStatus.OPEN.value or task.claimed_by_id != actor.user_id:
        raise Conflict("this task is no longer yours")
    _write(session, task, {"claimed_by_id": None, "claimed_at": None, "lease_until": None}, now)
    audit.append(session, actor, "callback.released", "callback", task.id, {})
    return task


def release_lapsed(session: Session, now: datetime) -> int:
    """Put tasks whose agent went away (lease lapsed) back in the queue, each audited; returns how many."""
    now = _aware(now)
    lapsed = session.execute(
        select(CallbackTask).where(CallbackTask.status == TaskStatus.OPEN.value,
                                   CallbackTask.claimed_by_id.is_not(None), CallbackTask.lease_until < now)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ).scalars().all()
    for task in lapsed:
        holder = _username(session, task.claimed_by_id)
        _write(session, task, {"claimed_by_id": None, "claimed_at": None, "lease_until": None}, now)
        audit.append(session, None, "callback.lease_lapsed", "callback", task.id, {"agent": holder})
    return len(lapsed)


def _username(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.execute(select(User.username).where(User.id == user_id)).scalar_one_or_none()


# ---- outcomes -------------------------------------------------------------------------------------------------

def station_of(session: Session, code: str) -> Organisation:
    """A police station by its code (``station:BAOSHAN`` or ``BAOSHAN``)."""
    code = code.strip()
    if not code:
        raise InvalidInput("choose the police station that will visit", field="station")
    if not code.startswith("station:"):
        code = f"station:{code.upper()}"
    org = session.execute(select(Organisation).where(Organisation.code == code)).scalar_one_or_none()
    if org is None or org.kind != OrgKind.POLICE_STATION.value or not org.active:
        raise InvalidInput(f"{code!r} is not a police station", field="station")
    return org


def record_outcome(session: Session, actor: Actor, task_id: int, outcome: str, now: datetime, *,
                   station: str | None = None, note: str = "", report_case_number: str | None = None,
                   schedule: Sequence[timedelta] = RETRY_SCHEDULE) -> CallbackTask:
    """The outcome of the call the actor made on a task they hold. For "paid" use `record`, which opens the
    report first and passes its number here."""
    require(actor, WORKERS)
    now = _aware(now)
    try:
        kind = Outcome(outcome)
    except ValueError:
        raise InvalidInput(f"{outcome!r} is not one of {', '.join(o.value for o in Outcome)}",
                           field="outcome") from None
    note = note.strip()[:MAX_REASON]
    task = _locked(session, task_id)
    if task.status != TaskStatus.OPEN.value:
        raise Conflict("this task is already closed")
    if task.claimed_by_id != actor.user_id:
        raise Conflict("claim the task before recording its outcome" if task.claimed_by_id is None
                       else "another agent holds this task")
    unclaim: dict[str, Any] = {"claimed_by_id": None, "claimed_at": None, "lease_until": None}
    closing: dict[str, Any] = {**unclaim, "closed_by_id": actor.user_id, "closed_at": now}
    retry_at: datetime | None = None
    details: dict[str, Any] = {"outcome": kind.value}
    if kind is Outcome.DISSUADED:
        changes = {**closing, "status": TaskStatus.DISSUADED.value, "on_call": False}
    elif kind is Outcome.PAID:
        if not report_case_number:
            raise InvalidInput("an already-paid outcome needs the report's case number", field="report_case_number")
        changes = {**closing, "status": TaskStatus.PAID.value, "on_call": False,
                   "report_case_number": report_case_number}
        details["report_case_number"] = report_case_number
    elif kind is Outcome.REFUSED:
        org = station_of(session, station or "")
        changes = {**closing, "status": TaskStatus.VISIT.value, "station_org_id": org.id}
        details["station"] = org.code
    else:
        attempts = task.attempts + 1
        if attempts <= len(schedule):
            retry_at = now + schedule[attempts - 1]
            changes = {**unclaim, "attempts": attempts, "next_attempt_at": retry_at}
            details["retry_at"] = retry_at
        else:
            changes = {**closing, "attempts": attempts, "status": TaskStatus.GAVE_UP.value, "on_call": False}
        details["attempts"] = attempts
    _write(session, task, changes, now)
    session.add(CallbackAttempt(task_id=task.id, outcome=kind.value, agent_id=actor.user_id, at=now, note=note,
                                retry_at=retry_at))
    details["status"] = task.status
    if note:
        details["note"] = note
    audit.append(session, actor, "callback.outcome", "callback", task.id, details)
    return task


def desk_actor(db: Database) -> Actor:
    """The account that files reports found by callbacks: callback agents read no cases and file none
    themselves, so the center's callback desk files it for them (the agent is named in the report and in the
    task's audit entry)."""
    with db.transaction() as session:
        user = auth_service.ensure_service_account(session, username=DESK_USERNAME, display_name="劝阻回访台",
                                                   role=Role.HOTLINE_OPERATOR, org_code="center")
        return auth_service.actor_for(user)


def report_narrative(task: CallbackTask, agent: Actor) -> str:
    flagged = f"涉诈号码{task.flagged_number}" if task.flagged_number else "涉诈号码"
    kind = FraudType(task.fraud_type).zh if task.fraud_type else "未明"
    return (f"劝阻回访发现已被骗：劝阻专员{agent.username}回访{task.phone}，对方称在与{flagged}联系后已经付款。"
            f"诈骗类型：{kind}。回访任务#{task.id}。转账账户、金额和时间待值班民警补充。")


def open_report(db: Database, settings: Settings, agent: Actor, task: CallbackTask) -> str:
    """Open a report for a person who had already paid, prefilled with their phone and the fraud type; the same
    task never files two reports (the task id is the report's external reference). Returns the case number."""
    from fanzha.cases import intake
    from fanzha.cases.models import Channel
    from fanzha.cases.schemas import ReportIn

    report = ReportIn.model_validate({
        "channel": Channel.STATION.value, "external_ref": f"callback-{task.id}",
        "victim": {"name": "待核实", "phone": task.phone},
        "narrative": report_narrative(task, agent), "fraud_type": task.fraud_type,
        "suspect_phones": [task.flagged_number] if task.flagged_number else [],
    })
    return intake.create_case(db, settings, desk_actor(db), report).case.number


def record(db: Database, settings: Settings, actor: Actor, task_id: int, outcome: str, now: datetime, *,
           station: str | None = None, note: str = "") -> CallbackTask:
    """Record an outcome in its own transaction; "paid" first opens the report (idempotent per task)."""
    if outcome != Outcome.PAID.value:
        with db.transaction() as session:
            return record_outcome(session, actor, task_id, outcome, now, station=station, note=note)
    with db.transaction() as session:
        require(actor, WORKERS)
        task = _locked(session, task_id)
        if task.status != TaskStatus.OPEN.value or task.claimed_by_id != actor.user_id:
            raise Conflict("this task is no longer yours")
    number = open_report(db, settings, actor, task)
    with db.transaction() as session:
        return record_outcome(session, actor, task_id, outcome, now, note=note, report_case_number=number)


# ---- reading ----------------------------------------------------------------------------------------------------

def get_task(session: Session, actor: Actor, task_id: int) -> CallbackTask:
    require(actor, READERS)
    task = session.get(CallbackTask, task_id)
    if task is None:
        raise NotFound("no such callback task")
    return task


def dissuaded_count(session: Session, since: datetime, until: datetime) -> int:
    """People (distinct phones) talked out of paying in [since, until): the center's "劝阻" figure."""
    return int(session.execute(
        select(func.count(func.distinct(CallbackTask.phone)))
        .where(CallbackTask.status == TaskStatus.DISSUADED.value, CallbackTask.closed_at >= _aware(since),
               CallbackTask.closed_at < _aware(until))
    ).scalar_one())


@dataclass(slots=True)
class Queue:
    mine: dict[str, Any] | None
    ready: list[dict[str, Any]]  # due and free, in call order
    held: list[dict[str, Any]]  # other agents are calling
    waiting: list[dict[str, Any]]  # not reached: due again later
    recent: list[dict[str, Any]]  # closed, newest first
    counts: dict[str, int]


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row.id: row.username for row in session.execute(select(User.id, User.username).where(User.id.in_(ids)))}


def _stations(session: Session, ids: set[int]) -> dict[int, Organisation]:
    if not ids:
        return {}
    return {org.id: org for org in session.execute(select(Organisation).where(Organisation.id.in_(ids))).scalars()}


def view(task: CallbackTask, now: datetime, names: dict[int, str], stations: dict[int, Organisation]
         ) -> dict[str, Any]:
    station = stations.get(task.station_org_id) if task.station_org_id is not None else None
    return {
        "id": task.id, "phone": task.phone, "grade": task.grade, "source": task.source, "reason": task.reason,
        "reasons": [r.as_dict() for r in why.loads(task.reasons, task.reason)],
        "fraud_type": task.fraud_type, "case_number": task.case_number, "flagged_number": task.flagged_number,
        "on_call": task.on_call, "on_call_since": task.on_call_since, "status": task.status,
        "attempts": task.attempts, "next_attempt_at": task.next_attempt_at, "due": task.next_attempt_at <= now,
        "claimed_by": names.get(task.claimed_by_id) if task.claimed_by_id is not None else None,
        "claimed_at": task.claimed_at, "lease_until": task.lease_until, "lease_live": _live(task, now),
        "closed_by": names.get(task.closed_by_id) if task.closed_by_id is not None else None,
        "closed_at": task.closed_at, "report_case_number": task.report_case_number,
        "station": None if station is None else {"code": station.code, "name_zh": station.name_zh,
                                                 "name_en": station.name_en},
        "created_at": task.created_at, "age_seconds": max(0, int((now - task.created_at).total_seconds())),
    }


def views(session: Session, tasks: Sequence[CallbackTask], now: datetime) -> list[dict[str, Any]]:
    names = _names(session, {i for t in tasks for i in (t.claimed_by_id, t.closed_by_id) if i is not None})
    stations = _stations(session, {t.station_org_id for t in tasks if t.station_org_id is not None})
    return [view(t, now, names, stations) for t in tasks]


def queue(session: Session, actor: Actor, now: datetime, *, recent: int = 20, limit: int = 500) -> Queue:
    """The queue as an agent (or a duty officer) sees it now."""
    require(actor, READERS)
    now = _aware(now)
    tasks = session.execute(
        select(CallbackTask).where(CallbackTask.status == TaskStatus.OPEN.value).order_by(*QUEUE_ORDER).limit(limit)
    ).scalars().all()
    closed = session.execute(
        select(CallbackTask).where(CallbackTask.status.in_([s.value for s in CLOSED]))
        .order_by(CallbackTask.closed_at.desc(), CallbackTask.id.desc()).limit(recent)
    ).scalars().all()
    rows = views(session, [*tasks, *closed], now)
    open_rows, closed_rows = rows[:len(tasks)], rows[len(tasks):]
    mine = next((r for t, r in zip(tasks, open_rows, strict=True) if t.claimed_by_id == actor.user_id), None)
    ready, held, waiting = [], [], []
    for task, row in zip(tasks, open_rows, strict=True):
        if row is mine:
            continue
        if _live(task, now):
            held.append(row)
        elif row["due"]:
            ready.append(row)
        else:
            waiting.append(row)
    by_status = {status: count for status, count in session.execute(
        select(CallbackTask.status, func.count()).group_by(CallbackTask.status)).all()}
    counts = {s.value: int(by_status.get(s.value, 0)) for s in TaskStatus}
    counts.update(ready=len(ready), held=len(held) + (1 if mine else 0), waiting=len(waiting),
                  on_call=sum(1 for t in tasks if t.on_call))
    return Queue(mine=mine, ready=ready, held=held, waiting=waiting, recent=closed_rows, counts=counts)


def attempts_of(session: Session, task_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CallbackAttempt, User.username).join(User, User.id == CallbackAttempt.agent_id)
        .where(CallbackAttempt.task_id == task_id).order_by(CallbackAttempt.id)
    ).all()
    return [{"outcome": a.outcome, "agent": name, "at": a.at, "note": a.note, "retry_at": a.retry_at}
            for a, name in rows]
