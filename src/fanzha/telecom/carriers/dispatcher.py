"""The carrier dispatcher: delivers the carrier outbox in parallel and records each answer in one transaction.

Each outcome is written with its outbox row in one transaction, so a crash leaves either "not yet answered"
(the lease runs out and the same bytes go again; the carrier answers the repeat with its first answer) or
"answered" - never a number shut down twice by us or an answer lost. A "not ours" answer re-routes the
instruction inside that same transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.cases.models import Case
from fanzha.channel.keys import SigningKey
from fanzha.storage.db import Database, mark_background
from fanzha.telecom.carriers import actions, outbox
from fanzha.telecom.carriers.adapter import CarrierAdapter, PermanentCarrierError, TransientCarrierError
from fanzha.telecom.carriers.messages import parse_envelope
from fanzha.telecom.carriers.models import CarrierInstruction, CarrierOutboxMessage

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DispatchStats:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    rerouted: int = 0


class CarrierDispatcher:
    def __init__(self, db: Database, adapter: CarrierAdapter, *, signer: SigningKey,
                 policy: actions.CarrierPolicy | None = None, clock: Callable[[], datetime] = utcnow,
                 batch: int = 16, lease: timedelta = outbox.LEASE, parallel: int = 16) -> None:
        self.db = db
        self.adapter = adapter
        self.signer = signer  # re-routed instructions are signed here, in the answer's transaction
        self.policy = policy or actions.CarrierPolicy()
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="carrier-send",
                                        initializer=mark_background)

    def run_once(self) -> DispatchStats:
        claimed = outbox.claim_due(self.db, self.clock(), self.batch, self.lease)
        stats = DispatchStats()
        for outcome in self._pool.map(self._deliver, claimed):
            for name in outcome:
                setattr(stats, name, getattr(stats, name) + 1)
        return stats

    def run_forever(self, stop: threading.Event, idle_s: float = 0.05) -> None:
        mark_background()  # claims are background writes: people's requests go first on SQLite
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # a database hiccup must not end deliveries
                log.exception("carrier dispatch round failed; retrying")
                stats = DispatchStats()
            if stats.delivered + stats.retried + stats.failed == 0:
                stop.wait(idle_s)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _deliver(self, message: outbox.Claimed) -> tuple[str, ...]:
        envelope = parse_envelope(message.envelope)
        try:
            answer = self.adapter.send(envelope)
        except TransientCarrierError as exc:
            with self.db.transaction() as session:
                outbox.schedule_retry(session, message.id, self.clock(), str(exc), retry_after_s=exc.retry_after_s)
            return ("retried",)
        except PermanentCarrierError as exc:
            with self.db.transaction() as session:
                instruction, number = _instruction(session, message.instruction_id)
                outbox.mark_failed(session, message.id, f"{exc.reason}: {exc}")
                actions.record_failure(session, instruction, f"{exc.reason}: {exc}", self.clock(), number,
                                       rejected=exc.reason == "carrier_error")
            return ("failed",)
        with self.db.transaction() as session:
            row = session.get(CarrierOutboxMessage, message.id, with_for_update=True)
            if row is None or row.status != "pending":
                return ("delivered",)  # a slower copy of this delivery already recorded the answer
            instruction, number = _instruction(session, message.instruction_id)
            now = self.clock()
            if instruction.sent_at is None:
                instruction.sent_at = envelope.sent_time
            again = actions.apply_answer(session, instruction, answer, now, number, signer=self.signer,
                                         policy=self.policy)
            outbox.mark_delivered(session, message.id, now)
        return ("delivered", "rerouted") if again is not None else ("delivered",)


def _instruction(session: Session, instruction_id: int) -> tuple[CarrierInstruction, str]:
    row = session.execute(
        select(CarrierInstruction, Case.number).join(Case, Case.id == CarrierInstruction.case_id)
        .where(CarrierInstruction.id == instruction_id).with_for_update(of=CarrierInstruction)
    ).one()
    return row[0], row[1]
