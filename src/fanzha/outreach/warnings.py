"""Flash warnings: the ``flash_warnings`` rows, their way to the SMSC, and the queries the console reads.

A warning is recorded by the watcher in the transaction that decides it (``record``), unique per call, with the
status ``queued``. The ``FlashDispatcher`` hands queued warnings to an ``SmsSender`` and keeps the row in step:

    queued --claim--> sending --submit_sm_resp OK--> submitted --receipt DELIVRD--> delivered
                         |                                     \\--receipt UNDELIV/EXPIRED/...--> undelivered
                         |--refused for good--> rejected
                         \\--session ended unanswered--> queued (sent again)

``claim`` is committed before the submit_sm goes out (without waiting for the disk: ``no_flush_wait``; on
PostgreSQL one statement, one round trip), naming this sender and a lease. A sender that starts finds the rows
another sender left in ``sending`` past their lease: it cannot know whether the SMSC took them, so it marks them
``unconfirmed`` and never sends them again (a flash warning must never reach anyone twice); their high-priority
callback task stands, so a person still calls, and the duty officer's view shows them apart. Submit answers and
receipts are written by a recorder thread in small batches, in the order they arrived, so a receipt is never applied
before the answer that gave its message id.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from fanzha.errors import NotFound
from fanzha.outreach.models import FINAL, FlashWarning, WarningStatus, affected, dialect_insert
from fanzha.outreach.smpp import DeliveryReceipt, OutgoingSms, SmsSender, smpp_address, ucs2
from fanzha.storage.db import Database

log = logging.getLogger(__name__)
S = WarningStatus
RECEIPT_STATUS = {"DELIVRD": S.DELIVERED, "UNDELIV": S.UNDELIVERED, "EXPIRED": S.UNDELIVERED,
                  "REJECTD": S.UNDELIVERED, "DELETED": S.UNDELIVERED, "UNKNOWN": S.UNDELIVERED}


def record(session: Session, *, call_id: str, number: str, flagged: str, fraud_type: str | None, text: str,
           now: datetime, sendable: bool, callback_task_id: int | None, note: str = "") -> int | None:
    """Insert the warning for a call; None when the call already has one (a call is warned once, ever)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _RECORDS:
        _RECORDS[dialect] = (dialect_insert(session, FlashWarning).values(
            {name: bindparam(name) for name in _RECORD_COLUMNS})
            .on_conflict_do_nothing(index_elements=["call_id"]).returning(FlashWarning.id))
    warning_id: int | None = session.execute(_RECORDS[dialect], {
        "call_id": call_id, "number": number, "flagged": flagged, "fraud_type": fraud_type, "text": text,
        "status": S.QUEUED.value if sendable else S.NOT_SENT.value, "attempts": 0,
        "callback_task_id": callback_task_id, "created_at": now, "last_error": note,
    }).scalar_one_or_none()
    return warning_id


def record_many(session: Session, warnings: Sequence[dict[str, Any]]) -> dict[str, int]:
    """``record`` for several calls in one statement (each dict holds ``record``'s arguments): the ids of the
    warnings inserted, by call id (a call that already has its warning is left out)."""
    if not warnings:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect not in _RECORDS_MANY:
        _RECORDS_MANY[dialect] = (dialect_insert(session, FlashWarning).values(
            {name: bindparam(name) for name in _RECORD_COLUMNS})
            .on_conflict_do_nothing(index_elements=["call_id"]).returning(FlashWarning.id, FlashWarning.call_id))
    rows = session.execute(_RECORDS_MANY[dialect], [{
        "call_id": w["call_id"], "number": w["number"], "flagged": w["flagged"], "fraud_type": w["fraud_type"],
        "text": w["text"], "status": S.QUEUED.value if w["sendable"] else S.NOT_SENT.value, "attempts": 0,
        "callback_task_id": w["callback_task_id"], "created_at": w["now"], "last_error": w.get("note", ""),
    } for w in warnings]).all()
    return {row.call_id: row.id for row in rows}


_RECORD_COLUMNS = ("call_id", "number", "flagged", "fraud_type", "text", "status", "attempts", "callback_task_id",
                   "created_at", "last_error")
