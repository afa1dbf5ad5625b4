"""Simulated live call events from carriers' switches: set-up, answer, release, for the live call watch.

``generate`` makes calls between random mainland subscribers, a share of them with a flagged number (either side
calling), some unanswered, with talk times drawn so that some outlast N minutes and some end first. Events are
plain dicts in the stream's field format (``fanzha.outreach.events.CallEvent.to_fields``); ``python -m
sim.carrier_events`` publishes them to a Redis stream at a fixed rate. Nothing under fanzha/ imports this.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CARRIERS = ("CMCC", "CUCC", "CTCC")
PREFIXES = ("138", "139", "136", "186", "185", "133", "153", "177", "150", "158")


@dataclass(frozen=True, slots=True)
class Call:
    call_id: str
    caller: str
    callee: str
    carrier: str
    start: datetime
    answer_after_s: float | None  # None: never answered
    talk_s: float
    flagged: str | None  # the flagged party, if any
    subscriber: str | None  # the other party of a flagged call

    def events(self) -> list[dict[str, str]]:
        """The call's three (or two, unanswered) events in the stream's field format."""
        base = {"call_id": self.call_id, "caller": self.caller, "callee": self.callee, "carrier": self.carrier}
        out = [{"kind": "setup", "at": self.start.isoformat(), **base}]
        end = self.start + timedelta(seconds=(self.answer_after_s or 20.0))
        if self.answer_after_s is not None:
            out.append({"kind": "answer", "at": end.isoformat(), **base})
            end += timedelta(seconds=self.talk_s)
            out.append({"kind": "release", "at": end.isoformat(), "cause": "normal", **base})
        else:
            out.append({"kind": "release", "at": end.isoformat(), "cause": "no_answer", **base})
        return out


def subscriber(rng: random.Random) -> str:
    return f"+86{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}"


def flagged_numbers(count: int, seed: int = 7) -> list[str]:
    """Numbers for the flagged list: mainland mobiles in a block no generated subscriber uses (170/171)."""
    rng = random.Random(seed)
    return [f"+86{rng.choice(('170', '171'))}{n:08d}" for n in rng.sample(range(10**8), count)]


def generate(n_calls: int, *, flagged: Sequence[str], flagged_share: float = 0.02, start: datetime | None = None,
             seed: int = 1, prefix: str = "c", answer_share: float = 0.8, mean_talk_s: float = 180.0,
             unique_subscribers: bool = True) -> Iterator[Call]:
    """``n_calls`` calls; each involves a flagged number with probability ``flagged_share``.

    With ``unique_subscribers`` no subscriber of a flagged call appears twice (so a warning can be matched to its
    call by the number it went to).
    """
    rng = random.Random(seed)
    start = start or datetime.now(UTC)
    seen: set[str] = set()
    for i in range(n_calls):
        carrier = rng.choice(CARRIERS)
        answered = rng.random() < answer_share
        answer_after = rng.uniform(2, 15) if answered else None
        talk = rng.expovariate(1 / mean_talk_s)
        if flagged and rng.random() < flagged_share:
            bad = rng.choice(flagged)
            person = subscriber(rng)
            while unique_subscribers and person in seen:
                person = subscriber(rng)
            seen.add(person)
            caller, callee = (bad, person) if rng.random() < 0.8 else (person, bad)
            yield Call(f"{prefix}{i}", caller, callee, carrier, start, answer_after, talk, bad, person)
        else:
            yield Call(f"{prefix}{i}", subscriber(rng), subscriber(rng), carrier, start, answer_after, talk, None,
                       None)
