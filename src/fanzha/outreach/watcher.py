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
set-up time when N = 0). A batch's events are applied with one upsert (a row per call), then each touched call is
decided with a statement per kind of decision, not per call; on PostgreSQL the upsert and the decisions are two
one-statement transactions with one disk flush between them (``_DECIDE_PG``), so a call's row is never held locked
through a flush:

- due (``due_at`` <= release time, or <= now while the call is still up): **warned**: one conditional update
  moves the row out of ``watching`` (exactly one watcher wins it) and, in the same transaction, the flash warning
  is recorded (unique per call: never twice, whatever restarts or how many watchers). Once that commits, the
  warning goes to the flash dispatcher and the high-priority callback task is opened in a second transaction
  (``callbacks.open_task`` with ``dedupe_key`` ``watch:<call id>``, so once); should the process stop in between,
  the sweep opens it (``open_missing_tasks``). Keeping the task out of the first transaction keeps the call's row
  locked for the shortest time (events of one call reach both watchers) and the SMS off the task's path. In a
  running server (``LiveWatch``) the tasks of the stream consumers and of the sweep are opened by a thread of their
  own (``start_tasks``), so the next events never wait for them either; an HTTP request's are opened before it
  returns. The warning's ``callback_task_id`` is written after the task's transaction, in a short one that skips a
  row the flash dispatcher holds at that moment (the sweep fills it in later): the task's transaction never holds
  the warning's row, so the SMS path never waits for it (it did: up to a deadlock timeout);
- released before it was due: **ended_first**, recorded, no SMS. Should a late event show that the call was in
  fact connected N minutes before it ended, the call is still warned (once);
- otherwise it waits: ``sweep`` (every ``watch_sweep_s``, in every server) warns calls whose time has come.

