"""Per-partner counters of a simulator, so a test can check "nothing lost, nothing doubled" from outside it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class PartnerStats:
    received: int = 0  # every POST to the partner's message endpoint, whatever became of it
    applied: int = 0  # instructions acted on for the first time
    duplicates_suppressed: int = 0  # repeats of an idempotency key answered from the stored answer
    bad_signature: int = 0
    malformed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    applied_by: Counter[str] = field(default_factory=Counter)  # per message type (banks) or action (carriers)

    def add(self, other: PartnerStats) -> None:
        self.received += other.received
        self.applied += other.applied
        self.duplicates_suppressed += other.duplicates_suppressed
        self.bad_signature += other.bad_signature
        self.malformed += other.malformed
        self.faults.update(other.faults)
        self.applied_by.update(other.applied_by)

    def to_dict(self, by_key: str) -> dict[str, Any]:
        return {"received": self.received, "applied": self.applied,
                "duplicates_suppressed": self.duplicates_suppressed, "bad_signature": self.bad_signature,
                "malformed": self.malformed, "faults": dict(self.faults), by_key: dict(self.applied_by)}


class StatsBook:
    """Counters per partner code, reported as ``{group: {code: counters}, "total": counters}``."""

    def __init__(self, group: str, by_key: str) -> None:
        self.group, self.by_key = group, by_key
        self.partners: dict[str, PartnerStats] = {}

    def of(self, code: str) -> PartnerStats:
        stats = self.partners.get(code)
        if stats is None:
            stats = self.partners[code] = PartnerStats()
        return stats

    def to_dict(self) -> dict[str, Any]:
        total = PartnerStats()
        for stats in self.partners.values():
            total.add(stats)
        return {self.group: {code: s.to_dict(self.by_key) for code, s in sorted(self.partners.items())},
                "total": total.to_dict(self.by_key)}
