"""The HTTP core of reaching a partner: POST a signed instruction on loopback, classify what comes back.

HTTP contract (each channel's adapter docstring gives its own path and answers)::

    POST {base_url}/{partner}s/{code}/messages     body: the signed envelope JSON
    2xx  the signed answer envelope
    4xx  a signed Error envelope (e.g. code "bad_signature", "invalid_message", "idempotency_conflict")
    5xx, 408, 429 (Retry-After: seconds)  try again later

Timeouts, connection failures, 5xx, 408 and 429 are transient: the same envelope goes again later, and the
partner answers a repeat of an idempotency key with its first answer. Anything else is permanent: another 4xx,
a signed ``Error``, an answer too large, unsigned or badly signed, malformed, or not the answer to this request.
Each channel raises its own subclasses of these errors, so its callers catch its own types.

Only loopback addresses are allowed: partners are reached through local gateways (and the simulators), and
refusing anything else keeps a mistyped setting from sending police orders across a network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, Self, TypeVar

import httpx

from fanzha.channel.envelope import SignedEnvelope
from fanzha.channel.keys import KeyRing
from fanzha.channel.signing import BadSignature
from fanzha.channel.wire import ERROR, MessageError

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})

E = TypeVar("E", bound=SignedEnvelope[Any, Any])


def check_loopback(base_url: str, partner: str) -> str:
    """``base_url`` without a trailing slash, or ValueError if it could leave this machine."""
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"invalid {partner} base URL {base_url!r}: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"{partner} base URL must be http(s), got {base_url!r}")
    if url.host not in LOOPBACK_HOSTS:
        raise ValueError(f"{partner} base URL must be on loopback (127.0.0.1, localhost, ::1), got host {url.host!r}")
    if url.userinfo or url.query or url.fragment:
        raise ValueError(f"{partner} base URL must not carry credentials, a query or a fragment: {base_url!r}")
    return base_url.rstrip("/")


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    # Only the delta-seconds form; an HTTP date from a loopback gateway would be a surprise worth ignoring.
    return float(value) if value.isdigit() else None


class PartnerError(Exception):
    """A message that did not come back answered; ``partner`` is the partner's code (``ABC``, ``CMCC``)."""

    def __init__(self, message: str, *, partner: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.partner = partner
        self.status_code = status_code


class TransientPartnerError(PartnerError):
    """Worth retrying with backoff; ``retry_after_s`` is the partner's own hint when it gave one."""

    def __init__(self, message: str, *, partner: str, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, partner=partner, status_code=status_code)
        self.retry_after_s = retry_after_s


class PermanentPartnerError(PartnerError, Generic[E]):
    """Retrying will not help. ``reason`` is a stable code for the audit log and the console.

    reasons: ``http_<status>``, ``<partner>_error`` (``answer`` holds the partner's signed Error),
    ``bad_signature`` (``bad_signature`` holds the failure), ``malformed_answer``, ``unexpected_answer``.
    """

    def __init__(self, message: str, *, partner: str, reason: str, status_code: int | None = None,
                 answer: E | None = None, bad_signature: BadSignature | None = None) -> None:
        super().__init__(message, partner=partner, status_code=status_code)
        self.reason = reason
        self.answer = answer
        self.bad_signature = bad_signature


class _Refused(Exception):
    """An answer that settles nothing, before it is told as the channel's permanent error."""

    def __init__(self, message: str, reason: str, answer: SignedEnvelope[Any, Any] | None = None,
                 bad_signature: BadSignature | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.answer = answer
        self.bad_signature = bad_signature


class LoopbackAdapter(ABC, Generic[E]):
    """Sends a channel's signed instructions over HTTP on loopback; subclasses name the partner and its errors."""

    PARTNER_NAME: ClassVar[str]  # "bank": "bank ABC: ..." in messages, POST .../banks/ABC/messages
    MAX_ANSWER_BYTES: ClassVar[int]
    TRANSIENT: ClassVar[type[TransientPartnerError]]  # the channel's own error types, which its callers catch
    PERMANENT: ClassVar[type[PermanentPartnerError[Any]]]

    def __init__(self, base_url: str, keyring: KeyRing | Callable[[], KeyRing], timeout_s: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.base_url = check_loopback(base_url, self.PARTNER_NAME)
        self._keyring = keyring
        self.timeout_s = timeout_s
        self._owns_client = client is None
        # trust_env=False: an HTTP(S)_PROXY set for package downloads must not capture loopback partner traffic.
        self._client = client or httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout_s)

    @property
    def keyring(self) -> KeyRing:
        """The partners' public keys now (a callable keyring is asked on each use: it may reload a file)."""
        return self._keyring if isinstance(self._keyring, KeyRing) else self._keyring()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def url_for(self, code: str) -> str:
        return f"{self.base_url}/{self.PARTNER_NAME}s/{code}/messages"

    # -- what a channel supplies ---------------------------------------------------------------------------
    @abstractmethod
    def _verify_and_parse(self, content: bytes) -> E: ...

    @abstractmethod
    def _answer_types(self, request: E) -> Collection[str]:
        """The types that answer ``request`` (besides Error)."""

    def _mismatches(self, request: E, answer: E) -> list[str]:
        """What else makes ``answer`` not the answer to ``request``."""
        return []

    # -- the exchange --------------------------------------------------------------------------------------
    def _exchange(self, envelope: E, code: str) -> E:
        """POST ``envelope`` to partner ``code``; its verified answer, or the channel's error."""
        who = f"{self.PARTNER_NAME} {code}"
        try:
            response = self._client.post(
                self.url_for(code), content=envelope.to_json_bytes(), timeout=self.timeout_s,
                follow_redirects=False,  # even on a caller's client: a redirect could leave loopback
                headers={"Content-Type": "application/json", "Idempotency-Key": envelope.idempotency_key},
            )
        except httpx.TimeoutException as exc:
            raise self.TRANSIENT(f"{who}: no answer within {self.timeout_s}s ({type(exc).__name__})",
                                 partner=code) from exc
        except httpx.TransportError as exc:
            raise self.TRANSIENT(f"{who}: {type(exc).__name__}: {exc}", partner=code) from exc
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise self.TRANSIENT(f"{who}: HTTP {status}", partner=code, status_code=status,
                                 retry_after_s=retry_after(response))
        if not 200 <= status < 300:
            refusal = self._signed_error(envelope, response)
            detail = f"{refusal.typed_body()}" if refusal is not None else response.text[:200]
            raise self.PERMANENT(f"{who}: HTTP {status}: {detail}", partner=code, reason=f"http_{status}",
                                 status_code=status, answer=refusal)
        try:
            answer = self._verified(envelope, response)
        except _Refused as refused:
            raise self.PERMANENT(f"{who}: {refused}", partner=code, reason=refused.reason, status_code=status,
                                 answer=refused.answer, bad_signature=refused.bad_signature,
                                 ) from refused.__cause__  # the signature or schema failure, if that was it
        if answer.type == ERROR:
            raise self.PERMANENT(f"{who} refused the message: {answer.typed_body()}", partner=code,
                                 reason=f"{self.PARTNER_NAME}_error", status_code=status, answer=answer)
        return answer

    def _verified(self, request: E, response: httpx.Response) -> E:
        if len(response.content) > self.MAX_ANSWER_BYTES:
            raise _Refused(f"answer of {len(response.content)} bytes is too large", "malformed_answer")
        try:
            answer = self._verify_and_parse(response.content)
        except BadSignature as exc:
            raise _Refused(f"answer signature refused: {exc}", "bad_signature", bad_signature=exc) from exc
        except MessageError as exc:
            raise _Refused(f"malformed answer: {exc}", "malformed_answer") from exc
        # verify() proved the signer owns answer.sender; now make sure that is the partner we asked.
        problems = []
        if answer.sender != request.recipient:
            problems.append(f"answered by {answer.sender}, not {request.recipient}")
        if answer.type != ERROR and answer.type not in self._answer_types(request):
            problems.append(f"{answer.type} does not answer {request.type}")
        request_id = getattr(answer.typed_body(), "request_id", None)
        if request_id is not None and request_id != request.id:  # None only on an Error that could not read it
            problems.append(f"answer is for request {request_id}, not {request.id}")
        problems += self._mismatches(request, answer)
        if problems:
            raise _Refused(f"unexpected answer: {'; '.join(problems)}", "unexpected_answer", answer=answer)
        return answer

    def _signed_error(self, request: E, response: httpx.Response) -> E | None:
        """The partner's signed Error behind a 4xx, if it sent a valid one; a refusal is still worth auditing."""
        try:
            answer = self._verified(request, response)
        except _Refused:
            return None
        return answer if answer.type == ERROR else None
