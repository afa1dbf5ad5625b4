"""How the center reaches a bank: the ``BankAdapter`` interface and its HTTP implementation.

``send`` takes a signed instruction and returns the bank's signed, verified answer of the matching type
(``StopPayment`` -> ``StopPaymentResult``, ...) or an ``Ack`` (received, result to follow), or raises:

- ``TransientBankError``: timeout, connection refused or reset, HTTP 5xx, 408 or 429. Send the same envelope
  again later with backoff; the bank acts once per ``idempotency_key`` and answers a resend with its first
  answer, so a retry after a timeout that the bank did act on cannot double a hold.
- ``PermanentBankError``: any other 4xx, a signed ``Error`` answer, an answer whose signature fails
  (``bad_signature`` holds the ``signing.BadSignature`` with its reason, for the audit log), or an answer
  that is malformed, from another bank, of the wrong type or for another request. Do not retry.

HTTP contract (what ``sim.banks`` and a real bank gateway implement)::

    POST {base_url}/banks/{bank_code}/messages      body: the signed envelope JSON
    200  the signed answer envelope (a *Result; business refusals are status "rejected" in it)
    202  a signed Ack: received, result to follow; send the same envelope again later to collect it
    4xx  a signed Error envelope (e.g. code "bad_signature", "invalid_message", "idempotency_conflict")
    5xx, 408, 429 (Retry-After: seconds)  try again later

Only loopback addresses are allowed: in this deployment banks are reached through local gateways (and the
simulator), and refusing anything else keeps a mistyped setting from sending police orders across a network.
"""

from __future__ import annotations

from types import TracebackType
from typing import Final, Protocol, Self

import httpx

from fanzha.banking.keys import KeyRing
from fanzha.banking.messages import (
    CENTER,
    RESULT_TYPE,
    Envelope,
    MessageError,
    MessageType,
    bank_code_of,
)
from fanzha.banking.signing import BadSignature, verify_and_parse

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ANSWER_BYTES: Final = 20_000_000  # a long TransactionQueryResult fits; a runaway response does not


class BankAdapter(Protocol):
    def send(self, envelope: Envelope) -> Envelope:
        """Deliver a signed instruction; return the bank's verified answer or raise a BankError."""
        ...


