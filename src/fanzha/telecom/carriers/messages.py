"""The center <-> carrier message protocol, version 1: the bank channel's signed envelope, carrier bodies.

The envelope, its wire rules and its Ed25519 signature are the signed channel's, shared with the banks
(``fanzha.channel.envelope`` / ``fanzha.channel.signing``: canonical JSON of everything but ``sig``, key ids,
rotation); only the parties and the bodies differ::

    {"v": 1, "type": "CarrierAction", "id": "<uuid4>", "idempotency_key": "<uuid4>",
     "sent_at": "2026-11-25T10:15:00+08:00", "sender": "center", "recipient": "carrier:CMCC",
     "kid": "<16 hex>", "body": {"case_number": "SH20261125-000123", "officer": "王警官",
         "number": "+8613812345678", "carrier": "CMCC", "action": "shutdown", "reason": "..."},
     "sig": "<base64 Ed25519>"}

``CarrierAction`` goes from ``center`` to one ``carrier:<CODE>``; the answer ``CarrierActionResult`` (or
``Error``) comes back with ``body.request_id`` = the action's envelope ``id``. ``status`` is ``done``,
``refused`` (with a reason) or ``not_ours``: the number is not this carrier's (any more), and
``true_carrier`` names the carrier that holds it when the carrier knows - the center then re-routes the
instruction and remembers the number's carrier. Any answer may name ``true_carrier`` and, for a number a
virtual operator resells, ``virtual_operator``. A carrier acts on an ``idempotency_key`` once and answers a
repeat with its first answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from fanzha.banking.messages import CaseNumber, Officer, Text
from fanzha.channel.envelope import SignedEnvelope
from fanzha.channel.keys import SigningKey
from fanzha.channel.signing import BadSignature
from fanzha.channel.wire import (
    CENTER,
    InvalidMessage,
    MessageError,
    Partner,
    UnknownMessageType,
    UnsupportedVersion,
    Uuid4Str,
    lookup,
    require,
)

__all__ = [
    "CENTER", "BadSignature", "CarrierAction", "CarrierActionResult", "Envelope", "Error", "InvalidMessage",
    "MessageError", "MessageType", "UnknownMessageType", "UnsupportedVersion", "answer_to", "carrier_org",
    "parse_envelope", "sign_envelope", "verify_and_parse",
]

CARRIER_CODE_RE: Final = r"[A-Z]{2,12}"
E164_RE: Final = r"^\+[1-9][0-9]{6,14}$"
ActionKind = Literal["shutdown", "intercept", "block"]
CarrierCode = Annotated[str, Field(pattern=rf"^{CARRIER_CODE_RE}$", description="carrier code, e.g. CMCC")]
Number = Annotated[str, Field(pattern=E164_RE, description="E.164, e.g. +8613812345678")]


class MessageType(StrEnum):
    CARRIER_ACTION = "CarrierAction"
    CARRIER_ACTION_RESULT = "CarrierActionResult"
    ERROR = "Error"


CARRIER: Final = Partner(
    name="carrier", code_re=CARRIER_CODE_RE, code_field="carrier",
    instructions=frozenset({MessageType.CARRIER_ACTION}), answers=frozenset({MessageType.CARRIER_ACTION_RESULT}))
ORG_RE: Final = CARRIER.org_re


def carrier_org(code: str) -> str:
    return CARRIER.org(code)


def carrier_code_of(org: str) -> str | None:
    """``"carrier:CMCC"`` -> ``"CMCC"``; ``"center"`` -> None."""
    return CARRIER.code_of(org)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CarrierAction(_Body):
    """Shut down (停机) the carrier's own number, intercept (拦截) another network's, block (封堵) a virtual
    operator's number on the network that hosts it."""

    case_number: CaseNumber
    officer: Officer
    number: Number
    carrier: CarrierCode
    action: ActionKind
    reason: Text


class CarrierActionResult(_Body):
    request_id: Uuid4Str
    number: Number
    status: Literal["done", "refused", "not_ours"]
    true_carrier: CarrierCode | None = Field(default=None, description="who holds the number now, if known")
    virtual_operator: Annotated[str, Field(pattern=r"^[A-Z]{2,12}$")] | None = None
    effective_at: AwareDatetime | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CarrierActionResult:
        if self.status == "done":
            require(self.effective_at is not None, "a done action needs effective_at")
        if self.status == "refused":
            require(self.reason is not None, "a refusal needs a reason")
        return self


class Error(_Body):
    """A refusal of the message as such (malformed, bad signature, misrouted), not a business answer."""

    request_id: Uuid4Str | None = None
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    message: Annotated[str, Field(max_length=2000)]


MessageBody = CarrierAction | CarrierActionResult | Error
_BODIES: Final[dict[MessageType, type[_Body]]] = {
    MessageType.CARRIER_ACTION: CarrierAction,
    MessageType.CARRIER_ACTION_RESULT: CarrierActionResult,
    MessageType.ERROR: Error,
}


def message_type(value: str) -> MessageType:
    return lookup(MessageType, value)


class Envelope(SignedEnvelope[MessageType, MessageBody]):
    """One signed message between the center and a carrier (the channel's envelope and wire rules)."""

    PARTNER = CARRIER
    BODIES = _BODIES

    @property
    def carrier_code(self) -> str:
        """The carrier on the other side of this message, whichever direction it travels."""
        return self.partner_code


new_envelope = Envelope.build  # the unsigned wire dict; routing is checked before anything is signed
parse_envelope = Envelope.parse  # no signature check: verify_and_parse does both
sign_envelope = Envelope.signed
verify_and_parse = Envelope.verified  # signature first, then schema


def answer_to(request: Envelope, body: MessageBody, signer: SigningKey, *,
              sent_at: datetime | None = None) -> Envelope:
    """The carrier's signed answer to ``request``, back to its sender (under a fresh key, unlike a bank's)."""
    return sign_envelope(body, signer, recipient=request.sender, idempotency_key=f"answer-{uuid.uuid4()}",
                         sent_at=sent_at)
