"""Sending flash SMS: the ``SmsSender`` interface and its SMPP 3.4 implementation (smpplib).

The interface is what the dispatcher (``warnings.FlashDispatcher``) needs from any SMS gateway protocol, so CMPP,
SGIP or SMGP senders can be added beside this one: ``submit`` messages (it returns at once), and report back
through ``SenderEvents``: ``claim`` just before a message is written (the write-ahead mark that keeps a warning
from ever going twice), ``submitted`` with the gateway's message id, ``refused`` with its status, ``released``
when messages written on a connection that then broke were never answered, and ``receipt`` for each delivery
receipt.

SMPP 3.4, as DOMAIN.md §5 has it for a flash SMS: ``data_coding`` 0x18 (UCS2, message class 0: shown at once, not
stored), one segment of at most 70 characters (140 octets, no UDH, no ``message_payload``), ``esm_class`` 0 (0x10
in esm_class is NOT flash), optionally the ``dest_addr_subunit`` TLV = 1 (display) for SMSCs that want it;
destination as international E.164 (TON 1, NPI 1). ``registered_delivery`` 1 asks for a delivery receipt: a
``deliver_sm`` with ``esm_class`` 0x04, matched to the warning by message id (the ``receipted_message_id`` TLV, or
the ``id:`` of the receipt text).

The session: bind as transceiver (receipts come back on the same connection) or transmitter; ``enquire_link``
after ``enquire_link_s`` of silence and an answer to the SMSC's own; a send window (``window`` submits awaiting
an answer at once) and a throttle (``max_per_second``, token bucket); ``ESME_RTHROTTLED`` / ``ESME_RMSGQFUL`` /
``ESME_RSYSERR`` pause all sending with exponential back-off and send the refused message again (the SMSC said
no, so it does not have it). A broken connection, or a submit unanswered after ``response_timeout_s``, closes the
session; the unanswered messages are ``released`` and sent again on the next session (an SMSC answers every
submit it accepts; one that drops the session without answering did not take the message), and the sender
reconnects with back-off. The password is only ever written into the bind PDU: never logged, never shown.
"""

from __future__ import annotations

import collections
import logging
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

log = logging.getLogger(__name__)
# smpplib logs every PDU in hex at DEBUG, the bind (and its password) included: that logger never goes below INFO.
WIRE_LOGGER: Final = "fanzha.outreach.smpp.wire"
logging.getLogger(WIRE_LOGGER).setLevel(logging.INFO)

DATA_CODING_UCS2_CLASS0: Final = 0x18
MAX_UCS2_CHARS: Final = 70
ESM_CLASS_DEFAULT: Final = 0x00
ESM_CLASS_RECEIPT_MASK: Final = 0x3C
ESM_CLASS_SMSC_RECEIPT: Final = 0x04
TON_INTERNATIONAL, NPI_ISDN = 1, 1

ROK: Final = 0x00
RTHROTTLED: Final = 0x58
RMSGQFUL: Final = 0x14
RSYSERR: Final = 0x08
RINVCMDID: Final = 0x03
# The SMSC did not take the message and may later: pause and send it again.
RETRYABLE: Final = frozenset({RTHROTTLED, RMSGQFUL, RSYSERR})

# SMPP 3.4 message_state (TLV 0x0427) -> receipt stat.
MESSAGE_STATES: Final = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                         7: "UNKNOWN", 8: "REJECTD"}
_RECEIPT_TEXT = re.compile(
    r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)(?:.*?err:(?P<err>[0-9A-Za-z]+))?", re.DOTALL)


def status_name(status: int) -> str:
    """``0x00000058 ESME_RTHROTTLED (Throttling error ...)``."""
    names = {v: k.replace("SMPP_", "") for k, v in vars(smpplib.consts).items()
             if k.startswith("SMPP_ESME_") and isinstance(v, int)}
    description = smpplib.consts.DESCRIPTIONS.get(status, "unknown status")
    return f"0x{status:08X} {names.get(status, 'ESME_?')} ({description})"


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    ref: int  # the caller's id for it (the warning's id)
    destination: str  # E.164
    text: str


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    message_id: str
    stat: str  # DELIVRD, UNDELIV, EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD, ENROUTE
    error: str | None
    received_at: datetime


