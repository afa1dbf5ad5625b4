"""The simulator's clock: real UTC time plus an offset a test can push forward (to see a hold run out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self.offset += delta
        return self()