_RECORDS: dict[str, Any] = {}
_RECORDS_MANY: dict[str, Any] = {}


# ---- the dispatcher ---------------------------------------------------------------------------------------------

_T = cast(Table, FlashWarning.__table__)
_CLAIM_WHERE = and_(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.status == S.QUEUED.value)
_CLAIM = (update(_T).where(_CLAIM_WHERE)
          .values(status=S.SENDING.value, sending_by=bindparam("by"), sending_until=bindparam("until"),
                  sent_at=bindparam("now"), attempts=_T.c.attempts + 1))
# PostgreSQL: the claim is one statement in a transaction of its own (autocommit: no BEGIN, no COMMIT round trip)
# that turns off the wait for the disk flush for itself (set_config(..., is_local => true) holds until the commit
# that ends the statement), as ``no_flush_wait`` does for a longer transaction.
_CLAIM_PG = _CLAIM.returning(_T.c.id, func.set_config("synchronous_commit", "off", True))
_CLAIM_SQLITE = _CLAIM.returning(_T.c.id)
_SUBMITTED = (update(_T).where(_T.c.id == bindparam("ref"), _T.c.status == S.SENDING.value)
              .values(status=S.SUBMITTED.value, message_id=bindparam("mid"), submitted_at=bindparam("at"),
                      sending_by=None, sending_until=None))
_REFUSED = (update(_T).where(_T.c.id == bindparam("ref"), _T.c.status == S.SENDING.value)
            .values(status=S.REJECTED.value, last_error=bindparam("detail"), sending_by=None, sending_until=None))
_RECEIPT_FINAL = (update(_T).where(_T.c.message_id == bindparam("mid"),
                                   _T.c.status.in_([S.SUBMITTED.value, S.DELIVERED.value, S.UNDELIVERED.value]))
                  .values(status=bindparam("new_status"), delivery_status=bindparam("stat"),
                          delivery_error=bindparam("err"), delivered_at=bindparam("at")))
_RECEIPT_INTERIM = (update(_T).where(_T.c.message_id == bindparam("mid"))
                    .values(delivery_status=bindparam("stat"), delivery_error=bindparam("err")))


@dataclass
class DispatcherStats:
    handed: int = 0
    claimed: int = 0
    released: int = 0
    submitted: int = 0
    refused: int = 0
    receipts: int = 0
    receipts_unmatched: int = 0
    unconfirmed: int = 0
    recorder_batches: int = 0


