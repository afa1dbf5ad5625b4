"""Signed bank messages: every instruction signed by the center, every answer by its bank.

The signature itself (canonical JSON of everything but ``sig``, Ed25519, key ids, rotation) is the channel's,
``fanzha.channel.signing``, re-exported here; this module builds and reads bank envelopes with it.

Sending::

    signer = keys.load_signing_key("center", key_dir, keyring)
    env = sign_envelope(StopPayment(...), signer, recipient="bank:ABC", idempotency_key=key)
    http_post(env.to_json_bytes())

Receiving (simulator endpoint or the center reading an answer)::

    env = verify_and_parse(request_bytes, keyring)   # BadSignature -> refuse and audit; MessageError -> 400
    reply = answer_to(env, StopPaymentResult(request_id=env.id, ...), bank_signer)
"""

from __future__ import annotations

from datetime import datetime

from fanzha.banking.messages import Envelope, MessageBody
from fanzha.channel.keys import SigningKey

# The channel's signature, re-exported: bank code has always imported it from here.
from fanzha.channel.signing import SIGNATURE_FAILURES as SIGNATURE_FAILURES
from fanzha.channel.signing import BadSignature as BadSignature
from fanzha.channel.signing import SignatureFailure as SignatureFailure
from fanzha.channel.signing import sign as sign
from fanzha.channel.signing import signing_payload as signing_payload
from fanzha.channel.signing import verify as verify

sign_envelope = Envelope.signed  # build, sign and validate a message from signer.org
verify_and_parse = Envelope.verified  # signature first, then schema


def answer_to(request: Envelope, body: MessageBody, signer: SigningKey, *,
              sent_at: datetime | None = None) -> Envelope:
    """The signed answer to ``request`` (bank side): back to its sender, under the request's idempotency key.

    Reusing the request's key ties the answer to the one operation it settles; a bank that receives the
    same key again should send this same answer again (store ``to_wire()``), not build a new one.
    """
    return sign_envelope(body, signer, recipient=request.sender, idempotency_key=request.idempotency_key,
                         sent_at=sent_at)
