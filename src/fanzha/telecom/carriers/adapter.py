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

Only loopback addresses are allowed (``fanzha.banking.adapter.check_loopback``): carriers are reached
through local gateways, and a mistyped setting must not send police orders across a network.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Final, Protocol, Self

import httpx

from fanzha.banking.adapter import check_loopback
from fanzha.banking.keys import KeyRing, KeyRingError
from fanzha.telecom.carriers.messages import (
    CENTER,
    BadSignature,
    Envelope,
    MessageError,
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


class CarrierError(Exception):
    def __init__(self, message: str, *, carrier: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.carrier = carrier
        self.status_code = status_code


class TransientCarrierError(CarrierError):
    def __init__(self, message: str, *, carrier: str, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, carrier=carrier, status_code=status_code)
        self.retry_after_s = retry_after_s


class PermanentCarrierError(CarrierError):
    """``reason``: ``http_<status>``, ``carrier_error``, ``bad_signature``, ``malformed_answer``,
    ``unexpected_answer``."""

    def __init__(self, message: str, *, carrier: str, reason: str, status_code: int | None = None,
                 answer: Envelope | None = None) -> None:
        super().__init__(message, carrier=carrier, status_code=status_code)
        self.reason = reason
        self.answer = answer


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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


class HttpCarrierAdapter:
    def __init__(self, base_url: str, keyring: KeyRing | KeyRingFile, timeout_s: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = check_loopback(base_url)
        self._keyring = keyring
        self.timeout_s = timeout_s
        self._owns_client = client is None
        # trust_env=False: a proxy configured for downloads must not capture loopback carrier traffic.
        self._client = client or httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout_s)

    @property
    def keyring(self) -> KeyRing:
        return self._keyring() if isinstance(self._keyring, KeyRingFile) else self._keyring

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def url_for(self, carrier: str) -> str:
        return f"{self.base_url}/carriers/{carrier}/messages"

    def send(self, envelope: Envelope) -> Envelope:
        carrier = carrier_code_of(envelope.recipient)
        if envelope.sender != CENTER or carrier is None or envelope.type is not MessageType.CARRIER_ACTION:
            raise ValueError(f"only center's actions to a carrier are sent, not {envelope.type} "
                             f"from {envelope.sender} to {envelope.recipient}")
        try:
            response = self._client.post(
                self.url_for(carrier), content=envelope.to_json_bytes(), timeout=self.timeout_s,
                follow_redirects=False,
                headers={"Content-Type": "application/json", "Idempotency-Key": envelope.idempotency_key},
            )
        except httpx.TimeoutException as exc:
            raise TransientCarrierError(f"carrier {carrier}: no answer within {self.timeout_s}s "
                                        f"({type(exc).__name__})", carrier=carrier) from exc
        except httpx.TransportError as exc:
            raise TransientCarrierError(f"carrier {carrier}: {type(exc).__name__}: {exc}", carrier=carrier) from exc
        return self._answer(envelope, carrier, response)

    def _answer(self, request: Envelope, carrier: str, response: httpx.Response) -> Envelope:
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise TransientCarrierError(f"carrier {carrier}: HTTP {status}", carrier=carrier, status_code=status,
                                        retry_after_s=_retry_after(response))
        if not 200 <= status < 300:
            refusal = self._signed_error(request, carrier, response)
            detail = f"{refusal.typed_body()}" if refusal is not None else response.text[:200]
            raise PermanentCarrierError(f"carrier {carrier}: HTTP {status}: {detail}", carrier=carrier,
                                        reason=f"http_{status}", status_code=status, answer=refusal)
        answer = self._verified(request, carrier, response)
        if answer.type is MessageType.ERROR:
            raise PermanentCarrierError(f"carrier {carrier} refused the message: {answer.typed_body()}",
                                        carrier=carrier, reason="carrier_error", status_code=status, answer=answer)
        return answer

    def _verified(self, request: Envelope, carrier: str, response: httpx.Response) -> Envelope:
        status = response.status_code
        if len(response.content) > MAX_ANSWER_BYTES:
            raise PermanentCarrierError(f"carrier {carrier}: answer of {len(response.content)} bytes is too large",
                                        carrier=carrier, reason="malformed_answer", status_code=status)
        try:
            answer = verify_and_parse(response.content, self.keyring)
        except BadSignature as exc:
            raise PermanentCarrierError(f"carrier {carrier}: answer signature refused: {exc}", carrier=carrier,
                                        reason="bad_signature", status_code=status) from exc
        except MessageError as exc:
            raise PermanentCarrierError(f"carrier {carrier}: malformed answer: {exc}", carrier=carrier,
                                        reason="malformed_answer", status_code=status) from exc
        problems = []
        if answer.sender != request.recipient:
            problems.append(f"answered by {answer.sender}, not {request.recipient}")
        if answer.type not in (MessageType.CARRIER_ACTION_RESULT, MessageType.ERROR):
            problems.append(f"{answer.type} does not answer {request.type}")
        body = answer.typed_body()
        request_id = getattr(body, "request_id", None)
        if request_id is not None and request_id != request.id:
            problems.append(f"answer is for request {request_id}, not {request.id}")
        asked = request.typed_body()
        if getattr(body, "number", None) not in (None, getattr(asked, "number", None)):
            problems.append(f"answer is about {getattr(body, 'number', None)}, not {getattr(asked, 'number', None)}")
        if problems:
            raise PermanentCarrierError(f"carrier {carrier}: unexpected answer: {'; '.join(problems)}",
                                        carrier=carrier, reason="unexpected_answer", status_code=status,
                                        answer=answer)
        return answer

    def _signed_error(self, request: Envelope, carrier: str, response: httpx.Response) -> Envelope | None:
        try:
            answer = self._verified(request, carrier, response)
        except PermanentCarrierError:
            return None
        return answer if answer.type is MessageType.ERROR else None