class BankError(Exception):
    def __init__(self, message: str, *, bank_code: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.bank_code = bank_code
        self.status_code = status_code


class TransientBankError(BankError):
    """Worth retrying with backoff; ``retry_after_s`` is the bank's own hint when it gave one."""

    def __init__(self, message: str, *, bank_code: str, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, bank_code=bank_code, status_code=status_code)
        self.retry_after_s = retry_after_s


class PermanentBankError(BankError):
    """Retrying will not help. ``reason`` is a stable code for the audit log and the console.

    reasons: ``http_<status>``, ``bank_error`` (``answer`` holds the bank's signed Error), ``bad_signature``
    (``bad_signature`` holds the failure), ``malformed_answer``, ``unexpected_answer``.
    """

    def __init__(self, message: str, *, bank_code: str, reason: str, status_code: int | None = None,
                 answer: Envelope | None = None, bad_signature: BadSignature | None = None) -> None:
        super().__init__(message, bank_code=bank_code, status_code=status_code)
        self.reason = reason
        self.answer = answer
        self.bad_signature = bad_signature


def check_loopback(base_url: str) -> str:
    """``base_url`` without a trailing slash, or ValueError if it could leave this machine."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid bank base URL {base_url!r}: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"bank base URL must be http(s), got {base_url!r}")
    if url.host not in LOOPBACK_HOSTS:
        raise ValueError(f"bank base URL must be on loopback (127.0.0.1, localhost, ::1), got host {url.host!r}")
    if url.userinfo or url.query or url.fragment:
        raise ValueError(f"bank base URL must not carry credentials, a query or a fragment: {base_url!r}")
    return base_url.rstrip("/")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    # Only the delta-seconds form; an HTTP date from a loopback gateway would be a surprise worth ignoring.
    return float(value) if value.isdigit() else None


class HttpBankAdapter:
    def __init__(self, base_url: str, keyring: KeyRing, timeout_s: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = check_loopback(base_url)
        self.keyring = keyring
        self.timeout_s = timeout_s
        self._owns_client = client is None
        # trust_env=False: an HTTP(S)_PROXY set for package downloads must not capture loopback bank traffic.
        self._client = client or httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout_s)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def url_for(self, bank_code: str) -> str:
        return f"{self.base_url}/banks/{bank_code}/messages"

    def send(self, envelope: Envelope) -> Envelope:
        bank = bank_code_of(envelope.recipient)
        if envelope.sender != CENTER or bank is None or envelope.type not in RESULT_TYPE:
            raise ValueError(f"only center's instructions to a bank are sent, not {envelope.type} "
                             f"from {envelope.sender} to {envelope.recipient}")
        try:
            response = self._client.post(
                self.url_for(bank), content=envelope.to_json_bytes(), timeout=self.timeout_s,
                follow_redirects=False,  # even on a caller's client: a redirect could leave loopback
                headers={"Content-Type": "application/json", "Idempotency-Key": envelope.idempotency_key},
            )
        except httpx.TimeoutException as exc:
            raise TransientBankError(f"bank {bank}: no answer within {self.timeout_s}s ({type(exc).__name__})",
                                     bank_code=bank) from exc
        except httpx.TransportError as exc:
            raise TransientBankError(f"bank {bank}: {type(exc).__name__}: {exc}", bank_code=bank) from exc
        return self._answer(envelope, bank, response)

    def _answer(self, request: Envelope, bank: str, response: httpx.Response) -> Envelope:
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise TransientBankError(f"bank {bank}: HTTP {status}", bank_code=bank, status_code=status,
                                     retry_after_s=_retry_after(response))
        if not 200 <= status < 300:
            refusal = self._signed_error(request, bank, response)
            detail = f"{refusal.typed_body()}" if refusal is not None else response.text[:200]
            raise PermanentBankError(f"bank {bank}: HTTP {status}: {detail}", bank_code=bank,
                                     reason=f"http_{status}", status_code=status, answer=refusal)
        answer = self._verified(request, bank, response)
        if answer.type is MessageType.ERROR:
            raise PermanentBankError(f"bank {bank} refused the message: {answer.typed_body()}", bank_code=bank,
                                     reason="bank_error", status_code=status, answer=answer)
        return answer

    def _verified(self, request: Envelope, bank: str, response: httpx.Response) -> Envelope:
        status = response.status_code
        if len(response.content) > MAX_ANSWER_BYTES:
            raise PermanentBankError(f"bank {bank}: answer of {len(response.content)} bytes is too large",
                                     bank_code=bank, reason="malformed_answer", status_code=status)
        try:
            answer = verify_and_parse(response.content, self.keyring)
        except BadSignature as exc:
            raise PermanentBankError(f"bank {bank}: answer signature refused: {exc}", bank_code=bank,
                                     reason="bad_signature", status_code=status, bad_signature=exc) from exc
        except MessageError as exc:
            raise PermanentBankError(f"bank {bank}: malformed answer: {exc}", bank_code=bank,
                                     reason="malformed_answer", status_code=status) from exc
        # verify() proved the signer owns answer.sender; now make sure that is the bank we asked.
        problems = []
        if answer.sender != request.recipient:
            problems.append(f"answered by {answer.sender}, not {request.recipient}")
        if answer.type not in (RESULT_TYPE[request.type], MessageType.ACK, MessageType.ERROR):
            problems.append(f"{answer.type} does not answer {request.type}")
        request_id = getattr(answer.typed_body(), "request_id", None)
        if request_id is not None and request_id != request.id:  # None only on an Error that could not read it
            problems.append(f"answer is for request {request_id}, not {request.id}")
        if problems:
            raise PermanentBankError(f"bank {bank}: unexpected answer: {'; '.join(problems)}", bank_code=bank,
                                     reason="unexpected_answer", status_code=status, answer=answer)
        return answer

    def _signed_error(self, request: Envelope, bank: str, response: httpx.Response) -> Envelope | None:
        """The bank's signed Error behind a 4xx, if it sent a valid one; a refusal is still worth auditing."""
        try:
            answer = self._verified(request, bank, response)
        except PermanentBankError:
            return None
        return answer if answer.type is MessageType.ERROR else None