If the process dies before a committed warning reaches the dispatcher, the dispatcher's sweep finds it queued.
"""

from __future__ import annotations

import functools
import gc
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fanzha.outreach import flash
from fanzha.outreach import warnings as flash_warnings
from fanzha.outreach.events import CallEvent
from fanzha.outreach.models import CallStatus, FlaggedNumber, FlashWarning, WarningStatus, WatchedCall, affected
from fanzha.outreach.reasons import ParamValue, Reason, ReasonCode, reason
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
# The warning's link to its task, unless the row is locked right now (by the flash dispatcher, mid-claim or
# recording an answer): never wait for it. A skipped link stays NULL and the sweep writes it (open_missing_tasks).
_LINKABLE = (select(F.c.id).where(F.c.id == bindparam("warning_pk"), F.c.callback_task_id.is_(None))
             .with_for_update(skip_locked=True, key_share=True).scalar_subquery())
_TASK_ID = update(F).where(F.c.id == _LINKABLE).values(callback_task_id=bindparam("task_id"))
_ENDED_FIRST = (update(W).where(W.c.id.in_(bindparam("call_pks", expanding=True)),
                                W.c.status == CallStatus.WATCHING.value)
                .values(status=CallStatus.ENDED_FIRST.value, decided_at=bindparam("now")))
_WARNED = (update(W).where(W.c.id.in_(bindparam("call_pks", expanding=True)),
                           W.c.status.in_([CallStatus.WATCHING.value, CallStatus.ENDED_FIRST.value]))
           .values(status=CallStatus.WARNED.value, decided_at=bindparam("now")).returning(W.c.id))


# PostgreSQL applies a batch in two statements, each a transaction of its own (``Watcher._apply_pg``): the upsert,
# committed without waiting for the disk (it only records what the events say; the next statement's durable commit
# flushes it too), so that the calls' rows are locked only while it runs, not through a disk flush; then the decision,
# one durable statement: the calls now due move to ``warned`` (the conditional update: one watcher wins each) and
# their warnings are inserted, those released first move to ``ended_first``. ``txid_current()`` gives it a
# transaction id even when it changes nothing, so that its commit always flushes the upsert before the stream
# entries are acknowledged.
_DECIDE_PG = text(f"""
WITH won AS (
    UPDATE watched_calls SET status = '{CallStatus.WARNED.value}', decided_at = :now
    WHERE id = ANY(CAST(:due AS integer[]))
      AND status IN ('{CallStatus.WATCHING.value}', '{CallStatus.ENDED_FIRST.value}')
    RETURNING id, call_id
), ended AS (
    UPDATE watched_calls SET status = '{CallStatus.ENDED_FIRST.value}', decided_at = :now
    WHERE id = ANY(CAST(:ended AS integer[])) AND status = '{CallStatus.WATCHING.value}'
    RETURNING id
), warning AS (
    INSERT INTO flash_warnings (call_id, number, flagged, fraud_type, text, status, attempts, created_at, last_error)
    SELECT v.call_id, v.number, v.flagged, v.fraud_type, v.text, v.status, 0, :now, v.note
    FROM unnest(CAST(:call_ids AS varchar[]), CAST(:numbers AS varchar[]), CAST(:flaggeds AS varchar[]),
                CAST(:fraud_types AS varchar[]), CAST(:texts AS varchar[]), CAST(:statuses AS varchar[]),
                CAST(:notes AS text[])) AS v(call_id, number, flagged, fraud_type, text, status, note)
    JOIN won ON won.call_id = v.call_id
    ON CONFLICT (call_id) DO NOTHING
    RETURNING id, call_id
)
SELECT 'warned' AS kind, CAST(id AS bigint) AS id, call_id FROM warning
UNION ALL SELECT 'ended', CAST(id AS bigint), NULL FROM ended
UNION ALL SELECT 'commit', txid_current(), NULL
""")


def _upsert_statement(dialect: str, *, quick: bool = False) -> Any:
    """INSERT the call, or fill in what this event adds (the first value of each time stays); the row back.
    ``quick`` (PostgreSQL, run on its own in autocommit): committed without waiting for the disk (``_DECIDE_PG``)."""
    key = f"{dialect}-quick" if quick else dialect
    if quick and key not in _UPSERTS:
        _UPSERTS[key] = _upsert_statement(dialect).returning(
            func.set_config("synchronous_commit", "off", True).label("no_flush_wait"))
    if key not in _UPSERTS:
        insert = postgresql.insert(W) if dialect == "postgresql" else sqlite.insert(W)
        stmt = insert.values({name: bindparam(name) for name in _UPSERT_COLUMNS})
        _UPSERTS[key] = stmt.on_conflict_do_update(
            index_elements=["call_id"],
            set_={name: func.coalesce(W.c[name], stmt.excluded[name]) for name in _KEEP_FIRST}).returning(*_ROW)
    return _UPSERTS[key]


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
                 on_warned: Callable[[Sequence[OutgoingSms]], None] | None = None, task_delay_s: float = 0.05) -> None:
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
        self._autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")  # PostgreSQL: _apply_pg
        # start_tasks(): callback tasks go to a thread of their own (None: opened in line, after the decision)
        self._task_queue: queue.SimpleQueue[list[_TaskDue] | None] | None = None
        self._task_thread: threading.Thread | None = None
        self._tasks_stopping = threading.Event()
        # The task thread lets the flash SMS of a batch go first: it starts on a batch's tasks this long after they
        # come (and takes all that came meanwhile in one transaction). Its Python work would otherwise compete for
        # the interpreter with the sender's claim and write of the same warnings.
        self.task_delay_s = task_delay_s

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

    def handle(self, events: Sequence[CallEvent], *, defer_tasks: bool = False) -> HandleResult:
        """Apply a batch of events, decide the calls they touched, then hand the warnings on. All of it in one
        transaction (SQLite), or in two one-statement transactions and one disk flush (PostgreSQL: ``_DECIDE_PG``).

        The callback tasks of the warnings are open when this returns, unless ``defer_tasks`` and the task thread
        runs (``start_tasks``): then they are queued to it (the stream consumers' way: the next events first)."""
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
            if self.db.dialect == "postgresql":
                self._retrying(lambda: self._apply_pg(ordered, result))
            else:
                self._in_transaction(lambda session: self._apply(session, ordered, result))
        self._done(result, defer_tasks=defer_tasks)
        return result

    def _apply(self, session: Session, calls: list[tuple[str, list[tuple[CallEvent, _Party]]]],
               result: HandleResult) -> None:
        """A handful of statements whatever the batch's size: one upsert of all its calls (a row each, in call
        order), then the decisions (``_decide``)."""
        result.warned = result.ended_first = 0
        result.warnings = []
        result.tasks = []
        now = self.clock()
        merged = [self._merged(items, now) for _call_id, items in calls]
        rows = session.execute(_upsert_statement(session.get_bind().dialect.name), merged).all()
        self._decide(session, sorted(rows, key=lambda row: row.call_id), now, result)

    def _merged(self, items: list[tuple[CallEvent, _Party]], now: datetime) -> dict[str, Any]:
        """One call's events of a batch as one row to upsert: what upserting them one by one in time order would
        leave (the first value of each column stays; so does the stored one, see ``_upsert_statement``)."""
        items.sort(key=lambda item: (item[0].at, _KIND_ORDER[item[0].kind]))
        first, party = items[0]
        values: dict[str, Any] = {
            "call_id": first.call_id, "subscriber": party.subscriber, "flagged": party.flag.number,
            "direction": party.direction, "carrier": None, "fraud_type": party.flag.fraud_type,
            "case_number": party.flag.case_number, "status": CallStatus.WATCHING.value, "first_seen_at": now,
            "set_up_at": None, "answered_at": None, "released_at": None, "release_cause": None, "due_at": None,
        }
        for event, _party in items:
            at = event.at.astimezone(UTC)
            fills: dict[str, Any] = {"carrier": event.carrier}
            if event.kind == "setup":
                fills["set_up_at"] = at
                if not self.watch:
                    fills["due_at"] = at
            elif event.kind == "answer":
                fills["answered_at"] = at
                fills["due_at"] = at + self.watch
            else:
                fills["released_at"] = at
                fills["release_cause"] = event.cause
            for name, value in fills.items():
                if values[name] is None:
                    values[name] = value
        return values

    def _apply_pg(self, calls: list[tuple[str, list[tuple[CallEvent, _Party]]]], result: HandleResult) -> None:
        """PostgreSQL: the upsert and the decision as two one-statement transactions (``_DECIDE_PG`` says why): two
        round trips and one disk flush for the batch, and the calls' rows locked only while a statement runs."""
        result.warned = result.ended_first = 0
        result.warnings = []
        result.tasks = []
        now = self.clock()
        merged = [self._merged(items, now) for _call_id, items in calls]
        with self._autocommit.connect() as conn:
            rows = sorted(conn.execute(_upsert_statement("postgresql", quick=True), merged).all(),
                          key=lambda row: row.call_id)
            due, ended = self._plan(rows, now)
            records = self._records(due, now)
            decided = conn.execute(_DECIDE_PG, {
                "now": now, "due": [row.id for row in due], "ended": ended,
                "call_ids": [r["call_id"] for r in records], "numbers": [r["number"] for r in records],
                "flaggeds": [r["flagged"] for r in records], "fraud_types": [r["fraud_type"] for r in records],
                "texts": [r["text"] for r in records], "notes": [r["note"] for r in records],
                "statuses": [WarningStatus.QUEUED.value if r["sendable"] else WarningStatus.NOT_SENT.value
                             for r in records],
            }).all()
        ids = {row.call_id: int(row.id) for row in decided if row.kind == "warned"}
        result.ended_first += sum(1 for row in decided if row.kind == "ended")
        self._warned(due, records, ids, result)

    @staticmethod
    def _plan(rows: Sequence[Any], now: datetime) -> tuple[list[Any], list[int]]:
        """The calls now due (to warn) and those released before they were due (ids), of the rows just upserted."""
        due: list[Any] = []
        ended: list[int] = []
        for row in rows:
            if row.status == CallStatus.WARNED.value:
                continue
            if row.due_at is not None and row.due_at <= (row.released_at or now):
                due.append(row)
            elif row.released_at is not None and row.status == CallStatus.WATCHING.value:
                ended.append(row.id)
        return due, ended

    def _decide(self, session: Session, rows: Sequence[Any], now: datetime, result: HandleResult) -> None:
        """Warn the calls now due, record those released before they were due: a statement for each (the
        conditional update lets one watcher only move a call out of ``watching``)."""
        due, ended = self._plan(rows, now)
        if due:
            won = set(session.execute(_WARNED, {"call_pks": [row.id for row in due], "now": now}).scalars())
            due = [row for row in due if row.id in won]  # the others: another watcher decided them first
            records = self._records(due, now)
            self._warned(due, records, flash_warnings.record_many(session, records), result)
        if ended:
            result.ended_first += affected(session.execute(_ENDED_FIRST, {"call_pks": ended, "now": now}))

    @staticmethod
    def _records(rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
        """The warning of each call to warn (``warnings.record``'s arguments)."""
        records: list[dict[str, Any]] = []
        for row in rows:
            sendable = bool(MAINLAND_MOBILE.match(row.subscriber))
            records.append({
                "call_id": row.call_id, "number": row.subscriber, "flagged": row.flagged,
                "fraud_type": row.fraud_type, "text": flash.text_for(row.fraud_type), "now": now,
                "sendable": sendable, "callback_task_id": None,
                "note": "" if sendable else "not a mainland mobile number: a flash SMS cannot reach it; the "
                                            "callback task stands"})
        return records

    @staticmethod
    def _warned(rows: Sequence[Any], records: Sequence[dict[str, Any]], ids: dict[str, int],
                result: HandleResult) -> None:
        """The warnings recorded (``ids`` by call id; a call missing there already had its warning): their SMS and
        their callback tasks, in call order."""
        for row, record in zip(rows, records, strict=True):
            warning_id = ids.get(row.call_id)
            if warning_id is None:
                continue
            result.warned += 1
            if record["sendable"]:
                result.warnings.append(OutgoingSms(ref=warning_id, destination=row.subscriber, text=record["text"]))
            result.tasks.append(_TaskDue(warning_id, row.call_id, row.subscriber, row.flagged, row.fraud_type,
                                         row.case_number, row.released_at is None))

    # ---- callback tasks ----

    def _open_tasks(self, tasks: Sequence[_TaskDue], now: datetime) -> None:
        """Open the high-priority callback task of each warning (once: ``dedupe_key`` watch:<call id>), then link
        each warning to its task."""
        links: list[dict[str, int]] = []

        def work(session: Session) -> None:
            links.clear()
            for due in tasks:
                task = self.open_task(
                    session, phone=due.subscriber, grade="high", source="watcher", reason=self._reason(due),
                    reasons=[self._coded_reason(due)], now=now, case_number=due.case_number,
                    fraud_type=due.fraud_type, on_call_now=due.on_call, dedupe_key=f"watch:{due.call_id}")
                task_id = getattr(task, "id", None)
                if task_id is not None:
                    links.append({"warning_pk": due.warning_id, "task_id": task_id})

        self._in_transaction(work, timed=False)
        if links:
            links.sort(key=lambda link: link["warning_pk"])
            with self.db.transaction() as session:
                flash_warnings.no_flush_wait(session)  # the key watch:<call id> is the durable link
                session.execute(_TASK_ID, links)

    def start_tasks(self) -> None:
        """From now on, open the tasks of ``handle(..., defer_tasks=True)`` and of the sweep on a thread of their
        own, a queue's worth at a time. Should the process stop first, the sweep opens them."""
        if self._task_thread is not None:
            return
        self._task_queue = queue.SimpleQueue()
        self._tasks_stopping.clear()
        self._task_thread = threading.Thread(target=self._task_loop, args=(self._task_queue,), name="watch-tasks",
                                             daemon=True)
        self._task_thread.start()

    def stop_tasks(self, timeout: float = 15.0) -> None:
        """Open what is queued, then stop the task thread (tasks are opened in line again)."""
        work, thread = self._task_queue, self._task_thread
        if work is None or thread is None:
            return
        self._task_queue = None
        self._tasks_stopping.set()
        work.put(None)
        thread.join(timeout)
        self._task_thread = None

    def _task_loop(self, work: queue.SimpleQueue[list[_TaskDue] | None]) -> None:
        while True:
            batch = [work.get()]
            if batch[-1] is not None and self.task_delay_s:
                self._tasks_stopping.wait(self.task_delay_s)
            while batch[-1] is not None and len(batch) < 50:
                try:
                    batch.append(work.get_nowait())
                except queue.Empty:
                    break
            tasks = [due for item in batch if item is not None for due in item]
            if tasks:
                try:
                    self._open_tasks(tasks, self.clock())
                except Exception:  # the sweep opens them (open_missing_tasks)
                    log.exception("could not open %d callback tasks now; the sweep will", len(tasks))
            if batch[-1] is None:
                return

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

    def _coded_reason(self, row: Any) -> Reason:
        """`_reason` as a code, which the console says in its reader's language."""
        common: dict[str, ParamValue] = {"flagged": row.flagged, "call_id": row.call_id, "on_call": bool(row.on_call)}
        if not self.watch:
            return reason(ReasonCode.WATCH_RING, **common)
        return reason(ReasonCode.WATCH_CONNECTED, connected_s=round(self.watch.total_seconds()), **common)

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
                self._decide(session, rows, now, result)

            self._in_transaction(apply)
        self._done(result, defer_tasks=True)
        return result

    # ---- plumbing ----

    def _in_transaction(self, work: Callable[[Session], None], attempts: int = 5, *, timed: bool = True) -> None:
        """``work`` in one transaction, again from the start on a deadlock or serialization failure; ``timed``: count
        it in ``transactions`` and its time (the decisions' transactions, which the events wait for)."""
        def run() -> None:
            with self.db.transaction() as session:
                work(session)

        self._retrying(run, attempts, timed=timed)

    def _retrying(self, work: Callable[[], None], attempts: int = 5, *, timed: bool = True) -> None:
        """``work`` (its own transactions), again on a deadlock, serialization failure or lost connection."""
        for attempt in range(attempts):
            try:
                started = time.perf_counter()
                work()
                if timed:
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

    def _done(self, result: HandleResult, *, defer_tasks: bool = False) -> None:
        """After the decisions committed: the flash SMS on its way first, then the callback tasks (queued to the task
        thread when ``defer_tasks`` and it runs)."""
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
        work = self._task_queue
        if result.tasks and defer_tasks and work is not None:
            work.put(list(result.tasks))
        elif result.tasks:
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

_frozen = threading.Lock()
_frozen_once: list[bool] = []


def _freeze_heap() -> None:
    """Once per process: what it holds by now (modules, metadata, compiled statements: about 200,000 objects) is
    kept for good, so it is moved out of the garbage collector's way. A full collection walking all of it paused
    every thread of a watcher for 110-215 ms (measured: bench/live.py --stages), and a warning on its way waited that
    out too; frozen, those objects are never walked again."""
    with _frozen:
        if _frozen_once:
            return
        _frozen_once.append(True)
        gc.collect()
        gc.freeze()


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
                                                relevant=watcher.relevant,
                                                handle=functools.partial(watcher.handle, defer_tasks=True)))
        return cls(watcher, dispatcher, consumers, threading.Event(), [])

    def start(self, sweep_s: float = 0.5, *, freeze_heap: bool = True) -> LiveWatch:
        try:
            self.watcher.warm_up()
        except Exception:  # a database not reachable yet: the first events will load it all
            log.exception("live watch warm-up failed")
        if freeze_heap:
            _freeze_heap()
        if self.dispatcher is not None:
            self.dispatcher.start()
        self.watcher.start_tasks()
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
        self.watcher.stop_tasks()
        if self.dispatcher is not None:
            self.dispatcher.stop()
