"""Who holds each number, and what has been done to it: the simulated carriers' shared subscriber register.

A number nobody registered is held by the carrier its block was allocated to (the same ``phonenumbers``
allocation data the center starts from); a number in a virtual-operator block is resold by one of the
virtual operators (chosen from the number, so it is stable) on the host network. A test or a demo moves a
number to another carrier with ``register`` - from then on the carriers answer accordingly, and the one the
center wrongly asks says "not ours" and names the true carrier, as the national portability database lets a
real carrier do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fanzha.telecom.carriers.routing import VIRTUAL_OPERATOR_CODES, library_route


@dataclass(slots=True)
class Subscriber:
    number: str
    carrier: str | None  # the network that holds it; None: no domestic network (a foreign number)
    virtual_operator: str | None = None
    protected: bool = False  # an emergency or government line: every carrier refuses to act on it
    state: str = "active"  # active, shut_down, blocked
    effective_at: datetime | None = None
    intercepted_by: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "carrier": self.carrier, "virtual_operator": self.virtual_operator,
                "protected": self.protected, "state": self.state,
                "effective_at": self.effective_at.isoformat() if self.effective_at else None,
                "intercepted_by": list(self.intercepted_by), "history": list(self.history)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subscriber:
        at = data.get("effective_at")
        return cls(number=data["number"], carrier=data["carrier"], virtual_operator=data["virtual_operator"],
                   protected=bool(data["protected"]), state=data["state"],
                   effective_at=datetime.fromisoformat(at) if at else None,
                   intercepted_by=list(data["intercepted_by"]), history=list(data["history"]))


def default_holder(number: str) -> Subscriber:
    route = library_route(number)
    operator = None
    if route.virtual:
        digest = hashlib.sha256(number.encode()).digest()
        operator = VIRTUAL_OPERATOR_CODES[digest[0] % len(VIRTUAL_OPERATOR_CODES)]
    return Subscriber(number=number, carrier=route.carrier, virtual_operator=operator)


class Registry:
    def __init__(self) -> None:
        self.numbers: dict[str, Subscriber] = {}

    def holder(self, number: str) -> Subscriber:
        """The number's record, created from the allocation data on first touch."""
        found = self.numbers.get(number)
        if found is None:
            found = self.numbers[number] = default_holder(number)
        return found

    def peek(self, number: str) -> Subscriber:
        return self.numbers.get(number) or default_holder(number)

    def register(self, number: str, carrier: str | None, virtual_operator: str | None, protected: bool,
                 now: datetime) -> Subscriber:
        """Put a number on a carrier (a port if it was elsewhere); what was done to it stays on record."""
        subscriber = self.holder(number)
        if (subscriber.carrier, subscriber.virtual_operator) != (carrier, virtual_operator):
            subscriber.history.append({"at": now.isoformat(), "event": "moved", "from": subscriber.carrier,
                                       "to": carrier, "virtual_operator": virtual_operator})
        subscriber.carrier, subscriber.virtual_operator, subscriber.protected = carrier, virtual_operator, protected
        return subscriber
