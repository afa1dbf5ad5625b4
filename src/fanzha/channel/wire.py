"""The v1 wire rules every signed channel (banks, carriers) shares: constants, errors, field checks, routing.

Every message travels in one envelope (``fanzha.channel.envelope``)::

    {"v": 1, "type": "<MessageType>", "id": "<uuid4>", "idempotency_key": "...", "sent_at": "<ISO, with offset>",
     "sender": "center" | "<partner>:<CODE>", "recipient": ..., "kid": "<16 hex>", "body": {...},
     "sig": "<base64 Ed25519>"}

A channel's ``Partner`` says how its organisations are named and which message types go which way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

PROTOCOL_VERSION: Final = 1
CENTER: Final = "center"
ERROR: Final = "Error"  # the message-level refusal every channel has, in either direction
KID_RE: Final = r"^[0-9a-f]{16}$"
# 64 raw signature bytes in standard base64 with padding.
SIG_RE: Final = r"^[A-Za-z0-9+/]{86}==$"


class MessageError(ValueError):
    """A message that this build cannot accept; ``str()`` says why and is safe to log and return."""


class UnsupportedVersion(MessageError):
    pass


class UnknownMessageType(MessageError):
    pass


class InvalidMessage(MessageError):
    pass


def require(condition: bool, message: str) -> None:
    """A validator's check: a ValueError that pydantic reports under the field's path."""
    if not condition:
        raise ValueError(message)


def _uuid4(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a UUID") from exc
    # Only the canonical lower-case form: one id, one spelling, so ids compare as strings everywhere.
    if parsed.version != 4 or str(parsed) != value:
        raise ValueError(f"{value!r} is not a canonical lower-case UUID4")
    return value


def aware_iso(value: str) -> str:
    """``value`` if it is an ISO 8601 time with a UTC offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset: times must be timezone-aware")
    return value


Uuid4Str = Annotated[str, AfterValidator(_uuid4)]

T = TypeVar("T", bound=StrEnum)


def unknown_type(value: object, known: Iterable[str]) -> UnknownMessageType:
    return UnknownMessageType(f"unknown message type {value!r} (known: {', '.join(known)})")


def lookup(types: type[T], value: str) -> T:
    """The member of ``types`` named ``value``; ``UnknownMessageType`` names what was given otherwise."""
    try:
        return types(value)
    except ValueError:
        raise unknown_type(value, (t.value for t in types)) from None


@dataclass(frozen=True, slots=True)
class Partner:
    """The other side of a channel: organisations ``<name>:<CODE>``, and which message types go which way."""

    name: str  # "bank" -> "bank:ABC"
    code_re: str  # the CODE part
    code_field: str  # the body field naming the partner an instruction is about; it must be the recipient
    instructions: frozenset[str]  # center -> one partner
    answers: frozenset[str]  # partner -> center; other types (Error) go either way

    @property
    def org_re(self) -> str:
        return rf"^(center|{self.name}:{self.code_re})$"

    def org(self, code: str) -> str:
        return f"{self.name}:{code}"

    def code_of(self, org: str) -> str | None:
        """``"bank:ABC"`` -> ``"ABC"``; ``"center"`` (or another channel's org) -> None."""
        prefix = f"{self.name}:"
        return org.removeprefix(prefix) if org.startswith(prefix) else None

    def check_routing(self, kind: str, sender: str, recipient: str, body: BaseModel) -> None:
        """Instructions go center -> one partner, answers come back; a body naming a partner names the recipient."""
        a_partner = f"a {self.name}"
        if kind in self.instructions:
            require(sender == CENTER and self.code_of(recipient) is not None,
                    f"{kind} goes from center to {a_partner}, not from {sender} to {recipient}")
        elif kind in self.answers:
            require(recipient == CENTER and self.code_of(sender) is not None,
                    f"{kind} goes from {a_partner} to center, not from {sender} to {recipient}")
        else:
            require(CENTER in (sender, recipient) and sender != recipient,
                    f"{kind} goes between center and {a_partner}, not from {sender} to {recipient}")
        named = getattr(body, self.code_field, None)
        if named is not None:
            # A misrouted instruction (ICBC's account sent to ABC) must fail here, not at the wrong partner.
            require(self.code_of(recipient) == named, f"body.{self.code_field} {named} but recipient is {recipient}")


def decode_object(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A received message as a JSON object (bytes/text are decoded; a mapping is taken as is)."""
    data: object
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidMessage(f"message is not JSON: {exc}") from None
    else:
        data = raw
    if not isinstance(data, Mapping):
        raise InvalidMessage(f"message must be a JSON object, got {type(data).__name__}")
    return data


def describe(exc: ValidationError, prefix: str = "") -> str:
    """A validation failure as one line, ``path: message; ...``."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        # A ValueError from our own validators reads better without pydantic's "Value error, " prefix.
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if error["type"] == "value_error" and "error" in ctx else error["msg"]
        where = ".".join(str(p) for p in (prefix, *error["loc"]) if p != "")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
