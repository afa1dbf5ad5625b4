"""How the center reaches a carrier: the ``CarrierAdapter`` interface and its loopback-only HTTP implementation.

``send`` takes a signed ``CarrierAction`` and returns the carrier's signed, verified ``CarrierActionResult``,
or raises:

- ``TransientCarrierError``: timeout, connection refused or reset, HTTP 5xx, 408 or 429. Send the same
  envelope again later; the carrier acts once per ``idempotency_key`` and answers a resend with its first answer.
- ``PermanentCarrierError``: any other 4xx, a signed ``Error``, an answer whose signature fails, or one that
  is malformed, from another carrier, of the wrong type or for another request. Do not retry.

HTTP contract (what ``sim.carriers`` and a real carrier gateway implement)::

    POST {base_url}/carriers/{carrier_code}/messages     body: the signed envelope JSON
    200  the signed CarrierActionResult (refusals and "not ours" are statuses in it)
    4xx  a signed Error envelope            5xx, 408, 429 (Retry-After: seconds)  try again later

Only loopback addresses are allowed: carriers are reached through local gateways, and a mistyped setting must
not send police orders across a network. The HTTP exchange itself is the channel's (``fanzha.channel.adapter``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from pathlib import Path
from typing import ClassVar, Final, Protocol

from fanzha.channel import adapter as channel
from fanzha.channel.adapter import PartnerError, PermanentPartnerError, TransientPartnerError
from fanzha.channel.keys import KeyRing, KeyRingError
from fanzha.telecom.carriers.messages import (
    CENTER,
    Envelope,
    MessageType,
    carrier_code_of,
    verify_and_parse,
)

MAX_ANSWER_BYTES: Final = 1_000_000
CARRIERS_KEYRING: Final = "carriers.keyring.json"  # written by the carriers (sim.carriers), read here


class CarrierAdapter(Protocol):
    def send(self, envelope: Envelope) -> Envelope:
        """Deliver a signed instruction; return the carrier's verified answer or raise a CarrierError."""
        ...


class CarrierError(PartnerError):
    @property
    def carrier(self) -> str:
        return self.partner


class TransientCarrierError(CarrierError, TransientPartnerError):
    pass


class PermanentCarrierError(CarrierError, PermanentPartnerError[Envelope]):
    """``reason``: ``http_<status>``, ``carrier_error``, ``bad_signature`` (``bad_signature`` holds the failure),
    ``malformed_answer``, ``unexpected_answer``."""


class KeyRingFile:
    """The carriers' public keyring, re-read when its file changes (a carrier rotated its key, or the
    simulator started after the server and published its keys late)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ring = KeyRing()
        self._stamp: tuple[int, int] | None = None
        self.problem: str | None = None

    def __call__(self) -> KeyRing:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.problem = f"no carriers keyring at {self.path}"
            return self._ring
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            with self._lock:
                try:
                    self._ring.merge_file(self.path)  # merge: keys we already trust stay (retirement still wins)
                    self.problem = None
                except KeyRingError as exc:
                    self.problem = str(exc)
                self._stamp = stamp
        return self._ring


class HttpCarrierAdapter(channel.LoopbackAdapter[Envelope]):
    PARTNER_NAME: ClassVar[str] = "carrier"
    MAX_ANSWER_BYTES: ClassVar[int] = MAX_ANSWER_BYTES
    TRANSIENT = TransientCarrierError
    PERMANENT = PermanentCarrierError

    def send(self, envelope: Envelope) -> Envelope:
        carrier = carrier_code_of(envelope.recipient)
        if envelope.sender != CENTER or carrier is None or envelope.type is not MessageType.CARRIER_ACTION:
            raise ValueError(f"only center's actions to a carrier are sent, not {envelope.type} "
                             f"from {envelope.sender} to {envelope.recipient}")
        return self._exchange(envelope, carrier)

    def _verify_and_parse(self, content: bytes) -> Envelope:
        return verify_and_parse(content, self.keyring)

    def _answer_types(self, request: Envelope) -> Collection[str]:
        return (MessageType.CARRIER_ACTION_RESULT,)

    def _mismatches(self, request: Envelope, answer: Envelope) -> list[str]:
        asked = getattr(request.typed_body(), "number", None)
        told = getattr(answer.typed_body(), "number", None)
        return [f"answer is about {told}, not {asked}"] if told not in (None, asked) else []
