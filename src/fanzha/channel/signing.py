"""Ed25519 signatures over envelopes: every instruction signed by the center, every answer by its partner.

The signature covers the canonical JSON (sorted keys, no spaces, UTF-8, non-ASCII kept as is; the same
``canonical_json`` as the audit chain) of the whole envelope except ``sig`` - so ``kid``, ``recipient``,
``idempotency_key`` and ``sent_at`` are covered as well as the body. It is computed and checked on the wire
dict, never on a re-serialised model, so no two JSON libraries ever have to agree on how to print a number.

``verify`` refuses: a malformed ``sig``, an unknown ``kid``, a key used by another organisation than the
``sender`` it claims, a key not yet valid or retired (after its grace), and any change to the signed content.
``BadSignature.reason`` is one stable code from ``SIGNATURE_FAILURES`` for the audit log and for metrics.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fanzha.audit.service import canonical_json
from fanzha.channel.keys import KeyRing, kid_for
from fanzha.channel.wire import KID_RE, SIG_RE

SignatureFailure = Literal[
    "malformed_envelope", "malformed_signature", "unknown_kid", "wrong_sender", "key_not_yet_valid",
    "key_retired", "invalid_signature",
]
SIGNATURE_FAILURES: Final[tuple[str, ...]] = get_args(SignatureFailure)


class BadSignature(Exception):
    """A message whose signature cannot be trusted. ``reason`` is a SignatureFailure code."""

    def __init__(self, reason: SignatureFailure, detail: str = "") -> None:
        self.reason: SignatureFailure = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def signing_payload(envelope: Mapping[str, Any]) -> bytes:
    """The exact bytes that are signed: canonical JSON of the envelope without ``sig``."""
    return canonical_json({k: v for k, v in envelope.items() if k != "sig"}).encode("utf-8")


def sign(envelope_without_sig: Mapping[str, Any], private_key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """A new dict: the envelope with ``kid`` set and ``sig`` added. The input is not modified."""
    if "sig" in envelope_without_sig:
        raise ValueError("envelope is already signed (has 'sig'); sign the unsigned dict")
    if kid != kid_for(private_key.public_key()):
        raise ValueError(f"kid {kid} is not the kid of this private key")
    if envelope_without_sig.get("kid", kid) != kid:
        raise ValueError(f"envelope names kid {envelope_without_sig['kid']} but is being signed with {kid}")
    unsigned = {**envelope_without_sig, "kid": kid}
    try:
        payload = signing_payload(unsigned)
    except UnicodeEncodeError as exc:
        raise ValueError(f"envelope is not valid UTF-8 text: {exc}") from None
    # canonical_json stringifies what JSON cannot hold (default=str); the receiver would then verify
    # something other than what we meant to send. Only JSON-native values may be signed.
    if json.loads(payload) != unsigned:
        raise ValueError("envelope holds values that are not plain JSON (datetime, Decimal, tuple...): "
                         "build it with messages.new_envelope")
    signature = private_key.sign(payload)
    return {**unsigned, "sig": base64.b64encode(signature).decode("ascii")}


def verify(envelope: Mapping[str, Any], keyring: KeyRing, *, now: datetime | None = None) -> None:
    """Return if ``envelope`` (the dict as received) is signed by a valid key of its sender; else raise."""
    if not isinstance(envelope, Mapping):
        raise BadSignature("malformed_envelope", f"a message is a JSON object, not {type(envelope).__name__}")
    sig = envelope.get("sig")
    if not isinstance(sig, str) or not re.fullmatch(SIG_RE, sig):
        raise BadSignature("malformed_signature", "sig must be 64 bytes in padded base64")
    try:
        signature = base64.b64decode(sig, validate=True)
    except binascii.Error:  # pragma: no cover - SIG_RE admits only decodable text
        raise BadSignature("malformed_signature", "sig is not base64") from None
    kid = envelope.get("kid")
    if not isinstance(kid, str) or not re.fullmatch(KID_RE, kid):
        raise BadSignature("unknown_kid", f"kid {kid!r} is not a key id")
    entry = keyring.get(kid)
    if entry is None:
        raise BadSignature("unknown_kid", f"no public key {kid} in the keyring")
    sender = envelope.get("sender")
    if sender != entry.org:
        raise BadSignature("wrong_sender", f"key {kid} belongs to {entry.org}, the message claims {sender!r}")
    when = now or datetime.now(UTC)
    if when < entry.not_before:
        raise BadSignature("key_not_yet_valid", f"key {kid} is valid from {entry.not_before.isoformat()}")
    if entry.not_after is not None and when >= entry.not_after:
        raise BadSignature("key_retired", f"key {kid} was retired at {entry.not_after.isoformat()}")
    try:
        payload = signing_payload(envelope)
    except (UnicodeEncodeError, TypeError, ValueError) as exc:
        raise BadSignature("malformed_envelope", f"cannot canonicalise the message: {exc}") from None
    try:
        entry.public_key.verify(signature, payload)
    except InvalidSignature:
        raise BadSignature("invalid_signature", "the signature does not match the message (altered, or "
                                                "signed over different content)") from None
