"""Live call events from the carriers: set-up (ringing), answer (connected) and release (ended).

Every event names the call (the carrier's call reference), both parties in E.164 and the time it happened at the
switch (aware). Two ways in, both handled by the same watcher:

- HTTP, the embedded default: ``POST /api/v1/outreach/call-events`` with ``{"events": [...]}`` (``api.py``);
- a Redis stream for scale: the carrier side ``XADD``s one entry per event (``publish``; the fields are those of
  the model, times in ISO 8601 with their offset) and watchers read it as one consumer group (``StreamConsumer``),
  so each entry goes to one of them. An entry is acknowledged only after the watcher's transaction for it has
  committed; a watcher that dies leaves its entries pending, and another one claims them once they have been idle
  for ``claim_idle_ms``. Handling is idempotent (the call's row and its warning are unique per call), so an entry
  handled twice changes nothing.

Most calls involve no flagged number. The stream path looks only at an entry's two numbers until one of them is
flagged, and validates the full event only then. A running consumer reads on while a handler thread applies what
involves flagged numbers (several read batches in one transaction, then their acknowledgement), so reading never
waits on a commit; a failed transaction is retried and its entries stay pending until it succeeds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fanzha.http import Moment

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

E164: Final = r"^\+[1-9][0-9]{6,14}$"
CALL_ID: Final = r"^[A-Za-z0-9._:\-]{1,64}$"
EventKind = Literal["setup", "answer", "release"]
KINDS: Final = ("setup", "answer", "release")


class CallEvent(BaseModel):
    """One event of one call, as a carrier's switch reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind = Field(description="setup: the call rings; answer: connected; release: ended")
    call_id: Annotated[str, Field(pattern=CALL_ID, description="the carrier's reference, the same for all three")]
    at: Moment = Field(description="when it happened at the switch, with its UTC offset")
    caller: Annotated[str, Field(pattern=E164)]
    callee: Annotated[str, Field(pattern=E164)]
    carrier: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = None
    cause: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z0-9_ -]*$")] | None = Field(
        default=None, description="release cause (normal, busy, no_answer...), for the record")

    def to_fields(self) -> dict[str, str]:
        """The entry's fields in the Redis stream."""
        fields = {"kind": self.kind, "call_id": self.call_id, "at": self.at.isoformat(), "caller": self.caller,
                  "callee": self.callee}
        if self.carrier:
            fields["carrier"] = self.carrier
        if self.cause:
            fields["cause"] = self.cause
        return fields


class CallEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[CallEvent] = Field(min_length=1, max_length=5000)


def from_fields(fields: Mapping[str, str]) -> CallEvent:
    """An event from a stream entry's fields (extra fields, such as a producer's trace stamp, are ignored)."""
    return CallEvent.model_validate({k: v for k, v in fields.items() if k in CallEvent.model_fields})