class SenderEvents(Protocol):
    """What a sender reports; called from the sender's threads."""

    def claim(self, refs: Sequence[int]) -> set[int]:
        """Just before first writing (or writing again after ``released``): the refs that may be written now;
        the others are dropped (another sender has them, or they are done). Must be durable when it returns."""

    def released(self, refs: Sequence[int]) -> None:
        """Written, never answered, on a session that has ended: they will be claimed and written again."""

    def submitted(self, ref: int, message_id: str) -> None: ...

    def refused(self, ref: int, status: int, detail: str) -> None:
        """The gateway refused the message for good."""

    def receipt(self, receipt: DeliveryReceipt) -> None: ...


class SmsSender(Protocol):
    """An SMS gateway session (SMPP here; CMPP, SGIP or SMGP alike)."""

    def start(self, events: SenderEvents) -> None: ...

    def submit(self, messages: Sequence[OutgoingSms]) -> None:
        """Queue messages; returns at once (they go when the session allows)."""

    @property
    def connected(self) -> bool: ...

    def queued(self) -> int:
        """Messages held: waiting to be written or awaiting an answer."""

    def stop(self) -> None: ...


def ucs2(text: str) -> bytes:
    """One UCS2 segment, or ValueError."""
    if not text:
        raise ValueError("empty message")
    if len(text) > MAX_UCS2_CHARS:
        raise ValueError(f"{len(text)} characters: one UCS2 segment holds at most {MAX_UCS2_CHARS}")
    if any(ord(c) > 0xFFFF for c in text):
        raise ValueError("a character outside the Basic Multilingual Plane needs two UCS2 units")
    return text.encode("utf-16-be")


def smpp_address(e164: str) -> str:
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", e164):
        raise ValueError(f"{e164!r} is not an E.164 number")
    return e164[1:]


def parse_receipt(pdu: Any, received_at: datetime) -> DeliveryReceipt | None:
    """The delivery receipt in a deliver_sm, or None when it is an ordinary (mobile-originated) message."""
    if (pdu.esm_class or 0) & ESM_CLASS_RECEIPT_MASK != ESM_CLASS_SMSC_RECEIPT:
        return None
    text = pdu.short_message.decode("latin-1") if isinstance(pdu.short_message, bytes) else str(
        pdu.short_message or "")
    match = _RECEIPT_TEXT.search(text)
    message_id = pdu.receipted_message_id
    if isinstance(message_id, bytes):
        message_id = message_id.decode("ascii", "replace")
    state = pdu.message_state
    stat = MESSAGE_STATES.get(state) if isinstance(state, int) else None
    if not message_id and match:
        message_id = match.group("id")
    if stat is None and match:
        stat = match.group("stat")
    if not message_id:
        return None
    error = match.group("err") if match and match.group("err") else None
    return DeliveryReceipt(message_id=str(message_id), stat=stat or "UNKNOWN", error=error, received_at=received_at)


def validity(minutes: int) -> str:
    """SMPP relative time ``YYMMDDhhmmss000R`` (empty: the SMSC's default)."""
    if minutes <= 0:
        return ""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{mins:02d}00000R"


@dataclass
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    bind: str = "transceiver"  # or "transmitter"
    source_addr: str = "96110"
    source_ton: int = 3  # network specific (a short code)
    source_npi: int = 0
    dest_addr_subunit: bool = False
    registered_delivery: bool = True
    validity_minutes: int = 10
    priority_flag: int = 1
    window: int = 10
    max_per_second: float = 200.0
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    reconnect_min_s: float = 0.05
    reconnect_max_s: float = 10.0
    throttle_min_s: float = 0.05
    throttle_max_s: float = 5.0
    max_attempts: int = 8  # refusals that allow a retry, per message; then it is refused for good

    def __post_init__(self) -> None:
        # SMPP 3.4 C-octet strings, NUL included: system_id 16, password 9, system_type 13.
        if len(self.system_id) > 15 or len(self.password) > 8 or len(self.system_type) > 12:
            raise ValueError("SMPP system_id is at most 15 characters, password 8, system_type 12")

    @classmethod
    def from_settings(cls, settings: Any) -> SmppConfig:
        return cls(host=settings.smsc_host, port=settings.smsc_port, system_id=settings.smsc_system_id,
                   password=settings.smsc_password.get_secret_value(), system_type=settings.smsc_system_type,
                   bind=settings.smsc_bind, source_addr=settings.smsc_source_addr,
                   dest_addr_subunit=settings.smsc_dest_addr_subunit, validity_minutes=settings.smsc_validity_minutes,
                   window=settings.smsc_window, max_per_second=settings.smsc_max_per_second,
                   enquire_link_s=settings.smsc_enquire_link_s, response_timeout_s=settings.smsc_response_timeout_s)


