"""The center <-> carrier message protocol, version 1: the bank channel's signed envelope, carrier bodies.

The envelope, its wire rules and its Ed25519 signature are exactly the bank channel's
(``fanzha.banking.messages`` / ``fanzha.banking.signing``: canonical JSON of everything but ``sig``, key ids,
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

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from fanzha.banking.keys import KeyRing, SigningKey
from fanzha.banking.messages import (
    CENTER,
    KID_RE,
    PROTOCOL_VERSION,
    SIG_RE,
    CaseNumber,
    InvalidMessage,
    MessageError,
    Officer,
    Text,
    UnknownMessageType,
    UnsupportedVersion,
    Uuid4Str,
    decode_object,
)
from fanzha.banking.signing import BadSignature, sign, verify

__all__ = [
    "CENTER", "BadSignature", "CarrierAction", "CarrierActionResult", "Envelope", "Error", "InvalidMessage",
    "MessageError", "MessageType", "UnknownMessageType", "UnsupportedVersion", "answer_to", "carrier_org",
    "parse_envelope", "sign_envelope", "verify_and_parse",
]

CARRIER_CODE_RE: Final = r"[A-Z]{2,12}"
ORG_RE: Final = rf"^(center|carrier:{CARRIER_CODE_RE})$"
E164_RE: Final = r"^\+[1-9][0-9]{6,14}$"
ActionKind = Literal["shutdown", "intercept", "block"]
CarrierCode = Annotated[str, Field(pattern=rf"^{CARRIER_CODE_RE}$", description="carrier code, e.g. CMCC")]
Number = Annotated[str, Field(pattern=E164_RE, description="E.164, e.g. +8613812345678")]


class MessageType(StrEnum):
    CARRIER_ACTION = "CarrierAction"
    CARRIER_ACTION_RESULT = "CarrierActionResult"
    ERROR = "Error"


def carrier_org(code: str) -> str:
    return f"carrier:{code}"


def carrier_code_of(org: str) -> str | None:
    """``"carrier:CMCC"`` -> ``"CMCC"``; ``"center"`` -> None."""
    return org.removeprefix("carrier:") if org.startswith("carrier:") else None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _aware_iso(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset: times must be timezone-aware")
    return value


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
            _require(self.effective_at is not None, "a done action needs effective_at")
        if self.status == "refused":
            _require(self.reason is not None, "a refusal needs a reason")
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
_TYPE_OF: Final = {model: kind for kind, model in _BODIES.items()}


def message_type(value: str) -> MessageType:
    try:
        return MessageType(value)
    except ValueError:
        known = ", ".join(t.value for t in MessageType)
        raise UnknownMessageType(f"unknown message type {value!r} (known: {known})") from None


def _check_routing(kind: MessageType, sender: str, recipient: str, body: BaseModel) -> None:
    if kind is MessageType.CARRIER_ACTION:
        _require(sender == CENTER and carrier_code_of(recipient) is not None,
                 f"{kind} goes from center to a carrier, not from {sender} to {recipient}")
        carrier = getattr(body, "carrier", None)
        _require(carrier_code_of(recipient) == carrier, f"body.carrier {carrier} but recipient is {recipient}")
    elif kind is MessageType.CARRIER_ACTION_RESULT:
        _require(recipient == CENTER and carrier_code_of(sender) is not None,
                 f"{kind} goes from a carrier to center, not from {sender} to {recipient}")
    else:
        _require(CENTER in (sender, recipient) and sender != recipient,
                 f"{kind} goes between center and a carrier, not from {sender} to {recipient}")


def _describe(exc: ValidationError, prefix: str = "") -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if error["type"] == "value_error" and "error" in ctx else error["msg"]
        where = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class Envelope(BaseModel):
    """One signed carrier message as it travels (same wire rules as the bank channel's envelope)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    type: MessageType
    id: Uuid4Str
    idempotency_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]
    sent_at: Annotated[str, Field(max_length=64), AfterValidator(_aware_iso)]
    sender: Annotated[str, Field(pattern=ORG_RE)]
    recipient: Annotated[str, Field(pattern=ORG_RE)]
    kid: Annotated[str, Field(pattern=KID_RE)]
    body: dict[str, Any]
    sig: Annotated[str, Field(pattern=SIG_RE)]

    _typed: _Body | None = PrivateAttr(default=None)

    @field_validator("v", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        if type(value) is not int or value != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"protocol version {value!r} is not supported (this build speaks v1)")
        return value

    @model_validator(mode="after")
    def _typed_and_routed(self) -> Envelope:
        try:
            self._typed = _BODIES[self.type].model_validate(self.body)
        except ValidationError as exc:
            raise ValueError(_describe(exc, prefix="body")) from None
        _check_routing(self.type, self.sender, self.recipient, self._typed)
        return self

    def typed_body(self) -> MessageBody:
        assert self._typed is not None
        return self._typed  # type: ignore[return-value]  # _BODIES holds exactly the MessageBody classes

    @property
    def sent_time(self) -> datetime:
        return datetime.fromisoformat(self.sent_at)

    @property
    def carrier_code(self) -> str:
        """The carrier on the other side of this message, whichever direction it travels."""
        code = carrier_code_of(self.recipient) or carrier_code_of(self.sender)
        assert code is not None
        return code

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = self.model_dump(mode="json")
        return wire

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_envelope(body: MessageBody, *, sender: str, recipient: str, idempotency_key: str,
                 message_id: str | None = None, sent_at: datetime | None = None) -> dict[str, Any]:
    """The unsigned wire dict for ``body``; routing is checked before anything is signed."""
    kind = _TYPE_OF.get(type(body))
    if kind is None:
        raise UnknownMessageType(f"{type(body).__name__} is not a carrier message body")
    if not re.fullmatch(ORG_RE, sender) or not re.fullmatch(ORG_RE, recipient):
        raise InvalidMessage(f"sender and recipient are 'center' or 'carrier:<CODE>', got {sender!r}, {recipient!r}")
    if sent_at is None:
        sent_at = datetime.now(UTC)
    elif sent_at.tzinfo is None:
        raise InvalidMessage("naive sent_at refused: times must be timezone-aware")
    try:
        _check_routing(kind, sender, recipient, body)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    return {"v": PROTOCOL_VERSION, "type": kind.value, "id": message_id or str(uuid.uuid4()),
            "idempotency_key": idempotency_key, "sent_at": sent_at.isoformat(), "sender": sender,
            "recipient": recipient, "body": body.model_dump(mode="json")}