def publish(client: redis.Redis, events: Iterable[CallEvent | Mapping[str, str]], *, stream: str,
            maxlen: int | None = 1_000_000, extra: Mapping[str, str] | None = None) -> list[str]:
    """XADD each event (in one pipeline); the stream is trimmed to about ``maxlen`` entries. Returns the ids."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        fields = dict(event.to_fields() if isinstance(event, CallEvent) else event)
        if extra:
            fields.update(extra)
        pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
    return [i.decode() if isinstance(i, bytes) else str(i) for i in pipe.execute()]


# ---- the consumer ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RawEvent:
    """An entry whose numbers are known but whose other fields are not yet validated."""

    entry_id: str
    fields: Mapping[str, str]


# What the stream consumer calls: it gets the entries that involve a flagged number and must have committed
# their effects when it returns (an exception leaves them pending, to be handled again).
BatchHandler = Callable[[Sequence[CallEvent]], Any]
Relevance = Callable[[str, str], bool]


@dataclass
class ConsumerStats:
    read: int = 0
    relevant: int = 0
    invalid: int = 0
    acked: int = 0
    claimed: int = 0
    batches: int = 0
    errors: int = 0
    last_error: str = ""
    invalid_samples: list[str] = field(default_factory=list)


class StreamConsumer:
    """One member of the watchers' consumer group on the call-events stream.

    ``relevant(caller, callee)`` is the cheap pre-check (is either number flagged?); ``handle`` gets the validated
    events of the relevant entries, in stream order, and commits their effects before returning. Entries are
    acknowledged after that, all of a batch at once (irrelevant and invalid ones included: nothing would ever
    change for them).
    """

    def __init__(self, client: redis.Redis, *, stream: str, group: str, consumer: str, relevant: Relevance,
                 handle: BatchHandler, batch: int = 500, block_ms: int = 100, claim_idle_ms: int = 30_000,
                 claim_every_s: float = 5.0, start_id: str = "0") -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.relevant = relevant
        self.handle = handle
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_every_s = claim_every_s
        self.start_id = start_id
        self.stats = ConsumerStats()
        self._next_claim = 0.0
        # run(): relevant batches go to a worker thread that handles and acknowledges them, so reading never
        # waits on the watcher's commit (poll_once() alone handles in line).
        self._work: queue.Queue[tuple[list[str], list[CallEvent]] | None] | None = None

    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing; from ``start_id`` ("0": every entry still in the stream)."""
        import redis as redis_module

        try:
            self.client.xgroup_create(self.stream, self.group, id=self.start_id, mkstream=True)
        except redis_module.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def process(self, entries: Sequence[tuple[Any, Mapping[Any, Any]]], *, in_line: bool = False) -> int:
        """Handle and acknowledge entries (or hand them to the worker); returns how many were read."""
        if not entries:
            return 0
        ids: list[str] = []
        events: list[CallEvent] = []
        for entry_id, raw in entries:
            ids.append(_text(entry_id))
            if not raw:  # an entry deleted (trimmed) while pending
                continue
            # only the two numbers are looked at until one of them is flagged
            caller = raw.get(b"caller", raw.get("caller", ""))
            callee = raw.get(b"callee", raw.get("callee", ""))
            if not self.relevant(_text(caller), _text(callee)):
                continue
            fields = {_text(k): _text(v) for k, v in raw.items()}
            self.stats.relevant += 1
            try:
                events.append(from_fields(fields))
            except ValidationError as exc:
                self.stats.invalid += 1
                if len(self.stats.invalid_samples) < 20:
                    self.stats.invalid_samples.append(f"{ids[-1]}: {exc.errors()[0]['msg']}")
                log.warning("call event %s refused: %s", ids[-1], exc.errors()[0]["msg"])
        self.stats.read += len(ids)
        self.stats.batches += 1
        if events:
            if self._work is not None and not in_line:
                self._work.put((ids, events))  # acknowledged by the worker once handled
                return len(ids)
            self.handle(events)
        self._ack(ids)
        return len(ids)

    def _ack(self, ids: list[str]) -> None:
        self.client.xack(self.stream, self.group, *ids)
        self.stats.acked += len(ids)

    def _work_loop(self, stop: threading.Event) -> None:
        """Handle what the reader queued, several batches in one go, then acknowledge them. A failure is retried
        (the entries stay pending meanwhile, and are read again after a restart)."""
        assert self._work is not None
        while True:
            item = self._work.get()
            items = [item]
            while item is not None and len(items) < 50:
                try:
                    item = self._work.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
            batches = [i for i in items if i is not None]
            if batches:
                events = [e for _, evs in batches for e in evs]
                backoff = 0.1
                while True:
                    try:
                        self.handle(events)
                        break
                    except Exception as exc:
                        self.stats.errors += 1
                        self.stats.last_error = f"{type(exc).__name__}: {exc}"
                        log.exception("call-event consumer %s: handling failed; retrying", self.consumer)
                        if stop.wait(backoff):
                            return  # left pending: handled again after a restart
                        backoff = min(backoff * 2, 5.0)
                try:
                    self._ack([i for ids, _ in batches for i in ids])
                except Exception:  # handled and committed; the entries are read again later, harmlessly
                    log.exception("call-event consumer %s: acknowledging failed", self.consumer)
            if len(batches) < len(items):
                return

    def _read(self, start: str, block: int | None) -> list[tuple[Any, Mapping[Any, Any]]]:
        answer: Any = self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=self.batch,
                                             block=block)
        if not answer:
            return []
        if isinstance(answer, dict):  # RESP3
            return list(next(iter(answer.values()))[0])
        return list(answer[0][1])

    def drain_own_pending(self) -> int:
        """Entries this consumer read but never acknowledged (it was stopped or crashed): handle them first."""
        done = 0
        while entries := self._read("0", None):
            done += self.process(entries, in_line=True)
        return done

    def claim_stale(self) -> int:
        """Take over entries another consumer read and left unacknowledged for ``claim_idle_ms``."""
        done = 0
        cursor = "0-0"
        while True:
            answer: Any = self.client.xautoclaim(self.stream, self.group, self.consumer, self.claim_idle_ms,
                                            start_id=cursor, count=self.batch)
            cursor, entries = _text(answer[0]), list(answer[1])
            if entries:
                self.stats.claimed += len(entries)
                done += self.process(entries, in_line=True)
            if cursor == "0-0" or not entries:
                return done

    def poll_once(self) -> int:
        """One read of new entries (blocking up to ``block_ms``), plus a claim round when one is due."""
        now = time.monotonic()
        if now >= self._next_claim:
            self._next_claim = now + self.claim_every_s
            self.claim_stale()
        return self.process(self._read(">", self.block_ms))

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; a failing batch stays pending and is retried after a pause."""
        self._work = queue.Queue(maxsize=64)
        worker = threading.Thread(target=self._work_loop, args=(stop,), name=f"{self.consumer}-handler", daemon=True)
        worker.start()
        try:
            self._consume(stop)
        finally:
            self._work.put(None)
            worker.join(timeout=30)
            self._work = None

    def _consume(self, stop: threading.Event) -> None:
        backoff = 0.1
        started = False
        while not stop.is_set():
            try:
                if not started:
                    self.ensure_group()
                    self.drain_own_pending()
                    started = True
                self.poll_once()
                backoff = 0.1
            except Exception as exc:
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("call-event consumer %s: batch failed; retrying", self.consumer)
                started = False  # read our pending entries again
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