@dataclass
class _InFlight:
    message: OutgoingSms
    written: float  # monotonic


@dataclass
class SmppStats:
    connects: int = 0
    binds: int = 0
    bind_failures: int = 0
    disconnects: int = 0
    submits_written: int = 0
    accepted: int = 0
    refused: int = 0
    retried: int = 0
    throttled: int = 0
    released: int = 0
    receipts: int = 0
    enquire_links_sent: int = 0
    enquire_links_answered: int = 0
    last_error: str = ""


class _SessionEnded(Exception):
    pass


class SmppSender:
    """An SMPP 3.4 ESME session with a writer thread (bind, window, throttle, keep-alive, reconnect) and a reader
    thread per connection (answers, receipts, the SMSC's enquire_link and unbind)."""

    def __init__(self, config: SmppConfig) -> None:
        self.config = config
        self.stats = SmppStats()
        self._events: SenderEvents | None = None
        self._cond = threading.Condition()
        self._pending: collections.deque[OutgoingSms] = collections.deque()
        self._attempts: dict[int, int] = {}
        self._claimed: set[int] = set()  # refs this sender holds a claim for (written, not yet finished)
        self._held: set[int] = set()  # refs anywhere in this sender (queued, being claimed, written): never twice
        self._inflight: dict[int, _InFlight] = {}  # by sequence number
        self._stop = threading.Event()
        self._client: smpplib.client.Client | None = None
        self._write_lock = threading.Lock()
        self._session_dead = threading.Event()
        self._connected = False
        self._paused_until = 0.0
        self._throttle_backoff = 0.0
        self._tokens = max(config.max_per_second / 10, 1.0)
        self._tokens_at = time.monotonic()
        self._last_write = 0.0
        self._enquire_sent_at: float | None = None
        self._thread: threading.Thread | None = None
        self._reader: threading.Thread | None = None

    # ---- the interface ----------------------------------------------------------------------------------------

    def start(self, events: SenderEvents) -> None:
        self._events = events
        self._thread = threading.Thread(target=self._run, name="smpp-writer", daemon=True)
        self._thread.start()

    def submit(self, messages: Sequence[OutgoingSms]) -> None:
        for message in messages:
            ucs2(message.text)
            smpp_address(message.destination)
        with self._cond:
            for message in messages:
                if message.ref not in self._held:
                    self._held.add(message.ref)
                    self._pending.append(message)
            self._cond.notify_all()

    @property
    def connected(self) -> bool:
        return self._connected

    def queued(self) -> int:
        with self._cond:
            return len(self._pending) + len(self._inflight)

    def stop(self) -> None:
        """End the session; messages refused for now (written before, waiting to go again) are released."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=15)
        with self._cond:
            retried = [m.ref for m in self._pending if m.ref in self._attempts]
        if retried and self._events is not None:
            try:
                self._events.released(retried)
                self._claimed.difference_update(retried)
            except Exception:
                log.exception("could not release %d refused-for-now messages", len(retried))

    # ---- the writer thread ------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.config.reconnect_min_s
        while not self._stop.is_set():
            try:
                self._connect_and_bind()
                backoff = self.config.reconnect_min_s
                self._serve()
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, _SessionEnded):
                    log.warning("SMPP session to %s:%s ended: %s", self.config.host, self.config.port,
                                self.stats.last_error)
            finally:
                self._end_session()
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    def _connect_and_bind(self) -> None:
        cfg = self.config
        client = smpplib.client.Client(cfg.host, cfg.port, timeout=cfg.connect_timeout_s, logger_name=WIRE_LOGGER,
                                       allow_unknown_opt_params=True)
        self._client = client
        client.connect()
        self.stats.connects += 1
        bind = client.bind_transceiver if cfg.bind == "transceiver" else client.bind_transmitter
        try:
            bind(system_id=cfg.system_id, password=cfg.password, system_type=cfg.system_type)
        except smpplib.exceptions.PDUError as exc:
            self.stats.bind_failures += 1
            status = exc.args[1] if len(exc.args) > 1 else 0
            raise ConnectionError(f"bind refused: {status_name(int(status))}") from None
        self.stats.binds += 1
        assert client._socket is not None
        client._socket.settimeout(None)  # the reader blocks; liveness is the enquire_link's job
        # Each PDU goes out when written: without this, Nagle's algorithm holds a submit_sm back while an earlier
        # small write (a deliver_sm_resp, the previous submit) is unacknowledged, and the SMSC's delayed ACK made
        # that up to 40 ms (measured: the tail of the write -> SMSC step in bench/live.py).
        client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._session_dead.clear()
        self._last_write = time.monotonic()
        self._enquire_sent_at = None
        self._connected = True
        log.info("SMPP bound as %s to %s:%s", cfg.bind, cfg.host, cfg.port)
        self._reader = threading.Thread(target=self._read_loop, args=(client,), name="smpp-reader", daemon=True)
        self._reader.start()

    def _serve(self) -> None:
        cfg = self.config
        while True:
            if self._stop.is_set():
                self._drain_answers()
                return
            if self._session_dead.is_set():
                raise _SessionEnded("connection lost")
            now = time.monotonic()
            batch: list[OutgoingSms] = []
            with self._cond:
                oldest = min((f.written for f in self._inflight.values()), default=None)
                if oldest is not None and now - oldest > cfg.response_timeout_s:
                    raise ConnectionError(f"no submit_sm_resp for {cfg.response_timeout_s:.0f} s")
                self._refill(now)
                if now >= self._paused_until:
                    room = min(cfg.window - len(self._inflight), int(self._tokens), len(self._pending))
                    for _ in range(max(room, 0)):
                        batch.append(self._pending.popleft())
                if not batch:
                    wait = self._next_wake(now)
                    self._cond.wait(wait)
            if batch:
                self._write_batch(batch)
            self._keep_alive(time.monotonic())

    def _drain_answers(self) -> None:
        """Stopping: write nothing more, but wait (up to the response timeout) for the answers still due."""
        deadline = time.monotonic() + self.config.response_timeout_s
        with self._cond:
            while self._inflight and not self._session_dead.is_set() and time.monotonic() < deadline:
                self._cond.wait(0.05)

    def _burst(self) -> float:
        """Submits the throttle lets out at once: a tenth of a second's worth."""
        return max(self.config.max_per_second / 10, 1.0)

    def _refill(self, now: float) -> None:
        self._tokens = min(self._tokens + (now - self._tokens_at) * self.config.max_per_second, self._burst())
        self._tokens_at = now

    def _next_wake(self, now: float) -> float:
        waits = [self.config.enquire_link_s - (now - self._last_write), 0.5]
        if self._pending:
            if now < self._paused_until:
                waits.append(self._paused_until - now)
            elif len(self._inflight) < self.config.window:
                waits.append(max((1 - self._tokens) / self.config.max_per_second, 0.001))
        oldest = min((f.written for f in self._inflight.values()), default=None)
        if oldest is not None:
            waits.append(oldest + self.config.response_timeout_s - now)
        return max(min(waits), 0.001)

    def _write_batch(self, batch: list[OutgoingSms]) -> None:
        assert self._events is not None
        try:
            # a message refused for now and written again needs no new claim: it still holds its own
            allowed = self._events.claim([m.ref for m in batch if m.ref not in self._claimed])
        except Exception:
            log.exception("could not claim %d messages before writing; trying again in a second", len(batch))
            with self._cond:
                self._pending.extendleft(reversed(batch))
                self._paused_until = time.monotonic() + 1.0
            return
        client = self._client
        assert client is not None
        for message in batch:
            if message.ref not in allowed and message.ref not in self._claimed:
                self._attempts.pop(message.ref, None)  # another sender has it, or it is done
                self._forget(message.ref)
                continue
            self._claimed.add(message.ref)
            pdu = self._submit_pdu(client, message)
            with self._cond:
                self._tokens -= 1
                self._inflight[pdu.sequence] = _InFlight(message, time.monotonic())
            self._send(client, pdu)
            self.stats.submits_written += 1

    def _submit_pdu(self, client: smpplib.client.Client, message: OutgoingSms) -> Any:
        cfg = self.config
        fields: dict[str, Any] = {
            "service_type": "", "source_addr_ton": cfg.source_ton, "source_addr_npi": cfg.source_npi,
            "source_addr": cfg.source_addr, "dest_addr_ton": TON_INTERNATIONAL, "dest_addr_npi": NPI_ISDN,
            "destination_addr": smpp_address(message.destination), "esm_class": ESM_CLASS_DEFAULT, "protocol_id": 0,
            "priority_flag": cfg.priority_flag, "schedule_delivery_time": "",
            "validity_period": validity(cfg.validity_minutes),
            "registered_delivery": 1 if cfg.registered_delivery else 0, "replace_if_present_flag": 0,
            "data_coding": DATA_CODING_UCS2_CLASS0, "sm_default_msg_id": 0, "short_message": ucs2(message.text),
        }
        if cfg.dest_addr_subunit:
            fields["dest_addr_subunit"] = 1
        return smpplib.smpp.make_pdu("submit_sm", client=client, **fields)

    def _send(self, client: smpplib.client.Client, pdu: Any) -> None:
        with self._write_lock:
            try:
                client.send_pdu(pdu)
            except (smpplib.exceptions.ConnectionError, OSError, smpplib.exceptions.PDUError) as exc:
                self._session_dead.set()
                raise _SessionEnded(f"write failed: {exc}") from None
        self._last_write = time.monotonic()

    def _keep_alive(self, now: float) -> None:
        client = self._client
        if client is None:
            return
        if self._enquire_sent_at is not None and now - self._enquire_sent_at > self.config.response_timeout_s:
            raise ConnectionError(f"no enquire_link_resp for {self.config.response_timeout_s:.0f} s")
        if self._enquire_sent_at is None and now - self._last_write >= self.config.enquire_link_s:
            self._enquire_sent_at = now
            self._send(client, smpplib.smpp.make_pdu("enquire_link", client=client))
            self.stats.enquire_links_sent += 1

    def _end_session(self) -> None:
        self._connected = False
        client, self._client = self._client, None
        if client is not None:
            self.stats.disconnects += 1
            try:
                if not self._session_dead.is_set() and self._stop.is_set() and not self._inflight:
                    with self._write_lock:
                        client.send_pdu(smpplib.smpp.make_pdu("unbind", client=client))
                    if self._reader is not None:  # the SMSC answers unbind_resp and closes: let the reader see it
                        self._reader.join(timeout=1.0)
            except Exception:
                pass
            self._session_dead.set()
            try:
                if client._socket is not None:
                    client._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.state = smpplib.consts.SMPP_CLIENT_STATE_OPEN  # no "disconnecting while bound" warning
            client.disconnect()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        with self._cond:
            unanswered = [f.message for _, f in sorted(self._inflight.items(), key=lambda kv: kv[1].written)]
            self._inflight.clear()
            self._pending.extendleft(reversed(unanswered))
            # written before and refused for now: they wait in memory, released so no lease runs out on them
            retried = [m.ref for m in self._pending if m.ref in self._attempts]
        refs = [m.ref for m in unanswered] + [r for r in retried if r not in {m.ref for m in unanswered}]
        if refs and self._events is not None:
            self.stats.released += len(unanswered)
            try:
                self._events.released(refs)
                self._claimed.difference_update(refs)
            except Exception:
                log.exception("could not record %d unanswered submits as released", len(refs))

    # ---- the reader thread ------------------------------------------------------------------------------------

    def _read_loop(self, client: smpplib.client.Client) -> None:
        try:
            while not self._session_dead.is_set():
                pdu = client.read_pdu()
                self._on_pdu(client, pdu)
        except Exception as exc:
            if not self._session_dead.is_set():
                self.stats.last_error = f"read: {type(exc).__name__}: {exc}"
        finally:
            self._session_dead.set()
            with self._cond:
                self._cond.notify_all()

    def _on_pdu(self, client: smpplib.client.Client, pdu: Any) -> None:
        command = pdu.command
        if command == "submit_sm_resp":
            self._on_submit_resp(pdu)
        elif command == "deliver_sm":
            self._on_deliver(client, pdu)
        elif command == "enquire_link":
            self._answer(client, "enquire_link_resp", pdu.sequence)
        elif command == "enquire_link_resp":
            self._enquire_sent_at = None
            self.stats.enquire_links_answered += 1
        elif command == "unbind":
            self._answer(client, "unbind_resp", pdu.sequence)
            raise _SessionEnded("the SMSC unbound")
        elif command == "generic_nack":
            with self._cond:
                flight = self._inflight.pop(pdu.sequence, None)
            if flight is not None:
                self._answered(flight.message, pdu.status)
            else:
                log.warning("SMSC sent generic_nack %s", status_name(pdu.status))
        elif command.endswith("_resp"):
            log.debug("ignored %s from the SMSC", command)
        else:  # a request this ESME does not serve (data_sm, query_sm...): every request gets an answer
            nack = smpplib.smpp.make_pdu("generic_nack", client=client, status=RINVCMDID)
            nack.sequence = pdu.sequence
            with self._write_lock:
                client.send_pdu(nack)

    def _forget(self, ref: int) -> None:
        """Done with a message (answered, refused for good, or another sender's): it may be handed in again."""
        with self._cond:
            self._claimed.discard(ref)
            self._held.discard(ref)

    def _answer(self, client: smpplib.client.Client, command: str, sequence: int) -> None:
        answer = smpplib.smpp.make_pdu(command, client=client)
        answer.sequence = sequence
        with self._write_lock:
            client.send_pdu(answer)

    def _on_submit_resp(self, pdu: Any) -> None:
        with self._cond:
            flight = self._inflight.pop(pdu.sequence, None)
            self._cond.notify_all()
        if flight is None:
            log.warning("submit_sm_resp for unknown sequence %s", pdu.sequence)
            return
        if pdu.status == ROK:
            message_id = pdu.message_id.decode("ascii", "replace") if isinstance(pdu.message_id, bytes) else str(
                pdu.message_id)
            self.stats.accepted += 1
            self._throttle_backoff = 0.0
            self._attempts.pop(flight.message.ref, None)
            assert self._events is not None
            self._events.submitted(flight.message.ref, message_id)
            self._forget(flight.message.ref)
        else:
            self._answered(flight.message, pdu.status)

    def _answered(self, message: OutgoingSms, status: int) -> None:
        """A refusal: retry later when the SMSC may take it then, else refused for good."""
        assert self._events is not None
        attempts = self._attempts.get(message.ref, 0) + 1
        self._attempts[message.ref] = attempts
        if status in RETRYABLE and attempts < self.config.max_attempts:
            self.stats.retried += 1
            if status == RTHROTTLED:
                self.stats.throttled += 1
            cfg = self.config
            self._throttle_backoff = min(max(self._throttle_backoff * 2, cfg.throttle_min_s), cfg.throttle_max_s)
            with self._cond:
                self._paused_until = max(self._paused_until, time.monotonic() + self._throttle_backoff)
                self._pending.appendleft(message)
                self._cond.notify_all()
            return
        self.stats.refused += 1
        self._attempts.pop(message.ref, None)
        self._events.refused(message.ref, status, status_name(status))
        self._forget(message.ref)

    def _on_deliver(self, client: smpplib.client.Client, pdu: Any) -> None:
        receipt = parse_receipt(pdu, datetime.now(UTC))
        self._answer(client, "deliver_sm_resp", pdu.sequence)
        if receipt is not None:
            self.stats.receipts += 1
            assert self._events is not None
            self._events.receipt(receipt)
