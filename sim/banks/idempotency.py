"""Answers by idempotency key: a bank acts on a key once and answers every repeat with the first answer."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fanzha.audit.service import canonical_json
from fanzha.banking.messages import Envelope


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    digest: str  # of what was asked (type, recipient, body), to catch a key reused for something else
    payload: bytes  # the signed answer envelope, byte for byte as first sent


def request_digest(envelope: Envelope) -> str:
    asked = {"type": envelope.type.value, "recipient": envelope.recipient, "body": envelope.body}
    return hashlib.sha256(canonical_json(asked).encode("utf-8")).hexdigest()


class AnswerBook:
    """Stored answers keyed by (bank, sender, idempotency key)."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str, str], StoredAnswer] = {}

    @staticmethod
    def key(bank_code: str, envelope: Envelope) -> tuple[str, str, str]:
        return (bank_code, envelope.sender, envelope.idempotency_key)

    def get(self, bank_code: str, envelope: Envelope) -> StoredAnswer | None:
        return self.answers.get(self.key(bank_code, envelope))

    def put(self, bank_code: str, envelope: Envelope, payload: bytes) -> StoredAnswer:
        stored = StoredAnswer(request_digest(envelope), payload)
        self.answers[self.key(bank_code, envelope)] = stored
        return stored
