"""Everything one simulated-carriers process knows, and how a verified message becomes a stored, signed answer.

All of it is plain synchronous code run on the event loop's one thread, so each message is looked up,
applied and stored without interruption: two deliveries of one idempotency key can never both act.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from fanzha.audit.service import canonical_json
from fanzha.channel.keys import KeyRing, SigningKey, ensure_key
from fanzha.telecom.carriers import messages as m
from fanzha.telecom.carriers.adapter import CARRIERS_KEYRING
from fanzha.telecom.carriers.routing import BASE_CARRIERS
from sim.banks.clock import SimClock
from sim.banks.faults import FaultBook
from sim.banks.identity import CenterKeys
from sim.carriers import handlers, state
from sim.carriers.registry import Registry

CARRIER_CODES: Final = BASE_CARRIERS


@dataclass(frozen=True, slots=True)
class Options:
    keys_dir: Path
    latency_ms: int = 0
    state_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    digest: str  # of what was asked, to catch a key reused for a different instruction
    payload: bytes  # the signed answer, byte for byte as first sent


@dataclass(slots=True)
class CarrierStats:
    received: int = 0
    applied: int = 0
    duplicates_suppressed: int = 0
    bad_signature: int = 0
    malformed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    applied_by_action: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "applied": self.applied,
                "duplicates_suppressed": self.duplicates_suppressed, "bad_signature": self.bad_signature,
                "malformed": self.malformed, "faults": dict(self.faults),
                "applied_by_action": dict(self.applied_by_action)}


def request_digest(envelope: m.Envelope) -> str:
    asked = {"type": envelope.type.value, "recipient": envelope.recipient, "body": envelope.body}
    return hashlib.sha256(canonical_json(asked).encode("utf-8")).hexdigest()


def load_carrier_keys(directory: Path) -> dict[str, SigningKey]:
    """Each carrier's signing key, generated and published in carriers.keyring.json on first start."""
    path = directory / CARRIERS_KEYRING
    ring = KeyRing.load(path) if path.exists() else KeyRing()
    before = len(ring)
    signers = {code: ensure_key(m.carrier_org(code), directory, ring) for code in CARRIER_CODES}
    if len(ring) != before or not path.exists():
        ring.save(path)
    return signers


@dataclass(slots=True)
class CarrierService:
    options: Options
    signers: dict[str, SigningKey]
    center_keys: CenterKeys
    clock: SimClock = field(default_factory=SimClock)
    registry: Registry = field(default_factory=Registry)
    answers: dict[tuple[str, str, str], StoredAnswer] = field(default_factory=dict)
    faults: FaultBook = field(default_factory=FaultBook)
    stats: dict[str, CarrierStats] = field(default_factory=dict)
    latency_s: float = 0.0

    @classmethod
    def start(cls, options: Options) -> CarrierService:
        service = cls(options=options, signers=load_carrier_keys(options.keys_dir),
                      center_keys=CenterKeys(options.keys_dir), latency_s=options.latency_ms / 1000)
        if options.state_file is not None and options.state_file.exists():
            numbers, answers = state.load(options.state_file)
            service.registry.numbers.update(numbers)
            service.answers.update({k: StoredAnswer(d, p) for k, (d, p) in answers.items()})
        service.persist()
        return service

    def persist(self) -> None:
        if self.options.state_file is not None:
            state.save(self.options.state_file, self.registry.numbers,
                       {k: (a.digest, a.payload) for k, a in self.answers.items()})

    def carrier_stats(self, code: str) -> CarrierStats:
        found = self.stats.get(code)
        if found is None:
            found = self.stats[code] = CarrierStats()
        return found

    def stats_json(self) -> dict[str, Any]:
        total = CarrierStats()
        for s in self.stats.values():
            total.received += s.received
            total.applied += s.applied
            total.duplicates_suppressed += s.duplicates_suppressed
            total.bad_signature += s.bad_signature
            total.malformed += s.malformed
            total.faults.update(s.faults)
            total.applied_by_action.update(s.applied_by_action)
        return {"carriers": {c: s.to_dict() for c, s in sorted(self.stats.items())}, "total": total.to_dict()}

    def sign(self, code: str, body: m.MessageBody) -> bytes:
        envelope = m.sign_envelope(body, self.signers[code], recipient=m.CENTER,
                                   idempotency_key=f"answer-{uuid.uuid4()}", sent_at=self.clock())
        return envelope.to_json_bytes()

    def error(self, code: str, status: int, error_code: str, message: str, request_id: str | None = None) -> Reply:
        return Reply(status, self.sign(code, m.Error(request_id=request_id, code=error_code, message=message[:2000])))

    def check_route(self, code: str, envelope: m.Envelope) -> Reply | None:
        if envelope.recipient != m.carrier_org(code):
            return self.error(code, 422, "misrouted", f"message for {envelope.recipient} sent to "
                              f"{m.carrier_org(code)}", envelope.id)
        if envelope.type is not m.MessageType.CARRIER_ACTION:
            return self.error(code, 422, "not_an_instruction", f"a carrier does not accept {envelope.type.value}",
                              envelope.id)
        return None

    def process(self, code: str, envelope: m.Envelope) -> Reply:
        """The stored answer to a repeated key, or act once and store the answer."""
        stats = self.carrier_stats(code)
        key = (code, envelope.sender, envelope.idempotency_key)
        stored = self.answers.get(key)
        if stored is not None:
            if stored.digest != request_digest(envelope):
                return self.error(code, 409, "idempotency_conflict", "this idempotency_key was already used for "
                                  "a different instruction", envelope.id)
            stats.duplicates_suppressed += 1
            return Reply(200, stored.payload)
        body = envelope.typed_body()
        assert isinstance(body, m.CarrierAction)  # check_route let only actions through
        answer = handlers.act(self.registry, code, envelope.id, body, self.clock())
        stored = self.answers[key] = StoredAnswer(request_digest(envelope), self.sign(code, answer))
        stats.applied += 1
        stats.applied_by_action[body.action] += 1
        self.persist()
        return Reply(200, stored.payload)
