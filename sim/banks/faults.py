"""Misbehaviour on demand, so the center's dispatcher can be tested against a bank that is not perfect.

Each fault is armed for one bank (or ``*`` for any) and fires on the next `count` messages that bank receives:

- ``timeout``: hang for `delay_ms` (past the client's timeout), then answer 504 having applied nothing;
- ``error_500``: answer 500 at once, apply nothing;
- ``duplicate``: the instruction reaches the bank twice (as an at-least-once network would deliver it); it
  is applied once and both deliveries get the identical stored answer;
- ``late``: apply at once, answer only after `delay_ms`;
- ``deferred``: apply at once but answer ``Ack`` (HTTP 202: received, result to follow); resends get ``Ack``
  again until `delay_ms` of the bank's clock has passed, then the result (as a bank whose staff decide later).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ANY_BANK = "*"


class FaultMode(StrEnum):
    TIMEOUT = "timeout"
    ERROR_500 = "error_500"
    DUPLICATE = "duplicate"
    LATE = "late"
    DEFERRED = "deferred"


DEFAULT_DELAY_MS = {FaultMode.TIMEOUT: 30_000, FaultMode.ERROR_500: 0, FaultMode.DUPLICATE: 0,
                    FaultMode.LATE: 2_000, FaultMode.DEFERRED: 5_000}


@dataclass(slots=True)
class Fault:
    mode: FaultMode
    remaining: int
    delay_ms: int

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "remaining": self.remaining, "delay_ms": self.delay_ms}


@dataclass(frozen=True, slots=True)
class Shot:
    """One firing of a fault, for one message."""

    mode: FaultMode
    delay_s: float


class FaultBook:
    """Armed faults per bank, first armed fires first; a bank's own faults before the ``*`` ones."""

    def __init__(self) -> None:
        self._armed: dict[str, deque[Fault]] = {}

    def arm(self, bank: str, mode: FaultMode, count: int = 1, delay_ms: int | None = None) -> Fault:
        if count < 1:
            raise ValueError("count must be at least 1")
        if delay_ms is not None and delay_ms < 0:
            raise ValueError("delay_ms must not be negative")
        fault = Fault(mode, count, DEFAULT_DELAY_MS[mode] if delay_ms is None else delay_ms)
        self._armed.setdefault(bank, deque()).append(fault)
        return fault

    def take(self, bank: str) -> Shot | None:
        for key in (bank, ANY_BANK):
            queue = self._armed.get(key)
            if queue:
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining == 0:
                    queue.popleft()
                return Shot(fault.mode, fault.delay_ms / 1000)
        return None

    def clear(self, bank: str | None = None) -> None:
        if bank is None:
            self._armed.clear()
        else:
            self._armed.pop(bank, None)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {bank: [f.to_dict() for f in queue] for bank, queue in self._armed.items() if queue}
