"""Everything one simulated-carriers process knows, and how a verified message becomes a stored, signed answer.

All of it is plain synchronous code run on the event loop's one thread, so each message is looked up,
applied and stored without interruption: two deliveries of one idempotency key can never both act.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

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
from sim.stats import StatsBook

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
    stats: StatsBook = field(default_factory=lambda: StatsBook("carriers", "applied_by_action"))
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
        stats = self.stats.of(code)
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
        stats.applied_by[body.action] += 1
        self.persist()
        return Reply(200, stored.payload)
