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
The HTTP exchange itself is the channel's (``fanzha.channel.adapter``); this module names the bank's side of it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Final, Protocol

from fanzha.banking.messages import (
    CENTER,
    RESULT_TYPE,
    Envelope,
    MessageType,
    bank_code_of,
)
from fanzha.banking.signing import verify_and_parse
from fanzha.channel import adapter as channel
from fanzha.channel.adapter import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from fanzha.channel.adapter import PartnerError, PermanentPartnerError, TransientPartnerError

MAX_ANSWER_BYTES: Final = 20_000_000  # a long TransactionQueryResult fits; a runaway response does not


class BankAdapter(Protocol):
    def send(self, envelope: Envelope) -> Envelope:
        """Deliver a signed instruction; return the bank's verified answer or raise a BankError."""
        ...


class BankError(PartnerError):
    @property
    def bank_code(self) -> str:
        return self.partner


class TransientBankError(BankError, TransientPartnerError):
    """Worth retrying with backoff; ``retry_after_s`` is the bank's own hint when it gave one."""


class PermanentBankError(BankError, PermanentPartnerError[Envelope]):
    """Retrying will not help. ``reason`` is a stable code for the audit log and the console.

    reasons: ``http_<status>``, ``bank_error`` (``answer`` holds the bank's signed Error), ``bad_signature``
    (``bad_signature`` holds the failure), ``malformed_answer``, ``unexpected_answer``.
    """


def check_loopback(base_url: str) -> str:
    """``base_url`` without a trailing slash, or ValueError if it could leave this machine."""
    return channel.check_loopback(base_url, "bank")


class HttpBankAdapter(channel.LoopbackAdapter[Envelope]):
    PARTNER_NAME: ClassVar[str] = "bank"
    MAX_ANSWER_BYTES: ClassVar[int] = MAX_ANSWER_BYTES
    TRANSIENT = TransientBankError
    PERMANENT = PermanentBankError

    def send(self, envelope: Envelope) -> Envelope:
        bank = bank_code_of(envelope.recipient)
        if envelope.sender != CENTER or bank is None or envelope.type not in RESULT_TYPE:
            raise ValueError(f"only center's instructions to a bank are sent, not {envelope.type} "
                             f"from {envelope.sender} to {envelope.recipient}")
        return self._exchange(envelope, bank)

    def _verify_and_parse(self, content: bytes) -> Envelope:
        return verify_and_parse(content, self.keyring)

    def _answer_types(self, request: Envelope) -> Collection[str]:
        return (RESULT_TYPE[request.type], MessageType.ACK)
