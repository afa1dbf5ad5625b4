"""Everything one simulator process knows, and how a verified message becomes a stored, signed answer.

All of it is plain synchronous code run on the event loop's thread, so each message is looked up, applied
and stored without interruption: two deliveries of one idempotency key can never both apply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fanzha.banking import messages as m
from fanzha.banking.bins import bank_names
from fanzha.banking.keys import SigningKey
from fanzha.banking.signing import sign_envelope
from sim.banks import handlers, state
from sim.banks.clock import SimClock
from sim.banks.faults import FaultBook
from sim.banks.idempotency import AnswerBook, request_digest
from sim.banks.identity import CenterKeys, bank_org, load_bank_keys
from sim.banks.ledger import Account, Ledger
from sim.banks.seed import open_on_demand, seed_demo
from sim.stats import StatsBook


@dataclass(frozen=True, slots=True)
class Options:
    keys_dir: Path
    latency_ms: int = 0
    seed: int | None = None
    per_bank: int = 5
    state_file: Path | None = None
    open_unknown: bool = False
    banks: tuple[str, ...] = ()  # empty: every bank of the BIN table


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    payload: bytes


@dataclass(slots=True)
class BankService:
    options: Options
    signers: dict[str, SigningKey]
    center_keys: CenterKeys
    clock: SimClock = field(default_factory=SimClock)
    ledger: Ledger = field(init=False)
    answers: AnswerBook = field(default_factory=AnswerBook)
    faults: FaultBook = field(default_factory=FaultBook)
    stats: StatsBook = field(default_factory=lambda: StatsBook("banks", "applied_by_type"))
    latency_s: float = 0.0
    # Answers withheld behind an Ack until this time of the bank's clock: (bank, sender, key) -> time.
    deferred: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.clock)
        self.latency_s = self.options.latency_ms / 1000

    @classmethod
    def start(cls, options: Options) -> BankService:
        """Load or create the banks' keys, restore the state file if any, then seed if asked."""
        codes = list(options.banks) or sorted(bank_names())
        signers = load_bank_keys(options.keys_dir, codes)
        service = cls(options=options, signers=signers, center_keys=CenterKeys(options.keys_dir))
        if options.state_file is not None and options.state_file.exists():
            service.clock.offset = state.load(options.state_file, service.ledger, service.answers)
        if options.seed is not None:
            seed_demo(service.ledger, options.seed, frozenset(signers), options.per_bank)
        service.persist()
        return service

    def persist(self) -> None:
        if self.options.state_file is not None:
            state.save(self.options.state_file, self.ledger, self.answers, self.clock.offset)

    # -- messages ----------------------------------------------------------------------------------------
    def _opener(self) -> handlers.Opener | None:
        if not self.options.open_unknown:
            return None
        seed = self.options.seed or 0

        def opener(bank_code: str, number: str) -> Account | None:
            return open_on_demand(self.ledger, bank_code, number, seed)

        return opener

    def sign(self, bank_code: str, body: m.MessageBody) -> bytes:
        envelope = sign_envelope(body, self.signers[bank_code], recipient=m.CENTER,
                                 idempotency_key=f"answer-{uuid.uuid4()}", sent_at=self.clock())
        return envelope.to_json_bytes()

    def error(self, bank_code: str, status: int, code: str, message: str, request_id: str | None = None) -> Reply:
        body = m.Error(request_id=request_id, code=code, message=message[:2000])
        return Reply(status, self.sign(bank_code, body))

    def process(self, bank_code: str, envelope: m.Envelope) -> Reply:
        """The stored answer to a repeated key, or act on the instruction once and store its answer."""
        stats = self.stats.of(bank_code)
        stored = self.answers.get(bank_code, envelope)
        if stored is not None:
            if stored.digest != request_digest(envelope):
                return self.error(bank_code, 409, "idempotency_conflict", "this idempotency_key was already used "
                                  "for a different instruction", envelope.id)
            stats.duplicates_suppressed += 1
            return Reply(200, stored.payload)
        body = handlers.answer(self.ledger, envelope, self._opener())
        stored = self.answers.put(bank_code, envelope, self.sign(bank_code, body))
        stats.applied += 1
        stats.applied_by[envelope.type.value] += 1
        self.persist()
        return Reply(200, stored.payload)

    def defer(self, bank_code: str, envelope: m.Envelope, seconds: float) -> None:
        """Withhold the stored answer to this instruction for ``seconds`` of the bank's clock."""
        self.deferred[AnswerBook.key(bank_code, envelope)] = self.clock() + timedelta(seconds=seconds)

    def withheld(self, bank_code: str, envelope: m.Envelope) -> Reply | None:
        """A signed Ack (202) while the answer to this instruction is still withheld, else None."""
        key = AnswerBook.key(bank_code, envelope)
        until = self.deferred.get(key)
        if until is None:
            return None
        if self.clock() >= until:
            del self.deferred[key]
            return None
        ack = m.Ack(request_id=envelope.id, received_at=self.clock(), expected_by=until)
        return Reply(202, self.sign(bank_code, ack))

    def check_route(self, bank_code: str, envelope: m.Envelope) -> Reply | None:
        """A refusal if the message is not an instruction for this bank, else None."""
        if envelope.recipient != bank_org(bank_code):
            return self.error(bank_code, 422, "misrouted", f"message for {envelope.recipient} sent to "
                              f"{bank_org(bank_code)}", envelope.id)
        if envelope.type not in m.INSTRUCTION_TYPES:
            return self.error(bank_code, 422, "not_an_instruction", f"a bank does not accept {envelope.type.value}",
                              envelope.id)
        return None

    def advance_clock(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))
        self.persist()
