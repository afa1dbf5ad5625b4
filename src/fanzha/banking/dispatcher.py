"""The dispatcher: delivers outbox messages to banks, in parallel across banks, and records the answers.

Each delivery's outcome is written in one transaction with the outbox row, so a crash at any point leaves
either "not yet answered" (the lease runs out and the same bytes go again; the bank answers a repeat with
its first answer) or "answered" — never a hold applied twice or an answer lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from fanzha.audit import service as audit
from fanzha.banking import instructions, outbox
from fanzha.banking.adapter import BankAdapter, PermanentBankError, TransientBankError
from fanzha.banking.lifecycle import HoldRules
from fanzha.banking.messages import Envelope, MessageType, parse_envelope
from fanzha.banking.models import BankInstruction, OutboxMessage
from fanzha.cases.models import Case
from fanzha.storage.db import Database, mark_background

log = logging.getLogger(__name__)


HOOK_ATTEMPTS = 3  # a deadlock or serialization failure in the hook is retried from its savepoint
# Called in the answer's own transaction (the tracing loop: the next layer's instructions commit with it).
AnswerHook = Callable[[Session, BankInstruction, Envelope, str, datetime], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchStats:
    delivered: int = 0
    acknowledged: int = 0  # the bank said "received"; the result is collected by a later resend
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.acknowledged + self.retried + self.failed


class Dispatcher:
    def __init__(self, db: Database, adapter: BankAdapter, *, clock: Callable[[], datetime] = utcnow,
                 batch: int = 32, lease: timedelta = outbox.LEASE, parallel: int = 32,
                 on_answer: AnswerHook | None = None, rules: HoldRules = HoldRules()) -> None:
        # A round waits for its slowest bank, so a batch as large as the sends in flight keeps the
        # pipe full without claiming work that would sit leased behind a slow answer.
        self.db = db
        self.adapter = adapter
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.on_answer = on_answer
        self.rules = rules
        self.parallel = parallel
        self._following = threading.Semaphore(1)
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="bank-send",
                                        initializer=mark_background)

    def run_once(self) -> DispatchStats:
        """Deliver every message due now; returns what happened."""
        claimed = outbox.claim_due(self.db, self.clock(), self.batch, self.lease)
        stats = DispatchStats()
        for outcome in self._pool.map(self._deliver, claimed):
            setattr(stats, outcome, getattr(stats, outcome) + 1)
        return stats

    def run_forever(self, stop: threading.Event, idle_s: float = 0.02) -> None:
        """Deliver continuously with up to ``parallel`` sends in flight: a slot freed by a quick bank is
        refilled at once instead of waiting for the slowest send of a round, so one slow bank does not hold
        the others' messages back."""
        mark_background()  # claims are background writes: people's requests go first on SQLite
        in_flight: set[Future[str]] = set()
        while not stop.is_set():
            room = self.parallel - len(in_flight)
            if room > 0:
                try:
                    claimed = outbox.claim_due(self.db, self.clock(), min(self.batch, room), self.lease)
                except Exception:  # a database hiccup must not end deliveries
                    log.exception("claiming due messages failed; retrying")
                    claimed = []
                in_flight.update(self._pool.submit(self._deliver, message) for message in claimed)
            if not in_flight:
                stop.wait(idle_s)
                continue
            done, in_flight = wait(in_flight, timeout=idle_s, return_when=FIRST_COMPLETED)
            for future in done:
                if future.exception() is not None:  # the lease runs out and the message goes again
                    log.error("delivery failed; it will be retried", exc_info=future.exception())
        wait(in_flight)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _deliver(self, message: outbox.Claimed) -> str:
        envelope = parse_envelope(message.envelope)
        try:
            answer = self.adapter.send(envelope)
        except TransientBankError as exc:
            with self.db.transaction() as session:
                outbox.schedule_retry(session, message.id, self.clock(), str(exc))
            return "retried"
        except PermanentBankError as exc:
            with self.db.transaction() as session:
                instruction, number = _instruction(session, message.instruction_id)
                outbox.mark_failed(session, message.id, f"{exc.reason}: {exc}")
                instructions.record_failure(session, instruction, f"{exc.reason}: {exc}", self.clock(), number,
                                            rejected=exc.reason == "bank_error")
            return "failed"
        if answer.type is MessageType.ACK:
            return self._acknowledged(message, envelope, answer)
        # The hook (the tracing loop) is CPU work in Python: run one at a time per process, taken before the
        # transaction so no row lock is held while waiting. Otherwise 32 send threads tracing at once starve
        # the same process's request threads of the GIL, and a report waits seconds for its 201.
        with self._following if self.on_answer is not None else nullcontext(), self.db.transaction() as session:
            row = session.get(OutboxMessage, message.id, with_for_update=True)
            if row is None or row.status != "pending":
                return "delivered"  # a slower copy of this delivery already recorded the answer
            instruction, number = _instruction(session, message.instruction_id)
            now = self.clock()
            instructions.received(session, instruction, envelope, now)  # an answer is also a receipt
            instructions.apply_answer(session, instruction, answer, now, number, self.rules)
            outbox.mark_delivered(session, message.id, now)
            if self.on_answer is not None:
                self._follow(session, instruction, answer, number, now)
        return "delivered"


    def _acknowledged(self, message: outbox.Claimed, envelope: Envelope, ack: Envelope) -> str:
        """Record the bank's receipt (once) and schedule the resend that collects the result."""
        with self.db.transaction() as session:
            row = session.get(OutboxMessage, message.id, with_for_update=True)
            if row is None or row.status != "pending":
                return "delivered"
            instruction, number = _instruction(session, message.instruction_id)
            now = self.clock()
            if outbox.schedule_poll(session, message.id, now):
                instructions.acknowledge(session, instruction, envelope, ack, now, number)
        return "acknowledged"

    def _follow(self, session: Session, instruction: BankInstruction, answer: Envelope, number: str,
                now: datetime) -> None:
        """Run the hook in a savepoint: a fault in it must not lose the bank's answer (it is audited instead)."""
        assert self.on_answer is not None
        for attempt in range(1, HOOK_ATTEMPTS + 1):
            try:
                with session.begin_nested():
                    self.on_answer(session, instruction, answer, number, now)
                return
            except OperationalError:
                if attempt == HOOK_ATTEMPTS:
                    raise  # the whole delivery rolls back and is retried: the loop must not be skipped
                log.warning("answer hook for instruction %s lost a lock race; retrying", instruction.id)
            except Exception as exc:
                self._hook_failed(session, instruction, number, exc)
                return

    @staticmethod
    def _hook_failed(session: Session, instruction: BankInstruction, number: str, exc: Exception) -> None:
        """A fault that a retry will not cure: keep the answer, audit the failure for the officer."""
        log.exception("answer hook failed for instruction %s", instruction.id)
        audit.append(session, None, "trace.failed", "case", number,
                     {"instruction": instruction.id, "error": f"{type(exc).__name__}: {exc}"[:500]})


def _instruction(session: Session, instruction_id: int) -> tuple[BankInstruction, str]:
    row = session.execute(
        select(BankInstruction, Case.number).join(Case, Case.id == BankInstruction.case_id)
        .where(BankInstruction.id == instruction_id).with_for_update(of=BankInstruction)
    ).one()
    return row[0], row[1]