def parse_envelope(raw: bytes | str | Mapping[str, Any]) -> Envelope:
    """Validate a received carrier message (no signature check: ``verify_and_parse`` does both)."""
    data = dict(decode_object(raw))
    version = data.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise UnsupportedVersion(f"protocol version {version!r} is not supported (this build speaks v1)")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise UnknownMessageType(f"message type {kind!r} is not a string")
    message_type(kind)
    try:
        return Envelope.model_validate(data)
    except ValidationError as exc:
        raise InvalidMessage("invalid message: " + _describe(exc)) from None


def sign_envelope(body: MessageBody, signer: SigningKey, *, recipient: str, idempotency_key: str,
                  message_id: str | None = None, sent_at: datetime | None = None) -> Envelope:
    unsigned = new_envelope(body, sender=signer.org, recipient=recipient, idempotency_key=idempotency_key,
                            message_id=message_id, sent_at=sent_at)
    return parse_envelope(sign(unsigned, signer.private_key, signer.kid))


def answer_to(request: Envelope, body: MessageBody, signer: SigningKey, *,
              sent_at: datetime | None = None) -> Envelope:
    """The carrier's signed answer to ``request``, back to its sender."""
    return sign_envelope(body, signer, recipient=request.sender, idempotency_key=f"answer-{uuid.uuid4()}",
                         sent_at=sent_at)


def verify_and_parse(raw: bytes | str | Mapping[str, Any], keyring: KeyRing, *,
                     now: datetime | None = None) -> Envelope:
    """Signature first, then schema. Raises ``BadSignature`` or ``MessageError``."""
    data = decode_object(raw)
    verify(data, keyring, now=now)
    return parse_envelope(dict(data))
