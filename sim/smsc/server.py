"""The simulated SMSC: an SMPP 3.4 server on loopback that checks every field of each submit_sm.

It binds ESMEs (transmitter, receiver, transceiver; system_id and password checked), answers enquire_link and
unbind, sends its own enquire_link when asked to, refuses a wrong submit_sm with the command_status the
specification gives for the field (``pdu.read_submit_sm``), accepts a right one with a fresh message_id and, when
``registered_delivery`` asks for it, sends a delivery receipt (deliver_sm, esm_class 0x04) on a receiver or
transceiver session of the same system_id (held until one binds).

Faults on demand (``Faults``, set through the admin API): drop the connection when the n-th next submit_sm
arrives (without answering it: the SMSC never took it), drop every connection now, answer ESME_RTHROTTLED to the
next n submits or above a rate, delay answers, hold receipts, answer nothing at all.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sim.smsc import pdu as p


@dataclass
class Faults:
    drop_after: int | None = None  # drop when the n-th next submit_sm arrives (1 = the next one), unanswered
    throttle_next: int = 0  # answer ESME_RTHROTTLED to the next n submit_sm
    max_per_second: float | None = None  # per session; above it ESME_RTHROTTLED
    receipts: bool = True
    receipt_delay_ms: int = 0
    receipt_stat: str = "DELIVRD"  # DELIVRD, UNDELIV, EXPIRED, REJECTD...
    respond_delay_ms: int = 0
    silent: bool = False  # read submits and answer nothing (the ESME's response timer)
    enquire_link_every_s: float | None = None  # the SMSC's own keep-alive

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if not hasattr(self, key):
                raise KeyError(key)
            setattr(self, key, value)


@dataclass
class Session:
    id: int
    peer: str
    writer: asyncio.StreamWriter
    bound: str | None = None  # transmitter, receiver, transceiver
    system_id: str | None = None
    submits: collections.deque[float] = field(default_factory=collections.deque)
    unanswered: int = 0  # submits read and not yet answered (the ESME's window, as the SMSC sees it)
    sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def receives(self) -> bool:
        return self.bound in ("receiver", "transceiver")

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class Smsc:
    def __init__(self, *, system_id: str = "fanzha", password: str = "secret", require_subunit: bool = False,
                 log_path: Path | None = None, faults: Faults | None = None) -> None:
        self.system_id = system_id
        self.password = password
        self.require_subunit = require_subunit
        self.faults = faults or Faults()
        self.sessions: dict[int, Session] = {}
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.counters: collections.Counter[str] = collections.Counter()
        self.pending_receipts: list[tuple[str, p.SubmitSm, str, str, float]] = []
        self.errors: list[str] = []
        self._session_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._log: TextIO | None = log_path.open("a", encoding="utf-8") if log_path else None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- serving ----

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        bound_port: int = self._server.sockets[0].getsockname()[1]
        return bound_port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all()
        if self._log:
            self._log.close()

    def reset(self) -> None:
        self.accepted.clear()
        self.rejected.clear()
        self.counters.clear()
        self.pending_receipts.clear()
        self.faults = Faults()

    def drop_all(self) -> int:
        sessions = list(self.sessions.values())
        for session in sessions:
            self._drop(session, "admin")
        return len(sessions)

    def _drop(self, session: Session, why: str) -> None:
        self.counters["drops"] += 1
        self.counters[f"drops_{why}"] += 1
        transport = session.writer.transport
        with contextlib.suppress(Exception):
            transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        session = Session(next(self._session_ids), f"{peer[0]}:{peer[1]}" if peer else "?", writer)
        self.sessions[session.id] = session
        self.counters["connections"] += 1
        keepalive = asyncio.create_task(self._keepalive(session))
        try:
            while True:
                head = await reader.readexactly(16)
                length, command_id, _status, sequence = p.header(head)
                if length < 16 or length > p.MAX_PDU:
                    self.counters["generic_nacks_sent"] += 1
                    session.send(p.build(p.GENERIC_NACK, sequence, status=p.RINVCMDLEN))
                    await writer.drain()
                    break
                body = await reader.readexactly(length - 16)
                if not await self._dispatch(session, command_id, sequence, body):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception as exc:  # a bug here must show, not just close the session
            self.counters["handler_errors"] += 1
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            keepalive.cancel()
            for task in list(session.tasks):
                task.cancel()
            self.sessions.pop(session.id, None)
            with contextlib.suppress(Exception):
                writer.close()

    async def _keepalive(self, session: Session) -> None:
        while True:
            every = self.faults.enquire_link_every_s
            await asyncio.sleep(every or 0.2)
            if every and session.bound:
                self.counters["enquire_links_sent"] += 1
                session.send(p.build(p.ENQUIRE_LINK, next(session.sequence)))

    # ---- PDUs ----

    async def _dispatch(self, session: Session, command_id: int, sequence: int, body: bytes) -> bool:
        """Handle one PDU; False ends the session."""
        if command_id in p.BINDS:
            self._bind(session, command_id, sequence, body)
        elif command_id == p.SUBMIT_SM:
            return await self._submit(session, sequence, body)
        elif command_id == p.ENQUIRE_LINK:
            self.counters["enquire_links_received"] += 1
            session.send(p.build(p.ENQUIRE_LINK_RESP, sequence))
        elif command_id == p.ENQUIRE_LINK_RESP:
            self.counters["enquire_link_resps_received"] += 1
        elif command_id == p.DELIVER_SM_RESP:
            self.counters["receipts_acknowledged"] += 1
        elif command_id == p.UNBIND:
            self.counters["unbinds"] += 1
            session.send(p.build(p.UNBIND_RESP, sequence))
            await session.writer.drain()
            return False
        elif command_id in (p.UNBIND_RESP, p.GENERIC_NACK):
            self.counters[p.COMMAND_NAMES[command_id] + "_received"] += 1
        else:
            self.counters["generic_nacks_sent"] += 1
            session.send(p.build(p.GENERIC_NACK, sequence, status=p.RINVCMDID))
        return True

    def _bind(self, session: Session, command_id: int, sequence: int, body: bytes) -> None:
        kind = p.BINDS[command_id]
        resp_id = command_id | 0x80000000
        if session.bound:
            self._bind_answer(session, resp_id, sequence, p.RALYBND)
            return
        try:
            system_id, password, _system_type, version = p.read_bind(body)
        except p.Refusal as refusal:
            self._bind_answer(session, resp_id, sequence, refusal.status)
            return
        status = p.ROK
        if system_id != self.system_id:
            status = p.RINVSYSID
        elif password != self.password:
            status = p.RINVPASWD
        elif version != 0x34:
            status = p.RBINDFAIL
        if status != p.ROK:
            self.counters["bind_failures"] += 1
            self._bind_answer(session, resp_id, sequence, status)
            return
        session.bound, session.system_id = kind, system_id
        self.counters["binds"] += 1
        self.counters[f"binds_{kind}"] += 1
        self._bind_answer(session, resp_id, sequence, p.ROK)
        if session.receives:
            waiting, self.pending_receipts = self.pending_receipts, []
            for message_id, sm, stat, submit_date, _at in waiting:
                self._send_receipt(message_id, sm, stat, submit_date, session)

    def _bind_answer(self, session: Session, resp_id: int, sequence: int, status: int) -> None:
        body = p.cstring("SIMSMSC") + p.tlv(0x0210, b"\x34") if status == p.ROK else b""
        session.send(p.build(resp_id, sequence, body, status))

    async def _submit(self, session: Session, sequence: int, body: bytes) -> bool:
        self.counters["submits"] += 1
        received_at = time.time()
        faults = self.faults
        if faults.drop_after is not None:
            faults.drop_after -= 1
            if faults.drop_after <= 0:
                faults.drop_after = None
                self.counters["submits_dropped"] += 1
                self._drop(session, "submit")
                return False
        if session.bound not in ("transmitter", "transceiver"):
            return self._refuse(session, sequence, p.RINVBNDSTS, "submit_sm before a transmitter bind", None)
        if faults.silent:
            self.counters["submits_unanswered"] += 1
            return True
        if faults.throttle_next > 0:
            faults.throttle_next -= 1
            return self._refuse(session, sequence, p.RTHROTTLED, "throttled (on demand)", None)
        if faults.max_per_second:
            window = session.submits
            while window and received_at - window[0] > 1.0:
                window.popleft()
            if len(window) >= faults.max_per_second:
                return self._refuse(session, sequence, p.RTHROTTLED, "throttled (rate)", None)
            window.append(received_at)
        try:
            sm = p.read_submit_sm(body, require_subunit=self.require_subunit)
        except p.Refusal as refusal:
            return self._refuse(session, sequence, refusal.status, refusal.reason, body)
        message_id = f"{next(self._message_ids):010X}"
        record = {"message_id": message_id, "received_at": received_at, "session": session.id,
                  "sequence": sequence, **sm.as_json()}
        self.accepted.append(record)
        self.counters["accepted"] += 1
        if self._log:
            self._log.write(json.dumps({"event": "accepted", **record}, ensure_ascii=False) + "\n")
            self._log.flush()
        answer = p.build(p.SUBMIT_SM_RESP, sequence, p.cstring(message_id))
        if faults.respond_delay_ms:
            session.unanswered += 1
            self.counters["max_unanswered"] = max(self.counters["max_unanswered"], session.unanswered)

            def respond() -> None:
                session.unanswered -= 1
                session.send(answer)

            self._later(session, faults.respond_delay_ms / 1000, respond)
        else:
            session.send(answer)
        if sm.registered_delivery & 0x03 == 1 or (sm.registered_delivery & 0x03 == 2
                                                   and faults.receipt_stat != "DELIVRD"):
            submit_date = datetime.now().strftime("%y%m%d%H%M")
            if faults.receipts:
                delay = faults.receipt_delay_ms / 1000
                stat = faults.receipt_stat
                self._later(None, delay, lambda: self._send_receipt(message_id, sm, stat, submit_date, session))
            else:
                self.pending_receipts.append((message_id, sm, faults.receipt_stat, submit_date, received_at))
                self.counters["receipts_held"] += 1
        return True

    def _refuse(self, session: Session, sequence: int, status: int, reason: str, body: bytes | None) -> bool:
        self.counters["rejected"] += 1
        if status == p.RTHROTTLED:
            self.counters["throttled"] += 1
        record = {"status": status, "status_hex": f"0x{status:08X}", "reason": reason, "session": session.id,
                  "sequence": sequence, "received_at": time.time(), "body_hex": body.hex() if body else None}
        self.rejected.append(record)
        if self._log:
            self._log.write(json.dumps({"event": "rejected", **record}) + "\n")
            self._log.flush()
        session.send(p.build(p.SUBMIT_SM_RESP, sequence, b"", status))
        return True

    def release_receipts(self) -> int:
        """Send the receipts held back (``receipts`` off) now."""
        waiting, self.pending_receipts = self.pending_receipts, []
        for message_id, sm, stat, submit_date, _at in waiting:
            self._send_receipt(message_id, sm, stat, submit_date, None)
        return len(waiting)

    def _send_receipt(self, message_id: str, sm: p.SubmitSm, stat: str, submit_date: str,
                      preferred: Session | None) -> None:
        target = preferred if preferred is not None and preferred.id in self.sessions and preferred.receives \
            else next((s for s in self.sessions.values() if s.receives and s.system_id == self.system_id), None)
        if target is None:
            self.pending_receipts.append((message_id, sm, stat, submit_date, time.time()))
            return
        done = datetime.now().strftime("%y%m%d%H%M")
        err = "000" if stat == "DELIVRD" else "001"
        target.send(p.deliver_receipt(next(target.sequence), sm, message_id, stat, submit_date, done, err))
        self.counters["receipts_sent"] += 1

    def _later(self, session: Session | None, delay_s: float, action: Any) -> None:
        """Run ``action`` after a delay: with the session (an answer dies with it) or not (a receipt outlives it)."""
        async def run() -> None:
            await asyncio.sleep(delay_s)
            action()

        tasks = session.tasks if session is not None else self._tasks
        task = asyncio.get_running_loop().create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # ---- what the admin API shows ----

    def stats(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "sessions": [
            {"id": s.id, "peer": s.peer, "bound": s.bound, "system_id": s.system_id}
            for s in self.sessions.values()], "faults": asdict(self.faults),
            "accepted": len(self.accepted), "rejected": len(self.rejected),
            "pending_receipts": len(self.pending_receipts), "errors": self.errors[-20:]}
