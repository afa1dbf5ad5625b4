"""The live call watcher: warn a subscriber who has been on a call with a flagged number for N minutes.

DOMAIN.md §5: a victim who stays on a call with a flagged number for N minutes (``FANZHA_WATCH_MINUTES``; 0 = at
ring) gets a flash SMS and a high-priority callback task, once per call.

**The flagged set** (``FlaggedSet``) is the active rows of ``flagged_numbers``, held in memory. Every watcher
checks a cheap version (row count and the sum of the rows' revisions) at most every ``flagged_reload_s`` and
reloads the set when it changed, so an officer's ``PUT``/``DELETE`` takes effect within about a second everywhere,
without a restart.

**A call** is watched from its first event that involves exactly one flagged number (a call between two flagged
numbers has no victim). Events of one call may be handled by different watchers and out of order, so the call's
state is its ``watched_calls`` row: each event fills in its own column (set-up, answer, release time: the first
value stays), and the row's ``due_at`` is when the subscriber will have been connected N minutes (answer + N; the
set-up time when N = 0). After a batch's events are applied, each touched call is decided:

- due (``due_at`` <= release time, or <= now while the call is still up): **warned**: one conditional update
  moves the row out of ``watching`` (exactly one watcher wins it) and, in the same transaction, the flash warning
  is recorded (unique per call: never twice, whatever restarts or how many watchers). Once that commits, the
  warning goes to the flash dispatcher and the high-priority callback task is opened in a second transaction
  (``callbacks.open_task`` with ``dedupe_key`` ``watch:<call id>``, so once); should the process stop in between,
  the sweep opens it (``open_missing_tasks``). Keeping the task out of the first transaction keeps the call's row
  locked for the shortest time (events of one call reach both watchers) and the SMS off the task's path;
- released before it was due: **ended_first**, recorded, no SMS. Should a late event show that the call was in
  fact connected N minutes before it ended, the call is still warned (once);
- otherwise it waits: ``sweep`` (every ``watch_sweep_s``, in every server) warns calls whose time has come.

If the process dies before a committed warning reaches the dispatcher, the dispatcher's sweep finds it queued.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fanzha.outreach import flash
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach.events import CallEvent
from fanzha.outreach.models import CallStatus, FlaggedNumber, FlashWarning, WatchedCall, affected
from fanzha.outreach.smpp import OutgoingSms
from fanzha.storage.db import Database

if TYPE_CHECKING:
    from fanzha.config import Settings
    from fanzha.outreach.events import StreamConsumer
    from fanzha.outreach.warnings import FlashDispatcher

log = logging.getLogger(__name__)
MAINLAND_MOBILE: Final = re.compile(r"^\+861[3-9][0-9]{9}$")
TO_SUBSCRIBER, FROM_SUBSCRIBER = "to_subscriber", "from_subscriber"
_KIND_ORDER: Final = {"setup": 0, "answer": 1, "release": 2}
W = cast(Table, WatchedCall.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Built once (statement construction costs more CPU than running them): the hot path of every watched event.
_ROW = (W.c.id, W.c.call_id, W.c.subscriber, W.c.flagged, W.c.fraud_type, W.c.case_number, W.c.status, W.c.set_up_at,
        W.c.answered_at, W.c.released_at, W.c.due_at)
_KEEP_FIRST = ("set_up_at", "answered_at", "released_at", "release_cause", "carrier", "due_at")
_UPSERT_COLUMNS = ("call_id", "subscriber", "flagged", "direction", "carrier", "fraud_type", "case_number", "status",
                   "first_seen_at", "set_up_at", "answered_at", "released_at", "release_cause", "due_at")
_UPSERTS: dict[str, Any] = {}
F = cast(Table, FlashWarning.__table__)
_TASK_ID = update(F).where(F.c.id == bindparam("warning_pk")).values(callback_task_id=bindparam("task_id"))
_ENDED_FIRST = (update(W).where(W.c.id == bindparam("call_pk"), W.c.status == CallStatus.WATCHING.value)
                .values(status=CallStatus.ENDED_FIRST.value, decided_at=bindparam("now")))
_WARNED = (update(W).where(W.c.id == bindparam("call_pk"),
                           W.c.status.in_([CallStatus.WATCHING.value, CallStatus.ENDED_FIRST.value]))
           .values(status=CallStatus.WARNED.value, decided_at=bindparam("now")))


def _upsert_statement(dialect: str) -> Any:
    """INSERT the call, or fill in what this event adds (the first value of each time stays); the row back."""
    if dialect not in _UPSERTS:
        insert = postgresql.insert(W) if dialect == "postgresql" else sqlite.insert(W)
        stmt = insert.values({name: bindparam(name) for name in _UPSERT_COLUMNS})
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["call_id"],
            set_={name: func.coalesce(W.c[name], stmt.excluded[name]) for name in _KEEP_FIRST}).returning(*_ROW)
    return _UPSERTS[dialect]


# ---- the flagged set ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Flag:
    number: str
    fraud_type: str | None
    case_number: str | None


class FlaggedSet:
    """The active flagged numbers, reloaded when the table changes (checked at most every ``reload_s``)."""

    def __init__(self, db: Database, reload_s: float = 1.0) -> None:
        self.db = db
        self.reload_s = reload_s
        self._flags: dict[str, Flag] = {}
        self._version: tuple[Any, ...] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self.reloads = 0

    def get(self, number: str) -> Flag | None:
        return self._flags.get(number)

    def __contains__(self, number: object) -> bool:
        return number in self._flags

    def __len__(self) -> int:
        return len(self._flags)

    def relevant(self, caller: str, callee: str) -> bool:
        """Does the call involve a flagged number? (The stream consumer's cheap pre-check.)"""
        self.maybe_reload()
        flags = self._flags
        return caller in flags or callee in flags

    def invalidate(self) -> None:
        """Check the table at the next use (this process just changed it)."""
        self._checked = float("-inf")

    def maybe_reload(self) -> bool:
        if time.monotonic() - self._checked < self.reload_s:
            return False
        with self._lock:  # another thread reloading: wait for it (milliseconds), then see whether it was enough
            if time.monotonic() - self._checked < self.reload_s:
                return False
            self._checked = time.monotonic()
            try:
                with self.db.read() as session:
                    # every edit adds one to its row's revision, so the sum moves on each change (clocks aside)
                    version = tuple(session.execute(
                        select(func.count(), func.coalesce(func.sum(FlaggedNumber.revision), 0))).one())
                    if version == self._version:
                        return False
                    rows = session.execute(select(FlaggedNumber.number, FlaggedNumber.fraud_type,
                                                  FlaggedNumber.case_number).where(FlaggedNumber.active)).all()
            except Exception:
                if self._version is None:
                    raise  # never loaded: nothing to serve
                log.exception("reloading the flagged numbers failed; the set loaded before serves meanwhile")
                return False
            self._flags = {r.number: Flag(r.number, r.fraud_type, r.case_number) for r in rows}
            self._version = version
            self.reloads += 1
            return True


# ---- the watcher --------------------------------------------------------------------------------------------------

# callbacks.open_task, imported when first needed (the callback queue is its own module of issue 6).
OpenTask = Callable[..., Any]


def _default_open_task() -> OpenTask:
    import importlib

    callbacks = importlib.import_module("fanzha.outreach.callbacks")
    open_task: OpenTask = callbacks.open_task
    return open_task


@dataclass(frozen=True, slots=True)
class _TaskDue:
    warning_id: int
    call_id: str
    subscriber: str
    flagged: str
    fraud_type: str | None
    case_number: str | None
    on_call: bool


@dataclass
class HandleResult:
    events: int = 0
    watched: int = 0  # events about calls with a flagged number
    warned: int = 0
    ended_first: int = 0
    warnings: list[OutgoingSms] = field(default_factory=list)
    tasks: list[_TaskDue] = field(default_factory=list)  # callback tasks to open for the warnings just recorded

    def as_dict(self) -> dict[str, int]:
        return {"events": self.events, "watched": self.watched, "warned": self.warned,
                "ended_first": self.ended_first}


@dataclass(frozen=True, slots=True)
class _Party:
    flag: Flag
    subscriber: str
    direction: str


class Watcher:
    """Applies call events to ``watched_calls`` and decides, once per call, to warn or to record an early end."""

    def __init__(self, db: Database, *, watch_minutes: float, flagged: FlaggedSet | None = None,
                 clock: Callable[[], datetime] = utcnow, open_task: OpenTask | None = None,
                 on_warned: Callable[[Sequence[OutgoingSms]], None] | None = None) -> None:
        self.db = db
        self.watch = timedelta(minutes=watch_minutes)
        self.flagged = flagged if flagged is not None else FlaggedSet(db)
        self.clock = clock
        self._open_task = open_task
        self.on_warned = on_warned
        self.totals = HandleResult()
        self.transactions = 0
        self._next_task_check = 0.0
        self.transaction_s = 0.0
        self.transaction_max_s = 0.0

    @property
    def open_task(self) -> OpenTask:
        if self._open_task is None:
            self._open_task = _default_open_task()
        return self._open_task

    def relevant(self, caller: str, callee: str) -> bool:
        return self.flagged.relevant(caller, callee)

    def warm_up(self) -> None:
        """Load what the first warning would otherwise load (the flagged set, the callback queue's module, the
        phone-number metadata), so that it is not a second late."""
        from fanzha.cases.normalize import phone_e164

        self.flagged.maybe_reload()
        _ = self.open_task
        phone_e164("+8613800138000")

    def party(self, event: CallEvent) -> _Party | None:
        caller, callee = self.flagged.get(event.caller), self.flagged.get(event.callee)
        if caller is not None and callee is None:
            return _Party(caller, event.callee, TO_SUBSCRIBER)
        if callee is not None and caller is None:
            return _Party(callee, event.caller, FROM_SUBSCRIBER)
        return None

    # ---- events ----

    def handle(self, events: Sequence[CallEvent]) -> HandleResult:
        """Apply a batch of events in one transaction, decide the calls they touched, then hand the warnings on."""
        self.flagged.maybe_reload()
        result = HandleResult(events=len(events))
        calls: dict[str, list[tuple[CallEvent, _Party]]] = {}
        for event in events:
            party = self.party(event)
            if party is not None:
                calls.setdefault(event.call_id, []).append((event, party))
                result.watched += 1
        if calls:
            # the same order in every watcher: two batches touching the same calls never deadlock
            ordered = sorted(calls.items())
            self._in_transaction(lambda session: self._apply(session, ordered, result))
        self._done(result)
        return result

    def _apply(self, session: Session, calls: list[tuple[str, list[tuple[CallEvent, _Party]]]],
               result: HandleResult) -> None:
        result.warned = result.ended_first = 0
        result.warnings = []
        result.tasks = []
        now = self.clock()
        for _call_id, items in calls:
            items.sort(key=lambda item: (item[0].at, _KIND_ORDER[item[0].kind]))
            row = None
            for event, party in items:
                row = self._upsert(session, event, party, now)
            assert row is not None
            self._decide(session, row, now, result)

    def _upsert(self, session: Session, event: CallEvent, party: _Party, now: datetime) -> Any:
        at = event.at.astimezone(UTC)
        values: dict[str, Any] = {
            "call_id": event.call_id, "subscriber": party.subscriber, "flagged": party.flag.number,
            "direction": party.direction, "carrier": event.carrier, "fraud_type": party.flag.fraud_type,
            "case_number": party.flag.case_number, "status": CallStatus.WATCHING.value, "first_seen_at": now,
            "set_up_at": None, "answered_at": None, "released_at": None, "release_cause": None, "due_at": None,
        }
        if event.kind == "setup":
            values["set_up_at"] = at
            if not self.watch:
                values["due_at"] = at
        elif event.kind == "answer":
            values["answered_at"] = at
            values["due_at"] = at + self.watch
        else:
            values["released_at"] = at
            values["release_cause"] = event.cause
        return session.execute(_upsert_statement(session.get_bind().dialect.name), values).one()

    def _decide(self, session: Session, row: Any, now: datetime, result: HandleResult) -> None:
        if row.status == CallStatus.WARNED.value:
            return
        if row.due_at is not None and row.due_at <= (row.released_at or now):
            self._warn(session, row, now, result)
        elif row.released_at is not None and row.status == CallStatus.WATCHING.value:
            result.ended_first += affected(session.execute(_ENDED_FIRST, {"call_pk": row.id, "now": now}))

    def _warn(self, session: Session, row: Any, now: datetime, result: HandleResult) -> None:
        claimed = affected(session.execute(_WARNED, {"call_pk": row.id, "now": now}))
        if claimed != 1:
            return  # another watcher decided it first
        sendable = bool(MAINLAND_MOBILE.match(row.subscriber))
        text = flash.text_for(row.fraud_type)
        warning_id = flash_warnings.record(
            session, call_id=row.call_id, number=row.subscriber, flagged=row.flagged, fraud_type=row.fraud_type,
            text=text, now=now, sendable=sendable, callback_task_id=None,
            note="" if sendable else "not a mainland mobile number: a flash SMS cannot reach it; the callback "
                                     "task stands")
        if warning_id is None:
            return
        result.warned += 1
        if sendable:
            result.warnings.append(OutgoingSms(ref=warning_id, destination=row.subscriber, text=text))
        result.tasks.append(_TaskDue(warning_id, row.call_id, row.subscriber, row.flagged, row.fraud_type,
                                     row.case_number, row.released_at is None))

    # ---- callback tasks ----

    def _open_tasks(self, tasks: Sequence[_TaskDue], now: datetime) -> None:
        """Open the high-priority callback task of each warning (once: ``dedupe_key`` watch:<call id>)."""
        def work(session: Session) -> None:
            for due in tasks:
                task = self.open_task(
                    session, phone=due.subscriber, grade="high", source="watcher", reason=self._reason(due),
                    now=now, case_number=due.case_number, fraud_type=due.fraud_type, on_call_now=due.on_call,
                    dedupe_key=f"watch:{due.call_id}")
                session.execute(_TASK_ID, {"warning_pk": due.warning_id, "task_id": getattr(task, "id", None)})

        self._in_transaction(work)

    def open_missing_tasks(self, now: datetime, grace: timedelta = timedelta(seconds=5), limit: int = 200) -> int:
        """Warnings whose task was never opened (the process stopped between the two transactions)."""
        with self.db.read() as session:
            rows = session.execute(
                select(F.c.id, F.c.call_id, F.c.number, F.c.flagged, F.c.fraud_type, W.c.case_number, W.c.released_at)
                .join(W, W.c.call_id == F.c.call_id)
                .where(F.c.created_at >= now - timedelta(days=1), F.c.created_at <= now - grace,
                       F.c.callback_task_id.is_(None))
                .order_by(F.c.id).limit(limit)).all()
        if rows:
            self._open_tasks([_TaskDue(r.id, r.call_id, r.number, r.flagged, r.fraud_type, r.case_number,
                                       r.released_at is None) for r in rows], now)
        return len(rows)

    def _reason(self, row: Any) -> str:
        on_call = row.on_call
        minutes = self.watch.total_seconds() / 60
        length = "响铃时" if not self.watch else f"已通话{minutes:g}分钟"
        state = "仍在通话" if on_call else "通话已结束"
        return f"与涉诈号码{row.flagged}的通话{length}触发闪信预警（{state}，通话编号{row.call_id}）"

    # ---- time ----

    def sweep(self, limit: int = 500) -> HandleResult:
        """Warn the calls that have now been connected N minutes (and are not known to have ended)."""
        now = self.clock()
        result = HandleResult()
        with self.db.read() as session:
            due = session.execute(
                select(WatchedCall.call_id).where(WatchedCall.status == CallStatus.WATCHING.value,
                                                  WatchedCall.due_at <= now, WatchedCall.released_at.is_(None))
                .order_by(WatchedCall.call_id).limit(limit)).scalars().all()
        if time.monotonic() >= self._next_task_check:
            self._next_task_check = time.monotonic() + 10.0
            self.open_missing_tasks(now)
        if due:
            def apply(session: Session) -> None:
                result.warned = 0
                result.warnings = []
                result.tasks = []
                rows = session.execute(select(*_ROW).where(W.c.call_id.in_(due)).order_by(W.c.call_id)).all()
                for row in rows:
                    self._decide(session, row, now, result)

            self._in_transaction(apply)
        self._done(result)
        return result

    # ---- plumbing ----

    def _in_transaction(self, work: Callable[[Session], None], attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                started = time.perf_counter()
                with self.db.transaction() as session:
                    work(session)
                spent = time.perf_counter() - started
                self.transactions += 1
                self.transaction_s += spent
                self.transaction_max_s = max(self.transaction_max_s, spent)
                return
            except OperationalError as exc:  # deadlock, serialization failure, database locked: all of it again
                if attempt == attempts - 1:
                    raise
                log.warning("watcher transaction failed (%s); retrying", exc.orig)
                time.sleep(0.01 * (attempt + 1))

    def _done(self, result: HandleResult) -> None:
        """After the decisions committed: the flash SMS on its way first, then the callback tasks."""
        totals = self.totals
        totals.events += result.events
        totals.watched += result.watched
        totals.warned += result.warned
        totals.ended_first += result.ended_first
        if result.warnings and self.on_warned is not None:
            try:
                self.on_warned(result.warnings)
            except Exception:  # they are queued in the database: the dispatcher's sweep sends them
                log.exception("could not hand %d warnings to the dispatcher", len(result.warnings))
        if result.tasks:
            try:
                self._open_tasks(result.tasks, self.clock())
            except Exception:  # the sweep opens them (open_missing_tasks)
                log.exception("could not open %d callback tasks now; the sweep will", len(result.tasks))


# ---- flagged numbers: the officers' list ------------------------------------------------------------------------

def put_flagged(session: Session, *, number: str, fraud_type: str | None, case_number: str | None, reason: str,
                by: str, now: datetime) -> tuple[FlaggedNumber, bool]:
    """Flag a number (or update / reactivate it). Returns the row and whether it is newly active."""
    row = session.scalars(select(FlaggedNumber).where(FlaggedNumber.number == number)).one_or_none()
    if row is None:
        row = FlaggedNumber(number=number, fraud_type=fraud_type, case_number=case_number, reason=reason,
                            active=True, revision=1, created_at=now, updated_at=now, updated_by=by)
        session.add(row)
        session.flush()
        return row, True
    was_active = row.active
    row.fraud_type, row.case_number, row.reason = fraud_type, case_number, reason
    row.active, row.updated_at, row.updated_by, row.revision = True, now, by, row.revision + 1
    return row, not was_active


def remove_flagged(session: Session, *, number: str, by: str, now: datetime) -> FlaggedNumber | None:
    row = session.scalars(select(FlaggedNumber).where(FlaggedNumber.number == number)).one_or_none()
    if row is None or not row.active:
        return None
    row.active, row.updated_at, row.updated_by, row.revision = False, now, by, row.revision + 1
    return row


def list_flagged(session: Session, *, include_removed: bool = False) -> list[FlaggedNumber]:
    stmt = select(FlaggedNumber).order_by(FlaggedNumber.number)
    if not include_removed:
        stmt = stmt.where(FlaggedNumber.active)
    return list(session.scalars(stmt))


def flagged_view(row: FlaggedNumber) -> dict[str, Any]:
    return {"number": row.number, "fraud_type": row.fraud_type, "case_number": row.case_number,
            "reason": row.reason, "active": row.active, "created_at": row.created_at.isoformat(),
            "updated_at": row.updated_at.isoformat(), "updated_by": row.updated_by}


def watched_view(row: WatchedCall) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"call_id": row.call_id, "subscriber": row.subscriber, "flagged": row.flagged,
            "direction": row.direction, "carrier": row.carrier, "fraud_type": row.fraud_type,
            "case_number": row.case_number, "status": row.status, "set_up_at": iso(row.set_up_at),
            "answered_at": iso(row.answered_at), "released_at": iso(row.released_at),
            "release_cause": row.release_cause, "due_at": iso(row.due_at), "decided_at": iso(row.decided_at)}


def list_watched(session: Session, *, status: str | None = None, subscriber: str | None = None,
                 limit: int = 100) -> list[WatchedCall]:
    stmt = select(WatchedCall).order_by(WatchedCall.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(WatchedCall.status == status)
    if subscriber:
        stmt = stmt.where(WatchedCall.subscriber == subscriber)
    return list(session.scalars(stmt))


# ---- the runtime in a server process ----------------------------------------------------------------------------

@dataclass
class LiveWatch:
    """The watcher of a server process with its threads: the due-call sweep, the Redis consumer(s) when a broker is
    configured, and the flash dispatcher when an SMSC is."""

    watcher: Watcher
    dispatcher: FlashDispatcher | None
    consumers: list[StreamConsumer]
    stop_event: threading.Event
    threads: list[threading.Thread]

    @classmethod
    def build(cls, db: Database, settings: Settings, *, consumer_names: Iterable[str] | None = None,
              open_task: OpenTask | None = None) -> LiveWatch:
        from fanzha.outreach.warnings import FlashDispatcher

        dispatcher = None
        if settings.smsc_host:
            from fanzha.outreach.smpp import SmppConfig, SmppSender

            sender = SmppSender(SmppConfig.from_settings(settings))
            dispatcher = FlashDispatcher(db, sender, lease_s=max(settings.smsc_response_timeout_s * 3, 30.0))
        watcher = Watcher(db, watch_minutes=settings.watch_minutes,
                          flagged=FlaggedSet(db, settings.flagged_reload_s), open_task=open_task,
                          on_warned=dispatcher.notify if dispatcher else None)
        consumers: list[StreamConsumer] = []
        if settings.redis_url:
            import socket
            import uuid

            import redis

            from fanzha.outreach.events import StreamConsumer

            names = list(consumer_names or [f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"])
            for name in names:
                client = redis.Redis.from_url(settings.redis_url)
                consumers.append(StreamConsumer(client, stream=settings.call_events_stream,
                                                group=settings.call_events_group, consumer=name,
                                                relevant=watcher.relevant, handle=watcher.handle))
        return cls(watcher, dispatcher, consumers, threading.Event(), [])

    def start(self, sweep_s: float = 0.5) -> LiveWatch:
        try:
            self.watcher.warm_up()
        except Exception:  # a database not reachable yet: the first events will load it all
            log.exception("live watch warm-up failed")
        if self.dispatcher is not None:
            self.dispatcher.start()
        self.threads.append(threading.Thread(target=self._sweep_loop, args=(sweep_s,), name="watch-sweep",
                                             daemon=True))
        for consumer in self.consumers:
            self.threads.append(threading.Thread(target=consumer.run, args=(self.stop_event,),
                                                 name=f"call-events-{consumer.consumer}", daemon=True))
        for thread in self.threads:
            thread.start()
        return self

    def _sweep_loop(self, every_s: float) -> None:
        while not self.stop_event.wait(every_s):
            try:
                self.watcher.flagged.maybe_reload()
                self.watcher.sweep()
            except Exception:
                log.exception("watch sweep failed; retrying")

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=15)
        for consumer in self.consumers:
            consumer.client.close()
        if self.dispatcher is not None:
            self.dispatcher.stop()
