"""Per-bank counters, so a test can check "nothing lost, nothing doubled" from outside the process."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class BankStats:
    received: int = 0  # every POST to the bank's message endpoint, whatever became of it
    applied: int = 0  # instructions and queries acted on for the first time (answered from the books)
    duplicates_suppressed: int = 0  # repeats of an idempotency key answered from the stored answer
    bad_signature: int = 0
    malformed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    applied_by_type: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "applied": self.applied,
                "duplicates_suppressed": self.duplicates_suppressed, "bad_signature": self.bad_signature,
                "malformed": self.malformed, "faults": dict(self.faults),
                "applied_by_type": dict(self.applied_by_type)}


class Stats:
    def __init__(self) -> None:
        self.banks: dict[str, BankStats] = {}

    def bank(self, code: str) -> BankStats:
        stats = self.banks.get(code)
        if stats is None:
            stats = self.banks[code] = BankStats()
        return stats

    def to_dict(self) -> dict[str, Any]:
        total = BankStats()
        for s in self.banks.values():
            total.received += s.received
            total.applied += s.applied
            total.duplicates_suppressed += s.duplicates_suppressed
            total.bad_signature += s.bad_signature
            total.malformed += s.malformed
            total.faults.update(s.faults)
            total.applied_by_type.update(s.applied_by_type)
        return {"banks": {code: s.to_dict() for code, s in sorted(self.banks.items())}, "total": total.to_dict()}
