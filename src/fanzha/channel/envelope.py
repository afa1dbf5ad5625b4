"""``SignedEnvelope``: one signed message as it travels, and how a channel builds, signs, reads and verifies it.

A channel is a subclass ``Envelope(SignedEnvelope[MessageType, MessageBody])`` naming its ``PARTNER`` (see
``fanzha.channel.wire``) and the body model of each message type (``BODIES``)::

    unsigned = Envelope.build(body, sender="center", recipient="bank:ABC", idempotency_key=key)
    env = Envelope.signed(body, signer, recipient="bank:ABC", idempotency_key=key)   # build + sign + parse
    env = Envelope.verified(request_bytes, keyring)   # BadSignature -> refuse and audit; MessageError -> 400

The envelope keeps ``sent_at`` and ``body`` exactly as received, because the signature covers the wire form:
``Envelope.model_validate(d).to_wire() == d`` for every valid ``d``, so an envelope can be stored and re-verified
later. ``typed_body()`` is the validated, typed view of the body.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fanzha.channel.keys import KeyRing, SigningKey
from fanzha.channel.signing import sign, verify
from fanzha.channel.wire import (
    KID_RE,
    PROTOCOL_VERSION,
    SIG_RE,
    InvalidMessage,
    Partner,
    UnknownMessageType,
    UnsupportedVersion,
    Uuid4Str,
    aware_iso,
    decode_object,
    describe,
    unknown_type,
)

T = TypeVar("T", bound=StrEnum)  # a channel's MessageType
B = TypeVar("B", bound=BaseModel)  # the union of a channel's body models


class SignedEnvelope(BaseModel, Generic[T, B]):
    """One signed message; the fields are in wire order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    PARTNER: ClassVar[Partner]
    BODIES: ClassVar[Mapping[Any, type[BaseModel]]]  # MessageType -> its body model, in the enum's order

    v: Literal[1]
    type: T
    id: Uuid4Str
    idempotency_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:\-]{1,128}$")]
    sent_at: Annotated[str, Field(max_length=64), AfterValidator(aware_iso)]
    sender: str
    recipient: str
    kid: Annotated[str, Field(pattern=KID_RE)]
    body: dict[str, Any]
    sig: Annotated[str, Field(pattern=SIG_RE)]

    _typed: BaseModel | None = PrivateAttr(default=None)

    @field_validator("v", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        # Literal[1] would take True or 1.0 and then re-serialise them as 1, which breaks the signature.
        if type(value) is not int or value != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"protocol version {value!r} is not supported (this build speaks v1)")
        return value

    @field_validator("sender", "recipient")
    @classmethod
    def _org(cls, value: str) -> str:
        # What Field(pattern=...) would say, with the pattern of the subclass's channel.
        if not re.fullmatch(cls.PARTNER.org_re, value):
            raise PydanticCustomError("string_pattern_mismatch", "String should match pattern '{pattern}'",
                                      {"pattern": cls.PARTNER.org_re})
        return value

    @model_validator(mode="after")
    def _typed_and_routed(self) -> Self:
        try:
            self._typed = self.BODIES[self.type].model_validate(self.body)
        except ValidationError as exc:
            # Re-raised as a plain ValueError so the error path reads "body.<field>", not a nested dump.
            raise ValueError(describe(exc, prefix="body")) from None
        self.PARTNER.check_routing(self.type, self.sender, self.recipient, self._typed)
        return self

    def typed_body(self) -> B:
        assert self._typed is not None  # set by validation; an envelope cannot exist without it
        return self._typed  # type: ignore[return-value]  # BODIES holds exactly the channel's body models

    @property
    def sent_time(self) -> datetime:
        return datetime.fromisoformat(self.sent_at)

    @property
    def partner_code(self) -> str:
        """The partner on the other side of this message, whichever direction it travels."""
        code = self.PARTNER.code_of(self.recipient) or self.PARTNER.code_of(self.sender)
        assert code is not None  # routing validation guarantees one partner side
        return code

    def to_wire(self) -> dict[str, Any]:
        """The exact dict that was signed (a copy: callers may not disturb the signed form)."""
        wire: dict[str, Any] = self.model_dump(mode="json")
        return wire

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    # -- a channel's operations ----------------------------------------------------------------------------
    @classmethod
    def kind_of(cls, body: BaseModel) -> T:
        """The message type whose body ``body`` is."""
        for kind, model in cls.BODIES.items():
            if type(body) is model:
                return kind  # type: ignore[no-any-return]  # BODIES is keyed by the channel's MessageType
        raise UnknownMessageType(f"{type(body).__name__} is not a {cls.PARTNER.name} message body")

    @classmethod
    def build(cls, body: B, *, sender: str, recipient: str, idempotency_key: str, message_id: str | None = None,
              sent_at: datetime | None = None) -> dict[str, Any]:
        """The unsigned wire dict (no ``kid``, no ``sig``) for ``body``; pass it to ``signing.sign``.

        Routing is checked here so that a misaddressed instruction never gets as far as a signature.
        """
        kind = cls.kind_of(body)
        partner = cls.PARTNER
        if not re.fullmatch(partner.org_re, sender) or not re.fullmatch(partner.org_re, recipient):
            raise InvalidMessage(f"sender and recipient are 'center' or '{partner.name}:<CODE>', "
                                 f"got {sender!r}, {recipient!r}")
        if sent_at is None:
            sent_at = datetime.now(UTC)
        elif sent_at.tzinfo is None:
            raise InvalidMessage("naive sent_at refused: times must be timezone-aware")
        try:
            partner.check_routing(kind, sender, recipient, body)
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from None
        return {
            "v": PROTOCOL_VERSION,
            "type": kind.value,
            "id": message_id or str(uuid.uuid4()),
            "idempotency_key": idempotency_key,
            "sent_at": sent_at.isoformat(),
            "sender": sender,
            "recipient": recipient,
            "body": body.model_dump(mode="json"),
        }

    @classmethod
    def parse(cls, raw: bytes | str | Mapping[str, Any]) -> Self:
        """Validate a received message (JSON bytes/text or an already-decoded dict).

        Raises ``UnsupportedVersion`` / ``UnknownMessageType`` naming the offending value, or ``InvalidMessage``;
        all are ``MessageError``, a ``ValueError``. This does not check the signature (``verified`` does both).
        """
        data = dict(decode_object(raw))
        # Version first, then type: a v2 message may have types and bodies this build cannot judge.
        version = data.get("v")
        if type(version) is not int or version != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"protocol version {version!r} is not supported (this build speaks v1)")
        kind = data.get("type")
        if not isinstance(kind, str):
            raise UnknownMessageType(f"message type {kind!r} is not a string")
        if kind not in cls.BODIES:
            raise unknown_type(kind, cls.BODIES)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidMessage("invalid message: " + describe(exc)) from None

    @classmethod
    def signed(cls, body: B, signer: SigningKey, *, recipient: str, idempotency_key: str,
               message_id: str | None = None, sent_at: datetime | None = None) -> Self:
        """Build, sign and validate a message from ``signer.org``; the one call a sender needs."""
        unsigned = cls.build(body, sender=signer.org, recipient=recipient, idempotency_key=idempotency_key,
                             message_id=message_id, sent_at=sent_at)
        return cls.parse(sign(unsigned, signer.private_key, signer.kid))

    @classmethod
    def verified(cls, raw: bytes | str | Mapping[str, Any], keyring: KeyRing, *,
                 now: datetime | None = None) -> Self:
        """Signature first, then schema: nothing from an unauthenticated message is interpreted.

        Raises ``signing.BadSignature`` (refuse and audit) or ``MessageError`` (malformed, unknown type/version).
        """
        data = decode_object(raw)
        verify(data, keyring, now=now)
        return cls.parse(dict(data))