class FlashDispatcher:
    """Queued warnings -> the SMS sender; its answers and receipts -> the warnings. ``SenderEvents`` for the sender."""

    def __init__(self, db: Database, sender: SmsSender, *, lease_s: float = 60.0, sweep_s: float = 1.0,
                 instance: str | None = None, clock: Callable[[], datetime] | None = None,
                 max_held: int = 2000) -> None:
        self.db = db
        self.sender = sender
        self.lease = timedelta(seconds=lease_s)
        self.sweep_s = sweep_s
        self.instance = instance or f"flash-{uuid.uuid4().hex[:12]}"
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_held = max_held
        self.stats = DispatcherStats()
        self._records: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self._autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ----

    def start(self) -> FlashDispatcher:
        self.recover()
        self.sender.start(self)
        for target, name in ((self._record_loop, "flash-recorder"), (self._sweep_loop, "flash-sweeper")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self.sender.stop()
        self._records.put(None)
        for thread in self._threads:
            thread.join(timeout=15)

    def notify(self, messages: Sequence[OutgoingSms]) -> None:
        """New warnings, just committed: to the sender at once."""
        self._hand(messages)

    def _hand(self, messages: Sequence[OutgoingSms]) -> None:
        """To the sender; one it cannot send at all (not one segment, not E.164) is rejected, not retried forever."""
        good: list[OutgoingSms] = []
        for message in messages:
            try:
                ucs2(message.text)
                smpp_address(message.destination)
                good.append(message)
            except ValueError as exc:
                with self.db.transaction() as session:
                    session.execute(update(_T).where(_T.c.id == message.ref, _T.c.status == S.QUEUED.value)
                                    .values(status=S.REJECTED.value, last_error=f"not sendable: {exc}"))
        if good:
            self.stats.handed += len(good)
            self.sender.submit(good)

    # ---- SenderEvents ----

    def claim(self, refs: Sequence[int]) -> set[int]:
        if not refs:
            return set()
        now = self.clock()
        params = {"ids": list(refs), "by": self.instance, "until": now + self.lease, "now": now}
        if self.db.dialect == "postgresql":  # one round trip: it is on the way of every flash SMS
            with self._autocommit.connect() as conn:
                claimed = {row[0] for row in conn.execute(_CLAIM_PG, params)}
        else:
            with self.db.transaction() as session:
                claimed = set(session.execute(_CLAIM_SQLITE, params).scalars())
        self.stats.claimed += len(claimed)
        return claimed

    def released(self, refs: Sequence[int]) -> None:
        if not refs:
            return
        stmt = (update(_T).where(_T.c.id.in_(list(refs)), _T.c.status == S.SENDING.value,
                                 _T.c.sending_by == self.instance)
                .values(status=S.QUEUED.value, sending_by=None, sending_until=None))
        with self.db.transaction() as session:
            no_flush_wait(session)
            session.execute(stmt)
        self.stats.released += len(refs)

    def submitted(self, ref: int, message_id: str) -> None:
        self._records.put(("submitted", {"ref": ref, "mid": message_id, "at": self.clock()}))

    def refused(self, ref: int, status: int, detail: str) -> None:
        self._records.put(("refused", {"ref": ref, "detail": f"SMSC refused: {detail}"}))

    def receipt(self, receipt: DeliveryReceipt) -> None:
        self._records.put(("receipt", receipt))

    # ---- recovery and the sweep ----

    def recover(self) -> int:
        """Rows another sender left in ``sending`` past their lease: never answered, never sent again."""
        now = self.clock()
        stmt = (update(_T).where(_T.c.status == S.SENDING.value, _T.c.sending_until < now)
                .values(status=S.UNCONFIRMED.value, sending_by=None, sending_until=None,
                        last_error="written to the SMSC by a sender that stopped before the answer: not sent again"))
        with self.db.transaction() as session:
            count = affected(session.execute(stmt))
        if count:
            log.warning("%d flash warnings were left unanswered by a stopped sender: marked unconfirmed", count)
        self.stats.unconfirmed += count
        return count

    def sweep(self) -> int:
        """Hand queued rows the sender does not hold yet (after a restart, or written by another process)."""
        if not self.sender.connected or self.sender.queued() >= self.max_held:
            return 0
        with self.db.read() as session:
            rows = session.execute(
                select(_T.c.id, _T.c.number, _T.c.text).where(_T.c.status == S.QUEUED.value)
                .order_by(_T.c.id).limit(self.max_held)).all()
        if rows:
            self._hand([OutgoingSms(ref=r.id, destination=r.number, text=r.text) for r in rows])
        return len(rows)

    def _sweep_loop(self) -> None:
        recover_every = max(self.lease.total_seconds() / 2, self.sweep_s)
        next_recover = 0.0
        elapsed = 0.0
        while not self._stop.wait(self.sweep_s):
            elapsed += self.sweep_s
            try:
                self.sweep()
                if elapsed >= next_recover:
                    next_recover = elapsed + recover_every
                    self.recover()
            except Exception:
                log.exception("flash warning sweep failed; retrying")

    # ---- the recorder ----

    def _record_loop(self) -> None:
        while True:
            item = self._records.get()
            batch = [item]
            while len(batch) < 500:
                try:
                    batch.append(self._records.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            items = [i for i in batch if i is not None]
            for attempt in range(5):
                try:
                    self._apply(items)
                    break
                except Exception:
                    log.exception("recording %d SMSC answers failed (attempt %d)", len(items), attempt + 1)
                    self._stop.wait(0.2 * (attempt + 1))
            if done:
                return

    def _apply(self, items: list[tuple[str, Any]]) -> None:
        if not items:
            return
        with self.db.transaction() as session:
            no_flush_wait(session)
            for kind, payload in items:
                if kind == "submitted":
                    session.execute(_SUBMITTED, payload)
                    self.stats.submitted += 1
                elif kind == "refused":
                    session.execute(_REFUSED, payload)
                    self.stats.refused += 1
                else:
                    matched = self._apply_receipt(session, payload)
                    self.stats.receipts += 1
                    self.stats.receipts_unmatched += 0 if matched else 1
        self.stats.recorder_batches += 1

    @staticmethod
    def _apply_receipt(session: Session, receipt: DeliveryReceipt) -> bool:
        status = RECEIPT_STATUS.get(receipt.stat)
        params = {"mid": receipt.message_id, "stat": receipt.stat, "err": receipt.error, "at": receipt.received_at}
        if status is None:  # ENROUTE, ACCEPTD: not final
            return bool(affected(session.execute(_RECEIPT_INTERIM, params)))
        return bool(affected(session.execute(_RECEIPT_FINAL, {**params, "new_status": status.value})))


def no_flush_wait(session: Session) -> None:
    """On PostgreSQL, commit without waiting for the WAL flush (``synchronous_commit`` off, this transaction only).

    For bookkeeping that may be lost with the database server (not with this process): the sender's claims and
    answers below, and the watcher's link from a warning to its callback task (the sweep writes a lost one again).

    The sender's own bookkeeping needs to survive this process dying, not the database server crashing: a commit
    is in the server the moment it returns, and on disk within a fraction of a second. Should the server itself
    crash in that fraction, a claim may be lost (the warning is queued again and sent once more: the one way a
    warning could go twice, and only with the database server crashing within a second of sending it), or an answer
    or receipt (the warning shows ``unconfirmed`` or stays ``submitted``). The watcher's decision and the callback
    task are written with a full, durable commit. This keeps a disk flush (7 ms here) off the path to the SMSC.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


# ---- console queries --------------------------------------------------------------------------------------------

def view(w: FlashWarning) -> dict[str, Any]:
    return {
        "id": w.id, "call_id": w.call_id, "number": w.number, "flagged": w.flagged, "fraud_type": w.fraud_type,
        "text": w.text, "status": w.status, "final": w.status in FINAL, "attempts": w.attempts,
        "callback_task_id": w.callback_task_id, "created_at": _iso(w.created_at), "sent_at": _iso(w.sent_at),
        "submitted_at": _iso(w.submitted_at), "message_id": w.message_id, "delivery_status": w.delivery_status,
        "delivery_error": w.delivery_error, "delivered_at": _iso(w.delivered_at), "last_error": w.last_error,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def list_warnings(session: Session, *, status: str | None = None, number: str | None = None,
                  since: datetime | None = None, before_id: int | None = None, limit: int = 100) -> list[FlashWarning]:
    """Newest first; ``before_id`` pages back."""
    stmt = select(FlashWarning).order_by(FlashWarning.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(FlashWarning.status == status)
    if number:
        stmt = stmt.where(FlashWarning.number == number)
    if since:
        stmt = stmt.where(FlashWarning.created_at >= since)
    if before_id:
        stmt = stmt.where(FlashWarning.id < before_id)
    return list(session.scalars(stmt))


def get_warning(session: Session, warning_id: int) -> FlashWarning:
    warning = session.get(FlashWarning, warning_id)
    if warning is None:
        raise NotFound(f"no flash warning {warning_id}")
    return warning


def summary(session: Session, *, since: datetime | None = None) -> dict[str, Any]:
    """Counts by status, and how long delivery took (seconds from creation to the receipt), for the duty officer."""
    stmt = select(FlashWarning.status, func.count()).group_by(FlashWarning.status)
    if since:
        stmt = stmt.where(FlashWarning.created_at >= since)
    counts = {status.value: 0 for status in WarningStatus}
    counts.update({status: n for status, n in session.execute(stmt).all()})
    total = sum(counts.values())
    reached = counts[S.DELIVERED.value]
    return {"since": _iso(since), "total": total, "by_status": counts,
            "delivered_share": round(reached / total, 4) if total else None,
            "waiting": counts[S.QUEUED.value] + counts[S.SENDING.value]}
